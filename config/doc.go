// Package config is the hub's configuration as code: a declarative document that describes
// services (connector, endpoints, credentials as references, resilience policies, health
// thresholds, costs, data regions), data contracts, mappings, routes, sync schedules, the
// retention policy, the approval policy, the roles and per-environment overrides, in YAML
// or JSON, in one file or a folder of files.
//
// Loading is strict: an unknown field, a value of the wrong type, a literal secret or a
// reference to an unknown secret scheme is an error naming the file, the line and the path
// inside the document (see [Error]). The document's JSON Schema, published as
// [Schema], lets editors validate and complete it.
//
//	doc, err := config.Load("hub.yaml")          // or a folder of *.yaml / *.yml / *.json
//	doc, err = doc.ForEnvironment("staging")     // apply the staging overrides
//	plan, err := h.Plan(ctx, doc)                // what would change, per object and field
//	res, err := h.Apply(ctx, plan)               // carry it out; a stale plan is refused
//
// Secrets never appear in a document: credentials are references, "env:NAME" (an
// environment variable), "file:PATH" (a file's content, trailing newline removed, relative
// paths against the document's folder) or "SCHEME:..." for a [Resolver] the embedder
// registers. [Encode] writes a document back deterministically, so an export is
// byte-for-byte reproducible.
package config
