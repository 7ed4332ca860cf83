package hubtest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

func TestNewWithClockSharesTheClock(t *testing.T) {
	t.Parallel()
	clock := hubtest.NewClock(time.Time{})
	h := hubtest.NewWithClock(t, clock, nil)
	sink := hubtest.NewSink(t)
	sink.FailWith(503)
	ctx := t.Context()
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "s", Connector: "http", BaseURL: sink.URL,
		Retry:      json.RawMessage(`{"initial_backoff":"1h","max_backoff":"1h","inline_retries":0}`),
		MaxRetries: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "s", Mode: hub.Async, Payload: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	ev := hubtest.WaitForStatus(t, h, res.EventID, store.StatusRetrying)
	if !ev.CreatedAt.Equal(store.Timestamp(clock.Now())) {
		t.Errorf("created_at %v, want the fake clock's %v", ev.CreatedAt, clock.Now())
	}
	if d := ev.NextAttemptAt.Sub(clock.Now()); d < 30*time.Minute {
		t.Errorf("next attempt in %v of fake time, want about an hour", d)
	}
	// The retry is due only once the shared clock has moved past the backoff.
	clock.Advance(2 * time.Hour)
	sink.FailWith(0)
	ev = hubtest.WaitForStatus(t, h, res.EventID, store.StatusSucceeded)
	if ev.RetryCount != 1 {
		t.Errorf("retry_count %d, want 1", ev.RetryCount)
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := hubtest.NewClock(at)
	if got := c.Advance(time.Minute); !got.Equal(at.Add(time.Minute)) || !c.Now().Equal(got) {
		t.Fatalf("advance: %v", got)
	}
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Fatalf("set: %v", c.Now())
	}
}

func ptr[T any](v T) *T { return &v }
