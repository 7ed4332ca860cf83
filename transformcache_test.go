package hub

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

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

// TestUntilCloseWithoutCancel: for a context that never ends, the mapping context is the
// hub's close with the caller's values, and Close ends it with cause ErrClosed.
func TestUntilCloseWithoutCancel(t *testing.T) {
	t.Parallel()
	h, err := New(nil)
	require.NoError(t, err)
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	ctx, stop := h.untilClose(parent, true)
	defer stop()
	assert.Equal(t, "v", ctx.Value(key{}))
	require.NoError(t, ctx.Err())
	require.NoError(t, h.Close(t.Context()))
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the mapping context")
	}
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.ErrorIs(t, context.Cause(ctx), ErrClosed)

	// A cancellable caller context still ends the mapping context too.
	cctx, cancel := context.WithCancel(context.Background())
	h2 := newBareHub(t)
	mctx, stop2 := h2.untilClose(cctx, true)
	defer stop2()
	cancel()
	<-mctx.Done()
	assert.ErrorIs(t, mctx.Err(), context.Canceled)
}
