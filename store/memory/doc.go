// Package memory is the in-memory implementation of [store.Store] and [store.Notifier]: the
// reference implementation every other store is checked against (it passes
// store/storetest), and the store the hub uses when none is configured.
//
// A [Store] keeps every record in Go memory guarded by one read-write mutex, so it is safe
// for concurrent use by many goroutines of one process; nothing is persisted, nothing is
// shared between processes, and nothing is ever deleted (events included), so it suits tests
// and single-process embedding rather than long-running high-volume use. Callers never share
// memory with it: records are deep-copied on the way in and on the way out.
//
// The queue keeps, per service, a heap of due events in claim order (chairman override,
// priority, age, id) and a heap of not-yet-due events keyed by next_attempt_at, so a claim
// costs O(services + n log events) rather than a scan of the table; processing events are
// linked in a list that ReleaseExpiredLeases walks. Aggregates (CountEventsByStatus,
// EventStats, EventVolume) and event lists scan all events. Events are stored in fixed-size
// chunks behind a pointer-free id index, which keeps the garbage collector's work per event
// low. Every time the store writes or compares comes from the clock in [Options] (time.Now
// by default), truncated to [store.Precision] in UTC.
package memory
