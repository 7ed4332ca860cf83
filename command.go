package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/internal/command"
	"github.com/ehg/hub/store"
)

// Text commands: Command understands an operator's sentence and returns the plan it would
// run; RunCommand runs a plan, exactly as it was reviewed, with the caller's context (and so
// the caller's permissions). The grammar is listed by CommandGrammar.

// Limits of text commands.
const (
	// CommandPlanTTL is how long a plan may be run after Command made it.
	CommandPlanTTL = 15 * time.Minute
	// CommandMaxEvents is the most events one retry plan names.
	CommandMaxEvents = 1000
	// CommandListLimit is the most events a listing command returns.
	CommandListLimit = 50
)

// ErrStalePlan: a command plan is too old (CommandPlanTTL), or the service it acts on
// changed since the plan was made; make a new plan and review it again.
var ErrStalePlan = errors.New("hub: stale plan")

// WithVentures names ventures for text commands: name (any case) to venture ID.
func WithVentures(names map[string]string) Option {
	return func(c *Config) error {
		if err := checkVentures(names); err != nil {
			return err
		}
		c.Ventures = maps.Clone(names)
		return nil
	}
}

func checkVentures(names map[string]string) error {
	for n, id := range names {
		if strings.TrimSpace(n) == "" || !isUUID(id) {
			return configErr("Config.Ventures", fmt.Sprintf("venture %q must have a name and a UUID", n), nil)
		}
	}
	return nil
}

// CommandPlan is what a sentence would do: the intent with its slots filled, a summary in
// words, the hub calls it makes and, for retries, the exact events. A plan is a value: it
// can be shown, saved (it encodes to JSON), reviewed and run by RunCommand exactly as it is.
type CommandPlan struct {
	// Text is the sentence.
	Text string `json:"text"`
	// Understood is false when no command matched; Reason says why and Suggestions lists
	// sentences of the grammar close to it.
	Understood  bool     `json:"understood"`
	Reason      string   `json:"reason,omitempty"`
	Suggestions []string `json:"suggestions,omitempty"`
	// Intent names the command (see CommandGrammar).
	Intent string `json:"intent,omitempty"`
	// Summary says what running the plan does, in words.
	Summary string `json:"summary,omitempty"`
	// ReadOnly plans change nothing (status, diagnosis, listings).
	ReadOnly bool `json:"read_only"`
	// Service names the service acted on; ServiceUpdatedAt is its version when planned: a
	// plan that changes the service is refused once the service has changed since.
	Service          string    `json:"service,omitempty"`
	ServiceID        string    `json:"service_id,omitempty"`
	ServiceUpdatedAt time.Time `json:"service_updated_at,omitzero"`
	// Venture, Statuses and Since narrow the events of a retry or listing.
	Venture   string              `json:"venture,omitempty"`
	VentureID string              `json:"venture_id,omitempty"`
	Statuses  []store.EventStatus `json:"statuses,omitempty"`
	Since     time.Time           `json:"since,omitzero"`
	// ApprovalID names the approval decided.
	ApprovalID string `json:"approval_id,omitempty"`
	// Drain asks a removal to deliver the service's queue first.
	Drain bool `json:"drain,omitempty"`
	// Severity and Issue describe an escalation.
	Severity string `json:"severity,omitempty"`
	Issue    string `json:"issue,omitempty"`
	// EventIDs are the events a retry requeues, exactly these (at most CommandMaxEvents;
	// Truncated when more matched).
	EventIDs  []string `json:"event_ids,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
	// Steps are the hub calls the plan makes, in words.
	Steps []string `json:"steps,omitempty"`
	// MadeAt is when the plan was made (the hub's clock).
	MadeAt time.Time `json:"made_at"`
}

// CommandResult is what running a plan did or found.
type CommandResult struct {
	Intent string
	// OK is false when a step failed (see Message).
	OK bool
	// Message is the answer in words: what was done, or what was found.
	Message string
	// The data behind Message, by intent.
	Health     *HealthReport
	Events     []*store.Event
	Retried    []string
	Skipped    map[string]string // event ID -> why it was not requeued
	Recovery   *RecoveryResult
	Test       *TestResult
	Escalation *EscalationResult
	Removal    *RemovalResult
	Metrics    *PerformanceMetrics
	Analytics  *Analytics
	Audit      *AuditReport
	Help       []CommandRule
	// Approvals are the requests listed or decided (their changes redacted).
	Approvals []*store.Approval
}

// CommandRule documents one command of the grammar.
type CommandRule struct {
	Intent   string
	Pattern  string
	Synonyms []string
	Examples []string
}

// CommandGrammar returns the grammar text commands follow, in the order intents are tried.
func CommandGrammar() []CommandRule {
	var out []CommandRule
	for _, r := range command.Grammar {
		out = append(out, CommandRule{Intent: string(r.Intent), Pattern: r.Pattern, Synonyms: slices.Clone(r.Synonyms), Examples: slices.Clone(r.Examples)})
	}
	return out
}

// Command understands text and returns the plan it would run, without running it. A
// sentence that matches no command is not an error: the plan has Understood false, the
// reason and suggestions. Retry plans list the exact events they would requeue. Errors:
// store errors; ErrClosed.
func (h *Hub) Command(ctx context.Context, text string) (*CommandPlan, error) {
	if err := h.guard(ctx, call{method: "Command", perms: perms(PermCommand)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	now := h.cfg.Clock()
	plan := &CommandPlan{Text: text, MadeAt: now}
	cat := command.Catalog{Ventures: h.cfg.Ventures}
	svcs, err := h.ListServices(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*store.Service{}
	for _, si := range svcs {
		cat.Services = append(cat.Services, command.Service{Name: si.Service.Name, Connector: si.Service.ConnectorKind})
		byName[si.Service.Name] = si.Service
	}
	req, nu := command.Parse(text, cat, now)
	if nu != nil {
		plan.Reason, plan.Suggestions = nu.Reason, nu.Suggestions
		return plan, nil
	}
	plan.Understood, plan.Intent = true, string(req.Intent)
	plan.Venture, plan.VentureID, plan.Since, plan.ApprovalID = req.Venture, req.VentureID, req.Since, req.ApprovalID
	plan.Severity, plan.Issue, plan.Drain = req.Severity, req.Summary, req.Drain
	for _, s := range req.Statuses {
		plan.Statuses = append(plan.Statuses, store.EventStatus(s))
	}
	var svc *store.Service
	if req.Service != "" {
		svc = byName[req.Service]
		plan.Service, plan.ServiceID, plan.ServiceUpdatedAt = svc.Name, svc.ID, svc.UpdatedAt
	}
	scope := func() string {
		var parts []string
		if svc != nil {
			parts = append(parts, "of "+svc.Name)
		}
		if req.Venture != "" {
			parts = append(parts, "for venture "+req.Venture)
		}
		if req.SinceText != "" {
			parts = append(parts, req.SinceText)
		}
		return strings.Join(parts, " ")
	}
	join := func(s ...string) string {
		return strings.Join(slices.DeleteFunc(s, func(x string) bool { return x == "" }), " ")
	}
	switch req.Intent {
	case command.Help:
		plan.ReadOnly, plan.Summary = true, "List the commands this hub understands."
	case command.Status:
		plan.ReadOnly, plan.Summary = true, "Report the health of every service."
		plan.Steps = []string{"GetIntegrationHealth(all services)"}
	case command.Diagnose:
		plan.ReadOnly, plan.Summary = true, fmt.Sprintf("Explain the health of %s: status, breaker, error rate, latency, dead letters and early warnings.", svc.Name)
		plan.Steps = []string{fmt.Sprintf("GetIntegrationHealth(%s)", svc.Name)}
	case command.ListEvents:
		what := "events"
		switch {
		case slices.Equal(req.Statuses, []string{"dead"}):
			what = "dead letters"
		case len(req.Statuses) > 0:
			what = "failed events"
		}
		plan.ReadOnly, plan.Summary = true, join("List the", what, scope(), fmt.Sprintf("(newest %d).", CommandListLimit))
		plan.Steps = []string{"ListEvents(" + join(what, scope()) + ")"}
	case command.Retry, command.Redrive:
		ids, more, err := h.commandEvents(ctx, plan, CommandMaxEvents)
		if err != nil {
			return nil, err
		}
		plan.EventIDs, plan.Truncated = ids, more
		what := "failed or dead events"
		if req.Intent == command.Redrive {
			what = "dead letters"
		}
		plan.Summary = join(fmt.Sprintf("Requeue %d %s", len(ids), what), scope()) + "."
		if more {
			plan.Summary += fmt.Sprintf(" More matched; this plan takes the oldest %d.", CommandMaxEvents)
		}
		if len(ids) == 0 {
			plan.ReadOnly = true
			plan.Summary = join("No", what, scope(), "to requeue; nothing to do.")
		}
		for _, id := range ids {
			plan.Steps = append(plan.Steps, "RetryFailedIntegration("+id+")")
		}
	case command.Pause, command.Resume, command.ResetBreaker, command.OpenBreaker, command.Failover:
		action := map[command.Intent]RecoveryAction{command.Pause: ActionDisable, command.Resume: ActionEnable,
			command.ResetBreaker: ActionResetBreaker, command.OpenBreaker: ActionOpenBreaker, command.Failover: ActionFailover}[req.Intent]
		plan.Summary = map[command.Intent]string{
			command.Pause:        "Pause %s: disable the service; its events are accepted and wait until it is resumed.",
			command.Resume:       "Resume %s: enable the service; waiting events are delivered.",
			command.ResetBreaker: "Close the circuit breaker of %s; deliveries are attempted again.",
			command.OpenBreaker:  "Force the circuit breaker of %s open; its events wait until the breaker is reset.",
			command.Failover:     "Fail %s over to its first backup URL (the current base URL becomes a backup).",
		}[req.Intent]
		plan.Summary = fmt.Sprintf(plan.Summary, svc.Name)
		if req.Intent == command.Pause && !svc.IsActive {
			plan.Summary += " It is already paused."
		}
		if req.Intent == command.Resume && svc.IsActive {
			plan.Summary += " It is already active."
		}
		plan.Steps = []string{fmt.Sprintf("TriggerRecoveryAction(%s, %s)", svc.Name, action)}
	case command.Remove:
		plan.Summary = fmt.Sprintf("Remove %s: its queued events are cancelled, then its credentials destroyed and its name freed.", svc.Name)
		if req.Drain {
			plan.Summary = fmt.Sprintf("Remove %s after delivering its queued events: then its credentials are destroyed and its name freed.", svc.Name)
		}
		plan.Steps = []string{fmt.Sprintf("RemoveService(%s, drain=%t)", svc.Name, req.Drain)}
	case command.Test:
		plan.ReadOnly, plan.Summary = true, fmt.Sprintf("Test %s: run the connector's check against its endpoint (nothing is stored or delivered).", svc.Name)
		plan.Steps = []string{fmt.Sprintf("TestIntegration(%s)", svc.Name)}
	case command.Escalate:
		plan.Summary = fmt.Sprintf("Escalate a %s-severity issue with %s: %q.", req.Severity, svc.Name, req.Summary)
		plan.Steps = []string{fmt.Sprintf("EscalateIntegrationIssue(%s)", svc.Name)}
	case command.Metrics:
		plan.ReadOnly = true
		plan.Summary = join("Report delivery performance", scope()) + "."
		if req.SinceText == "" {
			plan.Summary = join("Report delivery performance", scope(), "in the last hour") + "."
		}
		plan.Steps = []string{"GetPerformanceMetrics"}
	case command.Cost:
		plan.ReadOnly = true
		plan.Summary = join("Report analytics and cost", scope()) + "."
		if req.SinceText == "" {
			plan.Summary = join("Report analytics and cost", scope(), "in the last 24 hours") + "."
		}
		plan.Steps = []string{"GetIntegrationAnalytics"}
	case command.Approvals:
		plan.ReadOnly, plan.Summary = true, "List the approval requests waiting for a decision."
		plan.Steps = []string{"ListApprovals(pending)"}
	case command.Approve, command.Reject:
		plan.Summary = fmt.Sprintf("%s approval %s.", map[command.Intent]string{command.Approve: "Approve", command.Reject: "Reject"}[req.Intent], req.ApprovalID)
		plan.Steps = []string{fmt.Sprintf("%s(%s)", map[command.Intent]string{command.Approve: "Approve", command.Reject: "Reject"}[req.Intent], req.ApprovalID)}
	case command.ListRoutes:
		plan.ReadOnly, plan.Summary = true, join("List the active routes", scope())+"."
		plan.Steps = []string{"Routes(" + join(scope()) + ")"}
	case command.Suggest, command.Preview:
		if err := h.planMapping(ctx, plan, req.Intent); err != nil {
			return nil, err
		}
	case command.VerifyAudit:
		plan.ReadOnly, plan.Summary = true, "Verify the audit log's hash chain."
		plan.Steps = []string{"VerifyAudit"}
	}
	return plan, nil
}

// planMapping plans a mapping suggestion or preview of plan's service on the payload of its
// most recent event; a service without events (or without the contract or mapping the
// intent needs) makes the plan not understood, with the reason.
func (h *Hub) planMapping(ctx context.Context, plan *CommandPlan, intent command.Intent) error {
	si, err := h.GetService(ctx, plan.ServiceID)
	if err != nil {
		return err
	}
	refuse := func(reason string) error {
		plan.Understood, plan.Reason = false, reason
		return nil
	}
	if intent == command.Suggest && si.Contract == nil {
		return refuse(fmt.Sprintf("%s has no canonical contract to suggest a mapping to", plan.Service))
	}
	if intent == command.Preview && si.Mapping == nil {
		return refuse(fmt.Sprintf("%s has no mapping to preview", plan.Service))
	}
	page, err := h.ListEvents(ctx, EventQuery{Service: plan.ServiceID, Limit: 1, NewestFirst: true})
	if err != nil {
		return err
	}
	if len(page.Events) == 0 {
		return refuse(fmt.Sprintf("%s has no events: the payload of its most recent event is the sample, so there is nothing to %s on", plan.Service, map[command.Intent]string{command.Suggest: "suggest from", command.Preview: "preview"}[intent]))
	}
	ev := page.Events[0]
	plan.ReadOnly, plan.EventIDs = true, []string{ev.ID}
	if intent == command.Suggest {
		plan.Summary = fmt.Sprintf("Suggest a mapping for %s from the payload of its last event (%s) to its contract %s@%s.", plan.Service, ev.ID, si.Contract.Name, si.Contract.Version)
		plan.Steps = []string{"GetEvent(" + ev.ID + ")", fmt.Sprintf("SuggestMapping(%s@%s)", si.Contract.Name, si.Contract.Version)}
		return nil
	}
	plan.Summary = fmt.Sprintf("Preview the mapping of %s (version %d) on the payload of its last event (%s)", plan.Service, si.MappingVersion, ev.ID)
	plan.Steps = []string{"GetEvent(" + ev.ID + ")", fmt.Sprintf("TransformData(%s mapping v%d)", plan.Service, si.MappingVersion)}
	if si.Contract != nil {
		plan.Summary += fmt.Sprintf(", checked against %s@%s", si.Contract.Name, si.Contract.Version)
		plan.Steps = append(plan.Steps, fmt.Sprintf("ValidateDataContract(%s@%s)", si.Contract.Name, si.Contract.Version))
	}
	plan.Summary += "."
	return nil
}

// commandEvents lists the IDs of the events plan selects (service, statuses, since,
// venture), oldest first, at most limit; more reports that others matched.
func (h *Hub) commandEvents(ctx context.Context, plan *CommandPlan, limit int) (ids []string, more bool, err error) {
	f := store.EventFilter{ServiceID: plan.ServiceID, Statuses: plan.Statuses, CreatedFrom: plan.Since}
	for off := 0; ; {
		f.Page = store.Page{Limit: 1000, Offset: off}
		evs, err := h.st.ListEvents(ctx, f)
		if err != nil {
			return nil, false, mapStoreErr(err)
		}
		for _, ev := range evs {
			if plan.VentureID != "" && !strings.EqualFold(ev.VentureID, plan.VentureID) {
				continue
			}
			if len(ids) == limit {
				return ids, true, nil
			}
			ids = append(ids, ev.ID)
		}
		if len(evs) < f.Page.Limit {
			return ids, false, nil
		}
		off += len(evs)
	}
}
