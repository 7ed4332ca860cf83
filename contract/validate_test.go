package contract_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/contract"
)

const ticketSchema = `{
	"type": "object",
	"required": ["id", "title", "tags"],
	"additionalProperties": false,
	"properties": {
		"id":     {"type": "integer", "minimum": 1, "maximum": 9007199254740993},
		"title":  {"type": "string", "minLength": 1, "maxLength": 10},
		"state":  {"enum": ["open", "closed"]},
		"tags":   {"type": "array", "items": {"type": "string"}, "uniqueItems": true, "maxItems": 3},
		"owner":  {"$ref": "#/$defs/email"},
		"due":    {"type": "string", "format": "date-time"},
		"done":   {"type": "boolean"},
		"choice": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
	},
	"$defs": {"email": {"type": "string", "format": "email"}}
}`

func newTicket(t *testing.T) *contract.Compiled {
	t.Helper()
	reg := contract.NewRegistry()
	c, err := reg.Register(t.Context(), contract.Contract{Name: "ticket", Version: "1.0.0", Schema: []byte(ticketSchema)})
	require.NoError(t, err)
	return c
}

func TestValidateViolations(t *testing.T) {
	t.Parallel()
	c := newTicket(t)
	type want struct{ path, keyword, contains string }
	tests := []struct {
		name string
		doc  string
		want []want
	}{
		{"valid", `{"id": 1, "title": "a", "tags": []}`, nil},
		{"missing required each listed", `{"title": "a"}`, []want{
			{"", "required", `"id"`}, {"", "required", `"tags"`},
		}},
		{"undeclared property", `{"id": 1, "title": "a", "tags": [], "extra": 1, "more": 2}`, []want{
			{"/extra", "additionalProperties", `"extra" is not allowed`}, {"/more", "additionalProperties", `"more" is not allowed`},
		}},
		{"type", `{"id": "1", "title": "a", "tags": []}`, []want{{"/id", "type", "must be integer, got string"}}},
		{"enum", `{"id": 1, "title": "a", "tags": [], "state": "OPEN"}`, []want{{"/state", "enum", `must be one of "open", "closed"`}}},
		{"lengths and items", `{"id": 1, "title": "", "tags": ["a", "a", 3, "d"]}`, []want{
			{"/tags", "maxItems", "at most 3"}, {"/tags", "uniqueItems", "unique"}, {"/tags/2", "type", "must be string"}, {"/title", "minLength", "at least 1"},
		}},
		{"format through $ref", `{"id": 1, "title": "a", "tags": [], "owner": "nobody"}`, []want{{"/owner", "format", "e-mail"}}},
		{"date-time", `{"id": 1, "title": "a", "tags": [], "due": "2026-13-01T00:00:00Z"}`, []want{{"/due", "format", "RFC 3339"}}},
		{"exact big numbers", `{"id": 9007199254740994, "title": "a", "tags": []}`, []want{{"/id", "maximum", "9007199254740993"}}},
		{"anyOf details", `{"id": 1, "title": "a", "tags": [], "choice": true}`, []want{{"/choice", "anyOf", "at least one of the 2"}}},
		{"pointer escaping", `{"id": 1, "title": "a", "tags": [], "a/b~c d": 1}`, []want{{"/a~1b~0c d", "additionalProperties", "not allowed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.ValidateJSON([]byte(tt.doc))
			require.NotNil(t, res)
			if tt.want == nil {
				require.NoError(t, err)
				assert.True(t, res.Valid)
				return
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, contract.ErrInvalid))
			var verr *contract.ValidationError
			require.True(t, errors.As(err, &verr))
			assert.Equal(t, res.Violations, verr.Violations)
			assert.False(t, res.Valid)
			require.Len(t, res.Violations, len(tt.want), "%v", res.Violations)
			for i, w := range tt.want {
				v := res.Violations[i]
				assert.Equal(t, w.path, v.InstancePath)
				assert.Equal(t, w.keyword, v.Keyword)
				assert.Contains(t, v.Message, w.contains)
				assert.True(t, strings.HasPrefix(v.SchemaLocation, "contract:ticket/1.0.0#"), v.SchemaLocation)
				assert.NotEmpty(t, v.SchemaPath)
			}
			if tt.name == "anyOf details" {
				assert.Len(t, res.Violations[0].Details, 2)
			}
		})
	}
}

type ticketStruct struct {
	ID    int64     `json:"id"`
	Title string    `json:"title"`
	Tags  []string  `json:"tags"`
	Due   time.Time `json:"due"`
}

func TestValidateGoValues(t *testing.T) {
	t.Parallel()
	c := newTicket(t)
	cyclic := map[string]any{"id": 1}
	cyclic["self"] = cyclic
	deep := any("x")
	for range 200 {
		deep = []any{deep}
	}
	tests := []struct {
		name    string
		v       any
		valid   bool
		errKind error // nil: no input error
	}{
		{"native map with json.Number", map[string]any{"id": json.Number("3"), "title": "t", "tags": []any{"a"}}, true, nil},
		{"native map with Go ints", map[string]any{"id": 3, "title": "t", "tags": []any{}}, true, nil},
		{"typed slice converted", map[string]any{"id": int16(3), "title": "t", "tags": []string{"a", "b"}}, true, nil},
		{"struct converted", ticketStruct{ID: 2, Title: "t", Tags: []string{"x"}, Due: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, true, nil},
		{"struct invalid", ticketStruct{ID: 0, Title: "t", Tags: []string{"x"}}, false, nil},
		{"raw JSON bytes", []byte(`{"id": 1, "title": "a", "tags": []}`), true, nil},
		{"json.RawMessage", json.RawMessage(`{"id": 0, "title": "a", "tags": []}`), false, nil},
		{"NaN", map[string]any{"id": math.NaN()}, false, contract.ErrUnsupportedValue},
		{"bad json.Number", map[string]any{"id": json.Number("1x")}, false, contract.ErrUnsupportedValue},
		{"huge exponent json.Number", map[string]any{"id": json.Number("1e999999999")}, false, contract.ErrTooLarge},
		{"invalid UTF-8 string", map[string]any{"title": "a\xffb"}, false, contract.ErrInvalidUTF8},
		{"cycle", cyclic, false, contract.ErrTooDeep},
		{"too deep", deep, false, contract.ErrTooDeep},
		{"channel", map[string]any{"id": make(chan int)}, false, contract.ErrUnsupportedValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.Validate(tt.v)
			if tt.errKind != nil {
				require.Error(t, err)
				assert.Nil(t, res)
				assert.ErrorIs(t, err, tt.errKind)
				assert.ErrorIs(t, err, contract.ErrBadInput)
				var ie *contract.InputError
				assert.True(t, errors.As(err, &ie))
				return
			}
			require.NotNil(t, res)
			assert.Equal(t, tt.valid, res.Valid, "%v", err)
			assert.Equal(t, tt.valid, err == nil)
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		lim  contract.Limits
		kind error
		path string
	}{
		{"ok", `{"a": [1, 2.5e3, -0, "\u00e9\ud83d\ude00", true, null]}`, contract.Limits{}, nil, ""},
		{"too large", `{"a": "0123456789"}`, contract.Limits{MaxBytes: 10}, contract.ErrTooLarge, ""},
		{"too deep", `[[[[1]]]]`, contract.Limits{MaxDepth: 3}, contract.ErrTooDeep, "/0/0/0"},
		{"depth at limit", `[[[1]]]`, contract.Limits{MaxDepth: 3}, nil, ""},
		{"invalid UTF-8", "{\"a\": \"x\xc3\x28\"}", contract.Limits{}, contract.ErrInvalidUTF8, "/a"},
		{"invalid UTF-8 in key", "{\"\xff\": 1}", contract.Limits{}, contract.ErrInvalidUTF8, ""},
		{"duplicate key", `{"a": {"b": 1, "b": 2}}`, contract.Limits{}, contract.ErrDuplicateKey, "/a/b"},
		{"trailing comma", `{"a": 1,}`, contract.Limits{}, contract.ErrSyntax, ""},
		{"trailing data", `{} {}`, contract.Limits{}, contract.ErrSyntax, ""},
		{"leading zero", `[01]`, contract.Limits{}, contract.ErrSyntax, ""},
		{"bad escape", `["\x"]`, contract.Limits{}, contract.ErrSyntax, "/0"},
		{"control char", "[\"a\tb\"]", contract.Limits{}, contract.ErrSyntax, "/0"},
		{"unterminated", `{"a": "b`, contract.Limits{}, contract.ErrSyntax, "/a"},
		{"empty", ``, contract.Limits{}, contract.ErrSyntax, ""},
		{"bare word", `nul`, contract.Limits{}, contract.ErrSyntax, ""},
		{"huge exponent", `[1e10001]`, contract.Limits{}, contract.ErrTooLarge, "/0"},
		{"no limits", `[[[[1]]]]`, contract.Limits{MaxDepth: -1, MaxBytes: -1}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := contract.Decode([]byte(tt.data), tt.lim)
			if tt.kind == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Nil(t, v)
			assert.ErrorIs(t, err, tt.kind)
			assert.ErrorIs(t, err, contract.ErrBadInput)
			var ie *contract.InputError
			require.True(t, errors.As(err, &ie))
			assert.Equal(t, tt.path, ie.Path)
			assert.NotEmpty(t, ie.Error())
		})
	}
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	docs := []string{
		`{"a":[1,2,{"b":null}],"c":"\u00e9\n\"\\\/","d":-1.5e-3,"e":true,"f":{}}`,
		`"\ud800"`, `[]`, `0`, `"\ud83d\ude00 ok"`,
	}
	for _, d := range docs {
		got, err := contract.Decode([]byte(d), contract.Limits{})
		require.NoError(t, err, d)
		dec := json.NewDecoder(strings.NewReader(d))
		dec.UseNumber()
		var want any
		require.NoError(t, dec.Decode(&want))
		assert.Equal(t, want, got, d)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",null]}`, `[1e5, -0.0, "\u0041"]`, `{"a":1,"a":2}`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := contract.Decode(data, contract.Limits{MaxDepth: 32})
		var ie *contract.InputError
		if err != nil {
			if !errors.As(err, &ie) {
				t.Fatalf("error is not an *InputError: %v", err)
			}
			return
		}
		// Whatever decodes strictly must decode with encoding/json to the same value.
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("strict decoder accepted what encoding/json rejects: %q: %v", data, err)
		}
		if !assert.ObjectsAreEqual(want, v) {
			t.Fatalf("decoded %#v, encoding/json %#v", v, want)
		}
	})
}
