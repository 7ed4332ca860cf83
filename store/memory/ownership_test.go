package memory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

func newOwnershipStore(t testing.TB) (*memory.Store, *store.Service) {
	t.Helper()
	st := memory.New(memory.Options{})
	svc, err := st.CreateService(context.Background(), &store.Service{Name: "own", Category: store.CategoryOther, ConnectorKind: "http"})
	require.NoError(t, err)
	return st, svc
}

// TestCheckedDocumentsSkipTheJSONCheck: a writer that vouches for its documents
// (store.CheckedDocuments) is not checked again; without the mark ill-formed JSON is refused.
func TestCheckedDocumentsSkipTheJSONCheck(t *testing.T) {
	t.Parallel()
	st, svc := newOwnershipStore(t)
	bad := &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: json.RawMessage(`{"a":`)}
	_, _, err := st.InsertEvent(t.Context(), bad)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	_, _, err = st.InsertEvent(store.CheckedDocuments(t.Context()), bad)
	require.NoError(t, err, "the documents were vouched for: not parsed again")

	// Every other field is still checked.
	noName := &store.Event{ServiceID: svc.ID, PayloadIn: json.RawMessage(`{}`)}
	_, _, err = st.InsertEvent(store.CheckedDocuments(t.Context()), noName)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
}

// TestDocumentsAreSharedNotCopied: the event returned by an insert holds the caller's own
// document bytes, claimed events hold the store's, and a completion that hands the claimed
// payload_out back keeps it; what the store keeps is its own copy, so a caller changing its
// bytes afterwards does not reach the store.
func TestDocumentsAreSharedNotCopied(t *testing.T) {
	t.Parallel()
	ctx := store.CheckedDocuments(t.Context())
	st, svc := newOwnershipStore(t)
	in := &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
		PayloadIn: json.RawMessage(`{"n":1}`), PayloadOut: json.RawMessage(`{"out":1}`)}
	got, created, err := st.InsertEvent(ctx, in)
	require.NoError(t, err)
	require.True(t, created)
	assert.Same(t, &in.PayloadIn[0], &got.PayloadIn[0], "the result shares the caller's bytes")

	claimed, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	assert.NotSame(t, &in.PayloadIn[0], &claimed[0].PayloadIn[0], "the store keeps its own copy")
	again, err := st.GetEvent(t.Context(), got.ID)
	require.NoError(t, err)
	assert.NotSame(t, &claimed[0].PayloadOut[0], &again.PayloadOut[0], "reads other than claims are copies")

	in.PayloadIn[5] = '9' // the caller reuses its buffer
	lost, err := st.CompleteEvents(ctx, []store.CompleteParams{{ID: got.ID, Owner: "w", ResponseCode: 200, PayloadOut: claimed[0].PayloadOut}})
	require.NoError(t, err)
	require.Empty(t, lost)
	done, err := st.GetEvent(t.Context(), got.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":1}`, string(done.PayloadIn))
	assert.JSONEq(t, `{"out":1}`, string(done.PayloadOut))
	assert.JSONEq(t, `{"out":1}`, string(claimed[0].PayloadOut), "a completion without masking leaves the claimed bytes as they were")
}

// BenchmarkEventCycle inserts, claims and completes the shared 4.5 KB event in batches of
// 100, as the hub drives the store: "checked" with documents vouched for and payload_out
// handed back as claimed, "unchecked" as any other caller.
func BenchmarkEventCycle(b *testing.B) {
	raw, err := os.ReadFile("../../examples/quickstart/data/github-issue-event.json")
	require.NoError(b, err)
	var buf bytes.Buffer
	require.NoError(b, json.Compact(&buf, raw))
	payload := buf.Bytes()
	for _, checked := range []bool{true, false} {
		name := "unchecked"
		if checked {
			name = "checked"
		}
		b.Run(name, func(b *testing.B) {
			const batch = 100
			ctx := b.Context()
			if checked {
				ctx = store.CheckedDocuments(ctx)
			}
			st, svc := newOwnershipStore(b)
			evs := make([]*store.Event, batch)
			done := make([]store.CompleteParams, batch)
			key := 0
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)) * batch)
			for b.Loop() {
				for i := range evs {
					key++
					evs[i] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: payload, IdempotencyKey: strconv.Itoa(key)}
				}
				if _, err := st.InsertEvents(ctx, evs); err != nil {
					b.Fatal(err)
				}
				claimed, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: batch, Lease: time.Minute})
				if err != nil || len(claimed) != batch {
					b.Fatalf("claimed %d: %v", len(claimed), err)
				}
				for i, e := range claimed {
					done[i] = store.CompleteParams{ID: e.ID, Owner: "w", ResponseCode: 200, PayloadOut: e.PayloadOut}
				}
				if lost, err := st.CompleteEvents(ctx, done); err != nil || len(lost) > 0 {
					b.Fatalf("lost %v: %v", lost, err)
				}
			}
		})
	}
}
