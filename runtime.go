package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/internal/pipeline"
	"github.com/ehg/hub/internal/seal"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

// serviceMeta is what the hub keeps in a service's schema_mappings column: which contracts
// and rule versions apply, and the hub-level settings that have no column of their own.
type serviceMeta struct {
	InputContract     *contractKey `json:"input_contract,omitempty"`
	Contract          *contractKey `json:"contract,omitempty"`
	Mapping           *ruleKey     `json:"mapping,omitempty"`
	DeliveryMapping   *ruleKey     `json:"delivery_mapping,omitempty"`
	Operation         string       `json:"operation,omitempty"`
	EscalationService string       `json:"escalation_service,omitempty"`
	CostPerCall       float64      `json:"cost_per_call,omitempty"`
	// Redirects is the service's redirect policy ("" is RedirectsNone).
	Redirects RedirectPolicy `json:"redirects,omitempty"`
	// Removed is set once RemoveService was called (see removal.go).
	Removed *removal `json:"removed,omitempty"`
}

type contractKey struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type ruleKey struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

func parseMeta(raw json.RawMessage) (serviceMeta, error) {
	var m serviceMeta
	if seal.Empty(raw) {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("schema_mappings: %w", err)
	}
	return m, nil
}

// sources are the definitions a runtime compiles: contract schemas and mapping documents.
type sources struct {
	inputSchema, canonSchema json.RawMessage
	mapping, delivery        json.RawMessage
}

// runtime is the compiled, ready-to-use state of one service: its connectors (one per
// endpoint), resilience policy, contracts and mappings. Built when a service is registered,
// changed or first used; immutable afterwards (the policy has its own state).
type runtime struct {
	svc      *store.Service
	meta     serviceMeta
	policy   *resilience.Policy
	override *resilience.Policy // chairman overrides: same breaker rules, no rate-limit wait
	conns    map[string]connectors.Connector
	input    *compiledContract
	canon    *compiledContract
	mapping  *compiledRule
	delivery *compiledRule
	// pipe runs input contract, mapping, canonical contract and delivery mapping in one
	// compiled pass over each event (internal/pipeline).
	pipe *pipeline.Pipeline
	// quota feeds a response's rate-limit headers to the health monitor's forecast.
	quota func(http.Header)
	// unwatch stops feeding the policy's breaker transitions to the health monitor.
	unwatch func()
	// personal is what the contracts mark personal (see personal.go).
	personal personalData
	// gen is the number of this runtime's caching (Hub.gen): a refresh that listed the store
	// before it must not replace it with what it read.
	gen uint64
	// target is the runtime as the engine delivers through it (engineTarget{rt: this
	// runtime}), made once; a copy of a runtime needs its own.
	target engine.Target
}

// buildRuntime compiles svc (whose authentication_config is sealed) with the given sources.
// Errors are *ConfigError naming the field.
func (h *Hub) buildRuntime(svc *store.Service, plainAuth json.RawMessage, meta serviceMeta, src sources) (*runtime, error) {
	rt := &runtime{svc: svc, meta: meta, conns: map[string]connectors.Connector{}}
	rt.target = engineTarget{rt: rt, h: h}
	h.registerCredentials(plainAuth)
	rt.quota = func(hdr http.Header) { h.observeQuota(svc.ID, hdr) }
	if _, ok := h.reg.Lookup(svc.ConnectorKind); !ok {
		return nil, configErr("IntegrationConfig.Connector", fmt.Sprintf("unknown connector kind %q (known: %v)", svc.ConnectorKind, h.reg.Kinds()), nil)
	}
	maxRetries := svc.MaxRetries
	rcfg, err := resilience.ParseColumns(resilience.Columns{
		RateLimits: svc.RateLimits, CircuitBreaker: svc.CircuitBreakerConfig, Retry: svc.RetryConfig, MaxRetries: &maxRetries,
	})
	if err != nil {
		return nil, configErr(resilienceField(err), "", err)
	}
	endpoints := append([]string{svc.BaseURL}, svc.BackupURLs...)
	if svc.BaseURL == "" {
		endpoints = []string{""}
	}
	endpoints = slices.Compact(endpoints)
	pol, err := resilience.New(rcfg, resilience.Options{Name: svc.Name, Endpoints: endpoints, Logger: h.log})
	if err != nil {
		return nil, configErr(resilienceField(err), "", err)
	}
	ocfg := rcfg
	ocfg.RateLimit.RequestsPerMinute = 0
	ocfg.RateLimit.Adaptive = false
	ocfg.RateLimit.MaxConcurrent = 0
	ocfg.RateLimit.AdaptiveConcurrency = false
	over, err := resilience.New(ocfg, resilience.Options{Name: svc.Name + "/override", Endpoints: endpoints, Logger: h.log})
	if err != nil {
		return nil, configErr(resilienceField(err), "", err)
	}
	rt.policy, rt.override = pol, over
	client, err := h.egress.client(meta.Redirects, callRecording(h))
	if err != nil {
		return nil, configErr("IntegrationConfig.Redirects", "unknown redirect policy", err)
	}
	for _, ep := range endpoints {
		c, err := h.reg.New(svc.ConnectorKind, connectors.Config{
			Name:       svc.Name,
			BaseURL:    ep,
			Auth:       plainAuth,
			Options:    svc.ConnectorConfig,
			HTTPClient: client,
			Logger:     h.log,
			Now:        h.cfg.Clock,
			Tokens:     h.tokenKeeperFor(svc),
		})
		if err != nil {
			rt.close(context.Background())
			field := "IntegrationConfig.ConnectorOptions"
			if ep != svc.BaseURL {
				field = "IntegrationConfig.BackupURLs"
			}
			return nil, configErr(field, "", h.scrubErr(err))
		}
		rt.conns[ep] = c
	}
	if rt.input, err = h.compileContract(context.Background(), "IntegrationConfig.InputContract", meta.InputContract, src.inputSchema); err != nil {
		rt.close(context.Background())
		return nil, err
	}
	if rt.canon, err = h.compileContract(context.Background(), "IntegrationConfig.Contract", meta.Contract, src.canonSchema); err != nil {
		rt.close(context.Background())
		return nil, err
	}
	if rt.mapping, err = h.compileRule("IntegrationConfig.Mapping", meta.Mapping, src.mapping); err != nil {
		rt.close(context.Background())
		return nil, err
	}
	if rt.delivery, err = h.compileRule("IntegrationConfig.DeliveryMapping", meta.DeliveryMapping, src.delivery); err != nil {
		rt.close(context.Background())
		return nil, err
	}
	if rt.personal, err = h.personalOf(src, meta.Mapping != nil); err != nil {
		rt.close(context.Background())
		return nil, err
	}
	pc := pipeline.Config{MaxBytes: h.cfg.MaxPayloadBytes, MaxDepth: h.cfg.MaxPayloadDepth}
	if rt.input != nil {
		pc.Input = rt.input.c
	}
	if rt.canon != nil {
		pc.Canonical = rt.canon.c
	}
	if rt.mapping != nil {
		pc.Mapping = rt.mapping.prog
	}
	if rt.delivery != nil {
		pc.Delivery = rt.delivery.prog
	}
	if rt.pipe, err = pipeline.New(pc); err != nil {
		rt.close(context.Background())
		return nil, configErr("IntegrationConfig.Mapping", "the event pipeline does not compile", err)
	}
	return rt, nil
}

func resilienceField(err error) string {
	var ce *resilience.ConfigError
	if errors.As(err, &ce) {
		return "IntegrationConfig." + ce.Field
	}
	return "IntegrationConfig.RateLimits"
}

func (rt *runtime) close(ctx context.Context) {
	if rt.unwatch != nil {
		rt.unwatch()
	}
	for _, c := range rt.conns {
		if cl, ok := c.(connectors.Closer); ok {
			_ = cl.Close(ctx)
		}
	}
}

// excluded reports whether claims must skip the service now.
func (rt *runtime) excluded() bool {
	return !rt.svc.IsActive || rt.policy.Ready() > 0
}

// deliver performs one attempt of ev through the policy.
func (rt *runtime) deliver(ctx context.Context, ev *store.Event) (*connectors.Response, error) {
	op := ev.Operation
	if op == "" {
		op = rt.meta.Operation
	}
	key := ev.IdempotencyKey
	if key == "" {
		key = ev.ID
	}
	req := &connectors.Request{Operation: op, Body: deliveryDoc(ev.PayloadOut, ev.CanonicalMapping, ev.PayloadIn), IdempotencyKey: key}
	pol := rt.policy
	if ev.ChairmanOverride {
		if w := rt.policy.Ready(); w > 0 {
			return nil, &resilience.RejectedError{Reason: resilience.ErrCircuitOpen, Wait: w}
		}
		pol = rt.override
	}
	resp, err := resilience.Execute(ctx, pol, func(ctx context.Context, endpoint string) (*connectors.Response, error) {
		c := rt.conns[endpoint]
		if c == nil {
			return nil, connectors.BadRequest("hub.deliver", "no connector for endpoint")
		}
		resp, err := c.Invoke(ctx, req)
		if err == nil && resp != nil {
			pol.Observe(resp.StatusCode, resp.Header)
			rt.quota(resp.Header)
		} else {
			var ce *connectors.Error
			if errors.As(err, &ce) && ce.StatusCode != 0 {
				pol.Observe(ce.StatusCode, ce.Header)
				rt.quota(ce.Header)
			}
		}
		return resp, err
	})
	return resp, err
}

// targets adapts the hub to engine.Targets.
type targets Hub

func (t *targets) Target(ctx context.Context, serviceID string) (engine.Target, error) {
	h := (*Hub)(t)
	if v, ok := h.unloadable.Load(serviceID); ok {
		u := v.(unloadableUntil)
		if wait := u.until.Sub(h.cfg.Clock()); wait > 0 {
			return nil, &resilience.RejectedError{Reason: u.err, Wait: wait}
		}
		h.unloadable.CompareAndDelete(serviceID, v)
	}
	rt, err := h.runtimeFor(ctx, serviceID)
	if err != nil {
		if passing(err) {
			// The engine waits and tries again rather than failing the event for good; the
			// service's other events wait as long without asking again.
			h.unloadable.Store(serviceID, unloadableUntil{until: h.cfg.Clock().Add(unloadableWait), err: err})
			return nil, &resilience.RejectedError{Reason: err, Wait: unloadableWait}
		}
		return nil, err
	}
	if t, ok := rt.target.(engineTarget); ok && t.rt == rt {
		return rt.target, nil
	}
	return engineTarget{rt: rt, h: h}, nil // a copy of a runtime (replaceService)
}

// unloadableWait is how long a service that could not be loaded for a passing reason is
// not tried again for delivery.
const unloadableWait = time.Second

// unloadableUntil is a passing error of a service's loading and until when it stands.
type unloadableUntil struct {
	until time.Time
	err   error
}

// passing reports whether err, from loading a service, may clear by itself: the key
// service failed (ErrKeyService) or the store was busy.
func passing(err error) bool {
	return errors.Is(err, ErrKeyService) || errors.Is(err, store.ErrBusy) || errors.Is(err, ErrBusy)
}

func (t *targets) Excluded() []string {
	h := (*Hub)(t)
	h.mu.RLock()
	defer h.mu.RUnlock()
	var ids []string
	for id, rt := range h.byID {
		if rt.excluded() {
			ids = append(ids, id)
		}
	}
	return ids
}

type engineTarget struct {
	rt *runtime
	h  *Hub
}

// Deliver performs one attempt inside a hub.deliver span.
func (e engineTarget) Deliver(ctx context.Context, ev *store.Event) (*connectors.Response, error) {
	if ev.Direction == store.DirectionInbound {
		return acknowledge(ev), nil // received from the service: nothing goes back to it
	}
	if !e.rt.svc.IsActive {
		// Claimed as the service was disabled (the claim read the services to skip just
		// before): nothing is sent, and the event waits, unattempted, for the service to be
		// enabled again.
		return nil, &resilience.RejectedError{Reason: fmt.Errorf("%w: %q", ErrServiceDisabled, e.rt.svc.Name)}
	}
	ctx, span := e.h.startDeliverSpan(ctx, e.rt, ev)
	resp, err := e.rt.deliver(ctx, ev)
	err = e.rt.personal.scrubErr(ev, err) // the remote may echo personal values
	err = e.h.scrubErr(err)               // and credentials (a 401 echoing the request)
	endDeliverSpan(span, resp, err)
	return resp, err
}

func (e engineTarget) Backoff(retry int, err error) time.Duration {
	return e.rt.policy.NextBackoff(retry, err)
}

func (e engineTarget) Scrub(s string) string { return e.h.scrub(s) }

// runtimeFor returns the runtime of the service with the given ID or name, loading and
// compiling it on first use. Errors: ErrUnknownService, or a *ConfigError when the stored
// configuration no longer compiles.
func (h *Hub) runtimeFor(ctx context.Context, idOrName string) (*runtime, error) {
	h.mu.RLock()
	rt := h.byID[idOrName]
	if rt == nil {
		if id, ok := h.names[idOrName]; ok {
			rt = h.byID[id]
		}
	}
	h.mu.RUnlock()
	if rt != nil {
		return rt, nil
	}
	svc, err := h.loadService(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return h.install(ctx, svc)
}

func (h *Hub) loadService(ctx context.Context, idOrName string) (*store.Service, error) {
	if idOrName == "" {
		return nil, fmt.Errorf("%w: empty service name", ErrUnknownService)
	}
	svc, err := h.st.GetServiceByName(ctx, idOrName)
	if errors.Is(err, store.ErrNotFound) && isUUID(idOrName) {
		svc, err = h.st.GetService(ctx, idOrName)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownService, idOrName)
	}
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return svc, nil
}

// install compiles a stored service and caches it, replacing any older runtime.
func (h *Hub) install(ctx context.Context, svc *store.Service) (*runtime, error) {
	return h.installSince(ctx, svc, math.MaxUint64)
}

// installSince is install for a service read from the store when the cache was at
// generation since: it leaves a runtime cached later in place (see putSince).
func (h *Hub) installSince(ctx context.Context, svc *store.Service, since uint64) (*runtime, error) {
	meta, err := parseMeta(svc.SchemaMappings)
	if err != nil {
		return nil, configErr("schema_mappings", "stored service metadata is unreadable", err)
	}
	plain, err := h.vault.open(ctx, svc.Name, svc.AuthenticationConfig)
	if err != nil {
		return nil, configErr("Config.SecretKey", fmt.Sprintf("cannot open the credentials of service %q", svc.Name), err)
	}
	src, err := h.loadSources(ctx, meta)
	if err != nil {
		return nil, err
	}
	rt, err := h.buildRuntime(svc, plain, meta, src)
	if err != nil {
		return nil, err
	}
	h.putSince(ctx, rt, since)
	return rt, nil
}

// put caches rt, closing the runtime it replaces, keeping breaker state out of it: a new
// runtime starts with a closed breaker only when the configuration changed.
func (h *Hub) put(ctx context.Context, rt *runtime) { h.putSince(ctx, rt, math.MaxUint64) }

// putSince caches rt as put does, unless the service's cached runtime was cached, or the
// service dropped, after generation since: then a change this hub made (a disable, a new
// configuration, a removal) came after rt was read from the store, and rt, now stale, is
// closed instead. It reports whether rt was cached.
func (h *Hub) putSince(ctx context.Context, rt *runtime, since uint64) bool {
	if rt.unwatch == nil {
		rt.unwatch = h.watchHealth(rt)
	}
	h.mu.Lock()
	old := h.byID[rt.svc.ID]
	if (old != nil && old.gen > since) || h.dropped[rt.svc.ID] > since {
		h.mu.Unlock()
		rt.close(ctx)
		return false
	}
	h.gen++
	rt.gen = h.gen
	h.byID[rt.svc.ID] = rt
	for n, id := range h.names {
		if id == rt.svc.ID && n != rt.svc.Name {
			delete(h.names, n)
		}
	}
	h.names[rt.svc.Name] = rt.svc.ID
	h.mu.Unlock()
	if old != nil && old != rt {
		old.close(ctx)
	}
	return true
}

// loadSources reads the contract schemas and mapping documents a service refers to.
func (h *Hub) loadSources(ctx context.Context, meta serviceMeta) (sources, error) {
	var src sources
	getC := func(field string, k *contractKey) (json.RawMessage, error) {
		if k == nil {
			return nil, nil
		}
		c, err := h.st.GetContract(ctx, k.Name, k.Version)
		if err != nil {
			return nil, configErr(field, fmt.Sprintf("contract %s@%s cannot be loaded", k.Name, k.Version), mapStoreErr(err))
		}
		return c.Schema, nil
	}
	getR := func(field string, k *ruleKey) (json.RawMessage, error) {
		if k == nil {
			return nil, nil
		}
		r, err := h.st.GetRule(ctx, k.Name, k.Version)
		if err != nil {
			return nil, configErr(field, fmt.Sprintf("rule %s v%d cannot be loaded", k.Name, k.Version), mapStoreErr(err))
		}
		return r.TransformationLogic, nil
	}
	var err error
	if src.inputSchema, err = getC("IntegrationConfig.InputContract", meta.InputContract); err != nil {
		return src, err
	}
	if src.canonSchema, err = getC("IntegrationConfig.Contract", meta.Contract); err != nil {
		return src, err
	}
	if src.mapping, err = getR("IntegrationConfig.Mapping", meta.Mapping); err != nil {
		return src, err
	}
	if src.delivery, err = getR("IntegrationConfig.DeliveryMapping", meta.DeliveryMapping); err != nil {
		return src, err
	}
	return src, nil
}

// refreshServices reloads services changed by other hubs (or this one) since they were
// compiled, so disable/enable and configuration changes reach every hub sharing the store.
// Only listing errors are returned; a service that no longer compiles is logged.
func (h *Hub) refreshServices(ctx context.Context) error {
	h.mu.RLock()
	since := h.gen // what this hub changes while the list is read is newer than the list
	h.mu.RUnlock()
	var all []*store.Service
	for off := 0; ; off += store.MaxPageLimit {
		page, err := h.st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return err
		}
		all = append(all, page...)
		if len(page) < store.MaxPageLimit {
			break
		}
	}
	live, err := h.vault.liveDataKeys(ctx) // listed after the services, so it holds every key they name unless destroyed
	if err != nil {
		return err
	}
	for _, svc := range all {
		if ref, ok := seal.DataKeyRef(svc.AuthenticationConfig); ok && live != nil && !live[ref] && h.vault.destroyed(ctx, ref) {
			h.drop(ctx, svc.ID) // its data key was destroyed, maybe by another hub: forget the opened credentials
			continue
		}
		if m, err := parseMeta(svc.SchemaMappings); err == nil && m.Removed != nil && m.Removed.CredentialsDestroyedAt != nil {
			h.drop(ctx, svc.ID) // removed for good: nothing is delivered to it any more
			continue
		}
		h.mu.RLock()
		cur := h.byID[svc.ID]
		h.mu.RUnlock()
		if cur != nil && cur.svc.UpdatedAt.Equal(svc.UpdatedAt) {
			continue
		}
		if cur != nil && sameConfig(cur.svc, svc) {
			// only activity or health changed: keep the policy (and its breaker state)
			h.replaceService(svc, since)
			continue
		}
		if _, err := h.installSince(ctx, svc, since); err != nil {
			// One unusable service must not hide the others; its events fail when claimed.
			h.log.Warn("hub: a stored service does not compile", "service", svc.Name, "error", err)
		}
	}
	return nil
}

// replaceService caches a copy of the service's runtime with svc as its stored record,
// keeping its compiled policy and breaker state, unless the runtime was cached after
// generation since (see putSince).
func (h *Hub) replaceService(svc *store.Service, since uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.byID[svc.ID]
	if cur == nil || cur.gen > since || h.dropped[svc.ID] > since {
		return
	}
	nrt := *cur
	nrt.svc = svc
	nrt.target = engineTarget{rt: &nrt, h: h}
	h.gen++
	nrt.gen = h.gen
	h.byID[svc.ID] = &nrt
}

// sameConfig reports whether two versions of a service differ at most in is_active,
// health_status and updated_at.
func sameConfig(a, b *store.Service) bool {
	x, y := *a, *b
	x.IsActive, y.IsActive = false, false
	x.HealthStatus, y.HealthStatus = "", ""
	x.UpdatedAt, y.UpdatedAt = time.Time{}, time.Time{}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
