// Package benchmarks measures the Integration Hub beside its peers on one shared workload: a
// 4.5 KB GitHub issues webhook (examples/quickstart/data) mapped to a canonical work item and
// validated against its JSON Schema, then delivered to an in-process sink.
//
// It is a module of its own (it requires River and Benthos, which the hub itself never
// imports). The same run measures:
//
//   - the hub on the memory, SQLite and PostgreSQL stores, accepting events one call each
//     from concurrent producers (Async) and through the batch call (ProcessIntegrationEvents);
//   - River (github.com/riverqueue/river) on PostgreSQL (riverpgxv5) and SQLite
//     (riversqlite), with its default settings and tuned ones; each River job does the hub's
//     work (decode, map, validate, using the hub's own pipeline) and delivers to the same sink;
//   - the per-event pipeline alone beside Benthos bloblang + jsonschema and other peers.
//
// The commands under cmd print the results: cmd/compare (one table with ratios, WAL bytes
// per event and latency at half the peak rate), cmd/soak (a long PostgreSQL run) and
// cmd/instructions (instructions per event from callgrind). BENCHMARKS.md at the
// repository root shows how to run them.
package benchmarks
