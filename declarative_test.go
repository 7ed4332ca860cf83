package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/config"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// testEnv is the environment secret references of the test documents read.
func testEnv(k string) (string, bool) {
	v, ok := map[string]string{"SINK_TOKEN": "sink-secret-1", "SINK_TOKEN_2": "sink-secret-2"}[k]
	return v, ok
}

func compactJSON(t testing.TB, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, json.Compact(&out, b))
	return out.String()
}

// fleetDoc writes a document of n services delivering to url, every other one mapping
// GitHub issues to the work-item contract; edit may change each service's YAML lines.
func fleetDoc(t testing.TB, n int, url string, edit func(i int, lines []string) []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\ncontracts:\n  - name: work-item\n    version: 1.0.0\n    schema: " + compactJSON(t, workItemSchema) + "\nservices:\n")
	for i := range n {
		lines := []string{
			fmt.Sprintf("name: svc-%02d", i),
			"connector: http",
			"base_url: " + url,
			"auth: {type: bearer, token: env:SINK_TOKEN}",
			"retry: " + hubtest.FastRetry,
			"rate_limits: " + hubtest.Unlimited,
			`circuit_breaker: {"failure_threshold": 1000, "recovery_timeout": "100ms"}`,
			fmt.Sprintf("cost_per_call: 0.%03d", i+1),
		}
		if i%2 == 0 {
			lines = append(lines, "contract: {name: work-item, version: 1.0.0}", "mapping: "+compactJSON(t, workItemMapping))
		}
		if edit != nil {
			lines = edit(i, lines)
		}
		for j, l := range lines {
			if j == 0 {
				b.WriteString("  - " + l + "\n")
			} else {
				b.WriteString("    " + l + "\n")
			}
		}
	}
	return b.String()
}

// fleetRoutes are routes between fleetDoc's services; title is the mapped title
// expression of the second route.
func fleetRoutes(title string) string {
	return "routes:\n" +
		"  - name: fan-out\n    source: svc-00\n    condition: 'event == \"issues\"'\n    destinations:\n      - service: svc-10\n      - service: svc-11\n        priority: high\n" +
		"  - name: titles\n    source: svc-01\n    mapping: {title: " + title + "}\n    destinations: [{service: svc-12}]\n"
}

func parseDoc(t testing.TB, name, text string) *config.Document {
	t.Helper()
	doc, err := config.Parse(name, []byte(text), config.WithLookupEnv(testEnv))
	require.NoError(t, err)
	return doc
}

func applyDoc(t testing.TB, h *hub.Hub, doc *config.Document) *hub.ConfigPlan {
	t.Helper()
	plan, err := h.Plan(context.Background(), doc)
	require.NoError(t, err)
	_, err = h.Apply(context.Background(), plan)
	require.NoError(t, err)
	return plan
}

func exportBytes(t testing.TB, h *hub.Hub) []byte {
	t.Helper()
	doc, err := h.Export(context.Background())
	require.NoError(t, err)
	b, err := config.Encode(doc)
	require.NoError(t, err)
	return b
}

func changed(p *hub.ConfigPlan) map[string]hub.ConfigChange {
	out := map[string]hub.ConfigChange{}
	for _, c := range p.Changes {
		if c.Action != hub.PlanUnchanged {
			out[c.Kind+" "+c.Name] = c
		}
	}
	return out
}

// TestConfigRoundTrip applies a document of 20 services, exports it, checks the export
// plans to nothing and reproduces itself on an empty hub byte for byte, edits 5 services
// and checks exactly those are planned, with field diffs, and delivered with the new
// configuration — on every store.
func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			sink := hubtest.NewSink(t)
			h := hubtest.New(t, sk.open(t))
			doc := parseDoc(t, "fleet.yaml", fleetDoc(t, 20, sink.URL, nil)+fleetRoutes("payload.title"))

			plan, err := h.Plan(ctx, doc)
			require.NoError(t, err)
			assert.Equal(t, 23, plan.Count()[hub.PlanCreate], plan.String())
			res, err := h.Apply(ctx, plan)
			require.NoError(t, err)
			assert.Equal(t, int64(1), res.Revision)
			assert.Len(t, res.Applied, 23)
			routes, err := h.Routes(ctx, "")
			require.NoError(t, err)
			assert.Len(t, routes, 2)

			exported := exportBytes(t, h)
			assert.NotContains(t, string(exported), "sink-secret")
			assert.Contains(t, string(exported), "token: env:SINK_TOKEN")

			// the export plans to nothing
			again, err := h.Plan(ctx, parseDoc(t, "export.yaml", string(exported)))
			require.NoError(t, err)
			assert.False(t, again.HasChanges(), again.String())
			// and so does the document itself, right after the apply
			same, err := h.Plan(ctx, doc)
			require.NoError(t, err)
			assert.False(t, same.HasChanges(), same.String())

			// export -> apply to an empty hub -> export is byte-identical
			h2 := hubtest.New(t, sk.open(t))
			applyDoc(t, h2, parseDoc(t, "export.yaml", string(exported)))
			assert.Equal(t, string(exported), string(exportBytes(t, h2)))

			// a stored sample for the mapping comparison
			key := "before-edit"
			_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc-04", Payload: issueEvent, IdempotencyKey: key})
			require.NoError(t, err)
			require.NotEmpty(t, sink.Body(key))

			// edit five services
			edited := fleetDoc(t, 20, sink.URL, func(i int, lines []string) []string {
				switch i {
				case 1:
					lines[7] = "cost_per_call: 0.5"
				case 3:
					lines = append(lines, "disabled: true")
				case 4:
					lines[9] = "mapping: " + strings.Replace(compactJSON(t, workItemMapping), `"title":"issue.title"`, `"title":"'[gh] ' + issue.title"`, 1)
				case 5:
					lines[3] = "auth: {type: bearer, token: env:SINK_TOKEN_2}"
				}
				return lines
			}) + fleetRoutes(`"'[' + payload.title + ']'"`)
			plan, err = h.Plan(ctx, parseDoc(t, "edited.yaml", edited))
			require.NoError(t, err)
			got := changed(plan)
			require.Len(t, got, 5, plan.String())
			fields := map[string]string{}
			for name, c := range got {
				assert.Equal(t, hub.PlanUpdate, c.Action, name)
				require.Len(t, c.Fields, 1, name)
				fields[c.Name] = c.Fields[0].Field
			}
			assert.Equal(t, map[string]string{"svc-01": "cost_per_call", "titles": "mapping", "svc-03": "disabled", "svc-04": "mapping", "svc-05": "auth"}, fields)
			assert.Equal(t, `{"title":"payload.title"}`, got["route titles"].Fields[0].Old)
			assert.Equal(t, "0.002", got["service svc-01"].Fields[0].Old)
			assert.Equal(t, "0.5", got["service svc-01"].Fields[0].New)
			assert.Equal(t, `{"type":"bearer","token":"env:SINK_TOKEN"}`, got["service svc-05"].Fields[0].Old)
			require.Len(t, got["service svc-04"].Mappings, 1)
			assert.Equal(t, hub.MappingEffect{Mapping: "mapping", Samples: 1, Changed: 1, Targets: []string{"title"}}, got["service svc-04"].Mappings[0])
			assert.NotContains(t, plan.String(), "sink-secret")
			assert.Contains(t, plan.String(), "~ service svc-01\n    cost_per_call: 0.002 -> 0.5\n")

			_, err = h.Apply(ctx, plan)
			require.NoError(t, err)
			after, err := h.Plan(ctx, parseDoc(t, "edited.yaml", edited))
			require.NoError(t, err)
			assert.False(t, after.HasChanges(), after.String())

			// the hub delivers with the new configuration
			r, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc-04", Payload: issueEvent, IdempotencyKey: "after-edit"})
			require.NoError(t, err)
			assert.Equal(t, store.StatusSucceeded, r.Status)
			var delivered struct{ Title string }
			require.NoError(t, json.Unmarshal(sink.Body("after-edit"), &delivered))
			assert.True(t, strings.HasPrefix(delivered.Title, "[gh] "), delivered.Title)
			r, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc-03", Payload: issueEvent, Mode: hub.Async, IdempotencyKey: "disabled"})
			require.NoError(t, err)
			assert.Equal(t, store.StatusPending, r.Status)
			routes, err = h.Routes(ctx, "svc-01")
			require.NoError(t, err)
			require.Len(t, routes, 1)
			assert.Equal(t, 2, routes[0].Version)
			assert.JSONEq(t, `{"title":"'[' + payload.title + ']'"}`, string(routes[0].Mapping))
		})
	}
}

// TestConfigBadDocuments: each bad document fails with its file, line and path, and
// nothing is applied.
func TestConfigBadDocuments(t *testing.T) {
	t.Parallel()
	const base = "version: 1\ncontracts:\n  - name: c\n    version: 1.0.0\n    schema: {type: object, properties: {a: {type: string}}}\nservices:\n  - name: s\n    connector: http\n    base_url: https://example.com\n"
	for _, tc := range []struct {
		name, doc, where, path string
		is                     error
	}{
		{"unknown field", base + "    retires: 3\n", "bad.yaml:10:5", "services[s].retires", config.ErrInvalid},
		{"wrong type", base + "    cost_per_call: cheap\n", "bad.yaml:10:20", "services[s].cost_per_call", config.ErrInvalid},
		{"missing secret", base + "    auth: {token: env:NOT_SET_ANYWHERE}\n", "bad.yaml:10:12", "services[s].auth.token", config.ErrSecret},
		{"literal secret", base + "    auth: {token: hunter2}\n", "bad.yaml:10:12", "services[s].auth.token", config.ErrInvalid},
		{"mapping does not compile", base + "    mapping: {title: 'issue.title +* 2'}\n", "bad.yaml:10:5", "services[s].mapping", hub.ErrInvalidConfig},
		{"route condition does not compile", base + "routes:\n  - name: r\n    source: s\n    condition: 'payload.x +* 1'\n    destinations: [{service: s}]\n", "bad.yaml:13:5", "routes[r].condition", hub.ErrInvalidConfig},
		{"route to an unknown service", base + "routes:\n  - name: r\n    source: s\n    destinations: [{service: nope}]\n", "bad.yaml:13:21", "routes[r].destinations[0].service", hub.ErrUnknownService},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := hubtest.New(t, nil)
			doc, err := config.Parse("bad.yaml", []byte(tc.doc), config.WithLookupEnv(testEnv))
			if err == nil {
				_, err = h.Plan(t.Context(), doc)
			}
			require.Error(t, err)
			require.ErrorIs(t, err, tc.is)
			var ce *config.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.where, ce.Position.String(), err.Error())
			assert.Equal(t, tc.path, ce.Path)
			assert.NotContains(t, err.Error(), "hunter2")
			exp, err := h.Export(t.Context())
			require.NoError(t, err)
			assert.Empty(t, exp.Services)
			assert.Empty(t, exp.Contracts)
		})
	}
}

func TestConfigBreakingContract(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			h := hubtest.New(t, sk.open(t))
			v1 := "version: 1\ncontracts:\n  - name: c\n    version: 1.0.0\n    schema: {type: object, properties: {a: {type: string}}}\n"
			applyDoc(t, h, parseDoc(t, "v1.yaml", v1))
			breaking := v1 + "  - name: c\n    version: 1.1.0\n    schema: {type: object, required: [a], properties: {a: {type: string}}}\n"
			_, err := h.Plan(t.Context(), parseDoc(t, "v11.yaml", breaking))
			require.Error(t, err)
			var ce *config.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "v11.yaml:8:5", ce.Position.String(), err.Error())
			assert.Equal(t, "contracts[c@1.1.0].schema", ce.Path)
			assert.Contains(t, err.Error(), "breaks backward compatibility with c@1.0.0")
			// a stored version changed in place is refused too
			inPlace := strings.Replace(v1, "{a: {type: string}}", "{a: {type: integer}}", 1)
			_, err = h.Plan(t.Context(), parseDoc(t, "inplace.yaml", inPlace))
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "contracts[c@1.0.0].schema", ce.Path)
			// the same change in a new major is planned, its breaking changes listed
			major := v1 + "  - name: c\n    version: 2.0.0\n    schema: {type: object, required: [a], properties: {a: {type: string}}}\n"
			plan, err := h.Plan(t.Context(), parseDoc(t, "v2.yaml", major))
			require.NoError(t, err)
			c := changed(plan)["contract c@2.0.0"]
			assert.Equal(t, hub.PlanCreate, c.Action)
			require.NotEmpty(t, c.Breaking)
			assert.Contains(t, c.Breaking[0], "against c@1.0.0")
			// nothing was applied by the refused plans
			exp, err := h.Export(t.Context())
			require.NoError(t, err)
			assert.Len(t, exp.Contracts, 1)
		})
	}
}

// TestConfigConcurrentApply: two hubs sharing a store apply different plans made from the
// same state; exactly one succeeds and the other is refused as stale.
func TestConfigConcurrentApply(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			st := sk.open(t)
			key := bytes.Repeat([]byte{7}, hub.SecretKeySize)
			h1 := hubtest.New(t, st, hub.WithSecretKey(key))
			h2 := hubtest.New(t, st, hub.WithSecretKey(key))
			sink := hubtest.NewSink(t)
			applyDoc(t, h1, parseDoc(t, "base.yaml", fleetDoc(t, 3, sink.URL, nil)))
			docA := parseDoc(t, "a.yaml", fleetDoc(t, 3, sink.URL, func(i int, l []string) []string {
				if i == 0 {
					l[7] = "cost_per_call: 1"
				}
				return l
			}))
			docB := parseDoc(t, "b.yaml", fleetDoc(t, 4, sink.URL, nil))
			pa, err := h1.Plan(t.Context(), docA)
			require.NoError(t, err)
			pb, err := h2.Plan(t.Context(), docB)
			require.NoError(t, err)
			require.Equal(t, pa.Revision, pb.Revision)

			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, x := range []struct {
				h *hub.Hub
				p *hub.ConfigPlan
			}{{h1, pa}, {h2, pb}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = x.h.Apply(context.Background(), x.p)
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else {
					require.ErrorIs(t, err, hub.ErrStalePlan)
				}
			}
			assert.Equal(t, 1, ok, "errors: %v", errs)
			// the loser's plan stays refused; a new plan from it applies
			winner := docA
			if errs[0] != nil {
				winner = docB
			}
			p, err := h1.Plan(t.Context(), winner)
			require.NoError(t, err)
			assert.False(t, p.HasChanges(), p.String())
			// a change through the API makes older plans stale too
			stale, err := h1.Plan(t.Context(), docA)
			require.NoError(t, err)
			_, err = h2.ConfigureService(t.Context(), "svc-01", hub.ServiceConfig{CostPerCall: ptr(9.0)})
			require.NoError(t, err)
			_, err = h1.Apply(t.Context(), stale)
			require.ErrorIs(t, err, hub.ErrStalePlan)
		})
	}
}

// TestConfigDrift: a change made through the API shows as drift on that field when the
// document is planned again.
func TestConfigDrift(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	sink := hubtest.NewSink(t)
	text := fleetDoc(t, 2, sink.URL, nil)
	applyDoc(t, h, parseDoc(t, "fleet.yaml", text))
	_, err := h.ConfigureService(t.Context(), "svc-01", hub.ServiceConfig{CostPerCall: ptr(3.0)})
	require.NoError(t, err)
	plan, err := h.Plan(t.Context(), parseDoc(t, "fleet.yaml", text))
	require.NoError(t, err)
	c := changed(plan)["service svc-01"]
	require.Len(t, c.Fields, 1)
	assert.Equal(t, hub.FieldChange{Field: "cost_per_call", Old: "3", New: "0.002", Drift: true}, c.Fields[0])
	assert.Contains(t, plan.String(), "drift")
	// removing a service from the document removes it
	plan, err = h.Plan(t.Context(), parseDoc(t, "one.yaml", fleetDoc(t, 1, sink.URL, nil)))
	require.NoError(t, err)
	assert.Equal(t, hub.PlanRemove, changed(plan)["service svc-01"].Action)
	_, err = h.Apply(t.Context(), plan)
	require.NoError(t, err)
	exp, err := h.Export(t.Context())
	require.NoError(t, err)
	require.Len(t, exp.Services, 1)
}

// TestConfigApprovals: an apply goes through the approval policy step by step; the held
// steps wait as approval requests and, once approved, the document is in force.
func TestConfigApprovals(t *testing.T) {
	t.Parallel()
	sink := hubtest.NewSink(t)
	h, err := hub.New(nil, append(hubtest.Fast(), hub.WithAuthorization(nil), hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeRegister}}))...)
	require.NoError(t, err)
	as := func(id string, r hub.Role) context.Context {
		return hub.WithPrincipal(t.Context(), hub.Principal{ID: id, Roles: []hub.Role{r}})
	}
	ada, bob, vic := as("ada", hub.RoleAdmin), as("bob", hub.RoleAdmin), as("vic", hub.RoleViewer)
	t.Cleanup(func() {
		_ = h.Close(hub.WithPrincipal(context.Background(), hub.Principal{ID: "ada", Roles: []hub.Role{hub.RoleAdmin}}))
	})
	doc := parseDoc(t, "fleet.yaml", fleetDoc(t, 2, sink.URL, nil))

	plan, err := h.Plan(vic, doc)
	require.NoError(t, err, "a viewer may plan")
	_, err = h.Apply(vic, plan)
	var fe *hub.ForbiddenError
	require.ErrorAs(t, err, &fe)

	plan, err = h.Plan(ada, doc)
	require.NoError(t, err)
	res, err := h.Apply(hub.WithReason(ada, "fleet goes live"), plan)
	require.NoError(t, err)
	require.Len(t, res.Pending, 2)
	require.Len(t, res.Applied, 1) // the contract
	for _, p := range res.Pending {
		_, err := h.Approve(bob, p.ApprovalID, "checked")
		require.NoError(t, err)
	}
	after, err := h.Plan(ada, doc)
	require.NoError(t, err)
	assert.False(t, after.HasChanges(), after.String())
	entries, err := h.ListAudit(bob, hub.AuditQuery{})
	require.NoError(t, err)
	found := false
	for _, e := range entries.Entries {
		if e.Action == "configuration.apply" && e.Actor == "ada" {
			found = true
		}
	}
	assert.True(t, found, "the change set is audited")
}
