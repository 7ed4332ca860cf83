// Package contract owns the hub's canonical data contracts: JSON Schemas that every payload
// crossing the hub is checked against, with explanations a person can act on, opt-in
// correction of common mistakes, version-safe evolution and drift detection.
//
// It builds on github.com/santhosh-tekuri/jsonschema/v5 and imports nothing else of the hub.
//
// # Contracts and the registry
//
// A [Contract] is plain data: a name, a semantic version and a schema document. A
// [Registry] (one per hub; there is no global state) compiles each contract once, at
// [Registry.Register], and hands out the [Compiled] form by name and version
// ([Registry.Get], [Registry.Latest], [Registry.Versions]). Drafts 4, 6, 7, 2019-09 and
// 2020-12 are supported; "$schema" decides, 2020-12 by default ([WithDefaultDraft]).
// "format" is asserted by default and can be switched to an annotation
// ([WithFormatAssertion]). A "$ref" to "contract:NAME/VERSION" (or to a registered schema's
// absolute "$id") resolves through the registry; anything else goes to the optional
// [Loader] and never to the network.
//
// Versions of one name are ordered by semver. Within one major version every new version
// must be backward compatible with its neighbours — Register refuses a breaking change with
// an [*IncompatibleError] unless [Force] is given. [Compare] and [Registry.Check] report the
// changes between two schemas without registering anything.
//
// # Validation
//
// [Compiled.Validate] takes a decoded document (map[string]any, []any, string, json.Number
// or float64, bool, nil — validated in place, without copying or re-encoding), raw JSON
// ([]byte, json.RawMessage) or any other Go value (converted through encoding/json).
// [Compiled.ValidateJSON] and [Decode] read raw JSON strictly: numbers stay exact
// (json.Number), and oversized documents, excessive nesting, invalid UTF-8, duplicate keys
// and malformed JSON are each an [*InputError] matching [ErrBadInput] and a precise sentinel
// ([ErrTooLarge], [ErrTooDeep], [ErrInvalidUTF8], [ErrDuplicateKey], [ErrSyntax]); see
// [Limits]. A value that breaks its contract yields a [Result] listing every [Violation]
// (JSON Pointer into the instance, schema location, keyword, message) and a
// [*ValidationError] that matches [ErrInvalid].
//
// # Correction, drift and inference
//
// [Compiled.Correct] fixes mistakes whose intent the schema makes unambiguous (numeric and
// boolean strings, stray white space, enum case, common date-time layouts, a single value
// where an array is expected), reports each [Fix] and validates the result again.
// An [Observer] aggregates how live payloads drift from their contract (undeclared fields,
// missing required fields, type mismatches, with counts and first/last seen) and proposes
// the next version of the schema ([Observer.Propose]); [InferSchema] infers a schema from
// samples.
//
// Every type is safe for concurrent use unless its documentation says otherwise.
package contract
