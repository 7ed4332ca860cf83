package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/store"
)

// ComplianceReport is the data-protection account of a period: which services hold data
// and in which regions, what personal data their contracts mark, the retention in force and
// what it removed, the data subjects' requests and their completion, the approvals and the
// chairman's overrides, and the result of verifying the audit log. Encode it with
// encoding/json (or JSON).
type ComplianceReport struct {
	// From and To bound the period [From, To).
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	GeneratedAt time.Time `json:"generated_at"`
	// Services lists every service, removed ones included.
	Services []ComplianceService `json:"services"`
	// Regions sums, per data region ("" for services without one), the data held now.
	Regions []RegionData `json:"regions"`
	// Retention is the policy in force and what retention removed in the period.
	Retention ComplianceRetention `json:"retention"`
	// SubjectRequests are the erasure and access requests made in the period.
	SubjectRequests []*store.SubjectRequest `json:"subject_requests"`
	// Erasures and Accesses count them by status ("running", "completed", "failed").
	Erasures map[store.SubjectRequestStatus]int `json:"erasures"`
	Accesses map[store.SubjectRequestStatus]int `json:"accesses"`
	// Overrides counts the events accepted in the period with the chairman's override.
	Overrides int64 `json:"overrides"`
	// Governance counts, from the audit log, the period's approval requests and their
	// decisions, the chairman's interventions (changes applied without their approval,
	// events put first in the queue) and the refused calls.
	Governance GovernanceCounts `json:"governance"`
	// Audit is the result of verifying the whole audit log (VerifyAudit from its first
	// entry) against the signed checkpoints when the report was made; OK false lists the
	// problems found.
	Audit *AuditReport `json:"audit"`
}

// ComplianceService is one service in a ComplianceReport.
type ComplianceService struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Region string `json:"region"`
	Active bool   `json:"active"`
	// RemovedAt is set for a removed service; CredentialsDestroyed once its removal is
	// complete.
	RemovedAt            *time.Time `json:"removed_at,omitempty"`
	CredentialsDestroyed bool       `json:"credentials_destroyed,omitempty"`
	// PersonalFields are the fields its contracts mark personal ("contract:path" or
	// "contract:path=category"); SubjectField is the one identifying the data subject.
	PersonalFields []string `json:"personal_fields,omitempty"`
	SubjectField   string   `json:"subject_field,omitempty"`
	// EventsHeld and BytesHeld describe its stored events now (payload_in bytes).
	EventsHeld int64 `json:"events_held"`
	BytesHeld  int64 `json:"bytes_held"`
	// EventsInPeriod counts its events accepted in the period; Overrides those with the
	// chairman's override.
	EventsInPeriod int64 `json:"events_in_period"`
	Overrides      int64 `json:"overrides"`
}

// RegionData is the data held in one region.
type RegionData struct {
	Region   string `json:"region"`
	Services int    `json:"services"`
	Events   int64  `json:"events"`
	Bytes    int64  `json:"bytes"`
}

// ComplianceRetention is the retention part of a ComplianceReport.
type ComplianceRetention struct {
	InForce []RetentionRule `json:"in_force"`
	// Runs counts the retention runs of the period that removed something, and Removed
	// sums what they removed per table.
	Runs    int              `json:"runs"`
	Removed map[string]int64 `json:"removed"`
	// AuditHorizon is the seq of the newest signed retention horizon those runs reached:
	// the audit entries up to it were removed under RetentionPolicy.Audit, and the audit
	// chain is verified from it (0: no audit entry was removed). The entries of runs that
	// fell under the audit age themselves are gone, and so are their counts.
	AuditHorizon int64 `json:"audit_horizon,omitempty"`
}

// JSON returns the report as indented JSON.
func (r *ComplianceReport) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// ComplianceReport reports the period [from, to) (to zero: now; from zero: 30 days before
// to). It reads the store only; the data held and the audit verification are as of now, the
// activity (requests, retention runs, approvals, overrides) that of the period. A tampered
// audit log does not fail the report: Audit tells what was found.
//
// Errors: ErrInvalidInput when from is not before to; ErrClosed; store errors.
func (h *Hub) ComplianceReport(ctx context.Context, from, to time.Time) (*ComplianceReport, error) {
	if err := h.guard(ctx, call{method: "ComplianceReport", perms: perms(PermReadAudit)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	now := h.cfg.Clock()
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.Add(-30 * 24 * time.Hour)
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: report period from %s is not before to %s", ErrInvalidInput, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	rep := &ComplianceReport{From: from, To: to, GeneratedAt: now,
		Erasures: map[store.SubjectRequestStatus]int{}, Accesses: map[store.SubjectRequestStatus]int{},
		SubjectRequests: []*store.SubjectRequest{}}
	if err := h.reportServices(ctx, rep); err != nil {
		return nil, err
	}
	if err := h.reportRetention(ctx, rep); err != nil {
		return nil, err
	}
	if ss, ok := h.st.(store.SubjectStore); ok {
		for off := 0; ; off += store.MaxPageLimit {
			page, err := ss.ListSubjectRequests(ctx, store.SubjectRequestFilter{From: from, To: to,
				Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
			if err != nil {
				return nil, mapStoreErr(err)
			}
			for _, r := range page {
				r.SubjectKey, r.Owner, r.LeaseUntil = "", "", nil // operational detail, not part of the account
				rep.SubjectRequests = append(rep.SubjectRequests, r)
				if r.Kind == store.RequestErasure {
					rep.Erasures[r.Status]++
				} else {
					rep.Accesses[r.Status]++
				}
			}
			if len(page) < store.MaxPageLimit {
				break
			}
		}
	}
	if err := h.eachGovernanceEntry(ctx, from, to, func(e *store.AuditEntry) { countEntry(&rep.Governance, e) }); err != nil {
		return nil, err
	}
	rep.Governance.rate()
	audited, err := audit.VerifyStore(ctx, h.st, audit.Range{}, h.chain.key)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	rep.Audit = audited
	return rep, nil
}

// reportServices fills the services, regions and overrides of rep.
func (h *Hub) reportServices(ctx context.Context, rep *ComplianceReport) error {
	held, err := h.st.EventStats(ctx, store.StatsParams{})
	if err != nil {
		return mapStoreErr(err)
	}
	inPeriod, err := h.st.EventStats(ctx, store.StatsParams{From: rep.From, To: rep.To})
	if err != nil {
		return mapStoreErr(err)
	}
	heldBy := map[string]store.EventStats{}
	for _, s := range held {
		heldBy[s.ServiceID] = s
	}
	periodBy := map[string]store.EventStats{}
	for _, s := range inPeriod {
		periodBy[s.ServiceID] = s
	}
	regions := map[string]*RegionData{}
	for off := 0; ; off += store.MaxPageLimit {
		page, err := h.st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return mapStoreErr(err)
		}
		for _, svc := range page {
			cs := ComplianceService{ID: svc.ID, Name: svc.Name, Region: svc.DataRegion, Active: svc.IsActive,
				EventsHeld: heldBy[svc.ID].Total, BytesHeld: heldBy[svc.ID].PayloadBytes,
				EventsInPeriod: periodBy[svc.ID].Total, Overrides: periodBy[svc.ID].ChairmanOverrides}
			if meta, err := parseMeta(svc.SchemaMappings); err == nil {
				if meta.Removed != nil {
					cs.Name, cs.RemovedAt = meta.Removed.Name, &meta.Removed.At
					cs.CredentialsDestroyed = meta.Removed.CredentialsDestroyedAt != nil
				}
				cs.PersonalFields, cs.SubjectField = h.personalFieldsOf(ctx, svc.ID, meta)
			}
			rep.Services = append(rep.Services, cs)
			rep.Overrides += cs.Overrides
			rd := regions[svc.DataRegion]
			if rd == nil {
				rd = &RegionData{Region: svc.DataRegion}
				regions[svc.DataRegion] = rd
			}
			rd.Services++
			rd.Events += cs.EventsHeld
			rd.Bytes += cs.BytesHeld
		}
		if len(page) < store.MaxPageLimit {
			break
		}
	}
	for _, rd := range regions {
		rep.Regions = append(rep.Regions, *rd)
	}
	slices.SortFunc(rep.Regions, func(a, b RegionData) int { return strings.Compare(a.Region, b.Region) })
	return nil
}

// personalFieldsOf lists what a service's contracts mark personal, as the report shows it.
func (h *Hub) personalFieldsOf(ctx context.Context, serviceID string, meta serviceMeta) (fields []string, subject string) {
	pd, err := h.personalFor(ctx, serviceID)
	if err != nil {
		return nil, ""
	}
	add := func(contract *contractKey, list func() []string, subj func() string) {
		if contract == nil {
			return
		}
		name := contract.Name + "@" + contract.Version
		for _, f := range list() {
			fields = append(fields, name+":"+f)
		}
		if s := subj(); s != "" {
			subject = name + ":" + s
		}
	}
	add(meta.InputContract, func() []string { return describeFields(pd.input) }, func() string { return subjectOf(pd.input) })
	add(meta.Contract, func() []string { return describeFields(pd.canon) }, func() string { return subjectOf(pd.canon) })
	return fields, subject
}

// reportRetention fills the retention part of rep from the policy and the audited runs.
func (h *Hub) reportRetention(ctx context.Context, rep *ComplianceReport) error {
	rep.Retention = ComplianceRetention{InForce: h.retentionInForce(), Removed: map[string]int64{}}
	for off := 0; ; off += store.MaxPageLimit {
		entries, err := h.st.ListAudit(ctx, store.AuditFilter{EntityType: "retention", From: rep.From, To: rep.To,
			Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return mapStoreErr(err)
		}
		for _, e := range entries {
			var run RetentionReport
			if e.Action != "retention.run" || json.Unmarshal(e.After, &run) != nil {
				continue
			}
			rep.Retention.Runs++
			rep.Retention.Removed["integration_events"] += run.Events
			rep.Retention.Removed["integration_health_metrics"] += run.HealthMetrics
			rep.Retention.Removed["integration_analytics"] += run.Analytics
			rep.Retention.Removed[auditTable] += run.AuditEntries
			rep.Retention.AuditHorizon = max(rep.Retention.AuditHorizon, run.AuditHorizon)
		}
		if len(entries) < store.MaxPageLimit {
			return nil
		}
	}
}
