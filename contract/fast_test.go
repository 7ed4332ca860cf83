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
	dir := os.Getenv("JSON_SCHEMA_TEST_SUITE")
	if dir == "" {
		wd, err := os.Getwd()
		require.NoError(t, err)
		for d := wd; ; d = filepath.Dir(d) {
			c := filepath.Join(d, "shared", "testdata", "json-schema-test-suite")
			if _, err := os.Stat(filepath.Join(c, "tests")); err == nil {
				dir = c
				break
			}
			if filepath.Dir(d) == d {
				t.Skip("JSON Schema Test Suite not found")
			}
		}
	}
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
	t.Logf("fast path covers %d of %d schema groups; %d of %d cases proven valid on it", fastGroups, groups, decisive, cases)
	require.Positive(t, fastGroups)
}
