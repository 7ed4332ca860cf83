package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/internal/retention"
	"github.com/ehg/hub/store"
)

// RetentionReport says what one retention run removed.
type RetentionReport struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Expired counts the events finalised as expired (expires_at passed while queued)
	// before the deletions; they then follow the age of StatusExpired.
	Expired int `json:"expired"`
	// Removed lists each rule of the policy that deleted something.
	Removed []RetentionRemoval `json:"removed,omitempty"`
	// Totals per table.
	Events        int64 `json:"events"`
	HealthMetrics int64 `json:"health_metrics"`
	Analytics     int64 `json:"analytics"`
	// AuditEntries counts the audit entries removed under RetentionPolicy.Audit (never their
	// content); AuditHorizon is the seq of the signed retention horizon the log now starts
	// after (0: none yet).
	AuditEntries int64 `json:"audit_entries"`
	AuditHorizon int64 `json:"audit_horizon,omitempty"`
	// AuditSkipped says why the policy's audit age was not applied: the hub has no audit
	// key, or the store cannot remove audit entries; "" otherwise.
	AuditSkipped string `json:"audit_skipped,omitempty"`
}

// RetentionRemoval is what one rule of the policy removed.
type RetentionRemoval struct {
	// Table is "integration_events", "integration_health_metrics", "integration_analytics"
	// or "audit_log".
	Table string `json:"table"`
	// Status is the events' status (events only).
	Status store.EventStatus `json:"status,omitempty"`
	// ServiceID is the service whose own policy applied; "" for the services that follow
	// the general policy.
	ServiceID string `json:"service_id,omitempty"`
	// Before is the cut-off: records older than it were removed.
	Before time.Time `json:"before"`
	Count  int64     `json:"count"`
}

// Total is the number of records the run removed.
func (r *RetentionReport) Total() int64 {
	return r.Events + r.HealthMetrics + r.Analytics + r.AuditEntries
}

// RunRetention applies Config.Retention once, now: it finalises expired events, then
// deletes what the policy no longer keeps, in batches of Config.CleanupBatch rows (each
// its own short transaction), and reports what it removed. The background cleaner calls it
// every Config.CleanupInterval; call it directly to clean on demand. Safe to run from
// several hubs at once. A run that removed something is audited ("retention.run", with
// the counts) and logged.
//
// Errors: ErrNotSupported when the store has no store.RetentionStore; ErrClosed; store
// errors (the report then holds what was removed before).
func (h *Hub) RunRetention(ctx context.Context) (*RetentionReport, error) {
	if err := h.guard(ctx, deletionCall("RunRetention", "", PermRetention, proposedChange{})); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	return h.runRetention(ctx)
}

func (h *Hub) runRetention(ctx context.Context) (*RetentionReport, error) {
	rs, ok := h.st.(store.RetentionStore)
	if !ok {
		return nil, fmt.Errorf("%w: retention needs store.RetentionStore", ErrNotSupported)
	}
	now := h.cfg.Clock()
	rep := &RetentionReport{Started: now}
	// The run's entry comes first: no record is deleted unless the log says a run began
	// (fail closed); "retention.run" then records what it removed.
	if _, err := h.appendAudit(ctx, &store.AuditEntry{Actor: actorIn(ctx, ""), Action: "retention.start", EntityType: "retention",
		After: mustJSON(map[string]any{"started": now, "policy": h.retentionInForce()})}); err != nil {
		return rep, err
	}
	n, err := h.st.ExpireEvents(ctx)
	if err != nil {
		return rep, mapStoreErr(err)
	}
	rep.Expired = n
	rules, err := h.retentionRules(ctx, now)
	if err != nil {
		return rep, err
	}
	removals, err := retention.Run(ctx, rs, rules, h.cfg.CleanupBatch)
	for _, rm := range removals {
		if rm.Count == 0 {
			continue
		}
		rep.Removed = append(rep.Removed, RetentionRemoval{Table: string(rm.Table), Status: rm.Status,
			ServiceID: rm.ServiceID, Before: rm.Before, Count: rm.Count})
		switch rm.Table {
		case retention.Events:
			rep.Events += rm.Count
		case retention.HealthMetrics:
			rep.HealthMetrics += rm.Count
		case retention.Analytics:
			rep.Analytics += rm.Count
		}
	}
	if err == nil {
		err = h.retainAudit(ctx, now, rep)
	}
	rep.Finished = h.cfg.Clock()
	if rep.Total() > 0 || rep.Expired > 0 {
		h.log.Info("hub: retention removed records", slog.Int64("events", rep.Events),
			slog.Int64("health_metrics", rep.HealthMetrics), slog.Int64("analytics", rep.Analytics),
			slog.Int64("audit_entries", rep.AuditEntries), slog.Int("expired", rep.Expired))
	}
	if rep.Total() > 0 {
		h.auditData(ctx, "", "retention.run", "retention", "", rep)
	}
	if err != nil {
		return rep, mapStoreErr(err)
	}
	return rep, nil
}

// auditTable names the audit log in retention reports.
const auditTable = "audit_log"

// retainAudit applies RetentionPolicy.Audit at now: it finds the newest entry created
// before the cut-off, verifies the chain up to it (from the current horizon on), stores a
// retention horizon there signed with the hub's audit key, then deletes the entries up to
// the latest horizon in batches of Config.CleanupBatch. Another hub's horizon, or one of an
// earlier interrupted run, is continued: storing a horizon and deleting below it are both
// idempotent. A chain that does not verify is not shortened: the error matches
// ErrAuditTampered.
func (h *Hub) retainAudit(ctx context.Context, now time.Time, rep *RetentionReport) error {
	age := h.retentionPolicy().Audit
	if age <= 0 {
		return nil
	}
	rs, ok := h.st.(store.AuditRetentionStore)
	switch {
	case !ok:
		rep.AuditSkipped = "the store cannot remove audit entries (store.AuditRetentionStore)"
	case h.chain.signer == nil:
		rep.AuditSkipped = "the hub has no audit key (Config.AuditKey or Config.SecretKey) to sign a retention horizon"
	}
	if rep.AuditSkipped != "" {
		h.log.Warn("hub: audit retention skipped", "reason", rep.AuditSkipped)
		return nil
	}
	cutoff := now.Add(-age)
	cur, err := rs.LatestAuditHorizon(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return mapStoreErr(err)
	}
	// the newest entry created before the cut-off is the one before the first at or after it
	next, err := h.st.ListAudit(ctx, store.AuditFilter{From: cutoff, Page: store.Page{Limit: 1}})
	if err != nil {
		return mapStoreErr(err)
	}
	if len(next) > 0 && next[0].Seq > 1 && (cur == nil || next[0].Seq-1 > cur.Size) {
		target := next[0].Seq - 1
		vrep, err := audit.VerifyStore(ctx, h.st, audit.Range{To: cutoff}, h.chain.key)
		if err != nil {
			return mapStoreErr(err)
		}
		if !vrep.OK {
			h.log.Error("hub: audit retention refused: the audit log does not verify", "first", vrep.Err())
			return fmt.Errorf("hub: audit retention refused, the entries to remove do not verify: %w", vrep.Err())
		}
		es, err := h.st.ListAudit(ctx, store.AuditFilter{FromSeq: target, ToSeq: target, Page: store.Page{Limit: 1}})
		if err != nil {
			return mapStoreErr(err)
		}
		if len(es) == 0 {
			return fmt.Errorf("%w: the audit entry at seq %d is gone", ErrAuditTampered, target)
		}
		hz, err := audit.SignCheckpoint(h.chain.signer, target, es[0].Hash)
		if err != nil {
			return err
		}
		if err := rs.AddAuditHorizon(ctx, hz); err != nil {
			return mapStoreErr(err)
		}
		cur = hz
	}
	if cur == nil {
		return nil
	}
	rep.AuditHorizon = cur.Size
	batch := h.cfg.CleanupBatch
	if batch <= 0 {
		batch = CleanupBatchDefault
	}
	var removed int64
	defer func() {
		if removed > 0 {
			rep.Removed = append(rep.Removed, RetentionRemoval{Table: auditTable, Before: cutoff, Count: removed})
			rep.AuditEntries += removed
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := rs.DeleteAuditToHorizon(ctx, batch)
		if err != nil {
			return mapStoreErr(err)
		}
		removed += n
		if n == 0 {
			return nil
		}
	}
}

// retentionRules turns the policy into deletions with cut-offs at now: per status, first
// the services with a policy of their own, then everything else.
func (h *Hub) retentionRules(ctx context.Context, now time.Time) ([]retention.Rule, error) {
	p := h.retentionPolicy()
	type override struct {
		id string
		s  ServiceRetention
	}
	var ovs []override
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		svc, err := h.loadService(ctx, name)
		if errors.Is(err, ErrUnknownService) {
			continue // configured ahead of its registration: nothing of it is stored
		}
		if err != nil {
			return nil, err
		}
		ovs = append(ovs, override{svc.ID, p.Services[name]})
	}
	var rules []retention.Rule
	add := func(t retention.Table, st store.EventStatus, def time.Duration, own func(ServiceRetention) time.Duration) {
		var exclude []string
		for _, o := range ovs {
			d := own(o.s)
			if d == 0 {
				continue
			}
			exclude = append(exclude, o.id)
			if d > 0 {
				rules = append(rules, retention.Rule{Table: t, Status: st, ServiceID: o.id, Before: now.Add(-d)})
			}
		}
		if def > 0 {
			rules = append(rules, retention.Rule{Table: t, Status: st, Exclude: exclude, Before: now.Add(-def)})
		}
	}
	for _, st := range store.EventStatuses() {
		if !st.Terminal() {
			continue
		}
		add(retention.Events, st, p.Events[st], func(s ServiceRetention) time.Duration { return s.Events[st] })
	}
	add(retention.HealthMetrics, "", p.HealthMetrics, func(s ServiceRetention) time.Duration { return s.HealthMetrics })
	add(retention.Analytics, "", p.Analytics, func(s ServiceRetention) time.Duration { return s.Analytics })
	return rules, nil
}

// RetentionInForce describes the policy as the compliance report shows it: per table,
// status and service, the age kept ("forever" when nothing is deleted).
func (h *Hub) retentionInForce() []RetentionRule {
	p := h.retentionPolicy()
	age := func(d time.Duration) string {
		if d <= 0 {
			return "forever"
		}
		return d.String()
	}
	var out []RetentionRule
	for _, st := range store.EventStatuses() {
		if st.Terminal() {
			out = append(out, RetentionRule{Table: string(retention.Events), Status: st, Keep: age(p.Events[st])})
		}
	}
	out = append(out, RetentionRule{Table: string(retention.HealthMetrics), Keep: age(p.HealthMetrics)},
		RetentionRule{Table: string(retention.Analytics), Keep: age(p.Analytics)},
		RetentionRule{Table: auditTable, Keep: age(p.Audit)})
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := p.Services[n]
		for _, st := range store.EventStatuses() {
			if d := s.Events[st]; d != 0 {
				out = append(out, RetentionRule{Table: string(retention.Events), Status: st, Service: n, Keep: age(d)})
			}
		}
		if s.HealthMetrics != 0 {
			out = append(out, RetentionRule{Table: string(retention.HealthMetrics), Service: n, Keep: age(s.HealthMetrics)})
		}
		if s.Analytics != 0 {
			out = append(out, RetentionRule{Table: string(retention.Analytics), Service: n, Keep: age(s.Analytics)})
		}
	}
	return out
}

// RetentionRule is one age of the retention policy in force.
type RetentionRule struct {
	Table  string            `json:"table"`
	Status store.EventStatus `json:"status,omitempty"`
	// Service is the service name or ID the rule is set for; "" for the general policy.
	Service string `json:"service,omitempty"`
	// Keep is how long records are kept ("168h0m0s"), or "forever".
	Keep string `json:"keep"`
}

// auditData appends an audit entry recording the outcome of a data lifecycle action whose
// intent entry (auditIntent) was written before it; a failure is logged, not returned,
// since the change it records has happened. after holds counts and ids only, never
// personal data.
func (h *Hub) auditData(ctx context.Context, who, action, entityType, entityID string, after any) {
	b, err := json.Marshal(after)
	if err != nil {
		h.log.Error("hub: encoding an audit entry failed", "action", action, "error", err)
		return
	}
	if _, err := h.st.AppendAudit(context.WithoutCancel(ctx), &store.AuditEntry{
		Actor: actorIn(ctx, who), Action: action, EntityType: entityType, EntityID: entityID, After: b,
	}); err != nil {
		h.log.Error("hub: appending audit entry failed", "action", action, "entity", entityID, "error", err)
	}
}

// auditIntent appends the entry of a data lifecycle action before the action: when it cannot
// be written the error is ErrAuditUnavailable and the action must not happen.
func (h *Hub) auditIntent(ctx context.Context, who, action, entityType, entityID string, after any) (*store.AuditEntry, error) {
	return h.appendAudit(ctx, &store.AuditEntry{Actor: actorIn(ctx, who), Action: action, EntityType: entityType,
		EntityID: entityID, After: mustJSON(after)})
}

// lifecycleLoop runs the background cleaner: unfinished erasures, service removals, then
// retention, every Config.CleanupInterval.
func (h *Hub) lifecycleLoop(ctx context.Context) {
	defer h.bgWG.Done()
	t := time.NewTicker(h.cfg.CleanupInterval)
	defer t.Stop()
	for {
		h.cleanOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cleanOnce is one round of the background cleaner. Failures are logged; the next round
// tries again.
func (h *Hub) cleanOnce(ctx context.Context) {
	warn := func(what string, err error) {
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrNotSupported) {
			h.log.Warn("hub: "+what+" failed", slog.Any("error", err))
		}
	}
	if _, err := h.governance(ctx); err != nil {
		warn("reading the policies kept in the store", err)
	}
	warn("resuming erasures", h.resumeErasures(ctx))
	warn("finishing service removals", h.finishRemovals(ctx))
	if !h.retentionPolicy().IsZero() {
		_, err := h.runRetention(ctx)
		warn("retention", err)
	}
}

// startLifecycle starts the background cleaner unless it is disabled.
func (h *Hub) startLifecycle(ctx context.Context) {
	if h.cfg.CleanupInterval < 0 {
		return
	}
	h.bgWG.Add(1)
	go h.lifecycleLoop(ctx)
}

// describeRegions renders a region list for messages.
func describeRegions(rs []string) string {
	q := make([]string, len(rs))
	for i, r := range rs {
		q[i] = fmt.Sprintf("%q", r)
	}
	return strings.Join(q, ", ")
}
