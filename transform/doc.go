// Package transform turns a service's payload into the canonical form and back with
// compiled expr-lang (github.com/expr-lang/expr) mappings: compile once, apply many.
//
// # Mappings
//
// A mapping (Rules) is a name, a version and an ordered list of fields, each setting one
// target path of the output from an expression over the decoded input. Users write it by
// hand as JSON (see Parse):
//
//	{
//	  "name": "github-issue-to-work-item", "version": 1,
//	  "tables": {"status": {"open": "todo", "closed": "done"}},
//	  "fields": {
//	    "id":        "'github:' + repository.full_name + '#' + string(issue.number)",
//	    "status":    "lookup('status', issue.state, 'todo')",
//	    "owner.login": {"expr": "issue.assignee?.login", "when": "issue.state != 'closed'", "default": "nobody"}
//	  },
//	  "inverse": {"fields": {...}}
//	}
//
// or as the bare object of target path to expression. Expressions see the input's
// top-level keys as variables and the whole input as $env; nothing else of the host is
// reachable. Besides expr's builtins (map, filter, find, trimPrefix, date, ...) they can
// call:
//
//	coalesce(a, b, ...)              first argument that is neither nil nor ""
//	lookup(table, key[, default])    value from a rules table (by name) or a map literal
//	parseDate(v, layouts...)         RFC 3339 (UTC) string from a string in one of the Go or
//	                                 named layouts (RFC3339, RFC1123, DateOnly, unix, unix_ms, ...)
//	                                 or a Unix time; nil and "" give nil
//	uuid5(namespace, name)           name-based UUID (namespace: a UUID or dns/url/oid/x500)
//	sha256(v)                        hex SHA-256 of a string, a number or the JSON of a value
//	path(v, "a.b[0].c"[, default])   safe access into nested maps and arrays
//	toNumber(v)                      number from a json.Number or a numeric string
//
// Inputs decoded with json.Decoder.UseNumber work as they are: arithmetic, comparisons,
// unary minus, in, and the numeric builtins (int, float, abs, round, max, min, sum, mean,
// ...) convert json.Number operands (a compile-time patch inserts the conversion only
// where types are unknown), while values copied through stay json.Number, so numbers keep
// their precision in the output. sort and sortBy over json.Number values are not
// converted: use map(xs, toNumber(#)) first.
//
// # Compile and apply
//
// Compile type-checks every expression and returns a *Program, immutable and safe for
// concurrent use; Program.Apply runs it on one input and returns the output and an
// Applied record (name, version, fields set, duration) for the event's
// transformation_applied column. The output may share nested values with the input.
//
// Apply is lean: expressions run on pooled expr VMs; member access on maps, json.Number
// conversion and + compile to direct typed calls instead of reflection (and + chains to
// one allocation); the shared GitHub mapping costs about 33k instructions and 15
// allocations per event, a twentieth of decoding the event with encoding/json.
// Program.Nodes exposes the expressions' ASTs so a decoder can build only the input paths
// the mapping reads.
//
// # Safety
//
// Expressions are bounded in source length and AST nodes (ErrTooComplex at compile time),
// in the allocations of one run (expr's memory budget) and in the size of the strings and
// arrays they build (ErrMemoryLimit at run time). Unknown functions do not compile. Panics
// in helpers become errors, the context is checked between fields, and every failure
// names the rules, the target path and the expression (*CompileError, *FieldError).
//
// # Versions, inverses, suggestions
//
// A Registry keeps compiled rules by name and version with an explicitly activated
// version. Rules with an Inverse are bidirectional; Program.RoundTrip applies forward then
// inverse to samples and reports every input path that did not come back. Suggest (the
// Heuristic Advisor) proposes a mapping from a source sample to a target JSON Schema with
// a confidence and a reason per field; Advisor lets a model-backed suggester replace it.
package transform
