package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/storetest"
)

// TestConformance runs the store conformance suite, each case in a schema of its own.
func TestConformance(t *testing.T) {
	t.Parallel()
	testURL(t)
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) store.Store {
		return newTestStore(t, now)
	}, storetest.Options{BeginTx: beginCallerTx})
}

// beginCallerTx begins a transaction on the store's pool, as a service sharing the pool
// with the hub does.
func beginCallerTx(t *testing.T, st store.Store) storetest.Tx {
	t.Helper()
	s := st.(*Store)
	tx, err := s.Pool().Begin(t.Context())
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return storetest.Tx{Tx: tx,
		Commit:   func() error { return tx.Commit(context.Background()) },
		Rollback: func() error { return tx.Rollback(context.Background()) }}
}
