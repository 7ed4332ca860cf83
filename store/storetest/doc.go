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
package storetest
