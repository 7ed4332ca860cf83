package hubhttp_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/hubhttp/apiv1"
)

// TestAuditVerifyAndExport: POST /audit/verify reports the chain intact; GET /audit/export
// is JSON Lines that verify offline; with authorization on both need audit.read.
func TestAuditVerifyAndExport(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	res := b.json(t, "POST", "/api/v1/audit/verify", tokAdmin, apiv1.AuditVerifyRequest{})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	var rep apiv1.AuditReport
	res.decode(t, &rep)
	assert.True(t, rep.OK)
	assert.Positive(t, rep.Entries, "the sink's registration is audited")

	res = b.call(t, "GET", "/api/v1/audit/export", tokAdmin, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	assert.Equal(t, "application/jsonl", res.Header.Get("Content-Type"))
	got, err := audit.VerifyExport(bytes.NewReader(res.Body), nil)
	require.NoError(t, err)
	assert.True(t, got.OK)
	assert.Equal(t, rep.Entries, got.Entries)

	// with authorization on, a viewer may do neither
	g := setupGoverned(t)
	pr := g.call(t, "GET", "/api/v1/audit/export", tokViewer, nil).problem(t)
	assert.Equal(t, 403, pr.Status)
	assert.Equal(t, "audit.read", pr.Permission)
	pr = g.json(t, "POST", "/api/v1/audit/verify", tokViewer, apiv1.AuditVerifyRequest{}).problem(t)
	assert.Equal(t, 403, pr.Status)
	assert.Equal(t, "audit.read", pr.Permission)
}
