package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ehg/hub/store"
)

// envURL names the environment variable holding the test database URL.
const envURL = "HUB_TEST_POSTGRES_URL"

func TestMain(m *testing.M) {
	code := m.Run()
	shared.close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testURL returns the test database URL, skipping the test when none is configured.
func testURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		tb.Skip(envURL + " is not set: set it to a PostgreSQL URL (e.g. " +
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the postgres store tests")
	}
	return u
}

// sharedPools keeps one pool for the whole test binary: every test store lives in its own
// schema, so they can share connections.
type sharedPools struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

var shared sharedPools

func (p *sharedPools) get(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	url := testURL(tb)
	p.once.Do(func() { p.pool, p.err = newPool(context.Background(), url, 16) })
	require.NoError(tb, p.err)
	return p.pool
}

func (p *sharedPools) close() {
	if p.pool != nil {
		p.pool.Close()
	}
}

// newPool opens a pool of at most maxConns connections.
func newPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = maxConns
	return pgxpool.NewWithConfig(ctx, cfg)
}

// testPool opens a pool of its own, closed when the test ends.
func testPool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	pool, err := newPool(context.Background(), testURL(tb), maxConns)
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	return pool
}

// newSchema returns a fresh schema name, dropped (with everything in it) when the test ends.
func newSchema(tb testing.TB) string {
	tb.Helper()
	pool := shared.get(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "hubtest_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// newTestStore returns a store on the shared pool in a fresh schema, using now as its clock
// (the wall clock when nil).
func newTestStore(tb testing.TB, now func() time.Time) *Store {
	tb.Helper()
	schema := newSchema(tb)
	s, err := New(context.Background(), shared.get(tb), Options{Schema: schema, Now: now})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// clock is a settable test clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testService is a fixed service id and name for events.
const (
	testServiceID   = "7b0c3f1e-5d2a-4c8e-9f10-2a3b4c5d6e7f"
	testServiceName = "github"
)

// newEvent returns a minimal valid event of the test service.
func newEvent(key string) *store.Event {
	return &store.Event{
		ServiceID:      testServiceID,
		ServiceName:    testServiceName,
		PayloadIn:      []byte(`{"n":1}`),
		IdempotencyKey: key,
	}
}

// insertN inserts n events in batches of 1000 and returns their ids.
func insertN(tb testing.TB, s *Store, n int) []string {
	tb.Helper()
	ids := make([]string, 0, n)
	for len(ids) < n {
		batch := min(1000, n-len(ids))
		es := make([]*store.Event, batch)
		for i := range es {
			es[i] = newEvent("")
		}
		res, err := s.InsertEvents(context.Background(), es)
		require.NoError(tb, err)
		for _, r := range res {
			require.True(tb, r.Created)
			ids = append(ids, r.Event.ID)
		}
	}
	return ids
}
