package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// Tx is a transaction of the caller's own on a store's database, for the TxInserter cases:
// Tx is what InsertEventTx receives (a pgx.Tx, a *sql.Tx).
type Tx struct {
	Tx       any
	Commit   func() error
	Rollback func() error
}

// BeginTxFunc begins a transaction on the database of st, a store the suite's factory
// built, the way a caller of store.TxInserter would. It registers any clean-up with
// t.Cleanup.
type BeginTxFunc func(t *testing.T, st store.Store) Tx

func txCases(opts Options) []testCase {
	return []testCase{
		{"CommitPublishes", func(t *testing.T, b *bundle) { testTxCommit(t, b, opts.BeginTx) }},
		{"RollbackLeavesNothing", func(t *testing.T, b *bundle) { testTxRollback(t, b, opts.BeginTx) }},
		{"Idempotent", func(t *testing.T, b *bundle) { testTxIdempotent(t, b, opts.BeginTx) }},
		{"Invalid", func(t *testing.T, b *bundle) { testTxInvalid(t, b, opts.BeginTx) }},
	}
}

// txInserter returns the store's TxInserter, skipping the case when it has none or the
// suite was given no way to begin a transaction.
func (b *bundle) txInserter(t *testing.T, begin BeginTxFunc) store.TxInserter {
	t.Helper()
	ti, ok := b.st.(store.TxInserter)
	if !ok {
		t.Skip("the store does not implement store.TxInserter (optional)")
	}
	if begin == nil {
		t.Skip("Options.BeginTx is not set: the suite cannot open a transaction on this store")
	}
	return ti
}

func testTxCommit(t *testing.T, b *bundle, begin BeginTxFunc) {
	ti := b.txInserter(t, begin)
	sv := b.service(t, "outbox")
	tx := begin(t, b.st)
	e := newEvent(sv)
	e.IdempotencyKey = "order-1"
	e.PayloadIn = json.RawMessage(`{"order":1}`)
	got, created, err := ti.InsertEventTx(b.ctx, tx.Tx, e)
	require.NoError(t, err)
	require.True(t, created)
	assert.Equal(t, store.StatusPending, got.Status)
	assert.Equal(t, b.now(), got.CreatedAt)
	assert.Equal(t, "order-1", got.IdempotencyKey)

	// Invisible to every other connection until the commit (reads only: SQLite's writer
	// waits for the caller's write lock).
	_, err = b.st.GetEvent(b.ctx, got.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "visible before commit")
	require.NoError(t, tx.Commit())

	stored := b.get(t, got.ID)
	assert.Equal(t, got.ID, stored.ID)
	assert.Equal(t, store.StatusPending, stored.Status)
	assert.JSONEq(t, `{"order":1}`, string(stored.PayloadIn))
	claimed := b.claim(t, "w", 10, time.Minute)
	require.Len(t, claimed, 1, "claimable after commit")
	assert.Equal(t, got.ID, claimed[0].ID)
}

func testTxRollback(t *testing.T, b *bundle, begin BeginTxFunc) {
	ti := b.txInserter(t, begin)
	sv := b.service(t, "outbox")
	tx := begin(t, b.st)
	e := newEvent(sv)
	e.IdempotencyKey = "order-2"
	got, created, err := ti.InsertEventTx(b.ctx, tx.Tx, e)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, tx.Rollback())

	_, err = b.st.GetEvent(b.ctx, got.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Empty(t, b.claim(t, "w", 10, time.Minute))
	// The key is free again.
	again, created, err := b.st.InsertEvent(b.ctx, &store.Event{ServiceID: sv.ID, ServiceName: sv.Name, IdempotencyKey: "order-2", PayloadIn: json.RawMessage(`{}`)})
	require.NoError(t, err)
	assert.True(t, created)
	assert.NotEqual(t, got.ID, again.ID)
}

func testTxIdempotent(t *testing.T, b *bundle, begin BeginTxFunc) {
	ti := b.txInserter(t, begin)
	sv := b.service(t, "outbox")
	first := newEvent(sv)
	first.IdempotencyKey = "order-3"
	stored := b.insert(t, first)

	tx := begin(t, b.st)
	dup := newEvent(sv)
	dup.IdempotencyKey = "order-3"
	got, created, err := ti.InsertEventTx(b.ctx, tx.Tx, dup)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, stored.ID, got.ID)
	// Twice in one transaction: the second finds the first.
	fresh := newEvent(sv)
	fresh.IdempotencyKey = "order-4"
	one, created, err := ti.InsertEventTx(b.ctx, tx.Tx, fresh)
	require.NoError(t, err)
	require.True(t, created)
	two, created, err := ti.InsertEventTx(b.ctx, tx.Tx, fresh)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, one.ID, two.ID)
	require.NoError(t, tx.Commit())
	counts, err := b.st.CountEventsByStatus(b.ctx, store.EventFilter{ServiceID: sv.ID})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusPending: 2}, counts)
}

func testTxInvalid(t *testing.T, b *bundle, begin BeginTxFunc) {
	ti := b.txInserter(t, begin)
	sv := b.service(t, "outbox")
	for _, tx := range []any{nil, "not a transaction", 42} {
		_, _, err := ti.InsertEventTx(b.ctx, tx, newEvent(sv))
		assert.ErrorIs(t, err, store.ErrInvalidArgument, "tx %T", tx)
	}
	tx := begin(t, b.st)
	_, _, err := ti.InsertEventTx(b.ctx, tx.Tx, &store.Event{ServiceID: "nope"})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, _, err = ti.InsertEventTx(b.ctx, tx.Tx, nil)
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	require.NoError(t, tx.Rollback())
}
