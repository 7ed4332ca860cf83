package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func contextCases() []testCase {
	return []testCase{
		{"Cancelled", testContextCancelled},
		{"DeadlineExceeded", testContextDeadline},
	}
}

// storeCalls calls every Store method once with ctx and valid arguments.
func storeCalls(st store.Store, sv *store.Service, ev *store.Event) map[string]func(ctx context.Context) error {
	sid := sv.ID
	return map[string]func(ctx context.Context) error{
		"CreateService": func(ctx context.Context) error { _, err := st.CreateService(ctx, newService("x")); return err },
		"GetService":    func(ctx context.Context) error { _, err := st.GetService(ctx, sid); return err },
		"GetServiceByName": func(ctx context.Context) error {
			_, err := st.GetServiceByName(ctx, sv.Name)
			return err
		},
		"UpdateService": func(ctx context.Context) error { _, err := st.UpdateService(ctx, sv); return err },
		"ListServices": func(ctx context.Context) error {
			_, err := st.ListServices(ctx, store.ServiceFilter{})
			return err
		},
		"InsertEvent": func(ctx context.Context) error { _, _, err := st.InsertEvent(ctx, newEvent(sv)); return err },
		"InsertEvents": func(ctx context.Context) error {
			_, err := st.InsertEvents(ctx, []*store.Event{newEvent(sv)})
			return err
		},
		"GetEvent": func(ctx context.Context) error { _, err := st.GetEvent(ctx, ev.ID); return err },
		"GetEventByIdempotencyKey": func(ctx context.Context) error {
			_, err := st.GetEventByIdempotencyKey(ctx, sid, ev.IdempotencyKey)
			return err
		},
		"ListEvents":   func(ctx context.Context) error { _, err := st.ListEvents(ctx, store.EventFilter{}); return err },
		"CancelEvent":  func(ctx context.Context) error { _, err := st.CancelEvent(ctx, ev.ID); return err },
		"RequeueEvent": func(ctx context.Context) error { _, err := st.RequeueEvent(ctx, ev.ID, true); return err },
		"RequeueEvents": func(ctx context.Context) error {
			_, err := st.RequeueEvents(ctx, store.RequeueFilter{})
			return err
		},
		"ClaimEvents": func(ctx context.Context) error {
			_, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Minute})
			return err
		},
		"CompleteEvents": func(ctx context.Context) error {
			_, err := st.CompleteEvents(ctx, []store.CompleteParams{{ID: ev.ID, Owner: "w"}})
			return err
		},
		"FailEvents": func(ctx context.Context) error {
			_, err := st.FailEvents(ctx, []store.FailParams{{ID: ev.ID, Owner: "w", Status: store.StatusDead}})
			return err
		},
		"ExtendLease": func(ctx context.Context) error {
			_, err := st.ExtendLease(ctx, "w", []string{ev.ID}, time.Minute)
			return err
		},
		"ReleaseExpiredLeases": func(ctx context.Context) error { _, err := st.ReleaseExpiredLeases(ctx); return err },
		"ExpireEvents":         func(ctx context.Context) error { _, err := st.ExpireEvents(ctx); return err },
		"CountEventsByStatus": func(ctx context.Context) error {
			_, err := st.CountEventsByStatus(ctx, store.EventFilter{})
			return err
		},
		"EventStats": func(ctx context.Context) error { _, err := st.EventStats(ctx, store.StatsParams{}); return err },
		"EventVolume": func(ctx context.Context) error {
			_, err := st.EventVolume(ctx, store.VolumeParams{Period: store.PeriodHour})
			return err
		},
		"CreateRule":    func(ctx context.Context) error { _, err := st.CreateRule(ctx, newRule("r", 1, false)); return err },
		"GetRule":       func(ctx context.Context) error { _, err := st.GetRule(ctx, "r", 1); return err },
		"GetActiveRule": func(ctx context.Context) error { _, err := st.GetActiveRule(ctx, "r"); return err },
		"ListRules":     func(ctx context.Context) error { _, err := st.ListRules(ctx, store.RuleFilter{}); return err },
		"ActivateRule":  func(ctx context.Context) error { _, err := st.ActivateRule(ctx, "r", 1); return err },
		"CreateContract": func(ctx context.Context) error {
			_, err := st.CreateContract(ctx, newContract("c", "1"))
			return err
		},
		"GetContract":   func(ctx context.Context) error { _, err := st.GetContract(ctx, "c", "1"); return err },
		"ListContracts": func(ctx context.Context) error { _, err := st.ListContracts(ctx, "", store.Page{}); return err },
		"InsertHealthMetric": func(ctx context.Context) error {
			_, err := st.InsertHealthMetric(ctx, newMetric(sid, store.MetricErrorRate, 0))
			return err
		},
		"ListHealthMetrics": func(ctx context.Context) error {
			_, err := st.ListHealthMetrics(ctx, store.HealthMetricFilter{})
			return err
		},
		"UpsertAnalytics": func(ctx context.Context) error {
			return st.UpsertAnalytics(ctx, []*store.AnalyticsRollup{newRollup(sv, store.PeriodHour, hourStart, 1)})
		},
		"ListAnalytics": func(ctx context.Context) error {
			_, err := st.ListAnalytics(ctx, store.AnalyticsFilter{})
			return err
		},
		"AppendAudit": func(ctx context.Context) error {
			_, err := st.AppendAudit(ctx, newAudit("a", "b", "c", ""))
			return err
		},
		"ListAudit": func(ctx context.Context) error { _, err := st.ListAudit(ctx, store.AuditFilter{}); return err },
	}
}

// contextFixture stores a service and a pending event with an idempotency key, so that
// every call has something to act on.
func contextFixture(t *testing.T, b *bundle) (*store.Service, *store.Event) {
	t.Helper()
	sv := b.service(t, "github")
	e := newEvent(sv)
	e.IdempotencyKey = "k"
	return sv, b.insert(t, e)
}

func testContextCancelled(t *testing.T, b *bundle) {
	sv, ev := contextFixture(t, b)
	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	for name, call := range storeCalls(b.st, sv, ev) {
		assert.ErrorIs(t, call(ctx), context.Canceled, name)
	}
	if nt, ok := b.st.(store.Notifier); ok {
		ch, err := nt.Notifications(ctx)
		if err == nil {
			// A channel may be returned, but it must be closed promptly.
			select {
			case _, open := <-ch:
				for open {
					_, open = <-ch
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Notifications with a cancelled context: channel not closed")
			}
		} else {
			assert.ErrorIs(t, err, context.Canceled)
		}
	}
	// Nothing was changed by the refused calls.
	got := b.get(t, ev.ID)
	assertEventEqual(t, ev, got)
	list, err := b.st.ListServices(b.ctx, store.ServiceFilter{})
	require.NoError(t, err)
	assert.Len(t, list, 1)
	evs, err := b.st.ListEvents(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Len(t, evs, 1)
}

func testContextDeadline(t *testing.T, b *bundle) {
	sv, ev := contextFixture(t, b)
	ctx, cancel := context.WithDeadline(b.ctx, time.Now().Add(-time.Second))
	defer cancel()
	for name, call := range storeCalls(b.st, sv, ev) {
		assert.ErrorIs(t, call(ctx), context.DeadlineExceeded, name)
	}
}
