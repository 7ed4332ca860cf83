package hub_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// callerDB is the embedding service's own database access in the transactional tests: it
// begins a transaction that writes an order row, in which the event is accepted.
type callerDB struct {
	// order begins a transaction, inserts order n, runs accept inside it, and commits when
	// commit is set (else rolls back).
	order func(ctx context.Context, n int, commit bool, accept func(tx any) error) error
	// orders counts the committed order rows.
	orders func(ctx context.Context) int
}

func sqliteCaller(t *testing.T, path string) callerDB {
	// The caller's own connection waits up to a minute for the file's write lock: under the
	// race detector on a busy machine the hub's workers can hold it longer than the default.
	db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{BusyTimeout: time.Minute}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.ExecContext(t.Context(), `CREATE TABLE orders (n INTEGER PRIMARY KEY)`)
	require.NoError(t, err)
	return callerDB{
		order: func(ctx context.Context, n int, commit bool, accept func(any) error) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
			if _, err := tx.ExecContext(ctx, `INSERT INTO orders (n) VALUES (?)`, n); err != nil {
				return err
			}
			if err := accept(tx); err != nil {
				return err
			}
			if !commit {
				return tx.Rollback()
			}
			return tx.Commit()
		},
		orders: func(ctx context.Context) int {
			var c int
			require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&c))
			return c
		},
	}
}

func postgresCaller(t *testing.T, schema string) callerDB {
	pool, err := pgxpool.New(t.Context(), postgresURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(t.Context(), `CREATE TABLE `+schema+`.orders (n integer PRIMARY KEY)`)
	require.NoError(t, err)
	return callerDB{
		order: func(ctx context.Context, n int, commit bool, accept func(any) error) error {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit it is a no-op
			if _, err := tx.Exec(ctx, `INSERT INTO `+schema+`.orders (n) VALUES ($1)`, n); err != nil {
				return err
			}
			if err := accept(tx); err != nil {
				return err
			}
			if !commit {
				return tx.Rollback(ctx)
			}
			return tx.Commit(ctx)
		},
		orders: func(ctx context.Context) int {
			var c int
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.orders`).Scan(&c))
			return c
		},
	}
}

// TestProcessIntegrationEventTx runs 1,000 caller transactions (200 under the race
// detector), each writing an order row and accepting its event, and rolls back every
// other one: exactly the committed half is delivered, each event once, and the store holds
// only the committed events.
func TestProcessIntegrationEventTx(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (store.Store, callerDB)
	}{
		{"sqlite", func(t *testing.T) (store.Store, callerDB) {
			path := filepath.Join(t.TempDir(), "hub.db")
			st := openSQLite(t, path)
			return st, sqliteCaller(t, path)
		}},
		{"postgres", func(t *testing.T) (store.Store, callerDB) {
			schema := newSchema(t)
			st := openPostgres(t, schema)
			return st, postgresCaller(t, schema)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := 1000
			if raceEnabled && tc.name == "sqlite" {
				// The race detector slows modernc.org/sqlite about twentyfold: the full size
				// runs without it (go test -run TestProcessIntegrationEventTx .), a fifth with it.
				n = 200
			}
			st, caller := tc.open(t)
			h := hubtest.New(t, st)
			sink := hubtest.NewSink(t)
			register(t, h, "orders", sink.URL, nil)
			ctx := t.Context()

			const callers = 4
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for c := range callers {
				wg.Go(func() {
					for i := c; i < n; i += callers {
						commit := i%2 == 0
						err := caller.order(ctx, i, commit, func(tx any) error {
							res, err := h.ProcessIntegrationEventTx(ctx, tx, hub.EventData{
								Service: "orders", IdempotencyKey: fmt.Sprintf("order-%d", i),
								Payload: json.RawMessage(fmt.Sprintf(`{"order":%d}`, i)),
							})
							if err == nil && (res.Status != store.StatusPending || res.Duplicate) {
								err = fmt.Errorf("order %d: status %s, duplicate %v", i, res.Status, res.Duplicate)
							}
							return err
						})
						if err != nil {
							errs <- fmt.Errorf("order %d: %w", i, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			eventually(t, time.Minute, func() bool {
				c, err := st.CountEventsByStatus(ctx, store.EventFilter{Statuses: []store.EventStatus{store.StatusSucceeded}})
				return err == nil && c[store.StatusSucceeded] >= int64(n/2)
			}, "committed events delivered")
			counts, err := st.CountEventsByStatus(ctx, store.EventFilter{})
			require.NoError(t, err)
			require.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: int64(n / 2)}, counts, "only the committed events exist, all delivered")
			assert.Equal(t, n/2, caller.orders(ctx), "committed order rows")
			committed, rolledBack, twice := 0, 0, 0
			for i := range n {
				d := sink.Delivered(fmt.Sprintf("order-%d", i))
				switch {
				case i%2 == 0 && d >= 1:
					committed++
					if d > 1 {
						twice++
					}
				case i%2 == 1 && d > 0:
					rolledBack++
				}
			}
			t.Logf("%s: %d caller transactions: %d committed delivered (%d more than once), %d rolled back delivered", tc.name, n, committed, twice, rolledBack)
			assert.Equal(t, n/2, committed)
			assert.Zero(t, rolledBack)
			assert.Equal(t, n/2, sink.Unique())
		})
	}
}

func TestProcessIntegrationEventTxErrors(t *testing.T) {
	t.Parallel()
	b := setup(t) // memory store: no caller transactions
	_, err := b.hub.ProcessIntegrationEventTx(t.Context(), struct{}{}, hub.EventData{Service: "sink", Payload: json.RawMessage(`{}`)})
	assert.ErrorIs(t, err, hub.ErrNotSupported)

	path := filepath.Join(t.TempDir(), "hub.db")
	h := hubtest.New(t, openSQLite(t, path))
	sink := hubtest.NewSink(t)
	register(t, h, "orders", sink.URL, nil)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		tx   any
		ev   hub.EventData
		want error
	}{
		{"nil transaction", nil, hub.EventData{Service: "orders", Payload: json.RawMessage(`{}`)}, hub.ErrInvalidInput},
		{"not a transaction", "tx", hub.EventData{Service: "orders", Payload: json.RawMessage(`{}`)}, hub.ErrInvalidInput},
		{"unknown service", "tx", hub.EventData{Service: "nope", Payload: json.RawMessage(`{}`)}, hub.ErrUnknownService},
		{"bad payload", "tx", hub.EventData{Service: "orders", Payload: json.RawMessage(`{`)}, hub.ErrInvalidInput},
	} {
		_, err := h.ProcessIntegrationEventTx(ctx, tc.tx, tc.ev)
		assert.ErrorIs(t, err, tc.want, tc.name)
	}
	// A duplicate key inside a committed transaction reports the earlier event.
	caller := sqliteCaller(t, path)
	var first, second *hub.ProcessingResult
	require.NoError(t, caller.order(ctx, 1, true, func(tx any) error {
		var err error
		if first, err = h.ProcessIntegrationEventTx(ctx, tx, hub.EventData{Service: "orders", IdempotencyKey: "k", Payload: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		second, err = h.ProcessIntegrationEventTx(ctx, tx, hub.EventData{Service: "orders", IdempotencyKey: "k", Payload: json.RawMessage(`{}`)})
		return err
	}))
	assert.False(t, first.Duplicate)
	assert.True(t, second.Duplicate)
	assert.Equal(t, first.EventID, second.EventID)
	ev, err := h.WaitEvent(ctx, first.EventID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, ev.Status)
	require.False(t, errors.Is(err, hub.ErrNotSupported))
}
