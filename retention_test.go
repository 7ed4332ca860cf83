package hub_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/storetest"
)

// Sizes of TestRetention: 100,000 events over 30 simulated days under a 7-day policy.
const (
	retentionEvents = 100_000
	retentionDays   = 30
	retentionKeep   = 7 * 24 * time.Hour
	// stuck events a day that stay queued (their service is never claimed) and in flight
	// (claimed under a lease that outlives the test): retention must never take them.
	retentionStuck = 10
)

// TestRetention feeds each store 100,000 events over 30 simulated days (a fake clock
// shared by store and hub, batch inserts through the store) and runs the hub's retention
// once a day under a 7-day policy for every terminal status. The number of stored events
// stays bounded (printed per day), no event younger than the policy is removed, and no
// queued or in-flight event is removed however old. Under the race detector SQLite runs a
// tenth of the events, the same days and policy: SQLite translated to Go is about 27 times
// slower there, and all 100,000 take nine and a half minutes, near go test's ten-minute
// limit for the whole package; the other stores, and SQLite without -race, run all 100,000.
func TestRetention(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			runRetention(t, kind)
		})
	}
}

func runRetention(t *testing.T, kind string) {
	ctx := context.Background()
	day0 := time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)
	clk := storetest.NewClock(day0)
	ls := openLifecycleStore(t, kind, clk.Now)
	st := ls.st
	policy := hub.RetentionPolicy{Events: map[store.EventStatus]time.Duration{}}
	for _, s := range store.EventStatuses() {
		if s.Terminal() {
			policy.Events[s] = retentionKeep
		}
	}
	h, err := hub.New(st, hub.WithClock(clk.Now), hub.WithRetention(policy), hub.WithCleanup(-1, 1000))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	svc := createService(t, st, "orders")
	stuck := createService(t, st, "stuck")

	total := retentionEvents
	if kind == "sqlite" && raceEnabled {
		// The race detector slows modernc.org/sqlite about twentyfold: 5,000 events (166 a
		// day) there; go test -run 'TestRetention$' . runs the 100,000 on SQLite too.
		total /= 20
	}
	perDay := total / retentionDays
	inserted := make([]int, retentionDays) // delivered (terminal) events created each day
	var totalRemoved int64
	var maxRows int64
	start := time.Now()
	for day := range retentionDays {
		n := perDay
		if day == retentionDays-1 {
			n = total - perDay*(retentionDays-1)
		}
		n -= 2 * retentionStuck
		inserted[day] = n
		feedDay(t, st, svc, stuck, day, n)
		clk.Advance(24 * time.Hour)
		rep, err := h.RunRetention(ctx)
		require.NoError(t, err)
		totalRemoved += rep.Events
		rows := countEvents(t, st, store.EventFilter{})
		open := countEvents(t, st, store.EventFilter{Statuses: []store.EventStatus{store.StatusPending, store.StatusRetrying, store.StatusProcessing}})
		maxRows = max(maxRows, rows)
		t.Logf("%s day %2d: inserted %5d, removed %5d, rows %6d (finished %6d, queued or in flight %4d)",
			kind, day+1, n+2*retentionStuck, rep.Events, rows, rows-open, open)

		// Nothing younger than the policy was removed: every event of the last seven days
		// is there (the cut-off falls on a day boundary).
		var young int64
		for d := max(0, day-6); d <= day; d++ {
			young += int64(inserted[d] + 2*retentionStuck)
		}
		got := countEvents(t, st, store.EventFilter{CreatedFrom: clk.Now().Add(-retentionKeep)})
		require.Equal(t, young, got, "day %d: events younger than the policy", day+1)
		// The stored events stay bounded: the finished ones are at most the last seven days'
		// (the retention removes the rest), plus the stuck ones, which no retention removes.
		var finishedYoung int64
		for d := max(0, day-6); d <= day; d++ {
			finishedYoung += int64(inserted[d])
		}
		require.Equal(t, finishedYoung, rows-open, "day %d: the finished rows are those of the last seven days", day+1)
		require.LessOrEqual(t, rows-open, int64(7*(total-perDay*(retentionDays-1))), "day %d: finished rows", day+1)
		require.Equal(t, int64(2*retentionStuck*(day+1)), open, "day %d: queued and in-flight rows", day+1)
		bound := int64(7*perDay + 2*retentionStuck*(day+1))
		require.LessOrEqual(t, rows, bound, "day %d: rows", day+1)
	}
	// Nothing queued or in flight was removed, however old.
	queued := countEvents(t, st, store.EventFilter{Statuses: []store.EventStatus{store.StatusPending, store.StatusRetrying}})
	inflight := countEvents(t, st, store.EventFilter{Statuses: []store.EventStatus{store.StatusProcessing}})
	assert.Equal(t, int64(retentionStuck*retentionDays), queued, "queued events kept")
	assert.Equal(t, int64(retentionStuck*retentionDays), inflight, "in-flight events kept")
	rows := countEvents(t, st, store.EventFilter{})
	assert.Equal(t, int64(total), totalRemoved+rows, "every event is either removed or stored")
	t.Logf("%s: %d events over %d days, %d removed, %d stored at the end, at most %d stored (%s)",
		kind, total, retentionDays, totalRemoved, rows, maxRows, time.Since(start).Round(time.Millisecond))
}

// createService stores an active service directly.
func createService(t *testing.T, st store.Store, name string) *store.Service {
	t.Helper()
	svc, err := st.CreateService(context.Background(), &store.Service{Name: name, Category: store.CategoryOther,
		ConnectorKind: "http", BaseURL: "https://example.com", IsActive: true, MaxRetries: 3})
	require.NoError(t, err)
	return svc
}

// feedDay inserts n events of svc in batches and delivers them: most succeed, one in
// fifty goes dead, one in a hundred fails, and retentionStuck more of stuck stay queued
// and retentionStuck of svc stay in flight.
func feedDay(t *testing.T, st store.Store, svc, stuck *store.Service, day, n int) {
	t.Helper()
	ctx := context.Background()
	const batch = 1000
	payload := json.RawMessage(`{"order":{"id":"o-1","total":42.5,"items":3}}`)
	for off := 0; off < n+retentionStuck; off += batch {
		k := min(batch, n+retentionStuck-off)
		evs := make([]*store.Event, k)
		for i := range evs {
			evs[i] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: payload, MaxRetries: 3}
		}
		_, err := st.InsertEvents(ctx, evs)
		require.NoError(t, err)
	}
	stuckEvs := make([]*store.Event, retentionStuck)
	for i := range stuckEvs {
		stuckEvs[i] = &store.Event{ServiceID: stuck.ID, ServiceName: stuck.Name, PayloadIn: payload}
	}
	_, err := st.InsertEvents(ctx, stuckEvs)
	require.NoError(t, err)
	// The first claim keeps retentionStuck events in flight for good.
	held, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "held", Limit: retentionStuck, Lease: 1000 * 24 * time.Hour,
		ExcludeServiceIDs: []string{stuck.ID}})
	require.NoError(t, err)
	require.Len(t, held, retentionStuck)
	done := 0
	for done < n {
		evs, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: min(batch, n-done), Lease: time.Hour,
			ExcludeServiceIDs: []string{stuck.ID}})
		require.NoError(t, err)
		require.NotEmpty(t, evs)
		var cps []store.CompleteParams
		var fps []store.FailParams
		for i, e := range evs {
			switch seq := done + i; {
			case seq%50 == 0:
				fps = append(fps, store.FailParams{ID: e.ID, Owner: "w", Status: store.StatusDead, ResponseCode: 503,
					ErrorDetails: json.RawMessage(`{"class":"transient","error":"HTTP 503"}`)})
			case seq%100 == 1:
				fps = append(fps, store.FailParams{ID: e.ID, Owner: "w", Status: store.StatusFailed, ResponseCode: 400,
					ErrorDetails: json.RawMessage(`{"class":"permanent","error":"HTTP 400"}`)})
			default:
				cps = append(cps, store.CompleteParams{ID: e.ID, Owner: "w", ResponseCode: 201, ResponseTimeMS: 12})
			}
		}
		lost, err := st.CompleteEvents(ctx, cps)
		require.NoError(t, err)
		require.Empty(t, lost)
		if len(fps) > 0 {
			lost, err = st.FailEvents(ctx, fps)
			require.NoError(t, err)
			require.Empty(t, lost)
		}
		done += len(evs)
	}
}

// TestRetentionFinalisesExpired checks, on each store, that a retention run first finalises
// the queued events whose expires_at has passed (status expired) and that they then follow
// the age of the expired status like any finished event, while a queued event without an
// expiry is kept however old.
func TestRetentionFinalisesExpired(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			clk := storetest.NewClock(time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC))
			ls := openLifecycleStore(t, kind, clk.Now)
			h, err := hub.New(ls.st, hub.WithClock(clk.Now), hub.WithCleanup(-1, 10),
				hub.WithRetention(hub.RetentionPolicy{Events: map[store.EventStatus]time.Duration{store.StatusExpired: 24 * time.Hour}}))
			require.NoError(t, err)
			t.Cleanup(func() { _ = h.Close(context.Background()) })
			svc := createService(t, ls.st, "offers")
			const n = 25
			expires := clk.Now().Add(time.Hour)
			evs := make([]*store.Event, 0, n+1)
			for range n {
				evs = append(evs, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: json.RawMessage(`{"offer":1}`), ExpiresAt: &expires})
			}
			evs = append(evs, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: json.RawMessage(`{"offer":2}`)})
			_, err = ls.st.InsertEvents(ctx, evs)
			require.NoError(t, err)

			clk.Advance(2 * time.Hour) // past expires_at, within the expired status's age
			rep, err := h.RunRetention(ctx)
			require.NoError(t, err)
			assert.Equal(t, n, rep.Expired, "the expired events are finalised")
			assert.Zero(t, rep.Events, "and kept while younger than the policy")
			assert.Equal(t, int64(n), countEvents(t, ls.st, store.EventFilter{Statuses: []store.EventStatus{store.StatusExpired}}))

			clk.Advance(25 * time.Hour) // the finalised events are now past the expired status's age
			rep, err = h.RunRetention(ctx)
			require.NoError(t, err)
			assert.Zero(t, rep.Expired)
			assert.Equal(t, int64(n), rep.Events, "the expired events follow retention")
			assert.Equal(t, int64(1), countEvents(t, ls.st, store.EventFilter{}), "the queued event without expiry is kept")
			assert.Equal(t, int64(1), countEvents(t, ls.st, store.EventFilter{Statuses: []store.EventStatus{store.StatusPending}}))
			t.Logf("%s: %d events finalised as expired, then removed %d after the expired status's age; the unexpiring queued one kept", kind, n, rep.Events)
		})
	}
}
