package hubhttp_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/hubhttp/apiv1"
)

// TestStreamResumeBeyondBuffer: a client resuming from an event the handler no longer keeps
// gets a reset; one resuming within the buffer gets exactly what it missed.
func TestStreamResumeBeyondBuffer(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	x, err := hubhttp.New(b.hub, hubhttp.Options{Authenticate: hubhttp.BearerTokens(testPrincipals), StreamBuffer: 8})
	require.NoError(t, err)
	srv := httptest.NewServer(x)
	t.Cleanup(func() {
		x.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	small := *b
	small.srv = srv
	msgs := small.openStream(t, "?types=breaker", "")
	var ids []string
	for range 10 { // twenty transitions: open, closed, open, closed ...
		_, err := b.hub.TriggerRecoveryAction(t.Context(), hub.RecoveryPlan{Service: "sink", Actions: []hub.RecoveryAction{hub.ActionOpenBreaker, hub.ActionResetBreaker}})
		require.NoError(t, err)
		for range 2 {
			m, _ := waitMessage(t, msgs, 5*time.Second, func(e apiv1.StreamEvent) bool { return e.Type == "breaker" })
			ids = append(ids, m.ID)
		}
	}
	// (health changes are numbered between the breaker transitions, and arrive on their own
	// feed, so a few may follow the last transition: the buffer leaves room for them)
	// the first id is many events back: more than the eight kept
	old := small.openStream(t, "?types=breaker", ids[0])
	_, ev := waitMessage(t, old, 5*time.Second, func(apiv1.StreamEvent) bool { return true })
	require.Equal(t, "reset", ev.Type)
	// the one before the last: within the eight kept, so the last is replayed
	recent := small.openStream(t, "?types=breaker", ids[len(ids)-2])
	m, ev := waitMessage(t, recent, 5*time.Second, func(apiv1.StreamEvent) bool { return true })
	require.Equal(t, "breaker", ev.Type)
	require.Equal(t, ids[len(ids)-1], m.ID)
}
