package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeTarget answers from a function and counts calls.
type fakeTarget struct {
	calls atomic.Int64
	do    func(ctx context.Context, ev *store.Event) (*connectors.Response, error)
}

func (f *fakeTarget) Deliver(ctx context.Context, ev *store.Event) (*connectors.Response, error) {
	f.calls.Add(1)
	return f.do(ctx, ev)
}
func (f *fakeTarget) Backoff(int, error) time.Duration { return time.Millisecond }
func (f *fakeTarget) Scrub(s string) string            { return s }

type fakeTargets struct{ t Target }

func (f fakeTargets) Target(context.Context, string) (Target, error) { return f.t, nil }
func (f fakeTargets) Excluded() []string                             { return nil }

func setup(t *testing.T, tgt *fakeTarget) (*Engine, store.Store, string) {
	t.Helper()
	st := memory.New(memory.Options{})
	svc, err := st.CreateService(t.Context(), &store.Service{Name: "s", Category: store.CategoryOther, ConnectorKind: "x"})
	require.NoError(t, err)
	e, err := New(Config{Store: st, Targets: fakeTargets{tgt}, Owner: "test", Workers: 2, BatchSize: 4,
		Lease: time.Second, PollInterval: 5 * time.Millisecond, MaintenanceInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	return e, st, svc.ID
}

func insert(t *testing.T, st store.Store, svc string, maxRetries int) *store.Event {
	t.Helper()
	ev, _, err := st.InsertEvent(t.Context(), &store.Event{ServiceID: svc, ServiceName: "s", MaxRetries: maxRetries, PayloadOut: json.RawMessage(`{}`)})
	require.NoError(t, err)
	return ev
}

func TestOutcomesAreRecordedAndWatched(t *testing.T) {
	fails := atomic.Int64{}
	tgt := &fakeTarget{do: func(context.Context, *store.Event) (*connectors.Response, error) {
		if fails.Add(1) <= 2 {
			return nil, &connectors.Error{Class: connectors.ClassTransient, StatusCode: 503}
		}
		return &connectors.Response{StatusCode: 201}, nil
	}}
	e, st, svc := setup(t, tgt)
	ev := insert(t, st, svc, 5)
	w, stop := e.Watch(ev.ID)
	defer stop()
	require.NoError(t, e.Start(t.Context()))
	o := <-w
	assert.Equal(t, store.StatusRetrying, o.Status)
	assert.Equal(t, 1, o.RetryCount)
	assert.Equal(t, 503, o.ResponseCode)
	require.Eventually(t, func() bool {
		got, err := st.GetEvent(t.Context(), ev.ID)
		return err == nil && got.Status == store.StatusSucceeded && got.ResponseCode == 201
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, e.Stop(t.Context()))
	assert.EqualValues(t, 1, e.Stats().Succeeded.Load())
	assert.EqualValues(t, 2, e.Stats().Retried.Load())
	require.NoError(t, e.Stop(t.Context()), "Stop is idempotent")
}

// TestObserversBeforeWaiters: a caller woken by Watch finds the outcome already observed,
// so the hub's metrics and health include a delivery by the time the caller returns, even
// when observing takes a while.
func TestObserversBeforeWaiters(t *testing.T) {
	st := memory.New(memory.Options{})
	svc, err := st.CreateService(t.Context(), &store.Service{Name: "s", Category: store.CategoryOther, ConnectorKind: "x"})
	require.NoError(t, err)
	var observed atomic.Int64
	slow := ObserverFunc(func(Outcome) {
		time.Sleep(20 * time.Millisecond)
		observed.Add(1)
	})
	tgt := &fakeTarget{do: func(context.Context, *store.Event) (*connectors.Response, error) {
		return &connectors.Response{StatusCode: 200}, nil
	}}
	e, err := New(Config{Store: st, Targets: fakeTargets{tgt}, Owner: "test", Workers: 1, BatchSize: 4,
		Lease: time.Second, PollInterval: 5 * time.Millisecond, MaintenanceInterval: 20 * time.Millisecond,
		Observers: []Observer{slow}})
	require.NoError(t, err)
	ev := insert(t, st, svc.ID, 0)
	w, stop := e.Watch(ev.ID)
	defer stop()
	require.NoError(t, e.Start(t.Context()))
	o := <-w
	assert.Equal(t, store.StatusSucceeded, o.Status)
	assert.EqualValues(t, 1, observed.Load(), "the observer saw the outcome before the waiter was woken")
	require.NoError(t, e.Stop(t.Context()))
}

// TestAttemptsRecordTheirCall: what the target records in the attempt's CallRecorder is
// stored with the outcome; a method the store does not know is left out.
func TestAttemptsRecordTheirCall(t *testing.T) {
	calls := atomic.Int64{}
	tgt := &fakeTarget{do: func(ctx context.Context, _ *store.Event) (*connectors.Response, error) {
		rec := CallRecorderFrom(ctx)
		require.NotNil(t, rec)
		rec.Record("PUT", "https://api.example.com/token")
		rec.Record("PATCH", "https://backup.example.com/items/1")
		rec.Record("HEAD", "")
		if calls.Add(1) == 1 {
			return nil, &connectors.Error{Class: connectors.ClassTransient, StatusCode: 503}
		}
		return &connectors.Response{StatusCode: 200}, nil
	}}
	e, st, svc := setup(t, tgt)
	ev := insert(t, st, svc, 5)
	w, stop := e.Watch(ev.ID)
	defer stop()
	require.NoError(t, e.Start(t.Context()))
	<-w
	got, err := st.GetEvent(t.Context(), ev.ID)
	require.NoError(t, err)
	assert.Equal(t, store.MethodPatch, got.RequestMethod, "recorded with the failed attempt")
	assert.Equal(t, "https://backup.example.com/items/1", got.EndpointURL)
	require.NoError(t, e.Stop(t.Context()))
}

func TestStopCancelsPastItsDeadline(t *testing.T) {
	started := make(chan struct{}, 1)
	tgt := &fakeTarget{do: func(ctx context.Context, _ *store.Event) (*connectors.Response, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	e, st, svc := setup(t, tgt)
	ev := insert(t, st, svc, 5)
	require.NoError(t, e.Start(t.Context()))
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := e.Stop(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	got, err := st.GetEvent(t.Context(), ev.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusRetrying, got.Status, "released, not left processing")
	assert.Equal(t, 0, got.RetryCount, "an interrupted call is not an attempt")
	assert.False(t, e.Running())
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{})
	require.Error(t, err)
}

// unloadable is Targets whose Target fails with err.
type unloadable struct{ err error }

func (u unloadable) Target(context.Context, string) (Target, error) { return nil, u.err }
func (u unloadable) Excluded() []string                             { return nil }

func TestTargetErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		status  store.EventStatus
		class   resilience.Class
		waitMin time.Duration
	}{
		{"permanent", errors.New("unknown service"), store.StatusFailed, resilience.ClassPermanent, 0},
		{"passing", &resilience.RejectedError{Reason: errors.New("key service down")}, store.StatusRetrying, resilience.ClassRejected, unavailableDeferral},
		{"passing with a wait", &resilience.RejectedError{Reason: errors.New("busy"), Wait: 3 * time.Second}, store.StatusRetrying, resilience.ClassRejected, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New(memory.Options{})
			svc, err := st.CreateService(t.Context(), &store.Service{Name: "s", Category: store.CategoryOther, ConnectorKind: "x"})
			require.NoError(t, err)
			e, err := New(Config{Store: st, Targets: unloadable{tc.err}, Owner: "test", Workers: 1, BatchSize: 1,
				Lease: time.Second, PollInterval: 5 * time.Millisecond, MaintenanceInterval: 20 * time.Millisecond})
			require.NoError(t, err)
			ev := insert(t, st, svc.ID, 5)
			w, stop := e.Watch(ev.ID)
			defer stop()
			start := time.Now()
			require.NoError(t, e.Start(t.Context()))
			o := <-w
			require.NoError(t, e.Stop(t.Context()))
			assert.Equal(t, tc.status, o.Status)
			assert.Equal(t, tc.class, o.Class)
			assert.False(t, o.Attempted)
			assert.Zero(t, o.RetryCount, "no attempt is counted")
			if tc.waitMin > 0 {
				assert.GreaterOrEqual(t, o.NextAttemptAt.Sub(start), tc.waitMin)
			}
			got, err := st.GetEvent(t.Context(), ev.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.status, got.Status)
			assert.Zero(t, got.RetryCount)
		})
	}
}
