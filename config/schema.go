package config

import (
	_ "embed"
	"slices"
)

//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of the document, as published in the
// repository (config/schema.json), for editors and validators. It accepts what [Load]
// accepts, except for the checks a schema cannot express: unique service and contract
// names, overrides of defined services, and secret references to schemes the embedder
// did not register.
func Schema() []byte { return slices.Clone(schemaJSON) }
