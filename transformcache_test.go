package hub

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/transform"
)

// newBareHub is a hub on a fresh in-memory store, not started, closed by the test's end.
func newBareHub(tb testing.TB) *Hub {
	tb.Helper()
	h, err := New(nil)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = h.Close(tb.Context()) })
	return h
}

func quickstartData(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("examples/quickstart/data/" + name)
	require.NoError(tb, err)
	return b
}

// TestTransformDataCompilesOnce: rules passed again (a new value with the same content, as
// an API caller sends them) are not compiled again; other rules are.
func TestTransformDataCompilesOnce(t *testing.T) {
	t.Parallel()
	h := newBareHub(t)
	mapping, event := quickstartData(t, "github-issue-to-work-item.expr.json"), quickstartData(t, "github-issue-event.json")
	want := quickstartData(t, "work-item.expected.json")
	for range 5 {
		rules, err := transform.Parse(mapping)
		require.NoError(t, err)
		out, err := h.TransformData(t.Context(), json.RawMessage(event), rules)
		require.NoError(t, err)
		got, err := json.Marshal(out)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got))
	}
	assert.Equal(t, int64(1), h.progs.Compiles())

	other := transform.Rules{Fields: []transform.Field{{Target: "title", Expr: "issue.title"}}}
	out, err := h.TransformData(t.Context(), json.RawMessage(event), other)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"title": "Refund webhook retries exhaust after gateway 503 and leave ledger unbalanced"}, out)
	assert.Equal(t, int64(2), h.progs.Compiles())
}

// BenchmarkTransformData applies the shared mapping to the shared event through
// TransformData, the rules passed by value on every call.
func BenchmarkTransformData(b *testing.B) {
	h := newBareHub(b)
	rules, err := transform.Parse(quickstartData(b, "github-issue-to-work-item.expr.json"))
	require.NoError(b, err)
	event := json.RawMessage(quickstartData(b, "github-issue-event.json"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.TransformData(b.Context(), event, rules); err != nil {
			b.Fatal(err)
		}
	}
	if n := h.progs.Compiles(); n != 1 {
		b.Fatalf("compiled %d times", n)
	}
}
