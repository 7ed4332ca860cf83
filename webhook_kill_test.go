package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// The webhook kill child is the crash child (crashChildEnv) with crashModeEnv set to
// crashModeWebhook: it serves WebhookHandler on a real socket and parks the first webhook's
// store transaction at HUB_CRASH_POINT until its parent kills it with SIGKILL.
const (
	crashModeWebhook = "webhook"
	// webhookParkBefore parks before the delivery's store transaction starts;
	// webhookParkAfter parks once it has committed, before the handler can answer.
	webhookParkBefore = "before-commit"
	webhookParkAfter  = "after-commit"
)

// parkingStore holds the first InsertEvents at the chosen point forever, after telling the
// parent on stdout: the process is between the provider's request and its answer.
type parkingStore struct {
	store.Store
	afterCommit bool
}

func (p *parkingStore) InsertEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	if !p.afterCommit {
		park(webhookParkBefore)
	}
	res, err := p.Store.InsertEvents(ctx, es)
	if err == nil {
		park(webhookParkAfter)
	}
	return res, err
}

func park(point string) {
	fmt.Printf("parked %s\n", point)
	select {} // until SIGKILL
}

// webhookKillChild opens the store its parent prepared (services and route registered),
// serves the hub's WebhookHandler on 127.0.0.1, prints its address, and parks the first
// delivery (see parkingStore). Its engine is not started: it delivers nothing itself.
func webhookKillChild() int {
	ctx := context.Background()
	st, key, err := openCrashStore(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook child:", err)
		return 2
	}
	h, err := hub.New(&parkingStore{Store: st, afterCommit: os.Getenv("HUB_CRASH_POINT") == webhookParkAfter},
		append(hubtest.Fast(), hub.WithSecretKey(key))...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook child: new hub:", err)
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook child: listen:", err)
		return 2
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{Handler: h.WebhookHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, "webhook child: serve:", srv.Serve(ln))
	return 2
}

// TestWebhookKilledMidRequest kills (SIGKILL) a hub process between GitHub's request and
// the hub's answer — before the delivery's store transaction, and after it committed — on
// SQLite and PostgreSQL. GitHub saw no answer, so it retries against a new hub on the same
// store: the delivery is stored once with its route's fan-out, nothing is lost, the retry
// and any later one are recognised as duplicates where the first had committed, and the
// destination receives the event exactly once.
func TestWebhookKilledMidRequest(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, point := range []string{webhookParkBefore, webhookParkAfter} {
			t.Run(kind+"/"+point, func(t *testing.T) {
				t.Parallel()
				runWebhookKill(t, kind, point)
			})
		}
	}
}

func runWebhookKill(t *testing.T, kind, point string) {
	ctx := t.Context()
	dsn := crashDSN(t, kind)
	key := make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(key)
	sink := hubtest.NewSink(t)

	// The services and the route, set up by an earlier hub on the store.
	h0 := hubtest.New(t, reopen(t, kind, dsn), hub.WithSecretKey(key))
	registerGitHub(t, h0, "github", sink.URL, "s3cret")
	register(t, h0, "dest", sink.URL, nil)
	_, err := h0.PutRoute(ctx, hub.Route{Name: "to-dest", Source: "github", Destinations: []hub.RouteDestination{{Service: "dest"}}})
	require.NoError(t, err)
	require.NoError(t, h0.Close(ctx))

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashModeEnv+"="+crashModeWebhook,
		"HUB_CRASH_KIND="+kind, "HUB_CRASH_DSN="+dsn, "HUB_CRASH_KEY="+hex.EncodeToString(key), "HUB_CRASH_POINT="+point)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(prefix string) string {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the child ended before %q", prefix)
			require.True(t, strings.HasPrefix(l, prefix), "child said %q, want %q", l, prefix)
			return strings.TrimPrefix(l, prefix)
		case <-time.After(2 * time.Minute):
			t.Fatalf("the child did not say %q in time", prefix)
			return ""
		}
	}
	addr := next("listening ")

	// GitHub's delivery, over a real connection to the child.
	type answer struct {
		status int
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/github", bytes.NewReader(issueEvent))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		req.Header = githubHeader("s3cret", "kill-1", issueEvent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		_ = resp.Body.Close()
		answered <- answer{status: resp.StatusCode}
	}()
	require.Equal(t, point, next("parked "))
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	killed = true
	_ = cmd.Wait()
	a := <-answered
	require.Error(t, a.err, "GitHub got no answer from the killed hub (status %d)", a.status)

	// GitHub retries (same X-GitHub-Delivery) against a new hub on the same store.
	st := reopen(t, kind, dsn)
	h := hubtest.New(t, st, hub.WithSecretKey(key))
	_, err = st.GetEventByIdempotencyKey(ctx, serviceID(t, h, "github"), "webhook:kill-1")
	if point == webhookParkAfter {
		require.NoError(t, err, "the delivery committed before the kill is stored")
	} else {
		require.ErrorIs(t, err, store.ErrNotFound, "nothing of the delivery parked before its transaction is stored")
	}
	retry := result(t, post(h.WebhookHandler(), "github", githubHeader("s3cret", "kill-1", issueEvent), issueEvent))
	assert.Equal(t, point == webhookParkAfter, retry.Duplicate, "the retry is a duplicate exactly when the first delivery had committed")
	again := result(t, post(h.WebhookHandler(), "github", githubHeader("s3cret", "kill-1", issueEvent), issueEvent))
	assert.True(t, again.Duplicate)
	assert.Equal(t, retry.EventID, again.EventID)

	evs := listAll(t, st)
	assert.Len(t, evs, 2, "the inbound event and its one derived event, once each")
	kids, err := h.EventFanOut(ctx, retry.EventID)
	require.NoError(t, err)
	require.Len(t, kids, 1)
	done := hubtest.WaitForStatus(t, h, kids[0].ID, store.StatusSucceeded)
	assert.Equal(t, store.StatusSucceeded, done.Status)
	assert.Equal(t, 1, sink.Delivered("webhook:kill-1|route:to-dest"), "the destination got the event exactly once")
	fmt.Printf("WEBHOOK KILL %s %s: provider error %q, retry duplicate=%v, events=%d, delivered=%d\n",
		kind, point, a.err, retry.Duplicate, len(evs), sink.Delivered("webhook:kill-1|route:to-dest"))
}
