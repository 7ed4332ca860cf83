package contract_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/contract"
)

// suiteDir is the vendored copy of the official JSON Schema Test Suite (see its README for
// the upstream commit). A missing copy fails the test: it is the oracle of the validator.
func suiteDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("testdata", "json-schema-test-suite")
	_, err := os.Stat(filepath.Join(dir, "tests", "draft2020-12"))
	require.NoError(t, err, "the vendored JSON Schema Test Suite is missing")
	return dir
}

// remotesLoader serves http://localhost:1234/... from the suite's remotes folder, as the
// suite's README asks, without any network.
func remotesLoader(dir string) contract.Loader {
	return func(_ context.Context, uri string) ([]byte, error) {
		const prefix = "http://localhost:1234/"
		rest, ok := strings.CutPrefix(uri, prefix)
		if !ok {
			return nil, fmt.Errorf("%w: %s", contract.ErrNotFound, uri)
		}
		rest, _, _ = strings.Cut(rest, "#")
		clean := filepath.Clean("/" + rest)
		b, err := os.ReadFile(filepath.Join(dir, "remotes", filepath.FromSlash(clean)))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", contract.ErrNotFound, uri, err)
		}
		return b, nil
	}
}

type suiteGroup struct {
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Tests       []struct {
		Description string          `json:"description"`
		Data        json.RawMessage `json:"data"`
		Valid       bool            `json:"valid"`
	} `json:"tests"`
}

// knownFailures lists the cases this package does not pass, each with the reason. A case
// failing that is not listed fails the test; a listed case that passes is reported so the
// list can shrink.
var knownFailures = map[string]string{
	"draft2020-12/required/dynamicRef.json/$dynamicRef skips over intermediate resources - direct reference/integer property passes": "jsonschema v5.3.1 resolves a $dynamicRef through an intermediate resource without a matching $dynamicAnchor to the wrong anchor",
	"draft2020-12/required/dynamicRef.json/$dynamicRef skips over intermediate resources - direct reference/string property fails":   "jsonschema v5.3.1 resolves a $dynamicRef through an intermediate resource without a matching $dynamicAnchor to the wrong anchor",
}

type suiteCount struct {
	mu          sync.Mutex
	pass, total int
	failed      []string
}

func TestJSONSchemaTestSuite(t *testing.T) {
	t.Parallel()
	dir := suiteDir(t)
	loader := remotesLoader(dir)
	type run struct {
		name   string
		folder string
		draft  contract.Draft
		format bool
		min    float64
	}
	runs := []run{
		{"draft2020-12/required", "tests/draft2020-12", contract.Draft202012, false, 0.99},
		{"draft2020-12/optional/format", "tests/draft2020-12/optional/format", contract.Draft202012, true, 0.99},
		{"draft7/required", "tests/draft7", contract.Draft7, false, 0.99},
		{"draft7/optional/format", "tests/draft7/optional/format", contract.Draft7, true, 0.99},
	}
	counts := make([]*suiteCount, len(runs))
	t.Cleanup(func() {
		for i, r := range runs {
			c := counts[i]
			rate := float64(c.pass) / float64(max(c.total, 1))
			line := fmt.Sprintf("JSON Schema Test Suite %-30s %4d/%4d passed (%.1f%%)", r.name, c.pass, c.total, 100*rate)
			t.Log(line)
			fmt.Println(line)
			if rate < r.min {
				t.Errorf("%s: pass rate %.2f%% is below the required %.0f%%", r.name, 100*rate, 100*r.min)
			}
		}
	})
	for i, r := range runs {
		counts[i] = &suiteCount{}
		c := counts[i]
		files, err := filepath.Glob(filepath.Join(dir, r.folder, "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			for _, file := range files {
				t.Run(filepath.Base(file), func(t *testing.T) {
					t.Parallel()
					raw, err := os.ReadFile(file)
					require.NoError(t, err)
					var groups []suiteGroup
					require.NoError(t, json.Unmarshal(raw, &groups))
					for _, g := range groups {
						reg := contract.NewRegistry(contract.WithDefaultDraft(r.draft), contract.WithFormatAssertion(r.format), contract.WithLoader(loader))
						comp, cerr := reg.Register(t.Context(), contract.Contract{Name: "suite", Version: "1.0.0", Schema: g.Schema})
						for _, tc := range g.Tests {
							id := r.name + "/" + filepath.Base(file) + "/" + g.Description + "/" + tc.Description
							ok := false
							var got error
							if cerr != nil {
								got = cerr
							} else {
								_, got = comp.Validate(tc.Data) // json.RawMessage: decoded strictly, then validated
								ok = (got == nil) == tc.Valid
								if got != nil && !isValidationError(got) {
									ok = false
								}
							}
							c.mu.Lock()
							c.total++
							if ok {
								c.pass++
							} else {
								c.failed = append(c.failed, id)
							}
							c.mu.Unlock()
							reason, known := knownFailures[id]
							switch {
							case !ok && !known && r.min > 0:
								t.Errorf("FAIL %s: valid=%v, got %v", id, tc.Valid, got)
							case !ok && known:
								t.Logf("known failure %s: %s", id, reason)
							case !ok:
								t.Logf("fail (optional) %s: valid=%v, got %v", id, tc.Valid, got)
							case known:
								t.Logf("listed as a known failure but passes now: %s", id)
							}
						}
					}
				})
			}
		})
	}
}

func isValidationError(err error) bool {
	var ve *contract.ValidationError
	return errorsAs(err, &ve)
}
