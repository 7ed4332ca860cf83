package hubhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
	"github.com/ehg/hub/store"
)

// routes lists every endpoint of the API. Each calls exported hub methods only.
func (x *Handler) routes() []*apiendpoint.Endpoint {
	eps := []*apiendpoint.Endpoint{
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/me", OperationID: "getMe", Tag: "identity",
			Summary: "The authenticated caller"}, x.me),

		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/services", OperationID: "listServices", Tag: "services",
			Summary: "Every registered service, by name"}, x.listServices),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/services", OperationID: "registerService", Tag: "services",
			Summary: "Register a service", Status: 201}, x.registerService),
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/services/{service}", OperationID: "getService", Tag: "services",
			Summary: "One service with its contracts and mappings (credentials redacted)"}, x.getService),
		apiendpoint.New(apiendpoint.Meta{Method: "PATCH", Path: "/api/v1/services/{service}", OperationID: "configureService", Tag: "services",
			Summary: "Change a service's configuration; members left out are unchanged"}, x.configureService),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/services/{service}/test", OperationID: "testService", Tag: "services",
			Summary: "Check the connector and dry-run contracts and mappings on a sample (stores and delivers nothing)"}, x.testService),
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/services/{service}/health", OperationID: "getServiceHealth", Tag: "monitoring",
			Summary: "One service's health with early warnings and rate-limit headroom"}, x.serviceHealth),

		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/events", OperationID: "processEvent", Tag: "events",
			Summary: "Process one event (validate, map, store, deliver)"}, x.processEvent),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/events/{id}/retry", OperationID: "retryEvent", Tag: "events",
			Summary: "Requeue a failed or dead event"}, x.retryEvent),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/events/redrive", OperationID: "redriveEvents", Tag: "events",
			Summary: "Requeue dead letters (or failed events) in bulk, by ids or by service, status and time"}, x.redrive),

		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/health", OperationID: "getHealth", Tag: "monitoring",
			Summary: "Health of every service (or of one, with ?service=)"}, x.health),
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/metrics", OperationID: "getMetrics", Tag: "monitoring",
			Summary: "Delivery figures of the events created in [from, to) (default the last hour)"}, x.metrics),
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/analytics", OperationID: "getAnalytics", Tag: "monitoring",
			Summary: "Analytics rollups with totals and trends"}, x.analytics),
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/overview", OperationID: "getOverview", Tag: "monitoring",
			Summary: "Every service's status, throughput, error rate, p95 and cost, with series over time"}, x.overview),

		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/escalations", OperationID: "escalate", Tag: "recovery",
			Summary: "Escalate an integration issue", Status: 201}, x.escalate),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/recovery", OperationID: "recover", Tag: "recovery",
			Summary: "Run a recovery plan (retry failed, reset or open the breaker, disable, enable, fail over)"}, x.recover),

		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/audit", OperationID: "listAudit", Tag: "audit",
			Summary: "Audit log entries, oldest first, in pages"}, x.listAudit),

		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/mappings/compile", OperationID: "compileMapping", Tag: "designer",
			Summary: "Compile a mapping and report every field that does not compile, with its position"}, x.compileMapping),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/mappings/preview", OperationID: "previewMapping", Tag: "designer",
			Summary: "Apply a mapping to a sample and check the output against a contract"}, x.previewMapping),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/mappings/suggest", OperationID: "suggestMapping", Tag: "designer",
			Summary: "Suggest a mapping from a sample to a target schema"}, x.suggestMapping),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/contracts/validate", OperationID: "validateContract", Tag: "designer",
			Summary: "Validate a document against a contract or a service's canonical contract"}, x.validateContract),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/contracts/compatibility", OperationID: "contractCompatibility", Tag: "designer",
			Summary: "Compare two versions of a schema: backward compatible or not, with every change"}, x.compatibility),

		apiendpoint.Raw[streamParams, apiv1.StreamEvent](apiendpoint.Meta{Method: "GET", Path: "/api/v1/stream", OperationID: "stream", Tag: "live",
			Summary: "Live changes as Server-Sent Events (health, breaker, event outcomes, approval requests), resumable with Last-Event-ID",
			Description: "Each SSE message has an id (send it back as Last-Event-ID to resume), an event name (the type) and a JSON data line; " +
				"a reset message means the missed changes are gone and the client should reload its state.",
			ContentType: "text/event-stream"}, x.serveStream),
	}
	return append(eps, x.laterRoutes()...)
}

// laterRoutes are endpoints over optional hub capabilities.
func (x *Handler) laterRoutes() []*apiendpoint.Endpoint {
	eps := append(x.removalRoutes(), x.commandRoutes()...)
	eps = append(eps, x.approvalRoutes()...)
	eps = append(eps, x.configRoutes()...)
	eps = append(eps, x.auditRoutes()...)
	eps = append(eps, x.inboundRoutes()...)
	return append(eps, x.eventRoutes()...)
}

type noParams struct{}

type serviceParam struct {
	Service string `path:"service" doc:"service name or ID"`
}

func (x *Handler) me(ctx context.Context, _ *noParams) (*apiv1.Me, error) {
	p := callerOf(ctx)
	return &apiv1.Me{Principal: apiv1.Principal{ID: p.ID, Roles: orEmpty(p.Roles)}}, nil
}

func (x *Handler) listServices(ctx context.Context, _ *noParams) (*apiv1.ServiceList, error) {
	list, err := x.hub.ListServices(ctx)
	if err != nil {
		return nil, err
	}
	out := &apiv1.ServiceList{Services: []apiv1.Service{}}
	for _, si := range list {
		out.Services = append(out.Services, serviceOf(si))
	}
	return out, nil
}

func (x *Handler) getService(ctx context.Context, p *serviceParam) (*apiv1.Service, error) {
	si, err := x.hub.GetService(ctx, p.Service)
	if err != nil {
		return nil, err
	}
	s := serviceOf(si)
	return &s, nil
}

type registerParams struct {
	Body apiv1.RegisterRequest `body:""`
}

func (x *Handler) registerService(ctx context.Context, p *registerParams) (*apiv1.ServiceChange, error) {
	b := p.Body
	reg, err := x.hub.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name: b.Name, Category: store.ServiceCategory(b.Category), Connector: b.Connector, BaseURL: b.BaseURL,
		BackupURLs: b.BackupURLs, Auth: b.Auth, ConnectorOptions: b.ConnectorOptions, RateLimits: b.RateLimits,
		CircuitBreaker: b.CircuitBreaker, Retry: b.Retry, MaxRetries: b.MaxRetries, HealthCheck: b.HealthCheck,
		InputContract: hubContractRef(b.InputContract), Contract: hubContractRef(b.Contract), Mapping: b.Mapping,
		DeliveryMapping: b.DeliveryMapping, Operation: b.Operation, EscalationService: b.EscalationService,
		CostPerCall: b.CostPerCall, Disabled: b.Disabled, Actor: callerOf(ctx).ID,
	})
	if err != nil {
		return nil, err
	}
	si, err := x.hub.GetService(ctx, reg.ServiceID)
	if err != nil {
		return nil, err
	}
	return &apiv1.ServiceChange{Service: serviceOf(si), MappingVersion: reg.MappingVersion, DeliveryMappingVersion: reg.DeliveryMappingVersion}, nil
}

type configureParams struct {
	Service string                 `path:"service" doc:"service name or ID"`
	Body    apiv1.ConfigureRequest `body:""`
}

func (x *Handler) configureService(ctx context.Context, p *configureParams) (*apiv1.ServiceChange, error) {
	b := p.Body
	res, err := x.hub.ConfigureService(ctx, p.Service, hub.ServiceConfig{
		Category: store.ServiceCategory(b.Category), BaseURL: b.BaseURL, BackupURLs: b.BackupURLs, Auth: b.Auth,
		ConnectorOptions: b.ConnectorOptions, RateLimits: b.RateLimits, CircuitBreaker: b.CircuitBreaker, Retry: b.Retry,
		MaxRetries: b.MaxRetries, HealthCheck: b.HealthCheck, InputContract: hubContractRef(b.InputContract),
		Contract: hubContractRef(b.Contract), Mapping: b.Mapping, DeliveryMapping: b.DeliveryMapping, Operation: b.Operation,
		EscalationService: b.EscalationService, CostPerCall: b.CostPerCall, Active: b.Active, Actor: callerOf(ctx).ID,
	})
	if err != nil {
		return nil, err
	}
	si, err := x.hub.GetService(ctx, res.ServiceID)
	if err != nil {
		return nil, err
	}
	return &apiv1.ServiceChange{Service: serviceOf(si), Changed: res.Changed, MappingVersion: res.MappingVersion,
		DeliveryMappingVersion: res.DeliveryMappingVersion}, nil
}

type testParams struct {
	Service string            `path:"service" doc:"service name or ID"`
	Body    apiv1.TestRequest `body:""`
}

func (x *Handler) testService(ctx context.Context, p *testParams) (*apiv1.TestResult, error) {
	res, err := x.hub.TestIntegration(ctx, p.Service, hub.TestData{Payload: p.Body.Payload, SkipCheck: p.Body.SkipCheck})
	if err != nil {
		return nil, err
	}
	return testResultOf(res), nil
}

func (x *Handler) serviceHealth(ctx context.Context, p *serviceParam) (*apiv1.ServiceHealth, error) {
	rep, err := x.hub.GetIntegrationHealth(ctx, p.Service)
	if err != nil {
		return nil, err
	}
	if len(rep.Services) != 1 {
		return nil, fmt.Errorf("%w: service %q", hub.ErrNotFound, p.Service)
	}
	h := healthOf(rep.Services[0])
	return &h, nil
}

type processParams struct {
	Body apiv1.ProcessRequest `body:""`
}

func (x *Handler) processEvent(ctx context.Context, p *processParams) (*apiv1.ProcessResult, error) {
	b := p.Body
	mode := hub.Sync
	if b.Async {
		mode = hub.Async
	}
	res, err := x.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: b.Service, Payload: b.Payload,
		IdempotencyKey: b.IdempotencyKey, VentureID: b.VentureID, Operation: b.Operation, Priority: store.Priority(b.Priority),
		ChairmanOverride: b.ChairmanOverride, ExpiresAt: b.ExpiresAt, Mode: mode})
	if res != nil && (errors.Is(err, hub.ErrDeliveryFailed) || errors.Is(err, hub.ErrCircuitOpen)) {
		// stored: the result says what happened to the attempt; it will be retried
		return processResultOf(res), nil
	}
	if err != nil {
		return nil, err
	}
	return processResultOf(res), nil
}

type eventParam struct {
	ID string `path:"id" doc:"event ID"`
}

func (x *Handler) retryEvent(ctx context.Context, p *eventParam) (*apiv1.RetryResult, error) {
	res, err := x.hub.RetryFailedIntegration(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return &apiv1.RetryResult{EventID: res.EventID, PreviousStatus: string(res.PreviousStatus), Status: string(res.Status)}, nil
}

type redriveParams struct {
	Body apiv1.RedriveRequest `body:""`
}

func (x *Handler) redrive(ctx context.Context, p *redriveParams) (*apiv1.RedriveResult, error) {
	ids, err := x.redriveTargets(ctx, p.Body)
	if err != nil {
		return nil, err
	}
	out := &apiv1.RedriveResult{Requeued: []string{}}
	for _, id := range ids {
		res, err := x.hub.RetryFailedIntegration(ctx, id)
		switch {
		case err == nil:
			out.Requeued = append(out.Requeued, res.EventID)
		case errors.Is(err, hub.ErrNotFound), errors.Is(err, hub.ErrInvalidTransition), errors.Is(err, hub.ErrInvalidInput):
			out.Skipped = append(out.Skipped, apiv1.RedriveSkip{EventID: id, Reason: err.Error()})
		default:
			return nil, err
		}
	}
	return out, nil
}

// maxRedrive bounds one bulk redrive.
const maxRedrive = 1000

type healthParams struct {
	Service string `query:"service" doc:"one service (name or ID); all when absent"`
}

func (x *Handler) health(ctx context.Context, p *healthParams) (*apiv1.HealthReport, error) {
	rep, err := x.hub.GetIntegrationHealth(ctx, p.Service)
	if err != nil {
		return nil, err
	}
	return healthReportOf(rep), nil
}

type rangeParams struct {
	From time.Time `query:"from" doc:"RFC 3339; default to minus one hour"`
	To   time.Time `query:"to" doc:"RFC 3339; default now"`
}

func (x *Handler) metrics(ctx context.Context, p *rangeParams) (*apiv1.Performance, error) {
	m, err := x.hub.GetPerformanceMetrics(ctx, hub.TimeRange{From: p.From, To: p.To})
	if err != nil {
		return nil, err
	}
	return performanceOf(m), nil
}

type analyticsParams struct {
	Service string    `query:"service" doc:"one service (name or ID); all when absent"`
	Period  string    `query:"period" enum:"hour,day" doc:"default hour"`
	From    time.Time `query:"from" doc:"RFC 3339; default 24 periods before to"`
	To      time.Time `query:"to" doc:"RFC 3339; default now"`
}

func (x *Handler) analytics(ctx context.Context, p *analyticsParams) (*apiv1.Analytics, error) {
	a, err := x.hub.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Service: p.Service, Period: store.Period(p.Period),
		Range: hub.TimeRange{From: p.From, To: p.To}})
	if err != nil {
		return nil, err
	}
	return analyticsOf(a), nil
}

type escalateParams struct {
	Body apiv1.EscalationRequest `body:""`
}

func (x *Handler) escalate(ctx context.Context, p *escalateParams) (*apiv1.EscalationResult, error) {
	b := p.Body
	res, err := x.hub.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: b.Service, EventID: b.EventID,
		Severity: hub.Severity(b.Severity), Summary: b.Summary, Details: b.Details, Target: b.Target, Actor: callerOf(ctx).ID})
	if err != nil {
		return nil, err
	}
	return &apiv1.EscalationResult{IncidentID: res.IncidentID, RecordedAt: res.RecordedAt, Target: res.Target,
		NotificationEventID: res.NotificationEventID, Notified: res.Notified}, nil
}

type recoverParams struct {
	Body apiv1.RecoveryRequest `body:""`
}

func (x *Handler) recover(ctx context.Context, p *recoverParams) (*apiv1.RecoveryResult, error) {
	b := p.Body
	plan := hub.RecoveryPlan{Service: b.Service, Since: b.Since, BackupURL: b.BackupURL, Actor: callerOf(ctx).ID}
	for _, a := range b.Actions {
		plan.Actions = append(plan.Actions, hub.RecoveryAction(a))
	}
	res, err := x.hub.TriggerRecoveryAction(ctx, plan)
	if err != nil {
		return nil, err
	}
	return recoveryOf(res), nil
}

type auditParams struct {
	EntityType string    `query:"entity_type"`
	EntityID   string    `query:"entity_id"`
	Actor      string    `query:"actor"`
	From       time.Time `query:"from" doc:"RFC 3339"`
	To         time.Time `query:"to" doc:"RFC 3339"`
	Cursor     string    `query:"cursor" doc:"next_cursor of the previous page"`
	Limit      int       `query:"limit" doc:"page size, default 100, at most 1000"`
}

func (x *Handler) listAudit(ctx context.Context, p *auditParams) (*apiv1.AuditPage, error) {
	page, err := x.hub.ListAudit(ctx, hub.AuditQuery{EntityType: p.EntityType, EntityID: p.EntityID, Actor: p.Actor,
		From: p.From, To: p.To, Cursor: p.Cursor, Limit: p.Limit})
	if err != nil {
		return nil, err
	}
	out := &apiv1.AuditPage{Entries: []apiv1.AuditEntry{}, NextCursor: page.NextCursor}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, auditOf(e))
	}
	return out, nil
}

// decodeObject reads a JSON object member of a request body.
func decodeObject(name string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: %s is required", hub.ErrInvalidInput, name)
	}
	var m map[string]any
	dec := json.NewDecoder(bytesReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: %s must be a JSON object", hub.ErrInvalidInput, name)
	}
	return m, nil
}
