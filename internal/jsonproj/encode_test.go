package jsonproj

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false, "", "plain", "quote\" back\\ <a href='x'>&</a> \n\r\t\b\f \x01 \x7f",
		"é€😀", "bad \xff utf8", "line\u2028sep\u2029", 0.0, -0.0, 1.5, 1e21, 1e20, 1e-7, 0.000001, 123456789.0,
		float32(3.14), float32(1e-7), 42, int64(-7), int32(3), uint64(1 << 63), json.Number("12.50"),
		[]any{}, []any(nil), []any{1.0, "a", nil, []any{true}}, []string{"x", "y"}, []string(nil),
		map[string]any{}, map[string]any(nil),
		map[string]any{"b": 1.0, "a": map[string]any{"z": "<", "y": []any{}}, "é": nil},
		json.RawMessage(`{"k":[1,2]}`), struct{ A int }{1},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		require.NoError(t, err, "%#v", v)
		got, err := AppendJSON(nil, v)
		require.NoError(t, err, "%#v", v)
		assert.Equal(t, string(want), string(got), "%#v", v)
	}
	doc := benchFile(t, "github-issue-event.json")
	full, err := All().Decode(doc, Options{UseNumber: true})
	require.NoError(t, err)
	want, err := json.Marshal(full)
	require.NoError(t, err)
	got, err := AppendJSON(nil, full)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

func TestAppendJSONRefuses(t *testing.T) {
	t.Parallel()
	for _, v := range []any{math.NaN(), math.Inf(1), json.Number("1x"), map[string]any{"f": func() {}}} {
		_, err := AppendJSON(nil, v)
		require.ErrorIs(t, err, ErrUnsupported, "%#v", v)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	raw := benchFile(b, "work-item.expected.json")
	var v map[string]any
	require.NoError(b, json.Unmarshal(raw, &v))
	b.ReportAllocs()
	buf := make([]byte, 0, 2048)
	for b.Loop() {
		var err error
		if buf, err = AppendJSON(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalEncodingJSON(b *testing.B) {
	raw := benchFile(b, "work-item.expected.json")
	var v map[string]any
	require.NoError(b, json.Unmarshal(raw, &v))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
