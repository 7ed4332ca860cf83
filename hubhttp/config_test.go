package hubhttp_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/hubhttp/apiv1"
)

func TestConfigPlanApplyExport(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	doc := "version: 1\nservices:\n  - name: crm\n    connector: http\n    base_url: " + b.sink.URL + "\n    cost_per_call: 0.5\n"
	files := []apiv1.ConfigFile{{Name: "hub.yaml", Content: doc}}

	res := b.json(t, "POST", "/api/v1/config/plan", tokAdmin, apiv1.ConfigRequest{Files: files})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	var plan apiv1.ConfigPlan
	res.decode(t, &plan)
	assert.True(t, plan.HasChanges)
	assert.Contains(t, plan.Diff, "+ service crm\n")
	assert.Contains(t, plan.Diff, "- service sink\n") // registered outside the document

	// apply needs the plan's revision and fingerprint
	require.Equal(t, 400, b.json(t, "POST", "/api/v1/config/apply", tokAdmin, apiv1.ConfigRequest{Files: files}).Status)
	req := apiv1.ConfigRequest{Files: files, Revision: &plan.Revision, Fingerprint: plan.Fingerprint}
	res = b.json(t, "POST", "/api/v1/config/apply", tokAdmin, req)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	var applied apiv1.ConfigApplyResult
	res.decode(t, &applied)
	assert.Equal(t, int64(1), applied.Revision)
	assert.Len(t, applied.Applied, 2)

	// the same plan again is stale
	res = b.json(t, "POST", "/api/v1/config/apply", tokAdmin, req)
	require.Equal(t, 409, res.Status, "%s", res.Body)

	res = b.call(t, "GET", "/api/v1/config/export", tokAdmin, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	var exp apiv1.ConfigExport
	res.decode(t, &exp)
	assert.True(t, strings.HasPrefix(exp.Document, "version: 1\nservices:\n  - name: crm\n"), exp.Document)

	// a bad document: every problem with file, line and path
	bad := []apiv1.ConfigFile{{Name: "hub.yaml", Content: doc + "    retires: 3\n    auth: {token: hunter2}\n"}}
	res = b.json(t, "POST", "/api/v1/config/plan", tokAdmin, apiv1.ConfigRequest{Files: bad})
	require.Equal(t, 422, res.Status, "%s", res.Body)
	p := res.problem(t)
	require.Len(t, p.Violations, 1)
	assert.Equal(t, "hub.yaml:7:5 services[crm].retires", p.Violations[0].Path)
	assert.NotContains(t, string(res.Body), "hunter2")

	// a viewer may plan but not apply
	res = b.json(t, "POST", "/api/v1/config/plan", tokViewer, apiv1.ConfigRequest{Files: files})
	require.Equal(t, 200, res.Status, "%s", res.Body)
}
