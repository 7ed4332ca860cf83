package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// Child processes: the test binary re-runs itself with these variables set to act as
// another process sharing the database file.
const (
	childModeEnv = "HUB_SQLITE_TEST_CHILD"
	childPathEnv = "HUB_SQLITE_TEST_PATH"
)

// runChild is the body of a child process; it returns the exit code.
func runChild(mode, path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	defer s.Close()
	if mode != "claim" {
		return 0
	}
	owner := fmt.Sprintf("pid-%d", os.Getpid())
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for {
		evs, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: owner, Limit: 20, Lease: time.Hour})
		if err != nil {
			fmt.Fprintln(os.Stderr, "claim:", err)
			return 1
		}
		if len(evs) == 0 {
			return 0
		}
		done := make([]store.CompleteParams, len(evs))
		for i, e := range evs {
			fmt.Fprintln(out, e.ID)
			done[i] = store.CompleteParams{ID: e.ID, Owner: owner, ResponseCode: 200}
		}
		lost, err := s.CompleteEvents(ctx, done)
		if err != nil || len(lost) > 0 {
			fmt.Fprintln(os.Stderr, "complete:", err, lost)
			return 1
		}
	}
}

// startChildren runs n child processes in mode on path at once and returns their outputs.
func startChildren(t *testing.T, n int, mode, path string) []string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range cmds {
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childPathEnv+"="+path)
		outs[i] = &bytes.Buffer{}
		cmd.Stdout = outs[i]
		cmd.Stderr = os.Stderr
		cmds[i] = cmd
	}
	for _, cmd := range cmds {
		require.NoError(t, cmd.Start())
	}
	res := make([]string, n)
	for i, cmd := range cmds {
		require.NoError(t, cmd.Wait(), "child %d", i)
		res[i] = outs[i].String()
	}
	return res
}

// TestProcessesMigrateAtOnce starts several processes on a new file at once: each opens it
// (and so migrates it); all succeed and each migration is recorded once.
func TestProcessesMigrateAtOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hub.db")
	startChildren(t, 4, "migrate", path)
	ms, err := sqlite.Migrations()
	require.NoError(t, err)
	assert.Len(t, migrationRows(t, path), len(ms))
}

// TestProcessesClaimOnce has several processes claim and complete one queue at once: every
// event is claimed by exactly one of them and ends succeeded.
func TestProcessesClaimOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	s := func() *sqlite.Store {
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}()
	svc := newService(t, s, "github")
	n := 2000
	if raceEnabled || testing.Short() {
		n = 400
	}
	es := make([]*store.Event, n)
	for i := range es {
		es[i] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PriorityLevel: store.Priorities()[i%4]}
	}
	_, err := s.InsertEvents(ctx, es)
	require.NoError(t, err)

	seen := map[string]int{}
	for _, out := range startChildren(t, 4, "claim", path) {
		for _, id := range strings.Fields(out) {
			seen[id]++
		}
	}
	assert.Len(t, seen, n, "every event claimed")
	for id, k := range seen {
		assert.Equal(t, 1, k, "event %s claimed %d times", id, k)
	}
	counts, err := s.CountEventsByStatus(ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: int64(n)}, counts)
}
