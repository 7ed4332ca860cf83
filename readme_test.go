package hub_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMESnippetsAreExamples: every Go snippet of README.md is the marked part of a
// testable example (between "// README: begin" and "// README: end" in an example_*_test.go
// file), character for character, and every marked part appears in the README. The examples
// compile and run with the tests, so the README's code does too.
func TestREADMESnippetsAreExamples(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var snippets []string
	for _, m := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		snippets = append(snippets, m[1])
	}
	require.NotEmpty(t, snippets, "README.md has Go snippets")

	files, err := filepath.Glob("example_*_test.go")
	require.NoError(t, err)
	marked := map[string]string{} // snippet -> file
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, part := range markedParts(string(src)) {
			marked[part] = f
		}
	}
	for i, s := range snippets {
		_, ok := marked[s]
		assert.True(t, ok, "README snippet %d is not the marked part of any example_*_test.go:\n%s", i+1, s)
	}
	for part, f := range marked {
		assert.Contains(t, snippets, part, "the marked part of %s is not in README.md", f)
	}
}

// markedParts returns the parts of src between "// README: begin" and "// README: end"
// lines, with the indentation of the begin line removed from every line.
func markedParts(src string) []string {
	var parts []string
	lines := strings.SplitAfter(src, "\n")
	for i := 0; i < len(lines); i++ {
		indent, ok := strings.CutSuffix(lines[i], "// README: begin\n")
		if !ok || strings.TrimLeft(indent, "\t") != "" {
			continue
		}
		var b strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "// README: end"; i++ {
			b.WriteString(strings.TrimPrefix(lines[i], indent))
		}
		parts = append(parts, b.String())
	}
	return parts
}
