package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/store"
)

func testAuditChain(t *testing.T, b *bundle) {
	var prev *store.AuditEntry
	for i := range 5 {
		a := newAudit("alice", "x", "service", fmt.Sprint(i))
		if i%2 == 0 {
			a.After = []byte(`{"b": 1.50, "a": [1e2, "<&>"], "c": null}`)
		}
		got := b.audit(t, a)
		require.Equal(t, int64(i+1), got.Seq)
		if prev == nil {
			require.Equal(t, store.AuditGenesisHash, got.PrevHash)
		} else {
			require.Equal(t, prev.Hash, got.PrevHash)
		}
		h, err := store.AuditEntryHash(got)
		require.NoError(t, err)
		require.Equal(t, h, got.Hash, "the returned entry hashes to its hash")
		prev = got
	}
	es, err := b.st.ListAudit(b.ctx, store.AuditFilter{})
	require.NoError(t, err)
	for i, e := range es {
		h, err := store.AuditEntryHash(e)
		require.NoError(t, err)
		require.Equal(t, h, e.Hash, "entry %d as read back (JSON as the store keeps it) hashes to its hash", i)
	}
	rep, err := audit.VerifyStore(b.ctx, b.st, audit.Range{}, nil)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep.Problems)
	assert.Equal(t, int64(5), rep.Entries)
	assert.Equal(t, prev.Hash, rep.HeadHash)
}

func testAuditConcurrentChain(t *testing.T, b *bundle) {
	const writers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := b.st.AppendAudit(b.ctx, newAudit(fmt.Sprint("w", w), "x", "service", fmt.Sprint(i)))
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	rep, err := audit.VerifyStore(b.ctx, b.st, audit.Range{}, nil)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep.Problems)
	assert.Equal(t, int64(writers*each), rep.Entries)
	assert.Equal(t, int64(1), rep.FirstSeq)
	assert.Equal(t, int64(writers*each), rep.LastSeq)
}

func testAuditCheckpoints(t *testing.T, b *bundle) {
	cs, ok := b.st.(store.AuditCheckpointStore)
	if !ok {
		t.Skip("the store does not keep audit checkpoints (store.AuditCheckpointStore)")
	}
	_, err := cs.LatestAuditCheckpoint(b.ctx)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = cs.AuditHead(b.ctx)
	require.ErrorIs(t, err, store.ErrNotFound)
	signer, _ := testKey(t)
	var heads []*store.AuditEntry
	for i := range 3 {
		heads = append(heads, b.audit(t, newAudit("alice", "x", "service", fmt.Sprint(i))))
		head, err := cs.AuditHead(b.ctx)
		require.NoError(t, err)
		assert.Equal(t, normAudit(t, heads[i]), normAudit(t, head))
	}
	for _, i := range []int{2, 0} {
		c, err := audit.SignCheckpoint(signer, heads[i].Seq, heads[i].Hash)
		require.NoError(t, err)
		require.NoError(t, cs.AddAuditCheckpoint(b.ctx, c))
		require.NoError(t, cs.AddAuditCheckpoint(b.ctx, c), "adding the same checkpoint again is a no-op")
	}
	other, err := audit.SignCheckpoint(signer, 3, heads[0].Hash)
	require.NoError(t, err)
	require.ErrorIs(t, cs.AddAuditCheckpoint(b.ctx, other), store.ErrConflict)
	require.ErrorIs(t, cs.AddAuditCheckpoint(b.ctx, &store.AuditCheckpoint{Size: 0, Hash: heads[0].Hash, Note: "x"}), store.ErrInvalidArgument)
	require.ErrorIs(t, cs.AddAuditCheckpoint(b.ctx, &store.AuditCheckpoint{Size: 1, Hash: "zz", Note: "x"}), store.ErrInvalidArgument)

	latest, err := cs.LatestAuditCheckpoint(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(3), latest.Size)
	assert.Equal(t, heads[2].Hash, latest.Hash)
	assert.Equal(t, b.now(), latest.CreatedAt)
	list, err := cs.ListAuditCheckpoints(b.ctx, 0, 0, store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, []int64{1, 3}, []int64{list[0].Size, list[1].Size})
	list, err = cs.ListAuditCheckpoints(b.ctx, 2, 3, store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = cs.ListAuditCheckpoints(b.ctx, 0, 0, store.Page{Limit: -1})
	require.ErrorIs(t, err, store.ErrInvalidArgument)
}

// testKey returns a random checkpoint key pair.
func testKey(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "storetest")
	require.NoError(t, err)
	signer, err := audit.ParseSignerKey(skey)
	require.NoError(t, err)
	verifier, err := audit.ParseVerifierKey(vkey)
	require.NoError(t, err)
	return signer, verifier
}

// AuditTamperer changes a store's audit log behind the store's back, as an attacker with
// write access to its database would (append-only triggers disabled). [RunAuditTamper]
// uses it.
type AuditTamperer interface {
	// SetAuditActor overwrites the actor of the entry at seq, leaving its hash as it is.
	SetAuditActor(ctx context.Context, seq int64, actor string) error
	// DeleteAudit removes the entries at seqs from to to.
	DeleteAudit(ctx context.Context, from, to int64) error
	// InsertAudit stores e as given at e.Seq, moving the entries from e.Seq on one place
	// up (seq+1).
	InsertAudit(ctx context.Context, e *store.AuditEntry) error
	// SwapAudit exchanges the places (seq) of the entries at seqs a and b.
	SwapAudit(ctx context.Context, a, b int64) error
}

// TamperFactory returns a new, empty store that keeps audit checkpoints and a tamperer of
// its audit log, registering clean-up with t.Cleanup.
type TamperFactory func(t *testing.T) (store.Store, AuditTamperer)

// TamperEntries is how many entries each tamper case appends before tampering; checkpoints
// are signed at 10 and at 20.
const TamperEntries = 20

// RunAuditTamper checks that verification (audit.VerifyStore, the hub's VerifyAudit, and
// audit.VerifyExport of an export, offline) finds and names each kind of tampering: an
// altered field, a deleted entry, deleted newest entries, an inserted entry, two
// entries swapped, entries deleted above a retention horizon, and a retention horizon
// signed with another key. An untouched log verifies, also after retention removed the
// entries up to a horizon signed with the right key.
func RunAuditTamper(t *testing.T, newStore TamperFactory) {
	t.Helper()
	cases := []struct {
		name   string
		tamper func(ctx context.Context, tt AuditTamperer, es []*store.AuditEntry) error
		want   audit.Problem // Kind, Seq, ToSeq; EntryID "#n" means es[n-1].ID
		// horizon, when positive, is the seq of a retention horizon stored and deleted up
		// to (store.AuditRetentionStore) before tampering; forged signs it with another key.
		horizon int64
		forged  bool
	}{
		{"Untouched", func(context.Context, AuditTamperer, []*store.AuditEntry) error { return nil }, audit.Problem{}, 0, false},
		{"AlterField", func(ctx context.Context, tt AuditTamperer, _ []*store.AuditEntry) error {
			return tt.SetAuditActor(ctx, 7, "mallory")
		}, audit.Problem{Kind: audit.Altered, Seq: 7, EntryID: "#7"}, 0, false},
		{"DeleteEntry", func(ctx context.Context, tt AuditTamperer, _ []*store.AuditEntry) error {
			return tt.DeleteAudit(ctx, 12, 12)
		}, audit.Problem{Kind: audit.Missing, Seq: 12, ToSeq: 12}, 0, false},
		{"DeleteNewest", func(ctx context.Context, tt AuditTamperer, _ []*store.AuditEntry) error {
			return tt.DeleteAudit(ctx, 18, TamperEntries)
		}, audit.Problem{Kind: audit.Truncated, Seq: 18, ToSeq: TamperEntries}, 0, false},
		{"InsertEntry", func(ctx context.Context, tt AuditTamperer, es []*store.AuditEntry) error {
			forged := &store.AuditEntry{ID: "0d9d3f0e-8c39-4c55-a7f4-94c3a0d0c0de", Actor: "mallory", Action: "service.configure",
				EntityType: "service", EntityID: "s", CreatedAt: es[8].CreatedAt}
			if err := store.ChainAudit(forged, es[8].Seq, es[8].Hash); err != nil {
				return err
			}
			return tt.InsertAudit(ctx, forged)
		}, audit.Problem{Kind: audit.Inserted, Seq: 10, EntryID: "0d9d3f0e-8c39-4c55-a7f4-94c3a0d0c0de"}, 0, false},
		{"ReorderEntries", func(ctx context.Context, tt AuditTamperer, _ []*store.AuditEntry) error {
			return tt.SwapAudit(ctx, 5, 6)
		}, audit.Problem{Kind: audit.Reordered, Seq: 5, EntryID: "#6"}, 0, false},
		{"RetainedToHorizon", func(context.Context, AuditTamperer, []*store.AuditEntry) error { return nil },
			audit.Problem{}, 8, false},
		{"DeleteAboveHorizon", func(ctx context.Context, tt AuditTamperer, _ []*store.AuditEntry) error {
			return tt.DeleteAudit(ctx, 12, 12)
		}, audit.Problem{Kind: audit.Missing, Seq: 12, ToSeq: 12}, 8, false},
		{"DeleteAfterHorizon", func(ctx context.Context, tt AuditTamperer, _ []*store.AuditEntry) error {
			return tt.DeleteAudit(ctx, 9, 9)
		}, audit.Problem{Kind: audit.Missing, Seq: 9, ToSeq: 9}, 8, false},
		{"ForgedHorizon", func(context.Context, AuditTamperer, []*store.AuditEntry) error { return nil },
			audit.Problem{Kind: audit.Missing, Seq: 1, ToSeq: 8}, 8, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st, tt := newStore(t)
			cs, ok := st.(store.AuditCheckpointStore)
			require.True(t, ok, "the store keeps audit checkpoints")
			signer, verifier := testKey(t)
			var es []*store.AuditEntry
			for i := range TamperEntries {
				a := newAudit("alice", "service.configure", "service", fmt.Sprint("s", i))
				a.After = []byte(fmt.Sprintf(`{"n": %d, "name": "svc"}`, i))
				got, err := st.AppendAudit(ctx, a)
				require.NoError(t, err)
				es = append(es, got)
				if got.Seq == 10 || got.Seq == TamperEntries {
					cp, err := audit.SignCheckpoint(signer, got.Seq, got.Hash)
					require.NoError(t, err)
					require.NoError(t, cs.AddAuditCheckpoint(ctx, cp))
				}
			}
			if c.horizon > 0 {
				rs, ok := st.(store.AuditRetentionStore)
				require.True(t, ok, "the store can remove audit entries")
				key := signer
				if c.forged {
					key, _ = testKey(t)
				}
				hz, err := audit.SignCheckpoint(key, c.horizon, es[c.horizon-1].Hash)
				require.NoError(t, err)
				require.NoError(t, rs.AddAuditHorizon(ctx, hz))
				for {
					n, err := rs.DeleteAuditToHorizon(ctx, 3)
					require.NoError(t, err)
					if n == 0 {
						break
					}
				}
			}
			require.NoError(t, c.tamper(ctx, tt, es))
			want := c.want
			if len(want.EntryID) > 0 && want.EntryID[0] == '#' {
				var n int
				_, _ = fmt.Sscanf(want.EntryID, "#%d", &n)
				want.EntryID = es[n-1].ID
			}
			check := func(how string, rep *audit.Report) {
				t.Helper()
				if want.Kind == "" {
					require.True(t, rep.OK, "%s: %+v", how, rep.Problems)
					require.NoError(t, rep.Err())
					return
				}
				require.False(t, rep.OK, how)
				err := rep.Err()
				require.ErrorIs(t, err, audit.ErrTampered, how)
				var p *audit.Problem
				require.ErrorAs(t, err, &p, how)
				assert.Equal(t, want.Kind, p.Kind, "%s: %+v", how, rep.Problems)
				assert.Equal(t, want.Seq, p.Seq, "%s: %+v", how, rep.Problems)
				assert.Equal(t, want.ToSeq, p.ToSeq, "%s: %+v", how, rep.Problems)
				if want.EntryID != "" {
					assert.Equal(t, want.EntryID, p.EntryID, "%s: %+v", how, rep.Problems)
				}
				t.Logf("%s: %v", how, err)
			}
			rep, err := audit.VerifyStore(ctx, st, audit.Range{}, verifier)
			require.NoError(t, err)
			check("VerifyStore", rep)

			var buf bytes.Buffer
			_, err = audit.Export(ctx, st, audit.Range{}, "", &buf)
			require.NoError(t, err)
			rep, err = audit.VerifyExport(&buf, verifier)
			require.NoError(t, err)
			check("VerifyExport", rep)
		})
	}
}

// testAuditRetention checks store.AuditRetentionStore: nothing can be deleted without a
// horizon; a horizon must name a stored entry that is not the head; deletion removes only
// entries at or below the latest horizon, oldest first and at most limit per call; the
// chain then continues from the head and verifies from the horizon on, in the store and in
// an export.
func testAuditRetention(t *testing.T, b *bundle) {
	rs, ok := b.st.(store.AuditRetentionStore)
	if !ok {
		t.Skip("the store cannot remove audit entries (store.AuditRetentionStore)")
	}
	signer, verifier := testKey(t)
	var es []*store.AuditEntry
	for i := range 10 {
		es = append(es, b.audit(t, newAudit("alice", "x", "service", fmt.Sprint(i))))
	}
	_, err := rs.LatestAuditHorizon(b.ctx)
	require.ErrorIs(t, err, store.ErrNotFound)
	n, err := rs.DeleteAuditToHorizon(b.ctx, 5)
	require.NoError(t, err)
	assert.Zero(t, n, "without a horizon nothing is deleted")
	_, err = rs.DeleteAuditToHorizon(b.ctx, 0)
	require.ErrorIs(t, err, store.ErrInvalidArgument)

	sign := func(seq int64, hash string) *store.AuditCheckpoint {
		c, err := audit.SignCheckpoint(signer, seq, hash)
		require.NoError(t, err)
		return c
	}
	require.ErrorIs(t, rs.AddAuditHorizon(b.ctx, nil), store.ErrInvalidArgument)
	require.ErrorIs(t, rs.AddAuditHorizon(b.ctx, sign(7, es[5].Hash)), store.ErrInvalidArgument, "the hash is not the entry's")
	require.ErrorIs(t, rs.AddAuditHorizon(b.ctx, sign(11, es[9].Hash)), store.ErrInvalidArgument, "no entry at that seq")
	require.ErrorIs(t, rs.AddAuditHorizon(b.ctx, sign(10, es[9].Hash)), store.ErrInvalidArgument, "the head cannot be a horizon")
	_, err = rs.LatestAuditHorizon(b.ctx)
	require.ErrorIs(t, err, store.ErrNotFound, "a refused horizon is not stored")

	require.NoError(t, rs.AddAuditHorizon(b.ctx, sign(4, es[3].Hash)))
	require.NoError(t, rs.AddAuditHorizon(b.ctx, sign(7, es[6].Hash)))
	require.NoError(t, rs.AddAuditHorizon(b.ctx, sign(7, es[6].Hash)), "adding the same horizon again is a no-op")
	other, err := audit.SignCheckpoint(signer, 7, es[5].Hash)
	require.NoError(t, err)
	require.ErrorIs(t, rs.AddAuditHorizon(b.ctx, other), store.ErrConflict)
	h, err := rs.LatestAuditHorizon(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(7), h.Size)
	assert.Equal(t, es[6].Hash, h.Hash)
	assert.Equal(t, b.now(), h.CreatedAt)

	var batches []int64
	for {
		n, err := rs.DeleteAuditToHorizon(b.ctx, 3)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		batches = append(batches, n)
	}
	assert.Equal(t, []int64{3, 3, 1}, batches, "batches of at most 3, up to the horizon at 7")
	left, err := b.st.ListAudit(b.ctx, store.AuditFilter{})
	require.NoError(t, err)
	seqs := []int64{}
	for _, e := range left {
		seqs = append(seqs, e.Seq)
	}
	assert.Equal(t, []int64{8, 9, 10}, seqs, "the entries above the horizon are kept")

	next := b.audit(t, newAudit("alice", "x", "service", "after"))
	assert.Equal(t, int64(11), next.Seq, "the chain continues from the head")
	assert.Equal(t, es[9].Hash, next.PrevHash)

	rep, err := audit.VerifyStore(b.ctx, b.st, audit.Range{}, verifier)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep.Problems)
	assert.Equal(t, int64(7), rep.HorizonSeq)
	assert.Equal(t, int64(4), rep.Entries)
	var buf bytes.Buffer
	_, err = audit.Export(b.ctx, b.st, audit.Range{}, "", &buf)
	require.NoError(t, err)
	rep, err = audit.VerifyExport(&buf, verifier)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep.Problems)
	assert.Equal(t, int64(7), rep.HorizonSeq)
}
