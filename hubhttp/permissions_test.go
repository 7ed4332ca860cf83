package hubhttp_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
)

// openToAll lists the operations every authenticated caller may use, whatever its roles:
// they read nothing of the hub's.
var openToAll = map[string]bool{
	"getMe": true, // the caller's own identity
}

// validBodies holds a well-formed body for every operation taking one, so a refusal in
// TestPermissionDenials is the hub's authorization, not the body's shape. An operation
// added to the document without an entry here fails the test.
var validBodies = map[string]string{
	"registerService":       `{"name": "ledger", "connector": "http", "base_url": "https://ledger.example.com"}`,
	"configureService":      `{"cost_per_call": 0.25}`,
	"testService":           `{"payload": {"n": 1}, "skip_check": true}`,
	"processEvent":          `{"service": "sink", "payload": {"n": 1}}`,
	"redriveEvents":         `{"service": "sink"}`,
	"escalate":              `{"service": "sink", "summary": "deliveries are slow"}`,
	"recover":               `{"service": "sink", "actions": ["reset_breaker"]}`,
	"compileMapping":        `{"mapping": {"title": "issue.title"}}`,
	"previewMapping":        `{"mapping": {"title": "issue.title"}, "sample": {"issue": {"title": "x"}}}`,
	"suggestMapping":        `{"sample": {"title": "x"}, "schema": {"type": "object", "properties": {"title": {"type": "string"}}}}`,
	"validateContract":      `{"document": {"title": "x"}, "contract": {"name": "t", "version": "1.0.0", "schema": {"type": "object"}}}`,
	"contractCompatibility": `{"old_schema": {"type": "object"}, "new_schema": {"type": "object", "required": ["a"]}}`,
	"planCommand":           `{"text": "pause sink"}`,
	"runCommand":            `{"plan": {"text": "pause sink", "understood": true, "intent": "pause", "service": "sink", "summary": "Pause sink"}}`,
	"approve":               `{"reason": "checked"}`,
	"reject":                `{"reason": "no"}`,
	"planConfig":            `{"files": [{"name": "hub.yaml", "content": "version: 1\nservices: []\n"}]}`,
	"applyConfig":           `{"files": [{"name": "hub.yaml", "content": "version: 1\nservices: []\n"}], "revision": 0, "fingerprint": "x"}`,
	"verifyAudit":           `{}`,
	"putRoute":              `{"source": "sink", "destinations": [{"service": "sink"}]}`,
}

// TestPermissionDenials calls every operation of the document, with a well-formed request,
// as an authenticated principal holding no role against a hub with authorization on: each
// is refused 403 with a problem naming the permission it lacks (the operations of
// openToAll answer). Then each operation whose permission the built-in viewer role does
// not grant is called as a viewer and refused the same way.
func TestPermissionDenials(t *testing.T) {
	t.Parallel()
	b := setupGoverned(t)
	ctx := t.Context()
	chair := hub.WithOverride(hub.WithPrincipal(ctx, hub.Principal{ID: "chair", Roles: []hub.Role{hub.RoleChairman}}), "test setup")
	_, err := b.hub.RegisterIntegration(chair, hub.IntegrationConfig{Name: "sink", Connector: "http", BaseURL: "https://sink.example.com"})
	require.NoError(t, err)
	ev, err := b.hub.ProcessIntegrationEvent(chair, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`), Mode: hub.Async})
	require.NoError(t, err)
	// a change held for approval, so approve and reject have a real request to refuse
	pr := b.json(t, "POST", "/api/v1/services", tokAdmin, apiv1.RegisterRequest{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"}).problem(t)
	require.Equal(t, http.StatusAccepted, pr.Status)

	viewerGrants := hub.DefaultRoles()[hub.RoleViewer]
	denied, viewerDenied := 0, 0
	for path, item := range b.doc.Paths.Map() {
		for method, op := range item.Operations() {
			id := op.OperationID
			p := strings.NewReplacer("{service}", "sink", "{name}", "r1", "{id}", ev.EventID).Replace(path)
			if strings.HasPrefix(path, "/api/v1/approvals/{id}") {
				p = strings.Replace(path, "{id}", pr.ApprovalID, 1)
			}
			var body []byte
			if op.RequestBody != nil {
				raw, ok := validBodies[id]
				require.True(t, ok, "validBodies has no body for %s (%s %s)", id, method, path)
				body = []byte(raw)
			}
			res := b.call(t, method, p, tokNobody, body)
			if openToAll[id] {
				require.Less(t, res.Status, 300, "%s %s: %s", method, p, res.Body)
				continue
			}
			require.Equal(t, http.StatusForbidden, res.Status, "%s %s as a principal with no role: %s", method, p, res.Body)
			got := res.problem(t)
			require.Equal(t, apiv1.CodeForbidden, got.Code)
			require.Equal(t, "nina", got.Principal, "%s %s", method, p)
			require.NotEmpty(t, got.Permission, "%s %s: the problem names no permission", method, p)
			denied++
			if slices.Contains(viewerGrants, hub.Permission(got.Permission)) {
				continue
			}
			res = b.call(t, method, p, tokViewer, body)
			require.Equal(t, http.StatusForbidden, res.Status, "%s %s as a viewer (%s): %s", method, p, got.Permission, res.Body)
			require.Equal(t, got.Permission, res.problem(t).Permission, "%s %s", method, p)
			viewerDenied++
		}
	}
	require.Greater(t, denied, 30)
	t.Logf("%d operations refuse a principal with no role; %d of them refuse a viewer too", denied, viewerDenied)
}
