package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/config"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/builtin"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/transform"
)

// newGovernedHub starts a hub with authorization on st, started and closed by the
// chairman.
func newGovernedHub(t *testing.T, st store.Store, opts ...hub.Option) *hub.Hub {
	t.Helper()
	h, err := hub.New(st, append(hubtest.Fast(), opts...)...)
	require.NoError(t, err)
	require.NoError(t, h.Start(adminCtx(t.Context())))
	t.Cleanup(func() { require.NoError(t, h.Close(adminCtx(context.Background()))) })
	return h
}

// exportAs encodes the export of h read as ctx's principal.
func exportAs(t testing.TB, ctx context.Context, h *hub.Hub) []byte {
	t.Helper()
	doc, err := h.Export(ctx)
	require.NoError(t, err)
	b, err := config.Encode(doc)
	require.NoError(t, err)
	return b
}

// scheduleDoc is a document of two listing services, the first scheduled as sched says
// (YAML list items under schedules:, "" for none).
func scheduleDoc(url, sched string) string {
	doc := "version: 1\nservices:\n" +
		"  - {name: crm, connector: http, base_url: " + url + "}\n" +
		"  - {name: erp, connector: http, base_url: " + url + "}\n"
	if sched != "" {
		doc += "schedules:\n" + sched
	}
	return doc
}

// TestConfigSchedules plans, applies and exports sync schedules on every store: create
// with its fields, the export planning to nothing and reproducing itself on an empty hub,
// an update with a field diff that keeps the schedule's progress, a removal.
func TestConfigSchedules(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			sink := hubtest.NewSink(t)
			h := hubtest.New(t, sk.open(t))
			doc := parseDoc(t, "sched.yaml", scheduleDoc(sink.URL,
				"  - service: crm\n    interval: 15m\n    params: {state: open, kind: lead}\n    page_size: 50\n    id_field: key\n    disabled: true\n"))

			plan, err := h.Plan(ctx, doc)
			require.NoError(t, err)
			c := changed(plan)
			require.Contains(t, c, "schedule crm", plan.String())
			assert.Equal(t, hub.PlanCreate, c["schedule crm"].Action)
			assert.Contains(t, plan.String(), "+ schedule crm\n    interval: 15m0s\n    params: kind=lead, state=open\n    page_size: 50\n    id_field: key\n    disabled: true\n")
			_, err = h.Apply(ctx, plan)
			require.NoError(t, err)
			s, err := h.SyncSchedule(ctx, "crm")
			require.NoError(t, err)
			assert.Equal(t, 15*time.Minute, s.Interval)
			assert.JSONEq(t, `{"state":"open","kind":"lead"}`, string(s.Params))
			assert.Equal(t, 50, s.PageSize)
			assert.Equal(t, "key", s.IDField)
			assert.False(t, s.Enabled)

			exported := exportBytes(t, h)
			assert.Contains(t, string(exported), "schedules:\n  - service: crm\n    interval: 15m0s\n")
			again, err := h.Plan(ctx, parseDoc(t, "export.yaml", string(exported)))
			require.NoError(t, err)
			assert.False(t, again.HasChanges(), again.String())
			fresh := hubtest.New(t, sk.open(t))
			applyDoc(t, fresh, parseDoc(t, "export.yaml", string(exported)))
			assert.Equal(t, string(exported), string(exportBytes(t, fresh)))

			// an update: a field diff, applied in place
			doc = parseDoc(t, "sched.yaml", scheduleDoc(sink.URL,
				"  - service: crm\n    interval: 30m\n    params: {state: closed, kind: lead}\n    page_size: 50\n    id_field: key\n    disabled: true\n"))
			plan, err = h.Plan(ctx, doc)
			require.NoError(t, err)
			c = changed(plan)
			require.Len(t, c, 1, plan.String())
			assert.Equal(t, hub.PlanUpdate, c["schedule crm"].Action)
			assert.Equal(t, []hub.FieldChange{
				{Field: "interval", Old: "15m0s", New: "30m0s"},
				{Field: "params", Old: "kind=lead, state=open", New: "kind=lead, state=closed"},
			}, c["schedule crm"].Fields)
			_, err = h.Apply(ctx, plan)
			require.NoError(t, err)
			s, err = h.SyncSchedule(ctx, "crm")
			require.NoError(t, err)
			assert.Equal(t, 30*time.Minute, s.Interval)
			assert.JSONEq(t, `{"state":"closed","kind":"lead"}`, string(s.Params))

			// moved to another service: one removed, one created
			doc = parseDoc(t, "sched.yaml", scheduleDoc(sink.URL, "  - {service: erp, interval: 1h, disabled: true}\n"))
			plan, err = h.Plan(ctx, doc)
			require.NoError(t, err)
			c = changed(plan)
			require.Len(t, c, 2, plan.String())
			assert.Equal(t, hub.PlanRemove, c["schedule crm"].Action)
			assert.Equal(t, hub.PlanCreate, c["schedule erp"].Action)
			_, err = h.Apply(ctx, plan)
			require.NoError(t, err)
			_, err = h.SyncSchedule(ctx, "crm")
			assert.ErrorIs(t, err, hub.ErrNotFound)
			_, err = h.SyncSchedule(ctx, "erp")
			require.NoError(t, err)
			plan, err = h.Plan(ctx, doc)
			require.NoError(t, err)
			assert.False(t, plan.HasChanges(), plan.String())
		})
	}
}

// TestConfigScheduleErrors: bad schedules are refused by Plan with their document path,
// and nothing is applied.
func TestConfigScheduleErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sink := hubtest.NewSink(t)
	// "notify": Discord's webhook posts through a connector that does not list (every
	// built-in connector lists, given the credentials to).
	reg := builtin.NewRegistry()
	discord, ok := reg.Lookup("discord")
	require.True(t, ok)
	require.NoError(t, reg.Register("notify", func(cfg connectors.Config) (connectors.Connector, error) {
		c, err := discord(cfg)
		if err != nil {
			return nil, err
		}
		return writeOnlyConnector{Connector: c}, nil
	}))
	h := hubtest.New(t, nil, hub.WithConnectors(reg))
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"DISCORD_ID": "123", "DISCORD_TOKEN": "tok"}[k]
		return v, ok
	}
	chat := "  - {name: chat, connector: notify, base_url: " + sink.URL + ", auth: {webhook_id: env:DISCORD_ID, webhook_token: env:DISCORD_TOKEN}}\n"
	first, err := config.Parse("a.yaml", []byte("version: 1\nservices:\n"+chat), config.WithLookupEnv(env))
	require.NoError(t, err)
	applyDoc(t, h, first)
	tests := []struct {
		name, doc, path, msg string
	}{
		{"connector does not list", "version: 1\nservices:\n" + chat + "schedules:\n  - {service: chat, interval: 1h}\n",
			"schedules[chat].service", "does not list records"},
		{"new service whose connector does not list", "version: 1\nservices:\n" + chat +
			"  - {name: chat2, connector: notify, base_url: " + sink.URL + ", auth: {webhook_id: env:DISCORD_ID, webhook_token: env:DISCORD_TOKEN}}\n" +
			"schedules:\n  - {service: chat2, interval: 1h}\n", "schedules[chat2].service", "does not list records"},
		{"unknown service", "version: 1\nschedules:\n  - {service: ghost, interval: 1h}\n", "schedules[ghost].service", "does not define"},
		{"twice", scheduleDoc(sink.URL, "  - {service: crm, interval: 1h}\n  - {service: crm, interval: 2h}\n"), "schedules[crm]", "two schedules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := config.Parse("bad.yaml", []byte(tt.doc), config.WithLookupEnv(env))
			if err == nil {
				_, err = h.Plan(ctx, doc)
			}
			require.ErrorIs(t, err, config.ErrInvalid)
			assert.Contains(t, err.Error(), tt.path)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Contains(t, err.Error(), "bad.yaml:")
		})
	}
	_, err = h.SyncSchedule(ctx, "chat")
	assert.ErrorIs(t, err, hub.ErrNotFound)
	_, err = h.SyncSchedule(ctx, "chat2")
	assert.ErrorIs(t, err, hub.ErrUnknownService, "nothing applied")
}

// governanceDoc sets the approval policy and the roles: viewer, auditor (reads the audit
// log), admin as built in, chairman governing.
func governanceDoc(require, auditor string) string {
	admin := []string{}
	for _, p := range hub.DefaultRoles()[hub.RoleAdmin] {
		admin = append(admin, string(p))
	}
	chair := []string{}
	for _, p := range hub.Permissions() {
		chair = append(chair, string(p))
	}
	return "version: 1\n" +
		"approvals:\n  require: [" + require + "]\n  ttl: 2h\n" +
		"roles:\n  viewer: [hub.read]\n  auditor: [" + auditor + "]\n" +
		"  admin: [" + strings.Join(admin, ", ") + "]\n  chairman: [" + strings.Join(chair, ", ") + "]\n"
}

// TestConfigGovernance applies the approval policy and roles from a document on every
// store: they are kept in the store, so a second hub sharing it enforces them; the export
// plans to nothing and reproduces itself on an empty hub; once the policy holds back
// governance changes, a role change waits for approval, is audited, and is made when a
// second person approves it; a role the document drops is removed.
func TestConfigGovernance(t *testing.T) {
	t.Parallel()
	key := make([]byte, hub.SecretKeySize)
	for i := range key {
		key[i] = byte(i + 7)
	}
	opts := []hub.Option{hub.WithSecretKey(key), hub.WithAuthorization(nil)}
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			chair := governed(ctx, "chair", hub.RoleChairman)
			chair2 := governed(ctx, "chair2", hub.RoleChairman)
			audr := governed(ctx, "audrey", "auditor")
			st := sk.open(t)
			h := newGovernedHub(t, st, opts...)

			// the document's governance against the options' (built-in roles, no policy)
			doc := parseDoc(t, "gov.yaml", governanceDoc("governance.policy, service.register", "hub.read, audit.read"))
			plan, err := h.Plan(chair, doc)
			require.NoError(t, err)
			c := changed(plan)
			assert.Equal(t, hub.PlanCreate, c["approvals approvals"].Action, plan.String())
			assert.Equal(t, []hub.FieldChange{{Field: "require", New: "governance.policy, service.register"}, {Field: "ttl", New: "2h0m0s"}},
				c["approvals approvals"].Fields)
			assert.Equal(t, hub.PlanCreate, c["role auditor"].Action)
			assert.NotContains(t, c, "role chairman") // as built in
			assert.NotContains(t, c, "role admin")
			assert.Equal(t, hub.PlanRemove, c["role operator"].Action)
			assert.Equal(t, hub.PlanUpdate, c["role viewer"].Action)
			assert.Equal(t, []hub.FieldChange{{Field: "permissions", Old: "command.run, data.transform, hub.read", New: "hub.read"}},
				c["role viewer"].Fields)
			_, err = h.Plan(audr, doc)
			require.ErrorIs(t, err, hub.ErrForbidden) // "auditor" is no role yet
			res, err := h.Apply(chair, plan)
			require.NoError(t, err)
			assert.Empty(t, res.Pending)
			assert.Equal(t, int64(2), res.Revision) // the change set, then the governance step

			// a second hub on the store enforces them
			h2 := newGovernedHub(t, st, opts...)
			_, err = h2.ListAudit(audr, hub.AuditQuery{Limit: 1})
			require.NoError(t, err, "the stored role grants audit.read")
			_, err = h2.ListServices(governed(ctx, "vic", hub.RoleViewer))
			require.NoError(t, err)
			_, err = h2.TransformData(governed(ctx, "vic", hub.RoleViewer), map[string]any{}, transform.Rules{})
			require.ErrorIs(t, err, hub.ErrForbidden, "the stored viewer role no longer grants data.transform")
			_, err = h2.RegisterIntegration(chair, hub.IntegrationConfig{Name: "late", Connector: "http", BaseURL: "https://example.com"})
			require.ErrorIs(t, err, hub.ErrApprovalRequired, "the stored policy holds registrations back")

			// export: plans to nothing, reproduces itself on an empty hub
			exported := exportAs(t, chair, h)
			assert.Contains(t, string(exported), "approvals:\n  require:\n    - governance.policy\n    - service.register\n  ttl: 2h0m0s\n")
			assert.Contains(t, string(exported), "  auditor:\n    - audit.read\n    - hub.read\n")
			again, err := h.Plan(chair, parseDoc(t, "export.yaml", string(exported)))
			require.NoError(t, err)
			assert.False(t, again.HasChanges(), again.String())
			fresh := newGovernedHub(t, sk.open(t), opts...)
			fp, err := fresh.Plan(chair, parseDoc(t, "export.yaml", string(exported)))
			require.NoError(t, err)
			_, err = fresh.Apply(chair, fp)
			require.NoError(t, err)
			assert.Equal(t, string(exported), string(exportAs(t, chair, fresh)))

			// a governance change now waits for approval
			doc = parseDoc(t, "gov.yaml", governanceDoc("governance.policy, service.register", "hub.read"))
			plan, err = h.Plan(chair, doc)
			require.NoError(t, err)
			c = changed(plan)
			require.Len(t, c, 1, plan.String())
			assert.Equal(t, []hub.FieldChange{{Field: "permissions", Old: "audit.read, hub.read", New: "hub.read"}}, c["role auditor"].Fields)
			res, err = h.Apply(chair, plan)
			require.NoError(t, err)
			require.Len(t, res.Pending, 1)
			assert.Empty(t, res.Applied)
			_, err = h2.ListAudit(audr, hub.AuditQuery{Limit: 1})
			require.NoError(t, err, "pending: the role is unchanged")
			again, err = h.Plan(chair, doc)
			require.NoError(t, err)
			assert.True(t, again.HasChanges(), "pending: still planned")
			_, err = h.Approve(chair, res.Pending[0].ApprovalID, "")
			require.ErrorIs(t, err, hub.ErrForbidden, "the requester cannot approve")
			_, err = h2.Approve(chair2, res.Pending[0].ApprovalID, "ok")
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				_, err := h2.ListAudit(audr, hub.AuditQuery{Limit: 1})
				return err != nil
			}, 5*time.Second, 50*time.Millisecond, "approved: the role lost audit.read")
			again, err = h.Plan(chair, doc)
			require.NoError(t, err)
			assert.False(t, again.HasChanges(), again.String())
			page, err := h.ListAudit(chair, hub.AuditQuery{EntityType: "governance", Limit: 100})
			require.NoError(t, err)
			require.Len(t, page.Entries, 2)
			last := page.Entries[len(page.Entries)-1]
			assert.Equal(t, "governance.policy", last.Action)
			assert.Equal(t, "chair", last.Actor, "made as the requester's change")
			var after struct {
				Roles map[string][]string `json:"roles"`
			}
			require.NoError(t, json.Unmarshal(last.After, &after))
			assert.Equal(t, []string{"hub.read"}, after.Roles["auditor"])
		})
	}
}

// countingConnector delivers as the connector it wraps and counts its calls.
// writeOnlyConnector is a connector with only the methods of connectors.Connector: it
// does not list, whatever the connector it wraps can do.
type writeOnlyConnector struct {
	connectors.Connector
}

type countingConnector struct {
	connectors.Connector
	calls *atomic.Int64
}

func (c countingConnector) Invoke(ctx context.Context, req *connectors.Request) (*connectors.Response, error) {
	c.calls.Add(1)
	return c.Connector.Invoke(ctx, req)
}

// TestConfigConnectorSwitch changes a service's connector through a document on every
// store: the plan shows it as an update with the field diff, the apply switches it in
// place, and the events queued before the switch are all delivered, once each, through
// the new connector.
func TestConfigConnectorSwitch(t *testing.T) {
	t.Parallel()
	const queued = 20
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			reg := builtin.NewRegistry()
			httpKind, ok := reg.Lookup("http")
			require.True(t, ok)
			var relayed atomic.Int64
			require.NoError(t, reg.Register("relay", func(cfg connectors.Config) (connectors.Connector, error) {
				c, err := httpKind(cfg)
				if err != nil {
					return nil, err
				}
				return countingConnector{Connector: c, calls: &relayed}, nil
			}))
			sink := hubtest.NewSink(t)
			h := hubtest.New(t, sk.open(t), hub.WithConnectors(reg))
			doc := func(connector string, disabled bool) *config.Document {
				return parseDoc(t, "out.yaml", fmt.Sprintf("version: 1\nservices:\n  - name: out\n    connector: %s\n    base_url: %s\n"+
					"    retry: %s\n    disabled: %t\n", connector, sink.URL, hubtest.FastRetry, disabled))
			}
			applyDoc(t, h, doc("http", true))
			for i := range queued {
				r, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "out", Payload: json.RawMessage(`{"n":1}`),
					Mode: hub.Async, IdempotencyKey: fmt.Sprintf("q-%02d", i)})
				require.NoError(t, err)
				require.Equal(t, store.StatusPending, r.Status)
			}

			plan, err := h.Plan(ctx, doc("relay", true))
			require.NoError(t, err)
			c := changed(plan)
			require.Len(t, c, 1, plan.String())
			assert.Equal(t, hub.PlanUpdate, c["service out"].Action)
			assert.Equal(t, []hub.FieldChange{{Field: "connector", Old: "http", New: "relay"}}, c["service out"].Fields)
			assert.Contains(t, plan.String(), "~ service out\n    connector: http -> relay\n")
			_, err = h.Apply(ctx, plan)
			require.NoError(t, err)
			again, err := h.Plan(ctx, doc("relay", true))
			require.NoError(t, err)
			assert.False(t, again.HasChanges(), again.String())
			exported := exportBytes(t, h)
			assert.Contains(t, string(exported), "connector: relay")

			applyDoc(t, h, doc("relay", false))
			require.Eventually(t, func() bool { return sink.Unique() == queued }, 30*time.Second, 20*time.Millisecond,
				"delivered %d of %d queued events", sink.Unique(), queued)
			for i := range queued {
				assert.Equal(t, 1, sink.Delivered(fmt.Sprintf("q-%02d", i)))
			}
			assert.GreaterOrEqual(t, relayed.Load(), int64(queued), "delivered through the new connector")

			_, err = h.ConfigureService(ctx, "out", hub.ServiceConfig{Connector: ptr("no-such-kind")})
			assert.ErrorIs(t, err, hub.ErrInvalidConfig)
		})
	}
}

// TestConfigExportAcrossStores applies one document to memory, SQLite and PostgreSQL and
// checks the three exports are the same bytes, though PostgreSQL's jsonb keeps the JSON
// members (circuit breakers, retries, schemas, mappings) in another member order.
func TestConfigExportAcrossStores(t *testing.T) {
	t.Parallel()
	sink := hubtest.NewSink(t)
	text := fleetDoc(t, 6, sink.URL, func(i int, lines []string) []string {
		if i == 1 {
			lines = append(lines, `health_check: {"window_seconds": 300, "error_rate_critical": 0.5, "latency_sla_ms": 900}`)
		}
		return lines
	}) + "routes:\n  - name: titles\n    source: svc-01\n    mapping: {zeta: payload.title, alpha: payload.title}\n" +
		"    destinations: [{service: svc-02, delivery_mapping: {title: zeta, body: alpha}}]\n" +
		"schedules:\n  - {service: svc-03, interval: 1h, params: {b: '2', a: '1'}, disabled: true}\n" +
		"retention:\n  events: {succeeded: 7d, dead: 30d}\n"
	exports := map[string]string{}
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			h := hubtest.New(t, sk.open(t))
			applyDoc(t, h, parseDoc(t, "fleet.yaml", text))
			exports[sk.name] = string(exportBytes(t, h))
		})
	}
	require.Contains(t, exports, "memory")
	assert.Contains(t, exports["memory"], `recovery_timeout: 100ms`)
	assert.Contains(t, exports["memory"], "circuit_breaker:\n      failure_threshold: 1000\n      recovery_timeout: 100ms\n",
		"members in the document's order")
	for name, b := range exports {
		assert.Equal(t, exports["memory"], b, "the %s export differs from memory's", name)
	}
	if _, ok := exports["postgres"]; !ok {
		t.Log("PostgreSQL was not compared: " + postgresEnv + " is not set")
	}
}

// TestConfigRetentionShared: a retention policy applied through one hub is kept in the
// store, so a second hub sharing it (or a restarted one) exports it and plans the same
// document to nothing; a later document without retention leaves it as it is.
func TestConfigRetentionShared(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := sk.open(t)
			a := hubtest.New(t, st)
			b := hubtest.New(t, st)
			const svc = "version: 1\nservices:\n  - {name: s, connector: http, base_url: https://example.com}\n"
			doc := parseDoc(t, "r.yaml", svc+"retention:\n  events: {succeeded: 7d, dead: 30d}\n  analytics: 90d\n")
			applyDoc(t, a, doc)
			exported := string(exportBytes(t, b))
			assert.Contains(t, exported, "retention:\n  events:\n    dead: 30d\n    succeeded: 7d\n  analytics: 90d\n")
			plan, err := b.Plan(ctx, doc)
			require.NoError(t, err)
			assert.False(t, plan.HasChanges(), plan.String())

			applyDoc(t, b, parseDoc(t, "r.yaml", svc+"  - {name: t, connector: http, base_url: https://example.com}\n"))
			assert.Contains(t, string(exportBytes(t, a)), "succeeded: 7d", "absent from the document: kept")
		})
	}
}

// BenchmarkAuthorize measures a permission check with the built-in roles from the hub's
// options and with roles applied by a document (kept in the store, read again at most
// once a second), on SQLite.
func BenchmarkAuthorize(b *testing.B) {
	key := make([]byte, hub.SecretKeySize)
	for _, stored := range []bool{false, true} {
		name := "options"
		if stored {
			name = "stored_roles"
		}
		b.Run(name, func(b *testing.B) {
			st := openSQLite(b, b.TempDir()+"/hub.db")
			h, err := hub.New(st, append(hubtest.Fast(), hub.WithSecretKey(key), hub.WithAuthorization(nil))...)
			require.NoError(b, err)
			b.Cleanup(func() { _ = h.Close(adminCtx(context.Background())) })
			chair := governed(context.Background(), "chair", hub.RoleChairman)
			if stored {
				doc, err := config.Parse("gov.yaml", []byte(governanceDoc("service.register", "hub.read, audit.read")))
				require.NoError(b, err)
				plan, err := h.Plan(chair, doc)
				require.NoError(b, err)
				_, err = h.Apply(chair, plan)
				require.NoError(b, err)
			}
			ctx := governed(context.Background(), "audrey", "viewer")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := h.Authorize(ctx, hub.PermRead); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// govFaultStore is a memory store whose audit log can be made unwritable and whose
// configuration swaps can be made to fail.
type govFaultStore struct {
	*memory.Store
	failAudit *atomic.Bool
	// okSwaps is how many configuration swaps succeed before the next ones fail (-1: all).
	okSwaps *atomic.Int64
}

func (s govFaultStore) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	if s.failAudit.Load() {
		return nil, fmt.Errorf("disk full: %w", store.ErrBusy)
	}
	return s.Store.AppendAudit(ctx, e)
}

func (s govFaultStore) SwapConfigState(ctx context.Context, p store.SwapConfigStateParams) (*store.ConfigState, error) {
	if s.okSwaps.Load() >= 0 && s.okSwaps.Add(-1) < 0 {
		return nil, fmt.Errorf("disk full: %w", store.ErrBusy)
	}
	return s.Store.SwapConfigState(ctx, p)
}

// storedRoles reads the roles kept in the configuration state (nil: none).
func storedRoles(t *testing.T, cs store.ConfigStateStore) map[string][]string {
	t.Helper()
	state, err := cs.GetConfigState(t.Context())
	require.NoError(t, err)
	var d config.Document
	if len(state.Document) > 0 {
		require.NoError(t, json.Unmarshal(state.Document, &d))
	}
	return d.Roles
}

// TestConfigGovernanceAuditFailsClosed: a change of the roles is audited before it is
// made. When its entry cannot be written, Apply fails with ErrAuditUnavailable and the
// roles stay as they are; when the store fails after the entry, an aborted entry follows
// it and the roles stay as they are too.
func TestConfigGovernanceAuditFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := memory.New(memory.Options{})
	st := govFaultStore{Store: mem, failAudit: &atomic.Bool{}, okSwaps: &atomic.Int64{}}
	st.okSwaps.Store(-1)
	h := newGovernedHub(t, st, hub.WithAuthorization(nil))
	chair := governed(ctx, "chair", hub.RoleChairman)
	doc := parseDoc(t, "gov.yaml", governanceDoc("", "hub.read, audit.read"))

	st.failAudit.Store(true)
	plan, err := h.Plan(chair, doc)
	require.NoError(t, err)
	_, err = h.Apply(chair, plan)
	require.ErrorIs(t, err, hub.ErrAuditUnavailable)
	assert.Nil(t, storedRoles(t, mem), "no change without its entry")
	st.failAudit.Store(false)

	st.okSwaps.Store(1) // the change set's swap succeeds, the governance step's fails
	plan, err = h.Plan(chair, doc)
	require.NoError(t, err)
	_, err = h.Apply(chair, plan)
	require.Error(t, err)
	assert.NotErrorIs(t, err, hub.ErrAuditUnavailable)
	assert.Nil(t, storedRoles(t, mem), "the failed swap changed nothing")
	page, err := h.ListAudit(chair, hub.AuditQuery{EntityType: "governance", Limit: 100})
	require.NoError(t, err)
	require.Len(t, page.Entries, 2, "the intent and its abort")
	assert.Equal(t, "governance.policy", page.Entries[0].Action)
	assert.Equal(t, "governance.policy.aborted", page.Entries[1].Action)
	assert.Equal(t, page.Entries[0].EntityID, page.Entries[1].EntityID)
	assert.Contains(t, string(page.Entries[1].After), "disk full")

	st.okSwaps.Store(-1)
	plan, err = h.Plan(chair, doc)
	require.NoError(t, err)
	_, err = h.Apply(chair, plan)
	require.NoError(t, err)
	assert.Equal(t, []string{"audit.read", "hub.read"}, storedRoles(t, mem)["auditor"])
}

// TestConfigGovernanceStaleApproval: a governance request sets only what its document
// sets and is refused as stale when the approval policy or the roles changed after it was
// made. R1 changes only the approval policy and waits; R2 revokes a role's permission and
// is approved; approving R1 then fails (ErrStalePlan) instead of bringing the revoked
// permission back, and the request is failed. A fresh request for the same policy change
// applies and keeps R2's roles.
func TestConfigGovernanceStaleApproval(t *testing.T) {
	t.Parallel()
	key := make([]byte, hub.SecretKeySize)
	for i := range key {
		key[i] = byte(i + 11)
	}
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			chair := governed(ctx, "chair", hub.RoleChairman)
			chair2 := governed(ctx, "chair2", hub.RoleChairman)
			audr := governed(ctx, "audrey", "auditor")
			h := newGovernedHub(t, sk.open(t), hub.WithSecretKey(key), hub.WithAuthorization(nil))
			apply := func(ctx context.Context, text string) *hub.ApplyResult {
				t.Helper()
				plan, err := h.Plan(ctx, parseDoc(t, "gov.yaml", text))
				require.NoError(t, err)
				res, err := h.Apply(ctx, plan)
				require.NoError(t, err)
				return res
			}
			res := apply(chair, governanceDoc("governance.policy", "hub.read, audit.read"))
			require.Empty(t, res.Pending, "no policy yet: applied at once")
			_, err := h.ListAudit(audr, hub.AuditQuery{Limit: 1})
			require.NoError(t, err)

			policyOnly := "version: 1\napprovals:\n  require: [governance.policy, service.register]\n  ttl: 2h\n"
			r1 := apply(chair, policyOnly)
			require.Len(t, r1.Pending, 1)
			r2 := apply(chair, governanceDoc("governance.policy", "hub.read"))
			require.Len(t, r2.Pending, 1)
			_, err = h.Approve(chair2, r2.Pending[0].ApprovalID, "revoke")
			require.NoError(t, err)
			_, err = h.ListAudit(audr, hub.AuditQuery{Limit: 1})
			require.ErrorIs(t, err, hub.ErrForbidden, "R2 revoked audit.read")

			out, err := h.Approve(chair2, r1.Pending[0].ApprovalID, "late")
			require.ErrorIs(t, err, hub.ErrStalePlan)
			assert.Equal(t, store.ApprovalFailed, out.Approval.Status)
			_, err = h.ListAudit(audr, hub.AuditQuery{Limit: 1})
			require.ErrorIs(t, err, hub.ErrForbidden, "the stale request did not bring audit.read back")
			_, err = h.RegisterIntegration(chair, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"})
			require.NoError(t, err, "the stale request did not change the policy")

			r3 := apply(chair, policyOnly)
			require.Len(t, r3.Pending, 1)
			_, err = h.Approve(chair2, r3.Pending[0].ApprovalID, "ok")
			require.NoError(t, err)
			_, err = h.RegisterIntegration(chair, hub.IntegrationConfig{Name: "erp", Connector: "http", BaseURL: "https://erp.example.com"})
			require.ErrorIs(t, err, hub.ErrApprovalRequired, "the fresh request set the policy")
			_, err = h.ListAudit(audr, hub.AuditQuery{Limit: 1})
			require.ErrorIs(t, err, hub.ErrForbidden, "and kept R2's roles")
		})
	}
}

// TestConfigGovernanceLockout: Plan refuses governance after which nobody could change it
// again, naming the document path: roles without governance.configure, an approval
// policy holding back governance changes that no role could approve, roles taking
// governance.configure from the principal applying them.
func TestConfigGovernanceLockout(t *testing.T) {
	t.Parallel()
	key := make([]byte, hub.SecretKeySize)
	for i := range key {
		key[i] = byte(i + 3)
	}
	all := []string{}
	for _, p := range hub.Permissions() {
		all = append(all, string(p))
	}
	allBut := func(perm hub.Permission) string {
		out := []string{}
		for _, p := range all {
			if p != string(perm) {
				out = append(out, p)
			}
		}
		return strings.Join(out, ", ")
	}
	// every document keeps the admin role able to close the hub (the cleanup closes as root)
	admin := "  admin: [" + strings.Join(all, ", ") + "]\n"
	ctx := t.Context()
	chair := governed(ctx, "chair", hub.RoleChairman)
	both := governed(ctx, "boss", hub.RoleChairman, hub.RoleAdmin)
	cases := []struct {
		name    string
		setup   string // applied first by the chairman ("" for none)
		doc     string
		as      context.Context
		path    string // "" when the plan is accepted
		message string
	}{
		{name: "nobody governs", doc: "version: 1\nroles:\n  admin: [hub.lifecycle]\n  chairman: [hub.read]\n", as: chair,
			path: "roles", message: "no role grants governance.configure"},
		{name: "nobody approves", as: chair,
			doc:  "version: 1\napprovals:\n  require: [governance.policy]\nroles:\n  admin: [hub.lifecycle]\n  chairman: [" + allBut(hub.PermApprove) + "]\n",
			path: "roles", message: "no role grants approval.decide: nobody could approve"},
		{name: "nobody approves under the roles in force", as: chair,
			setup: "version: 1\nroles:\n  admin: [hub.lifecycle]\n  chairman: [" + allBut(hub.PermApprove) + "]\n",
			doc:   "version: 1\napprovals:\n  require: [service.register, governance.policy]\n",
			path:  "approvals.require[1]", message: "no role grants approval.decide"},
		{name: "the applier loses governance", as: chair,
			doc:  "version: 1\nroles:\n" + admin + "  chairman: [hub.read]\n",
			path: "roles", message: `these roles take governance.configure from "chair", who applies them`},
		{name: "the applier keeps governing through another role", as: both,
			doc: "version: 1\nroles:\n" + admin + "  chairman: [hub.read]\n"},
		{name: "approvals with an approver", as: chair,
			doc: "version: 1\napprovals:\n  require: [governance.policy]\nroles:\n" + admin + "  chairman: [" + strings.Join(all, ", ") + "]\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newGovernedHub(t, memory.New(memory.Options{}), hub.WithSecretKey(key), hub.WithAuthorization(nil))
			if c.setup != "" {
				plan, err := h.Plan(chair, parseDoc(t, "setup.yaml", c.setup))
				require.NoError(t, err)
				_, err = h.Apply(chair, plan)
				require.NoError(t, err)
			}
			plan, err := h.Plan(c.as, parseDoc(t, "gov.yaml", c.doc))
			if c.path == "" {
				require.NoError(t, err)
				_, err = h.Apply(c.as, plan)
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, hub.ErrInvalidConfig)
			var ce *config.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, c.path, ce.Path, err.Error())
			assert.Contains(t, ce.Message, c.message)
			assert.Contains(t, err.Error(), "gov.yaml:", "names the file")
		})
	}

	// Apply checks its own caller: a plan made by a principal who keeps governing, applied
	// by one who would not, changes nothing
	t.Run("checked again by Apply", func(t *testing.T) {
		t.Parallel()
		h := newGovernedHub(t, memory.New(memory.Options{}), hub.WithSecretKey(key), hub.WithAuthorization(nil))
		plan, err := h.Plan(both, parseDoc(t, "gov.yaml", "version: 1\nroles:\n"+admin+"  chairman: [hub.read]\n"))
		require.NoError(t, err)
		res, err := h.Apply(chair, plan)
		require.ErrorIs(t, err, hub.ErrInvalidConfig)
		assert.Contains(t, err.Error(), `these roles take governance.configure from "chair"`)
		assert.Empty(t, res.Applied)
		again, err := h.Plan(both, parseDoc(t, "gov.yaml", "version: 1\nroles:\n"+admin+"  chairman: [hub.read]\n"))
		require.NoError(t, err)
		assert.True(t, again.HasChanges(), "the roles were not changed")
	})
}

// TestConfigGovernanceSealer: an approval policy from a document needs something to seal
// the held-back changes with: a secret key or, as here, a key service alone.
func TestConfigGovernanceSealer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	chair := governed(ctx, "chair", hub.RoleChairman)
	h, err := hub.New(memory.New(memory.Options{}), hub.WithSealer(newFakeKMS(t)), hub.WithAuthorization(nil)) // no secret key
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(adminCtx(context.Background())) })
	plan, err := h.Plan(chair, parseDoc(t, "gov.yaml", "version: 1\napprovals:\n  require: [service.register]\n"))
	require.NoError(t, err)
	_, err = h.Apply(chair, plan)
	require.NoError(t, err)
	_, err = h.RegisterIntegration(chair, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"})
	require.ErrorIs(t, err, hub.ErrApprovalRequired)
}
