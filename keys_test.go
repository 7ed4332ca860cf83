package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/internal/seal"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// TestRotateSecretKey seals 1,000 services' credentials under key A, then rotates to key B
// on a hub holding both while events flow to those services: afterwards every credential
// opens under B and none under A alone, every event was delivered and none failed, and a
// hub with only key B delivers.
func TestRotateSecretKey(t *testing.T) {
	t.Parallel()
	const services = 1000
	ctx := t.Context()
	keyA, keyB := testSecretKey(t), testSecretKey(t)
	st := memory.New(memory.Options{})
	sink := hubtest.NewSink(t)
	token := func(i int) string { return fmt.Sprintf("token-%04d-secret", i) }

	hubA, err := hub.New(st, append(hubtest.Fast(), hub.WithSecretKey(keyA), hub.WithAuditCheckpointInterval(-1))...)
	require.NoError(t, err)
	for i := range services {
		_, err := hubA.RegisterIntegration(ctx, hub.IntegrationConfig{Name: fmt.Sprintf("svc-%04d", i), Connector: "http", BaseURL: sink.URL,
			Auth:  json.RawMessage(fmt.Sprintf(`{"type":"bearer","token":%q}`, token(i))),
			Retry: json.RawMessage(hubtest.FastRetry), RateLimits: json.RawMessage(hubtest.Unlimited)})
		require.NoError(t, err)
	}
	require.NoError(t, hubA.Close(ctx))
	onlyA, err := seal.New(keyA)
	require.NoError(t, err)
	onlyB, err := seal.New(keyB)
	require.NoError(t, err)

	hubAB := hubtest.New(t, st, hub.WithSecretKey(keyB), hub.WithPreviousSecretKeys(keyA), hub.WithAuditCheckpointInterval(-1))
	require.Equal(t, seal.KeyID(keyB), hubAB.SecretKeyID())

	// events flow while the rotation runs
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				n := i % services
				_, err := hubAB.ProcessIntegrationEvent(ctx, hub.EventData{Service: fmt.Sprintf("svc-%04d", n),
					Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), IdempotencyKey: fmt.Sprint("rot-", i), Mode: hub.Async})
				assert.NoError(t, err)
				sent.Add(1)
				time.Sleep(time.Millisecond)
			}
		})
	}
	t0 := time.Now()
	rep, err := hubAB.RotateSecretKey(ctx, hub.RotateOptions{BatchSize: 100, Pause: 20 * time.Millisecond, Reason: "yearly rotation"})
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	t.Logf("rotation: %d services, %d re-sealed, %d current, %d failed in %s while %d events were sent",
		rep.Services, rep.Resealed, rep.Current, len(rep.Failed), time.Since(t0).Round(time.Millisecond), sent.Load())
	assert.Equal(t, services, rep.Services)
	assert.Equal(t, services, rep.Resealed)
	assert.Empty(t, rep.Failed)

	svcs, err := st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit}})
	require.NoError(t, err)
	require.Len(t, svcs, services)
	for _, svc := range svcs {
		id, ok := seal.SealedKeyID(svc.AuthenticationConfig)
		require.True(t, ok)
		require.Equal(t, seal.KeyID(keyB), id)
		plain, err := onlyB.Open(svc.Name, svc.AuthenticationConfig)
		require.NoError(t, err, "%s opens under B", svc.Name)
		require.Contains(t, string(plain), "-secret")
		_, err = onlyA.Open(svc.Name, svc.AuthenticationConfig)
		require.ErrorIs(t, err, seal.ErrCorrupt, "%s does not open under A alone", svc.Name)
	}

	// every event sent during the rotation is delivered, none failed
	eventually(t, time.Minute, func() bool {
		c, err := st.CountEventsByStatus(ctx, store.EventFilter{})
		return err == nil && c[store.StatusSucceeded] == sent.Load()
	}, "every event delivered")
	c, err := st.CountEventsByStatus(ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Zero(t, c[store.StatusFailed]+c[store.StatusDead])

	// a second rotation has nothing to do
	again, err := hubAB.RotateSecretKey(ctx, hub.RotateOptions{})
	require.NoError(t, err)
	assert.Equal(t, services, again.Current)
	assert.Zero(t, again.Resealed)

	// a hub with key B only delivers with the re-sealed credentials
	require.NoError(t, hubAB.Close(ctx))
	hubB := hubtest.New(t, st, hub.WithSecretKey(keyB))
	res, err := hubB.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc-0042", Payload: json.RawMessage(`{"after":"rotation"}`)})
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, res.Status)

	audit, err := st.ListAudit(context.Background(), store.AuditFilter{EntityType: "secret_key"})
	require.NoError(t, err)
	require.Len(t, audit, 4)
	assert.Equal(t, "secret_key.rotate", audit[0].Action)
	assert.Equal(t, "secret_key.rotated", audit[1].Action)
	assert.NotContains(t, string(audit[1].After), "secret\"", "no credential in the log")
}
