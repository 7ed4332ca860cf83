package sqlite_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// fileHits counts the occurrences of needle in the database file and its WAL.
func fileHits(t *testing.T, path string, needle []byte) int {
	t.Helper()
	n := 0
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		n += bytes.Count(b, needle)
	}
	return n
}

// TestEraseLeavesNoBytes erases events whose rows were rewritten several times (claim,
// completion), then purges: neither the database file nor its WAL holds the erased value
// any more, while another subject's value is still there. Without the purge's rebuild the
// file keeps copies SQLite's b-tree rebalancing left in unused page space (logged).
func TestEraseLeavesNoBytes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	clk := newClock()
	s, err := sqlite.Open(ctx, path, sqlite.Options{Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	sv := newService(t, s, "crm")
	const gone, kept = "erase-me-7f3a9c@example.com", "keep-me-1b2d4e@example.com"
	// Small payloads live inside b-tree pages, which SQLite rebalances as rows grow (the
	// claims and completions rewrite them); large ones spill to overflow pages.
	filler := bytes.Repeat([]byte("x"), 6000)
	var ids []string
	const n = 2000
	for i := range n {
		email, key := gone, "subject-gone"
		if i%2 == 1 {
			email, key = kept, "subject-kept"
		}
		doc := fmt.Sprintf(`{"email":%q,"n":%d}`, email, i)
		if i%40 < 2 {
			doc = fmt.Sprintf(`{"email":%q,"n":%d,"filler":%q}`, email, i, filler)
		}
		ev, _, err := s.InsertEvent(ctx, &store.Event{ServiceID: sv.ID, ServiceName: sv.Name, SubjectKey: key,
			PayloadIn: json.RawMessage(doc), CanonicalMapping: json.RawMessage(fmt.Sprintf(`{"contact":%q}`, email))})
		require.NoError(t, err)
		ids = append(ids, ev.ID)
	}
	for done := 0; done < n; {
		claimed, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 64, Lease: time.Minute})
		require.NoError(t, err)
		for _, c := range claimed {
			_, err := s.CompleteEvents(ctx, []store.CompleteParams{{ID: c.ID, Owner: "w", ResponseCode: 200,
				PayloadOut: json.RawMessage(fmt.Sprintf(`{"sent":%q}`, c.PayloadIn))}})
			require.NoError(t, err)
		}
		done += len(claimed)
	}
	require.Positive(t, fileHits(t, path, []byte(gone)), "the value is on disk before the erasure")

	var ps []store.EraseParams
	after := ""
	for {
		evs, err := s.ListSubjectEvents(ctx, store.SubjectEventsParams{SubjectKey: "subject-gone", AfterID: after, Limit: 7})
		require.NoError(t, err)
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			ps = append(ps, store.EraseParams{ID: e.ID, UpdatedAt: e.UpdatedAt,
				PayloadIn:        bytes.ReplaceAll(e.PayloadIn, []byte(gone), []byte("[erased]")),
				PayloadOut:       bytes.ReplaceAll(e.PayloadOut, []byte(gone), []byte("[erased]")),
				CanonicalMapping: bytes.ReplaceAll(e.CanonicalMapping, []byte(gone), []byte("[erased]"))})
		}
		after = evs[len(evs)-1].ID
	}
	require.Len(t, ps, n/2)
	skipped, err := s.EraseEvents(ctx, store.EraseBatch{Events: ps})
	require.NoError(t, err)
	require.Empty(t, skipped)
	t.Logf("after the erasure, before the purge: %d occurrences of the erased value (file + WAL)", fileHits(t, path, []byte(gone)))
	require.NoError(t, s.Purge(ctx))

	hits := fileHits(t, path, []byte(gone))
	t.Logf("after erase+purge: %d occurrences of the erased value, %d of the kept one (file + WAL)",
		hits, fileHits(t, path, []byte(kept)))
	assert.Zero(t, hits, "the erased value is gone from the file and the WAL")
	assert.Positive(t, fileHits(t, path, []byte(kept)), "the other subject's data is intact")
	st, err := os.Stat(path + "-wal")
	if err == nil {
		assert.Zero(t, st.Size(), "the WAL was truncated")
	}
	got, err := s.GetEvent(ctx, ids[1])
	require.NoError(t, err)
	assert.Contains(t, string(got.PayloadIn), kept)
}
