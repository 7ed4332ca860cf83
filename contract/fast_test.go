package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFastPathAgreesWithV5 runs every schema and instance of the official test suite (all
// of draft 2020-12 and draft 7, optional folders included, formats asserted and not)
// through the fast verdict path and through jsonschema v5, and requires that whenever the
// fast path says "valid", v5 says so too — the fast path's only obligation, since every
// other verdict is handed to v5. It also reports how often the fast path is decisive.
func TestFastPathAgreesWithV5(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "json-schema-test-suite") // vendored; see its README
	loader := func(_ context.Context, uri string) ([]byte, error) {
		rest, ok := strings.CutPrefix(uri, "http://localhost:1234/")
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, uri)
		}
		rest, _, _ = strings.Cut(rest, "#")
		return os.ReadFile(filepath.Join(dir, "remotes", filepath.FromSlash(filepath.Clean("/"+rest))))
	}
	var files []string
	for _, d := range []string{"draft2020-12", "draft7"} {
		err := filepath.WalkDir(filepath.Join(dir, "tests", d), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".json") {
				files = append(files, p)
			}
			return err
		})
		require.NoError(t, err)
	}
	var groups, fastGroups, cases, decisive int
	for _, assertFormat := range []bool{false, true} {
		for _, file := range files {
			draft := Draft202012
			if strings.Contains(file, "draft7") {
				draft = Draft7
			}
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var gs []struct {
				Description string          `json:"description"`
				Schema      json.RawMessage `json:"schema"`
				Tests       []struct {
					Description string          `json:"description"`
					Data        json.RawMessage `json:"data"`
				} `json:"tests"`
			}
			require.NoError(t, json.Unmarshal(raw, &gs))
			for _, g := range gs {
				reg := NewRegistry(WithDefaultDraft(draft), WithFormatAssertion(assertFormat), WithLoader(loader))
				c, err := reg.Register(t.Context(), Contract{Name: "suite", Version: "1.0.0", Schema: g.Schema})
				if err != nil {
					continue
				}
				groups++
				if c.fast == nil {
					continue
				}
				fastGroups++
				for _, tc := range g.Tests {
					doc, err := Decode(tc.Data, Limits{})
					if err != nil {
						continue
					}
					cases++
					fastValid := c.fast.valid(doc)
					v5Valid := c.schema.Validate(doc) == nil
					if fastValid {
						decisive++
						assert.True(t, v5Valid, "fast path says valid, v5 says invalid: %s / %s / %s", file, g.Description, tc.Description)
					} else if v5Valid {
						var st fastState
						c.fast.check(doc, &st, 0)
						assert.True(t, st.unsure, "fast path says invalid without being unsure, v5 says valid: %s / %s / %s", file, g.Description, tc.Description)
					}
				}
			}
		}
	}
	line := fmt.Sprintf("fast path agrees with jsonschema v5 on the JSON Schema Test Suite: covers %d of %d schema groups; %d of %d cases proven valid on it",
		fastGroups, groups, decisive, cases)
	t.Log(line)
	fmt.Println(line)
	require.NotEmpty(t, files, "the vendored JSON Schema Test Suite is missing")
	require.Positive(t, fastGroups)
}

// FuzzFastPath feeds arbitrary documents to a schema using most keywords the fast path
// covers and checks its verdicts against jsonschema v5.
func FuzzFastPath(f *testing.F) {
	const schema = `{
		"type": "object",
		"required": ["id"],
		"additionalProperties": {"type": ["string", "null"]},
		"patternProperties": {"^x-": {"type": "integer", "minimum": -5, "exclusiveMaximum": 100, "multipleOf": 1}},
		"properties": {
			"id": {"type": "integer", "minimum": 1},
			"n": {"type": "number", "maximum": 1.5},
			"s": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-zé]+$", "format": "hostname"},
			"e": {"enum": [1, "a", null, [1], {"k": 1}]},
			"c": {"const": 2.0},
			"a": {"type": "array", "uniqueItems": true, "prefixItems": [{"type": "string"}], "items": {"type": "integer"}, "contains": {"const": 3}, "maxContains": 2},
			"o": {"oneOf": [{"type": "string"}, {"minLength": 3}]},
			"nt": {"not": {"type": "boolean"}},
			"i": {"if": {"type": "string"}, "then": {"format": "date-time"}, "else": {"type": "number"}},
			"d": {"dependentRequired": {"a": ["b"]}, "propertyNames": {"maxLength": 3}, "minProperties": 1},
			"r": {"$ref": "#/$defs/node"}
		},
		"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}, "maxProperties": 2}}
	}`
	for _, s := range []string{
		`{"id": 1}`, `{"id": 1.0, "x-a": 3, "other": "s"}`, `{"id": 2, "a": ["s", 3, 3, 1]}`, `{"id": 1, "e": {"k": 1.0}}`,
		`{"id": 1, "o": "abcd"}`, `{"id": 1, "i": "2026-11-24T09:41:27Z", "nt": 1}`, `{"id": 1, "d": {"a": 1}}`,
		`{"id": 1, "r": {"next": {"next": {}}}}`, `{"id": 1, "s": "é.b", "c": 2, "n": 1.5e0}`,
	} {
		f.Add([]byte(s))
	}
	reg := NewRegistry()
	c, err := reg.Register(context.Background(), Contract{Name: "fuzz", Version: "1.0.0", Schema: []byte(schema)})
	require.NoError(f, err)
	require.NotNil(f, c.fast)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Decode(data, Limits{})
		if err != nil {
			return
		}
		var st fastState
		fastValid := c.fast.check(doc, &st, 0) && !st.unsure
		v5Valid := c.schema.Validate(doc) == nil
		if st.unsure {
			return
		}
		if fastValid != v5Valid {
			t.Fatalf("fast path %v, v5 %v for %s", fastValid, v5Valid, data)
		}
	})
}
