package jsonproj

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		depth int
		err   error
	}{
		{"object", `{"a":[1,2,{"b":null}]}`, 0, nil},
		{"array", ` [1, "x", true] `, 0, nil},
		{"scalar", `"just a string"`, 0, nil},
		{"number", `-1.5e3`, 0, nil},
		{"empty", ``, 0, ErrSyntax},
		{"trailing", `{} {}`, 0, ErrSyntax},
		{"bad utf8", "[\"\xff\"]", 0, ErrSyntax},
		{"unterminated", `{"a":`, 0, ErrSyntax},
		{"depth ok", `{"a":{"b":1}}`, 2, nil},
		{"too deep", `{"a":{"b":[1]}}`, 2, ErrTooDeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Check([]byte(tc.in), Options{MaxDepth: tc.depth})
			if tc.err == nil {
				require.NoError(t, err)
				assert.True(t, json.Valid([]byte(tc.in)))
				return
			}
			require.ErrorIs(t, err, tc.err)
			if errors.Is(tc.err, ErrSyntax) {
				assert.False(t, json.Valid([]byte(tc.in)) && utf8.ValidString(tc.in))
			}
		})
	}
}

func FuzzCheckAgreesWithValid(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2]`, `"a\u00e9"`, `{"a":"\ud800"}`, `nul`, "\"\x80\"", `1e`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data, Options{})
		// encoding/json accepts invalid UTF-8 in strings (it replaces it); Check refuses it.
		if json.Valid(data) && utf8.Valid(data) {
			if err != nil {
				assert.ErrorIs(t, err, ErrTooDeep)
			}
		} else {
			assert.Error(t, err)
		}
		if err == nil {
			assert.True(t, json.Valid(data))
		}
	})
}

// BenchmarkCheck is the syntax/UTF-8/depth check of the shared 5.5 KB event; compare with
// BenchmarkValidEncodingJSON (json.Valid, which the stores and the hub used).
func BenchmarkCheck(b *testing.B) {
	data := benchFile(b, "github-issue-event.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidEncodingJSON(b *testing.B) {
	data := benchFile(b, "github-issue-event.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if !json.Valid(data) {
			b.Fatal("invalid")
		}
	}
}
