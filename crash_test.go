package hub_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/postgres"
	"github.com/ehg/hub/store/sqlite"
)

// The crash child is this test binary re-executed with crashChildEnv set: TestMain runs
// crashChild instead of the tests.
const (
	crashChildEnv = "HUB_CRASH_CHILD"
	crashEvents   = 1000
	crashLease    = 3 * time.Second
)

// TestCrashRecovery runs a hub in a child process that accepts 1,000 events asynchronously
// and is killed with SIGKILL mid-delivery; a new hub on the same store finishes. Every
// accepted event is delivered at least once, and only events in flight at the kill may be
// delivered twice.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn := crashDSN(t, kind)
			runCrash(t, kind, dsn)
		})
	}
}

// crashDSN is where a crash test of the store kind ("sqlite" or "postgres") keeps its store:
// a file in the test's directory, or a new schema (after '#') of the test database.
func crashDSN(t *testing.T, kind string) string {
	if kind == "sqlite" {
		return filepath.Join(t.TempDir(), "crash.db")
	}
	return postgresURL(t) + "#" + newSchema(t)
}

// openCrashStore opens, in a crash child, the store its parent named in HUB_CRASH_KIND and
// HUB_CRASH_DSN (see crashDSN), and decodes the secret key of HUB_CRASH_KEY.
func openCrashStore(ctx context.Context) (store.Store, []byte, error) {
	key, err := hex.DecodeString(os.Getenv("HUB_CRASH_KEY"))
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	dsn := os.Getenv("HUB_CRASH_DSN")
	var st store.Store
	if os.Getenv("HUB_CRASH_KIND") == "sqlite" {
		st, err = sqlite.Open(ctx, dsn, sqlite.Options{})
	} else {
		u, schema, _ := strings.Cut(dsn, "#")
		st, err = postgres.Open(ctx, u, postgres.Options{Schema: schema})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	return st, key, nil
}

func runCrash(t *testing.T, kind, dsn string) {
	sink := hubtest.NewSink(t)
	sink.SetDelay(5 * time.Millisecond)
	key := make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(key)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		crashChildEnv+"=1", "HUB_CRASH_KIND="+kind, "HUB_CRASH_DSN="+dsn,
		"HUB_CRASH_SINK="+sink.URL, "HUB_CRASH_KEY="+hex.EncodeToString(key))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t0 := time.Now()
	accepted := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "accepted %d", &n); err == nil {
				accepted <- n
			}
		}
	}()
	select {
	case n := <-accepted:
		require.Equal(t, crashEvents, n)
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the child did not accept its events in time")
	}
	t.Logf("child accepted after %s", time.Since(t0))
	// Kill it mid-delivery.
	eventually(t, 30*time.Second, func() bool { return sink.Total() >= 100 }, "child delivering")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	beforeKill := sink.Total()
	require.Less(t, beforeKill, crashEvents, "killed mid-delivery")

	t.Logf("killed after %s", time.Since(t0))
	st := reopen(t, kind, dsn)
	ctx := t.Context()
	inflight := map[string]bool{}
	evs := listAll(t, st)
	require.Len(t, evs, crashEvents, "every accepted event is stored")
	for _, e := range evs {
		if e.Status == store.StatusProcessing {
			inflight[e.IdempotencyKey] = true
		}
	}

	h := hubtest.New(t, st, hub.WithSecretKey(key), hub.WithWorkers(32), hub.WithBatchSize(100))
	eventually(t, 60*time.Second, func() bool {
		c, err := st.CountEventsByStatus(ctx, store.EventFilter{})
		return err == nil && c[store.StatusSucceeded] == crashEvents
	}, "the new hub finishes every event")

	t.Logf("recovered after %s", time.Since(t0))
	lost, dups, dupsOutsideFlight := 0, 0, 0
	for _, e := range evs {
		switch n := sink.Delivered(e.IdempotencyKey); {
		case n == 0:
			lost++
		case n > 1:
			dups++
			if !inflight[e.IdempotencyKey] {
				dupsOutsideFlight++
			}
		}
	}
	t.Logf("crash %s: accepted %d, delivered before SIGKILL %d, in flight at kill %d, delivered after restart %d, duplicates %d (all in flight at kill: %v), lost %d; new hub stats %v",
		kind, len(evs), beforeKill, len(inflight), sink.Total()-beforeKill, dups, dupsOutsideFlight == 0, lost, h.EngineStats())
	fmt.Printf("CRASH %s: accepted=%d delivered_before_kill=%d in_flight_at_kill=%d duplicates=%d lost=%d\n",
		kind, len(evs), beforeKill, len(inflight), dups, lost)
	assert.Zero(t, lost, "no accepted event is lost")
	assert.Zero(t, dupsOutsideFlight, "duplicates only for events in flight at the kill")
}

func reopen(t *testing.T, kind, dsn string) store.Store {
	t.Helper()
	if kind == "sqlite" {
		return openSQLite(t, dsn)
	}
	u, schema, _ := strings.Cut(dsn, "#")
	st, err := postgres.Open(context.Background(), u, postgres.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func listAll(t *testing.T, st store.Store) []*store.Event {
	t.Helper()
	var all []*store.Event
	for off := 0; ; off += store.MaxPageLimit {
		page, err := st.ListEvents(t.Context(), store.EventFilter{Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		require.NoError(t, err)
		all = append(all, page...)
		if len(page) < store.MaxPageLimit {
			return all
		}
	}
}

// crashChild is the child process: it opens the store, registers the sink service, starts
// a hub, accepts crashEvents events asynchronously, reports, and delivers until killed.
func crashChild() int {
	switch os.Getenv(crashModeEnv) {
	case crashModeAccepts:
		return crashAcceptChild()
	case crashModeWebhook:
		return webhookKillChild()
	}
	ctx := context.Background()
	st, key, err := openCrashStore(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	h, err := hub.New(st, append(hubtest.Fast(), hub.WithSecretKey(key), hub.WithLease(crashLease), hub.WithWorkers(4))...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: new hub:", err)
		return 2
	}
	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name: "sink", Connector: "http", BaseURL: os.Getenv("HUB_CRASH_SINK"),
		Auth:  json.RawMessage(`{"type":"bearer","token":"crash-secret"}`),
		Retry: json.RawMessage(hubtest.FastRetry), RateLimits: json.RawMessage(hubtest.Unlimited),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: register:", err)
		return 2
	}
	// Accept asynchronously, in batches of 500 (one transaction each).
	for b := 0; b < crashEvents; b += 500 {
		evs := make([]hub.EventData, 0, 500)
		for i := b; i < b+500; i++ {
			evs = append(evs, hub.EventData{Service: "sink", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), IdempotencyKey: fmt.Sprintf("crash-%d", i)})
		}
		if _, err := h.ProcessIntegrationEvents(ctx, evs); err != nil {
			fmt.Fprintln(os.Stderr, "crash child: process:", err)
			return 2
		}
	}
	fmt.Printf("accepted %d\n", crashEvents)
	if err := h.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "crash child: start:", err)
		return 2
	}
	select {} // deliver until killed
}
