package hub_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/postgres"
)

// previousSchema is the schema version of the build before configuration as code
// (migration 0008): the "old" hub of the rolling deploy runs on it.
const previousSchema = 7

// TestRollingDeploy shares one PostgreSQL schema between a hub on the previous schema
// version and a new one that migrates it forward while 5,000 events flow; then the old
// hub closes (drains its in-flight work, hands the rest back by lease) and the new one
// delivers the rest. None is lost and none is delivered twice while leased.
func TestRollingDeploy(t *testing.T) {
	t.Parallel()
	const events = 5000
	ctx := t.Context()
	url := postgresURL(t)
	schema := newSchema(t)
	key := bytes.Repeat([]byte{3}, hub.SecretKeySize)

	oldStore, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, MigrateTo: previousSchema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = oldStore.Close() })
	var st store.Store = oldStore
	_, isConfig := st.(store.ConfigStateStore)
	require.True(t, isConfig) // the type has it; the schema does not yet
	oldHub := hubtest.New(t, oldStore, hub.WithSecretKey(key))
	sink := hubtest.NewSink(t)
	register(t, oldHub, "sink", sink.URL, nil)
	_, err = oldHub.Export(ctx)
	require.Error(t, err, "the previous schema has no configuration state")

	var sent atomic.Int64
	send := func(h *hub.Hub, from, to int) {
		t.Helper()
		for i := from; i < to; i += 100 {
			batch := make([]hub.EventData, 0, 100)
			for j := i; j < min(to, i+100); j++ {
				batch = append(batch, hub.EventData{Service: "sink", Payload: issueEvent, IdempotencyKey: fmt.Sprintf("ev-%05d", j), Mode: hub.Async})
			}
			_, err := h.ProcessIntegrationEvents(ctx, batch)
			require.NoError(t, err)
			sent.Add(int64(len(batch)))
		}
	}

	send(oldHub, 0, 1500)
	// the new build opens the same schema and migrates it forward while the old one works
	newStore, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = newStore.Close() })
	newHub := hubtest.New(t, newStore, hub.WithSecretKey(key))
	done := make(chan struct{})
	go func() {
		defer close(done)
		send(newHub, 3000, events)
	}()
	send(oldHub, 1500, 3000)
	<-done
	_, err = newHub.Export(ctx)
	require.NoError(t, err, "the new schema has the configuration state")

	// the old hub drains and stops: it takes no new claims, and its unfinished events go
	// back to the queue for the new one
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	require.NoError(t, oldHub.Close(closeCtx))
	cancel()
	claimed := oldHub.EngineStats()["claimed"]
	_, err = oldHub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: issueEvent})
	require.ErrorIs(t, err, hub.ErrClosed)

	eventually(t, 5*time.Minute, func() bool { return sink.Unique() == events }, "all %d events delivered (now %d)", events, sink.Unique())
	assert.Equal(t, claimed, oldHub.EngineStats()["claimed"], "a closed hub claims nothing")
	assert.Zero(t, sink.ConcurrentDuplicates(), "no event delivered twice while leased")
	assert.Equal(t, events, sink.Unique())
	var counts map[store.EventStatus]int64
	eventually(t, time.Minute, func() bool {
		counts, err = newStore.CountEventsByStatus(ctx, store.EventFilter{})
		return err == nil && counts[store.StatusSucceeded] == events
	}, "every event recorded as succeeded")
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: events}, nonZero(counts))
	t.Logf("ROLLING: %d events, old hub claimed %d, new hub claimed %d, sink deliveries %d (unique %d), concurrent duplicates %d",
		events, claimed, newHub.EngineStats()["claimed"], sink.Total(), sink.Unique(), sink.ConcurrentDuplicates())
}

func nonZero(m map[store.EventStatus]int64) map[store.EventStatus]int64 {
	out := map[store.EventStatus]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
