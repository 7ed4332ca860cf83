// Package storetest is the behavioural conformance suite every [store.Store] must pass: a
// store is correct when [Run] passes against it. It imports no database driver; each store's
// own tests call it with a factory:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
//			return memory.New(memory.Options{Now: now})
//		})
//	}
//
// Every case calls the factory for a fresh, empty store and runs in parallel with the
// others. The factory must make the store read time only from now (a [Clock] the case
// controls), for every time it writes or compares; cases move that clock to test leases,
// next_attempt_at and expiry without sleeping.
//
// Expected values, aggregates included, are constants worked out by hand in the cases, not
// recomputed with the algorithm under test. Times are compared at [store.Precision] in UTC
// and JSON columns by value (a database may re-format JSON).
//
// [RunWithOptions] scales the concurrency cases ([Options]): by default 16 claimers share
// 10,000 events, or 1,000 under go test -short. The cases of the optional capabilities
// ([store.Notifier], [store.RetentionStore], [store.SubjectStore], [store.RegionClaimer],
// [store.EventCanceller], [store.ServiceHealthRecorder]) skip, saying so, when a store does
// not implement them; every other case applies to every store.
// Cases that run operations concurrently retry [store.ErrBusy], which the contract allows a
// database to return when it cannot serialise an operation.
//
// Cases are grouped by area: Services, Events, Lifecycle (every pair of statuses against
// [store.CanTransition]), Queue, Stats, Rules, Contracts, Health, Analytics, Audit, Context,
// Retention, Subjects and Regions; select them with go test -run, e.g.
// -run 'Conformance/Queue/'.
package storetest
