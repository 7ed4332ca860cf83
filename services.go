package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ehg/hub/internal/seal"
	"github.com/ehg/hub/store"
)

// Limits of service configuration.
const (
	maxServiceName = 200
	maxRetriesCap  = 100
)

// RegisterIntegration validates cfg and stores a new service: contracts given with a schema
// are stored as versioned data contracts, mappings as version 1 of the rules
// "<name>.mapping" and "<name>.delivery", credentials sealed. Everything compiles before
// anything is stored. The change is appended to the audit log with secrets redacted.
//
// Errors: *ConfigError (ErrInvalidConfig) naming the bad field, including a taken name
// (field IntegrationConfig.Name); ErrClosed; store errors.
func (h *Hub) RegisterIntegration(ctx context.Context, cfg IntegrationConfig) (*Registration, error) {
	if err := h.guard(ctx, registerCall(cfg)); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if err := cfg.resolvePolicies(); err != nil {
		return nil, err
	}
	if err := checkName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Category == "" {
		cfg.Category = store.CategoryOther
	}
	if !cfg.Category.Valid() {
		return nil, configErr("IntegrationConfig.Category", fmt.Sprintf("unknown category %q", cfg.Category), nil)
	}
	if cfg.Connector == "" {
		return nil, configErr("IntegrationConfig.Connector", "connector kind is required", nil)
	}
	if err := h.checkURLs("IntegrationConfig.", cfg.BaseURL, cfg.BackupURLs); err != nil {
		return nil, err
	}
	if err := checkRedirects("IntegrationConfig.Redirects", cfg.Redirects); err != nil {
		return nil, err
	}
	if err := checkJSONFields(map[string]json.RawMessage{
		"IntegrationConfig.Auth": cfg.Auth, "IntegrationConfig.ConnectorOptions": cfg.ConnectorOptions,
		"IntegrationConfig.RateLimits": cfg.RateLimits, "IntegrationConfig.CircuitBreaker": cfg.CircuitBreaker,
		"IntegrationConfig.Retry": cfg.Retry, "IntegrationConfig.HealthCheck": cfg.HealthCheck,
		"IntegrationConfig.Mapping": cfg.Mapping, "IntegrationConfig.DeliveryMapping": cfg.DeliveryMapping,
	}); err != nil {
		return nil, err
	}
	if err := checkHealthConfig("IntegrationConfig.HealthCheck", cfg.HealthCheck); err != nil {
		return nil, err
	}
	if err := h.checkAuthURLs("IntegrationConfig.Auth", cfg.Auth); err != nil {
		return nil, err
	}
	maxRetries := h.cfg.MaxRetriesDefault
	if cfg.MaxRetries != nil {
		maxRetries = *cfg.MaxRetries
	} else if mr, ok := retryColumnMax(cfg.Retry); ok {
		maxRetries = mr
	}
	if maxRetries < 0 || maxRetries > maxRetriesCap {
		return nil, configErr("IntegrationConfig.MaxRetries", fmt.Sprintf("%d is outside [0, %d]", maxRetries, maxRetriesCap), nil)
	}
	if cfg.CostPerCall < 0 {
		return nil, configErr("IntegrationConfig.CostPerCall", "must not be negative", nil)
	}
	if cfg.DataRegion != "" && !store.ValidRegion(cfg.DataRegion) {
		return nil, configErr("IntegrationConfig.DataRegion", fmt.Sprintf("%q is not a region name (lowercase letters, digits, '-', '_')", cfg.DataRegion), nil)
	}
	if _, err := h.st.GetServiceByName(ctx, cfg.Name); err == nil {
		return nil, configErr("IntegrationConfig.Name", fmt.Sprintf("a service named %q exists", cfg.Name), store.ErrConflict)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, mapStoreErr(err)
	}
	sealed, err := h.vault.seal(ctx, serviceKeyOwner(cfg.Name), cfg.Name, cfg.Auth)
	if err != nil {
		return nil, configErr("Config.SecretKey", "a 32-byte secret key is required to store credentials (WithSecretKey)", err)
	}
	meta := serviceMeta{Operation: cfg.Operation, EscalationService: cfg.EscalationService, CostPerCall: cfg.CostPerCall, Redirects: cfg.Redirects}
	var src sources
	if meta.InputContract, src.inputSchema, err = h.resolveContract(ctx, "IntegrationConfig.InputContract", cfg.InputContract); err != nil {
		return nil, err
	}
	if meta.Contract, src.canonSchema, err = h.resolveContract(ctx, "IntegrationConfig.Contract", cfg.Contract); err != nil {
		return nil, err
	}
	if !seal.Empty(cfg.Mapping) {
		v, err := h.nextRuleVersion(ctx, cfg.Name+".mapping")
		if err != nil {
			return nil, err
		}
		meta.Mapping, src.mapping = &ruleKey{Name: cfg.Name + ".mapping", Version: v}, cfg.Mapping
	}
	if !seal.Empty(cfg.DeliveryMapping) {
		v, err := h.nextRuleVersion(ctx, cfg.Name+".delivery")
		if err != nil {
			return nil, err
		}
		meta.DeliveryMapping, src.delivery = &ruleKey{Name: cfg.Name + ".delivery", Version: v}, cfg.DeliveryMapping
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("hub: encoding service metadata: %w", err)
	}
	svc := &store.Service{
		ID:                   uuid.NewString(),
		Name:                 cfg.Name,
		Category:             cfg.Category,
		ConnectorKind:        cfg.Connector,
		BaseURL:              cfg.BaseURL,
		AuthenticationConfig: sealed,
		ConnectorConfig:      nonEmpty(cfg.ConnectorOptions),
		RateLimits:           nonEmpty(cfg.RateLimits),
		CircuitBreakerConfig: nonEmpty(cfg.CircuitBreaker),
		RetryConfig:          nonEmpty(cfg.Retry),
		MaxRetries:           maxRetries,
		SchemaMappings:       metaJSON,
		HealthCheckConfig:    nonEmpty(cfg.HealthCheck),
		BackupURLs:           slices.Clone(cfg.BackupURLs),
		IsActive:             !cfg.Disabled,
		HealthStatus:         store.HealthUnknown,
		DataRegion:           cfg.DataRegion,
	}
	rt, err := h.buildRuntime(svc, cfg.Auth, meta, src)
	if err != nil {
		return nil, err
	}
	// Everything compiles: store contracts, rules, then the service.
	if err := h.storeContract(ctx, "IntegrationConfig.InputContract", cfg.InputContract); err != nil {
		rt.close(ctx)
		return nil, err
	}
	if err := h.storeContract(ctx, "IntegrationConfig.Contract", cfg.Contract); err != nil {
		rt.close(ctx)
		return nil, err
	}
	if err := h.storeRule(ctx, svc.ID, meta.Mapping, src.mapping, mappingSides(meta, src)); err != nil {
		rt.close(ctx)
		return nil, err
	}
	if err := h.storeRule(ctx, svc.ID, meta.DeliveryMapping, src.delivery, deliverySides(meta, src)); err != nil {
		rt.close(ctx)
		return nil, err
	}
	intent, err := h.audit(ctx, cfg.Actor, "service.register", svc.ID, nil, redactedService(svc, cfg.Auth))
	if err != nil {
		rt.close(ctx)
		return nil, err
	}
	stored, err := h.st.CreateService(ctx, svc)
	if err != nil {
		rt.close(ctx)
		h.auditAborted(ctx, intent, err)
		if errors.Is(err, store.ErrConflict) {
			return nil, configErr("IntegrationConfig.Name", fmt.Sprintf("a service named %q exists", cfg.Name), err)
		}
		return nil, mapStoreErr(err)
	}
	rt.svc = stored
	h.put(ctx, rt)
	h.log.Info("hub: service registered", "service", stored.Name, "connector", stored.ConnectorKind)
	return &Registration{
		ServiceID:              stored.ID,
		Name:                   stored.Name,
		Service:                publicService(stored, cfg.Auth),
		MappingVersion:         versionOf(meta.Mapping),
		DeliveryMappingVersion: versionOf(meta.DeliveryMapping),
	}, nil
}

// ConfigureService changes the service named by id or name. Only the fields set in cfg
// change; a new Mapping or DeliveryMapping becomes the next version of its rule (the active
// one); a new Contract or InputContract is stored when it carries a schema. The result is
// compiled before it is stored, and the change is audited with secrets redacted. The
// service's breaker starts closed again when its configuration changed.
//
// Errors: ErrUnknownService; *ConfigError naming the bad field; ErrClosed.
func (h *Hub) ConfigureService(ctx context.Context, serviceID string, cfg ServiceConfig) (*Configuration, error) {
	if err := h.guard(ctx, h.configureCall(serviceID, cfg)); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if err := cfg.resolvePolicies(); err != nil {
		return nil, err
	}
	cur, err := h.loadService(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	oldAuth, err := h.vault.open(ctx, cur.Name, cur.AuthenticationConfig)
	shredded := false
	if errors.Is(err, ErrDataKeyDestroyed) {
		// New credentials replace the shredded ones, under a new data key; without them the
		// rest of the configuration (activity included) can still change, and the service
		// stays undeliverable until it is given credentials.
		oldAuth, err, shredded = nil, nil, cfg.Auth == nil
	}
	if err != nil {
		return nil, configErr("Config.SecretKey", fmt.Sprintf("cannot open the credentials of service %q", cur.Name), err)
	}
	meta, err := parseMeta(cur.SchemaMappings)
	if err != nil {
		return nil, configErr("schema_mappings", "stored service metadata is unreadable", err)
	}
	if meta.Removed != nil {
		return nil, fmt.Errorf("%w: %q was removed", ErrUnknownService, serviceID)
	}
	src, err := h.loadSources(ctx, meta)
	if err != nil {
		return nil, err
	}
	next := cur.Clone()
	auth := oldAuth
	var changed []string
	set := func(name string) { changed = append(changed, name) }
	if cfg.Category != "" && cfg.Category != cur.Category {
		if !cfg.Category.Valid() {
			return nil, configErr("ServiceConfig.Category", fmt.Sprintf("unknown category %q", cfg.Category), nil)
		}
		next.Category = cfg.Category
		set("category")
	}
	if cfg.Connector != nil && *cfg.Connector != cur.ConnectorKind {
		if _, ok := h.reg.Lookup(*cfg.Connector); !ok {
			return nil, configErr("ServiceConfig.Connector", fmt.Sprintf("unknown connector kind %q (known: %v)", *cfg.Connector, h.reg.Kinds()), nil)
		}
		next.ConnectorKind = *cfg.Connector
		set("connector_kind")
	}
	if cfg.BaseURL != nil || cfg.BackupURLs != nil {
		base, backups := cur.BaseURL, cur.BackupURLs
		if cfg.BaseURL != nil {
			base = *cfg.BaseURL
		}
		if cfg.BackupURLs != nil {
			backups = cfg.BackupURLs
		}
		if err := h.checkURLs("IntegrationConfig.", base, backups); err != nil {
			return nil, err
		}
		if base != cur.BaseURL {
			next.BaseURL = base
			set("base_url")
		}
		if !slices.Equal(backups, cur.BackupURLs) {
			next.BackupURLs = slices.Clone(backups)
			set("backup_urls")
		}
	}
	if err := checkJSONFields(map[string]json.RawMessage{
		"ServiceConfig.Auth": cfg.Auth, "ServiceConfig.ConnectorOptions": cfg.ConnectorOptions,
		"ServiceConfig.RateLimits": cfg.RateLimits, "ServiceConfig.CircuitBreaker": cfg.CircuitBreaker,
		"ServiceConfig.Retry": cfg.Retry, "ServiceConfig.HealthCheck": cfg.HealthCheck,
		"ServiceConfig.Mapping": cfg.Mapping, "ServiceConfig.DeliveryMapping": cfg.DeliveryMapping,
	}); err != nil {
		return nil, err
	}
	if err := checkHealthConfig("ServiceConfig.HealthCheck", cfg.HealthCheck); err != nil {
		return nil, err
	}
	if err := h.checkAuthURLs("ServiceConfig.Auth", cfg.Auth); err != nil {
		return nil, err
	}
	if cfg.Auth != nil {
		sealed, err := h.vault.seal(ctx, serviceKeyOwner(cur.Name), cur.Name, cfg.Auth)
		if err != nil {
			return nil, configErr("Config.SecretKey", "a 32-byte secret key is required to store credentials (WithSecretKey)", err)
		}
		next.AuthenticationConfig, auth = sealed, cfg.Auth
		set("authentication_config")
	}
	for _, c := range []struct {
		name string
		in   json.RawMessage
		dst  *json.RawMessage
	}{
		{"connector_config", cfg.ConnectorOptions, &next.ConnectorConfig},
		{"rate_limits", cfg.RateLimits, &next.RateLimits},
		{"circuit_breaker_config", cfg.CircuitBreaker, &next.CircuitBreakerConfig},
		{"retry_config", cfg.Retry, &next.RetryConfig},
		{"health_check_config", cfg.HealthCheck, &next.HealthCheckConfig},
	} {
		if c.in != nil && string(c.in) != string(*c.dst) {
			*c.dst = nonEmpty(c.in)
			set(c.name)
		}
	}
	if cfg.MaxRetries != nil && *cfg.MaxRetries != cur.MaxRetries {
		if *cfg.MaxRetries < 0 || *cfg.MaxRetries > maxRetriesCap {
			return nil, configErr("ServiceConfig.MaxRetries", fmt.Sprintf("%d is outside [0, %d]", *cfg.MaxRetries, maxRetriesCap), nil)
		}
		next.MaxRetries = *cfg.MaxRetries
		set("max_retries")
	}
	if cfg.Active != nil && *cfg.Active != cur.IsActive {
		next.IsActive = *cfg.Active
		set("is_active")
	}
	if cfg.DataRegion != nil && *cfg.DataRegion != cur.DataRegion {
		if *cfg.DataRegion != "" && !store.ValidRegion(*cfg.DataRegion) {
			return nil, configErr("ServiceConfig.DataRegion", fmt.Sprintf("%q is not a region name (lowercase letters, digits, '-', '_')", *cfg.DataRegion), nil)
		}
		next.DataRegion = *cfg.DataRegion
		set("data_region")
	}
	if cfg.Operation != nil && *cfg.Operation != meta.Operation {
		meta.Operation = *cfg.Operation
		set("operation")
	}
	if cfg.EscalationService != nil && *cfg.EscalationService != meta.EscalationService {
		meta.EscalationService = *cfg.EscalationService
		set("escalation_service")
	}
	if cfg.Redirects != nil && *cfg.Redirects != meta.Redirects {
		if err := checkRedirects("ServiceConfig.Redirects", *cfg.Redirects); err != nil {
			return nil, err
		}
		meta.Redirects = *cfg.Redirects
		set("redirects")
	}
	if cfg.CostPerCall != nil && *cfg.CostPerCall != meta.CostPerCall {
		if *cfg.CostPerCall < 0 {
			return nil, configErr("ServiceConfig.CostPerCall", "must not be negative", nil)
		}
		meta.CostPerCall = *cfg.CostPerCall
		set("cost_per_call")
	}
	if cfg.InputContract != nil {
		if meta.InputContract, src.inputSchema, err = h.resolveContract(ctx, "ServiceConfig.InputContract", cfg.InputContract); err != nil {
			return nil, err
		}
		set("input_contract")
	}
	if cfg.Contract != nil {
		if meta.Contract, src.canonSchema, err = h.resolveContract(ctx, "ServiceConfig.Contract", cfg.Contract); err != nil {
			return nil, err
		}
		set("contract")
	}
	newMapping := cfg.Mapping != nil && !seal.Empty(cfg.Mapping) && string(compact(cfg.Mapping)) != string(compact(src.mapping))
	if newMapping {
		v, err := h.nextRuleVersion(ctx, cur.Name+".mapping")
		if err != nil {
			return nil, err
		}
		meta.Mapping, src.mapping = &ruleKey{Name: cur.Name + ".mapping", Version: v}, cfg.Mapping
		set("mapping")
	}
	newDelivery := cfg.DeliveryMapping != nil && !seal.Empty(cfg.DeliveryMapping) && string(compact(cfg.DeliveryMapping)) != string(compact(src.delivery))
	if newDelivery {
		v, err := h.nextRuleVersion(ctx, cur.Name+".delivery")
		if err != nil {
			return nil, err
		}
		meta.DeliveryMapping, src.delivery = &ruleKey{Name: cur.Name + ".delivery", Version: v}, cfg.DeliveryMapping
		set("delivery_mapping")
	}
	if next.SchemaMappings, err = json.Marshal(meta); err != nil {
		return nil, fmt.Errorf("hub: encoding service metadata: %w", err)
	}
	rt, err := h.buildRuntime(next, auth, meta, src)
	if err != nil {
		return nil, renameField(err, "IntegrationConfig.", "ServiceConfig.")
	}
	if cfg.InputContract != nil {
		if err := h.storeContract(ctx, "ServiceConfig.InputContract", cfg.InputContract); err != nil {
			rt.close(ctx)
			return nil, err
		}
	}
	if cfg.Contract != nil {
		if err := h.storeContract(ctx, "ServiceConfig.Contract", cfg.Contract); err != nil {
			rt.close(ctx)
			return nil, err
		}
	}
	if newMapping {
		if err := h.storeRule(ctx, cur.ID, meta.Mapping, src.mapping, mappingSides(meta, src)); err != nil {
			rt.close(ctx)
			return nil, err
		}
	}
	if newDelivery {
		if err := h.storeRule(ctx, cur.ID, meta.DeliveryMapping, src.delivery, deliverySides(meta, src)); err != nil {
			rt.close(ctx)
			return nil, err
		}
	}
	res := &Configuration{ServiceID: cur.ID, Changed: changed, MappingVersion: versionOf(meta.Mapping), DeliveryMappingVersion: versionOf(meta.DeliveryMapping)}
	if len(changed) == 0 {
		rt.close(ctx)
		res.Service = publicService(cur, oldAuth)
		return res, nil
	}
	intent, err := h.audit(ctx, cfg.Actor, "service.configure", cur.ID, redactedService(cur, oldAuth), redactedService(next, auth))
	if err != nil {
		rt.close(ctx)
		return nil, err
	}
	stored, err := h.st.UpdateService(ctx, next)
	if err != nil {
		rt.close(ctx)
		h.auditAborted(ctx, intent, err)
		return nil, mapStoreErr(err)
	}
	rt.svc = stored
	if onlyActivity(changed) {
		// keep the running policy and its breaker state
		rt.close(ctx)
		if _, err := h.runtimeFor(ctx, cur.ID); err == nil {
			h.replaceService(stored, math.MaxUint64)
		}
	} else if shredded {
		rt.close(ctx) // built without credentials: never deliver with it
		h.drop(ctx, stored.ID)
	} else {
		h.put(ctx, rt)
	}
	if next.IsActive && !cur.IsActive {
		h.eng.Wake()
	}
	res.Service = publicService(stored, auth)
	return res, nil
}

func onlyActivity(changed []string) bool {
	for _, c := range changed {
		if c != "is_active" {
			return false
		}
	}
	return true
}

func renameField(err error, from, to string) error {
	var ce *ConfigError
	if errors.As(err, &ce) && len(ce.Field) > len(from) && ce.Field[:len(from)] == from {
		c := *ce
		c.Field = to + ce.Field[len(from):]
		return &c
	}
	return err
}

// resolveContract returns the key and schema of ref: its own schema when given, else the
// stored version.
func (h *Hub) resolveContract(ctx context.Context, field string, ref *ContractRef) (*contractKey, json.RawMessage, error) {
	if ref == nil {
		return nil, nil, nil
	}
	if ref.Name == "" || ref.Version == "" {
		return nil, nil, configErr(field, "contract name and version are required", nil)
	}
	k := &contractKey{Name: ref.Name, Version: ref.Version}
	if !seal.Empty(ref.Schema) {
		if !json.Valid(ref.Schema) {
			return nil, nil, configErr(field+".Schema", "not well-formed JSON", nil)
		}
		return k, ref.Schema, nil
	}
	c, err := h.st.GetContract(ctx, ref.Name, ref.Version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, configErr(field, fmt.Sprintf("contract %s@%s is not stored and no schema was given", ref.Name, ref.Version), err)
	}
	if err != nil {
		return nil, nil, mapStoreErr(err)
	}
	return k, c.Schema, nil
}

// storeContract stores ref's schema as its version, unless an equal one is stored.
func (h *Hub) storeContract(ctx context.Context, field string, ref *ContractRef) error {
	if ref == nil || seal.Empty(ref.Schema) {
		return nil
	}
	_, err := h.st.CreateContract(ctx, &store.Contract{Name: ref.Name, Version: ref.Version, Schema: compact(ref.Schema)})
	if errors.Is(err, store.ErrConflict) {
		prev, gerr := h.st.GetContract(ctx, ref.Name, ref.Version)
		if gerr != nil {
			return mapStoreErr(gerr)
		}
		if !jsonEqual(prev.Schema, ref.Schema) {
			return configErr(field, fmt.Sprintf("contract %s@%s is stored with a different schema; publish a new version", ref.Name, ref.Version), err)
		}
		return nil
	}
	return mapStoreErr(err)
}

func (h *Hub) nextRuleVersion(ctx context.Context, name string) (int, error) {
	rules, err := h.st.ListRules(ctx, store.RuleFilter{Name: name, Page: store.Page{Limit: store.MaxPageLimit}})
	if err != nil {
		return 0, mapStoreErr(err)
	}
	v := 0
	for _, r := range rules {
		v = max(v, r.Version)
	}
	return v + 1, nil
}

// TestIntegration checks the service without storing or delivering anything: the
// connector's Check against the primary endpoint (unless data.SkipCheck), then, when
// data.Payload is set, the input contract, the mapping, the canonical contract and the
// delivery mapping on it. Each step reports its duration and result; OK is true when every
// step that ran passed. Errors: ErrUnknownService, ErrClosed.
func (h *Hub) TestIntegration(ctx context.Context, serviceID string, data TestData) (*TestResult, error) {
	if err := h.guard(ctx, call{method: "TestIntegration", service: serviceID, perms: perms(PermTest)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	rt, err := h.runtimeFor(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	res := &TestResult{ServiceID: rt.svc.ID, OK: true}
	step := func(name string, skip bool, f func() error) bool {
		s := TestStep{Name: name, Skipped: skip, OK: true}
		if !skip {
			start := time.Now()
			err := f()
			s.Duration = time.Since(start)
			if err != nil {
				s.OK = false
				var cv *ContractViolationError
				if errors.As(err, &cv) {
					cv = rt.personal.maskViolations(cv)
					s.Violations, err = cv.Violations, cv
				}
				s.Error = h.scrub(err.Error())
				res.OK = false
			}
		}
		res.Steps = append(res.Steps, s)
		return s.OK
	}
	step("connector_check", data.SkipCheck, func() error {
		c := rt.conns[rt.svc.BaseURL]
		if c == nil {
			for _, cc := range rt.conns {
				c = cc
			}
		}
		return c.Check(ctx)
	})
	hasPayload := len(data.Payload) > 0
	if hasPayload {
		if !step("payload", false, func() error { return h.checkPayload(data.Payload) }) {
			return res, nil
		}
	}
	doc := data.Payload
	if !step("input_contract", !hasPayload || rt.input == nil, func() error { return rt.input.check(ctx, "input", doc) }) {
		return res, nil
	}
	if !step("transform", !hasPayload || rt.mapping == nil, func() error {
		out, _, err := rt.mapping.apply(ctx, doc)
		doc = out
		return err
	}) {
		return res, nil
	}
	if hasPayload {
		res.Canonical = doc
	}
	if !step("canonical_contract", !hasPayload || rt.canon == nil, func() error { return rt.canon.check(ctx, "canonical", doc) }) {
		return res, nil
	}
	step("delivery_mapping", !hasPayload || rt.delivery == nil, func() error {
		out, _, err := rt.delivery.apply(ctx, doc)
		doc = out
		return err
	})
	if hasPayload && res.OK {
		res.Delivery = doc
	}
	return res, nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return configErr("IntegrationConfig.Name", "name is required", nil)
	case len(name) > maxServiceName:
		return configErr("IntegrationConfig.Name", fmt.Sprintf("longer than %d bytes", maxServiceName), nil)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return configErr("IntegrationConfig.Name", "contains control characters", nil)
		}
	}
	return nil
}

// checkURLs validates the base and backup URLs, naming fields under prefix
// ("IntegrationConfig." or "ServiceConfig."): absolute http(s), no credentials, and no
// literal destination the guard refuses.
func (h *Hub) checkURLs(prefix, base string, backups []string) error {
	if base != "" {
		if err := checkURL(base); err != nil {
			return configErr(prefix+"BaseURL", err.Error(), nil)
		}
		if err := h.checkDestination(prefix+"BaseURL", base); err != nil {
			return err
		}
	}
	for i, b := range backups {
		field := fmt.Sprintf("%sBackupURLs[%d]", prefix, i)
		if err := checkURL(b); err != nil {
			return configErr(field, err.Error(), nil)
		}
		if b == base {
			return configErr(field, "equals the base URL", nil)
		}
		if err := h.checkDestination(field, b); err != nil {
			return err
		}
	}
	return nil
}

// checkAuthURLs refuses credentials whose URL-valued fields (an OAuth token_url, a Slack or
// Teams webhook_url, ...) name a literal destination the guard refuses, as checkURLs does
// for the base URL: they are dialled as well. Only absolute http(s) URLs among the
// document's top-level string values are judged; a name is judged when it is dialled. The
// error names the field (prefix.key), never the value, which may carry a secret.
func (h *Hub) checkAuthURLs(prefix string, auth json.RawMessage) error {
	if len(auth) == 0 {
		return nil
	}
	var doc map[string]any
	if json.Unmarshal(auth, &doc) != nil {
		return nil // not an object: the connector reports it
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, ok := doc[k].(string)
		if !ok {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		if err := h.checkDestination(prefix+"."+k, v); err != nil {
			return err
		}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q does not parse as a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must use http or https", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("URL must not embed credentials; use Auth")
	}
	return nil
}

func checkJSONFields(fields map[string]json.RawMessage) error {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if v := fields[n]; len(v) > 0 && !json.Valid(v) {
			return configErr(n, "not well-formed JSON", nil)
		}
	}
	return nil
}

func retryColumnMax(raw json.RawMessage) (int, bool) {
	var r struct {
		MaxRetries *int `json:"max_retries"`
	}
	if seal.Empty(raw) || json.Unmarshal(raw, &r) != nil || r.MaxRetries == nil {
		return 0, false
	}
	return *r.MaxRetries, true
}

func nonEmpty(v json.RawMessage) json.RawMessage {
	if seal.Empty(v) {
		return nil
	}
	return compact(v)
}

func versionOf(k *ruleKey) int {
	if k == nil {
		return 0
	}
	return k.Version
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// publicService returns a copy of svc safe to hand out: credentials redacted.
func publicService(svc *store.Service, plainAuth json.RawMessage) *store.Service {
	c := svc.Clone()
	c.AuthenticationConfig = seal.Redact(plainAuth)
	return c
}

func redactedService(svc *store.Service, plainAuth json.RawMessage) json.RawMessage {
	b, _ := json.Marshal(publicService(svc, plainAuth))
	return b
}

// audit appends the audit entry of a change to a service before the change is made (fail
// closed, see appendAudit): an error (ErrAuditUnavailable) means the change must not be made.
func (h *Hub) audit(ctx context.Context, who, action, entityID string, before, after json.RawMessage) (*store.AuditEntry, error) {
	return h.appendAudit(ctx, &store.AuditEntry{
		Actor: actorIn(ctx, who), Action: action, EntityType: "service", EntityID: entityID, Before: before, After: after,
	})
}
