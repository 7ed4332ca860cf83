package jsonproj

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func naiveRun(b []byte, i int, stop func(c byte) bool) int {
	for ; i < len(b); i++ {
		if stop(b[i]) {
			return i
		}
	}
	return i
}

func plainStop(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }

func htmlStop(c byte) bool {
	return plainStop(c) || c == '<' || c == '>' || c == '&'
}

func TestRuns(t *testing.T) {
	t.Parallel()
	base := []byte("abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOP")
	for _, special := range []byte{'"', '\\', '<', '>', '&', 0, '\n', 0x1f, 0x20, 0x7f, 0x80, 0xff, '!', '~'} {
		for pos := range len(base) {
			b := bytes.Clone(base)
			b[pos] = special
			for start := range min(len(b), 12) {
				assert.Equal(t, naiveRun(b, start, plainStop), plainRun(b, start), "plain %q at %d from %d", special, pos, start)
				assert.Equal(t, naiveRun(b, start, htmlStop), htmlSafeRun(string(b), start), "html %q at %d from %d", special, pos, start)
			}
		}
	}
}

func FuzzDecodeCompact(f *testing.F) {
	f.Add([]byte("{\n\t\"a\": [1, \"b \\\" c\", {\"d\" : null}],\n\t\"e\": \"\\u00e9\"\n} "))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, out, err := All().DecodeCompact(data, Options{UseNumber: true}, []byte("x"))
		m2, err2 := All().Decode(data, Options{UseNumber: true})
		require.Equal(t, err == nil, err2 == nil)
		if err != nil {
			assert.Equal(t, "x", string(out))
			return
		}
		assert.Equal(t, m2, m)
		var want bytes.Buffer
		require.NoError(t, json.Compact(&want, data))
		assert.Equal(t, "x"+want.String(), string(out))
	})
}

func TestDecodeCompactShared(t *testing.T) {
	t.Parallel()
	data := benchFile(t, "github-issue-event.json")
	p, err := New("issue.title")
	require.NoError(t, err)
	m, out, err := p.DecodeCompact(data, Options{}, nil)
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, json.Compact(&want, data))
	assert.Equal(t, want.String(), string(out))
	assert.Equal(t, map[string]any{"issue": map[string]any{"title": m["issue"].(map[string]any)["title"]}}, m)
}

func FuzzAppendStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"plain ascii text long enough", "<a href=\"x\">&amp;</a>", "tab\there\u2028\u2029 é \xff\xfe", "\x00\x1f\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		got, err := AppendJSON(nil, s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	})
}

func FuzzRuns(f *testing.F) {
	f.Add([]byte("abc\"def\\ghi\x01jkl\x80mno<p>q&r"), 0)
	f.Add([]byte("\x00\x01\x1f\x20\x21\x7f\x80\xff\"\\<>&aaaaaaaaaaaaaaaa"), 3)
	f.Fuzz(func(t *testing.T, b []byte, start int) {
		if start < 0 || start > len(b) {
			return
		}
		assert.Equal(t, naiveRun(b, start, plainStop), plainRun(b, start))
		assert.Equal(t, naiveRun(b, start, htmlStop), htmlSafeRun(string(b), start))
	})
}
