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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// The group-commit crash child is the crash child (crashChildEnv) with crashModeEnv set to
// crashModeAccepts.
const (
	crashModeEnv     = "HUB_CRASH_MODE"
	crashModeAccepts = "accepts"
	// crashAcceptKill is how many answered accepts the parent waits for before the kill.
	crashAcceptKill = 400
)

// TestCrashDuringGroupCommit kills a hub with SIGKILL while 32 producers accept events one
// call at a time (so accepts are being committed in groups at the kill). Every event whose
// call returned success before the kill is stored and, by a new hub on the same store,
// delivered; events whose call got no answer may or may not be.
func TestCrashDuringGroupCommit(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn := crashDSN(t, kind)
			runGroupCommitCrash(t, kind, dsn)
		})
	}
}

func runGroupCommitCrash(t *testing.T, kind, dsn string) {
	sink := hubtest.NewSink(t)
	key := make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(key)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		crashChildEnv+"=1", crashModeEnv+"="+crashModeAccepts, "HUB_CRASH_KIND="+kind, "HUB_CRASH_DSN="+dsn,
		"HUB_CRASH_SINK="+sink.URL, "HUB_CRASH_KEY="+hex.EncodeToString(key))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())

	// Every "ok <key>" line is an accept that returned success.
	var mu sync.Mutex
	acked := map[string]bool{}
	enough := make(chan struct{})
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			k, ok := strings.CutPrefix(sc.Text(), "ok ")
			if !ok {
				continue
			}
			mu.Lock()
			acked[k] = true
			if len(acked) == crashAcceptKill {
				close(enough)
			}
			mu.Unlock()
		}
	}()
	select {
	case <-enough:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the child did not accept events in time")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	<-eof // every line written before the kill is read

	st := reopen(t, kind, dsn)
	evs := listAll(t, st)
	stored := map[string]bool{}
	for _, e := range evs {
		stored[e.IdempotencyKey] = true
	}
	mu.Lock()
	for k := range acked {
		require.True(t, stored[k], "event %s was acknowledged but is not stored", k)
	}
	nAcked := len(acked)
	mu.Unlock()

	h := hubtest.New(t, st, hub.WithSecretKey(key), hub.WithWorkers(32), hub.WithBatchSize(100))
	eventually(t, 60*time.Second, func() bool {
		c, err := st.CountEventsByStatus(t.Context(), store.EventFilter{})
		return err == nil && c[store.StatusSucceeded] == int64(len(evs))
	}, "the new hub delivers every stored event")
	lost := 0
	mu.Lock()
	for k := range acked {
		if sink.Delivered(k) == 0 {
			lost++
		}
	}
	mu.Unlock()
	t.Logf("group-commit crash %s: acknowledged %d, stored %d (%d unanswered at the kill), lost %d; new hub stats %v",
		kind, nAcked, len(evs), len(evs)-nAcked, lost, h.EngineStats())
	assert.Zero(t, lost, "every acknowledged event is delivered")
}

// crashAcceptChild is the group-commit crash child: a hub (not started) on the store with
// the sink service, and 32 producers accepting events one call at a time, each printing
// "ok <key>" once its call returned success, until the process is killed.
func crashAcceptChild() int {
	ctx := context.Background()
	st, key, err := openCrashStore(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	h, err := hub.New(st, append(hubtest.Fast(), hub.WithSecretKey(key))...)
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
	var out sync.Mutex
	for p := range 32 {
		go func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("gc-%d-%d", p, i)
				_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Mode: hub.Async,
					Payload: json.RawMessage(fmt.Sprintf(`{"p":%d,"n":%d}`, p, i)), IdempotencyKey: k})
				if err != nil {
					fmt.Fprintln(os.Stderr, "crash child: process:", err)
					continue
				}
				out.Lock()
				fmt.Printf("ok %s\n", k)
				out.Unlock()
			}
		}()
	}
	select {} // accept until killed
}
