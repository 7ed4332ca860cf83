// Package pipeline is the compiled event pipeline the hub runs on every event before it is
// stored: the raw payload is checked (size, syntax, UTF-8, nesting) and decoded in one pass
// that keeps only what the mapping reads, the input contract is checked, the mapping runs,
// its output is encoded (byte for byte what encoding/json writes) and validated against the
// canonical contract, and the delivery mapping, if any, turns it into the delivery body.
//
// A Pipeline is built once per service version with New, which compiles everything it needs
// (the decode projections of the mappings); Run compiles nothing. Errors are *Error values
// naming the Stage that failed and a Kind sentinel, wrapping the error of the package that
// found the problem (jsonproj, transform, contract), so the caller can map them to its own
// typed errors.
package pipeline
