package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ehg/hub/store"
)

// Factory returns a new, empty store for one test case. The store must read the current
// time only from now. The factory registers any clean-up with t.Cleanup and fails t (with
// t.Fatal or t.Skip and a reason) when it cannot build the store.
type Factory func(t *testing.T, now func() time.Time) store.Store

// Options tune the suite for a backend. The zero value runs the full suite.
type Options struct {
	// ConcurrentEvents is the number of events the concurrent-claimers case inserts and
	// claims, and the number of events the query case pages through while others are
	// inserted. Zero means DefaultConcurrentEvents, or ShortConcurrentEvents under
	// testing.Short.
	ConcurrentEvents int
	// ConcurrentClaimers is the number of goroutines claiming at once. Zero means
	// DefaultConcurrentClaimers.
	ConcurrentClaimers int
	// BeginTx opens a transaction of the caller's own on a store's database, for the cases
	// of store.TxInserter; nil skips them.
	BeginTx BeginTxFunc
}

// Defaults of [Options].
const (
	DefaultConcurrentEvents   = 10000
	ShortConcurrentEvents     = 1000
	DefaultConcurrentClaimers = 16
)

func (o Options) withDefaults() Options {
	if o.ConcurrentEvents <= 0 {
		o.ConcurrentEvents = DefaultConcurrentEvents
		if testing.Short() {
			o.ConcurrentEvents = ShortConcurrentEvents
		}
	}
	if o.ConcurrentClaimers <= 0 {
		o.ConcurrentClaimers = DefaultConcurrentClaimers
	}
	return o
}

// start is the time every case's clock starts at: a Monday, with nanoseconds, so stores
// must truncate to [store.Precision]. It is never changed.
var start = time.Date(2026, time.March, 2, 10, 15, 30, 123456789, time.UTC)

// Run runs the whole suite against the stores newStore builds, with default [Options].
func Run(t *testing.T, newStore Factory) {
	t.Helper()
	RunWithOptions(t, newStore, Options{})
}

// RunWithOptions runs the whole suite with opts. Cases are grouped by area (Services,
// Events, Lifecycle, Queue, Stats, Rules, Contracts, Health, Analytics, Audit, Context, and
// the optional capabilities Retention, Subjects, Regions, Approvals, ConfigState, Query and
// Tx, whose cases skip, saying so, on a store without them); each is a parallel subtest
// with its own store.
func RunWithOptions(t *testing.T, newStore Factory, opts Options) {
	t.Helper()
	s := &suite{newStore: newStore, opts: opts.withDefaults()}
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Services", serviceCases()},
		{"Events", eventCases()},
		{"Lifecycle", lifecycleCases()},
		{"Queue", queueCases(s.opts)},
		{"Stats", statsCases()},
		{"Rules", ruleCases()},
		{"Contracts", contractCases()},
		{"Health", healthCases()},
		{"Analytics", analyticsCases()},
		{"Audit", auditCases()},
		{"Context", contextCases()},
		{"Retention", retentionCases()},
		{"Subjects", subjectCases()},
		{"Regions", regionCases()},
		{"Credentials", credentialCases()},
		{"Tokens", tokenCases()},
		{"DataKeys", dataKeyCases()},
		{"Approvals", approvalCases()},
		{"ConfigState", configStateCases()},
		{"Inbound", inboundCases()},
		{"Sync", syncCases()},
		{"Query", queryCases(s.opts)},
		{"Tx", txCases(s.opts)},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, s.setup(t))
				})
			}
		})
	}
}

type suite struct {
	newStore Factory
	opts     Options
}

// testCase is one named conformance case.
type testCase struct {
	name string
	fn   func(t *testing.T, b *bundle)
}

// bundle is what a case works with: a fresh store, its clock and the test's context.
type bundle struct {
	st    store.Store
	clock *Clock
	ctx   context.Context
	suite *suite
}

func (s *suite) setup(t *testing.T) *bundle {
	t.Helper()
	clock := NewClock(start)
	st := s.newStore(t, clock.Now)
	if st == nil {
		t.Fatal("storetest: the factory returned a nil store")
	}
	return &bundle{st: st, clock: clock, ctx: t.Context(), suite: s}
}

// now is the clock's time as stores keep it.
func (b *bundle) now() time.Time { return store.Timestamp(b.clock.Now()) }
