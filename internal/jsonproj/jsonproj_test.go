package jsonproj

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// benchFile reads a file of the shared workload, as the quickstart ships it.
func benchFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "data", name))
	require.NoError(tb, err, "the workload file %s is missing", name)
	return b
}

func stdDecode(t *testing.T, data []byte, useNumber bool) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if useNumber {
		dec.UseNumber()
	}
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

func TestAllMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	docs := []string{
		`{}`,
		`{"a":1,"b":[1,2.5,-3e2,{"c":null}],"d":{"e":true,"f":false},"g":"h\u00e9\"\\\/\b\f\n\r\t","i":"\ud83d\ude00","j":"é€"}`,
		`{"a":[],"b":{},"c":[[[]]],"d":-0,"e":0.000001,"f":1E+2}`,
		string(benchFile(t, "github-issue-event.json")),
	}
	for _, doc := range docs {
		for _, num := range []bool{false, true} {
			got, err := All().Decode([]byte(doc), Options{UseNumber: num})
			require.NoError(t, err, doc)
			assert.Equal(t, stdDecode(t, []byte(doc), num), got, doc)
		}
	}
}

func TestProjection(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"issue":{"title":"t","number":7,"labels":[{"name":"bug","color":"red"},{"name":"p1","color":"x"}],
		"user":{"login":"u","id":1},"milestone":null,"body":"b"},"repository":{"full_name":"o/r","owner":{"login":"o"}},"sender":{"x":[1,2,{"y":"z"}]}}`)
	p, err := New("issue.title", "issue.number", "issue.labels[].name", "issue.user.login", "issue.milestone.title", "repository.full_name")
	require.NoError(t, err)
	got, err := p.Decode(doc, Options{UseNumber: true})
	require.NoError(t, err)
	want := map[string]any{
		"issue": map[string]any{
			"title": "t", "number": json.Number("7"),
			"labels":    []any{map[string]any{"name": "bug"}, map[string]any{"name": "p1"}},
			"user":      map[string]any{"login": "u"},
			"milestone": nil,
		},
		"repository": map[string]any{"full_name": "o/r"},
	}
	assert.Equal(t, want, got)

	// a member path through an array without [] applies to each element; a prefix keeps all
	p2, err := New("issue.labels.name", "issue.user", "issue.user.login")
	require.NoError(t, err)
	got, err = p2.Decode(doc, Options{})
	require.NoError(t, err)
	assert.Equal(t, []any{map[string]any{"name": "bug"}, map[string]any{"name": "p1"}}, got["issue"].(map[string]any)["labels"])
	assert.Equal(t, map[string]any{"login": "u", "id": 1.0}, got["issue"].(map[string]any)["user"])

	_, err = New("a..b")
	require.Error(t, err)
	whole, err := New("")
	require.NoError(t, err)
	got, err = whole.Decode(doc, Options{})
	require.NoError(t, err)
	assert.Equal(t, stdDecode(t, doc, false), got)
}

func TestBadInputAnywhere(t *testing.T) {
	t.Parallel()
	p, err := New("keep")
	require.NoError(t, err)
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"empty", ``, ErrSyntax},
		{"not an object", `[1]`, ErrSyntax},
		{"trailing data", `{"keep":1} x`, ErrSyntax},
		{"truncated in skipped part", `{"keep":1,"skip":{"a":[1,2`, ErrSyntax},
		{"bad literal in skipped part", `{"keep":1,"skip":tru}`, ErrSyntax},
		{"bad number in skipped part", `{"keep":1,"skip":01}`, ErrSyntax},
		{"bad number", `{"keep":-}`, ErrSyntax},
		{"missing colon", `{"keep" 1}`, ErrSyntax},
		{"trailing comma", `{"keep":1,}`, ErrSyntax},
		{"control char in skipped string", "{\"keep\":1,\"skip\":\"a\x01b\"}", ErrSyntax},
		{"invalid utf8 in skipped string", "{\"keep\":1,\"skip\":\"a\xffb\"}", ErrSyntax},
		{"invalid utf8 in skipped key", "{\"keep\":1,\"s\xff\":1}", ErrSyntax},
		{"invalid utf8 with escape", "{\"keep\":\"\\n\xff\"}", ErrSyntax},
		{"bad escape", `{"keep":"\x"}`, ErrSyntax},
		{"bad unicode escape", `{"keep":"\u12"}`, ErrSyntax},
		{"unterminated string", `{"keep":"abc`, ErrSyntax},
		{"too deep", `{"skip":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`, ErrTooDeep},
	}
	for _, tc := range tests {
		_, err := p.Decode([]byte(tc.doc), Options{MaxDepth: 10})
		require.Error(t, err, tc.name)
		assert.True(t, errors.Is(err, tc.want), "%s: %v", tc.name, err)
		if tc.want == ErrSyntax {
			var se *SyntaxError
			require.ErrorAs(t, err, &se, tc.name)
			assert.GreaterOrEqual(t, se.Offset, 0)
		}
	}
}

func FuzzDecodeAgreesWithEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c"}],"d":"\u00e9"}`))
	f.Add([]byte(`{"a":"\ud800"}`))
	f.Add([]byte(`{"a":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := All().Decode(data, Options{UseNumber: true})
		var want map[string]any
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		stdErr := dec.Decode(&want)
		if stdErr == nil && strings.TrimLeft(string(data[dec.InputOffset():]), " \t\r\n") != "" {
			stdErr = errors.New("trailing data")
		}
		if err == nil {
			if stdErr != nil {
				t.Fatalf("accepted what encoding/json refuses (%v): %q", stdErr, data)
			}
			if !equalJSON(got, want) {
				t.Fatalf("decoded differently: %#v vs %#v", got, want)
			}
		} else if stdErr == nil && !strings.Contains(err.Error(), "UTF-8") {
			t.Fatalf("refused what encoding/json accepts: %v: %q", err, data)
		}
	})
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func BenchmarkDecodeProjected(b *testing.B) {
	data := benchFile(b, "github-issue-event.json")
	p, err := New("repository.full_name", "issue.number", "issue.title", "issue.body", "issue.state",
		"issue.assignees[].login", "issue.labels[].name", "issue.user.login", "issue.milestone.title",
		"issue.comments", "issue.html_url", "issue.created_at", "issue.updated_at")
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Decode(data, Options{UseNumber: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAll(b *testing.B) {
	data := benchFile(b, "github-issue-event.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := All().Decode(data, Options{UseNumber: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodingJSONMap(b *testing.B) {
	data := benchFile(b, "github-issue-event.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}
