package transform_test

import (
	"encoding/json"
	"testing"

	"github.com/ehg/hub/transform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sharedProgram(t testing.TB) *transform.Program {
	w := loadWorkload(t)
	r, err := transform.Parse(w.mapping)
	require.NoError(t, err)
	r.Name, r.Version = "github-issue-to-work-item", 1
	p, err := transform.Compile(r)
	require.NoError(t, err)
	return p
}

func TestSharedMappingProducesExpected(t *testing.T) {
	t.Parallel()
	w := loadWorkload(t)
	p := sharedProgram(t)
	for name, in := range map[string]map[string]any{
		"json.Number": decodeNumber(t, w.event),
		"float64": func() map[string]any {
			var m map[string]any
			require.NoError(t, json.Unmarshal(w.event, &m))
			return m
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			out, applied, err := p.Apply(t.Context(), in)
			require.NoError(t, err)
			got, err := json.Marshal(out)
			require.NoError(t, err)
			assert.JSONEq(t, string(w.expected), string(got))
			assert.Equal(t, string(w.expected), string(got)+"\n", "byte-identical to encoding/json output")
			assert.Equal(t, "github-issue-to-work-item", applied.Name)
			assert.Equal(t, 1, applied.Version)
			assert.Len(t, applied.Fields, 14)
			assert.Positive(t, applied.Duration)
		})
	}
}
