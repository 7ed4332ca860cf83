package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanApplyExport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	si, err := b.hub.GetService(t.Context(), "sink")
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "services"), 0o755))
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	write("hub.yaml", "version: 1\nenvironments:\n  prod:\n    services:\n      crm: {cost_per_call: 2}\n")
	write("services/crm.yaml", "services:\n  - name: crm\n    connector: http\n    base_url: "+si.Service.BaseURL+"\n    cost_per_call: 1\n")

	code, out, errOut := b.hubctl(t, "", "plan", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "+ service crm\n")
	assert.Contains(t, out, "- service sink\n")
	assert.Contains(t, out, "Plan: 1 to create, 0 to update, 1 to remove")

	// declined: nothing applied
	code, out, _ = b.hubctl(t, "n\n", "apply", "-env", "prod", dir)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "cost_per_call: 2\n")
	assert.Contains(t, out, "not applied")
	code, out, errOut = b.hubctl(t, "y\n", "apply", "-env", "prod", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "applied 2 changes: revision 1")
	code, out, _ = b.hubctl(t, "", "apply", "-env", "prod", "-yes", dir)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "nothing to apply")

	code, out, _ = b.hubctl(t, "", "export")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "  - name: crm\n")
	assert.Contains(t, out, "cost_per_call: 2\n")

	// a bad document: the problem names file, line and path
	write("services/bad.yaml", "services:\n  - name: x\n    conector: http\n")
	code, _, errOut = b.hubctl(t, "", "plan", dir)
	require.Equal(t, 1, code)
	assert.Contains(t, errOut, "services/bad.yaml:3:5 services[x].conector: unknown field")
	code, _, _ = b.hubctl(t, "", "plan")
	require.Equal(t, 2, code)
}
