package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/transform"
)

// The benchmark workload (a GitHub issue webhook to a work item), read from the copy the
// quickstart ships in the repository.
const dataDir = "../../examples/quickstart/data"

func readData(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, name))
	require.NoError(tb, err)
	return b
}

const (
	maxBytes = 1 << 20
	maxDepth = 64
)

type workload struct {
	event, expected []byte
	prog            *transform.Program
	canon           *contract.Compiled
}

func loadWorkload(tb testing.TB) *workload {
	tb.Helper()
	rules, err := transform.Parse(readData(tb, "github-issue-to-work-item.expr.json"))
	require.NoError(tb, err)
	rules.Name, rules.Version = "github-issue-to-work-item", 1
	prog, err := transform.Compile(rules)
	require.NoError(tb, err)
	reg := contract.NewRegistry(contract.WithLimits(contract.Limits{MaxBytes: maxBytes, MaxDepth: maxDepth}))
	canon, err := reg.Register(context.Background(), contract.Contract{Name: "work-item", Version: "1.0.0", Schema: readData(tb, "work-item.schema.json")})
	require.NoError(tb, err)
	return &workload{event: readData(tb, "github-issue-event.json"), expected: readData(tb, "work-item.expected.json"), prog: prog, canon: canon}
}

func (w *workload) pipeline(tb testing.TB) *Pipeline {
	tb.Helper()
	p, err := New(Config{MaxBytes: maxBytes, MaxDepth: maxDepth, Mapping: w.prog, Canonical: w.canon})
	require.NoError(tb, err)
	return p
}

// legacy is what the hub did before this package, step for step (processing.go checkPayload
// and prepare, mappings.go apply, contracts.go check): the reference the pipeline must
// agree with.
func legacy(ctx context.Context, cfg Config, payload []byte) (payloadIn, canonical, delivery, applied []byte, err error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, nil, nil, nil, ErrEmpty
	}
	if len(payload) > cfg.MaxBytes {
		return nil, nil, nil, nil, ErrTooLarge
	}
	if !json.Valid(payload) {
		return nil, nil, nil, nil, ErrMalformed
	}
	if legacyDepth(payload) > cfg.MaxDepth {
		return nil, nil, nil, nil, ErrTooDeep
	}
	var cb bytes.Buffer
	_ = json.Compact(&cb, payload)
	payloadIn = cb.Bytes()
	if cfg.Input != nil {
		if _, err := cfg.Input.ValidateJSON(payload); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	canonical = payload
	apply := func(prog *transform.Program, in []byte) (out, applied []byte, err error) {
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || m == nil {
			return nil, nil, ErrNotObject
		}
		res, a, err := prog.Apply(ctx, m)
		if err != nil {
			return nil, nil, err
		}
		if out, err = json.Marshal(res); err != nil {
			return nil, nil, ErrUnencodable
		}
		applied, _ = json.Marshal(a)
		return out, applied, nil
	}
	if cfg.Mapping != nil {
		if canonical, applied, err = apply(cfg.Mapping, payload); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if cfg.Canonical != nil {
		if _, err := cfg.Canonical.ValidateJSON(canonical); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	delivery = canonical
	if cfg.Delivery != nil {
		if delivery, _, err = apply(cfg.Delivery, canonical); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if len(delivery) > cfg.MaxBytes {
		return nil, nil, nil, nil, ErrTooLarge
	}
	return payloadIn, canonical, delivery, applied, nil
}

func legacyDepth(p []byte) int {
	depth, maxDepth, inStr, esc := 0, 0, false, false
	for _, c := range p {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return maxDepth
}

func TestWorkItemExact(t *testing.T) {
	t.Parallel()
	w := loadWorkload(t)
	res, err := w.pipeline(t).Run(t.Context(), w.event)
	require.NoError(t, err)
	assert.Equal(t, string(bytes.TrimSuffix(w.expected, []byte("\n"))), string(res.Canonical))
	assert.Equal(t, string(res.Canonical), string(res.Delivery))
	var cb bytes.Buffer
	require.NoError(t, json.Compact(&cb, w.event))
	assert.Equal(t, cb.String(), string(res.PayloadIn))
	want, err := json.Marshal(res.Record)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(res.Applied))
	assert.Equal(t, "github-issue-to-work-item", res.Record.Name)
	assert.Len(t, res.Record.Fields, 14)
}

// edit decodes the shared event, changes it and encodes it again.
func edit(t *testing.T, event []byte, f func(ev, issue map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	d := json.NewDecoder(bytes.NewReader(event))
	d.UseNumber()
	require.NoError(t, d.Decode(&ev))
	f(ev, ev["issue"].(map[string]any))
	b, err := json.MarshalIndent(ev, "", "\t")
	require.NoError(t, err)
	return b
}

// TestAgreesWithLegacy: on variants of the event (and broken ones), the pipeline produces
// the bytes the hub produced before, or fails at the same point.
func TestAgreesWithLegacy(t *testing.T) {
	t.Parallel()
	w := loadWorkload(t)
	delivRules, err := transform.Parse([]byte(`{"text": "title + ' (' + priority + ')'", "n": "comment_count * 2", "big": "comment_count", "meta.labels": "labels", "meta.id": "id"}`))
	require.NoError(t, err)
	deliv, err := transform.Compile(delivRules)
	require.NoError(t, err)
	inputSchema := []byte(`{"type":"object","required":["issue","repository"],"properties":{"action":{"enum":["opened","closed","edited"]}}}`)
	reg := contract.NewRegistry(contract.WithLimits(contract.Limits{MaxBytes: maxBytes, MaxDepth: maxDepth}))
	input, err := reg.Register(t.Context(), contract.Contract{Name: "gh-issue-event", Version: "1.0.0", Schema: inputSchema})
	require.NoError(t, err)
	identity, err := transform.Compile(transform.Rules{Fields: []transform.Field{{Target: "x", Expr: "1.5e300 * 1e10"}}})
	require.NoError(t, err)

	configs := map[string]Config{
		"mapping+canonical":          {Mapping: w.prog, Canonical: w.canon},
		"input+mapping+canon+deliv":  {Input: input, Mapping: w.prog, Canonical: w.canon, Delivery: deliv},
		"no mapping":                 {},
		"no mapping, canonical only": {Canonical: w.canon},
		"delivery only":              {Delivery: deliv},
		"overflow":                   {Mapping: identity},
	}
	payloads := map[string][]byte{
		"shared":           w.event,
		"compact":          mustCompact(t, w.event),
		"closed":           edit(t, w.event, func(_, i map[string]any) { i["state"] = "closed" }),
		"null body":        edit(t, w.event, func(_, i map[string]any) { i["body"] = nil }),
		"null milestone":   edit(t, w.event, func(_, i map[string]any) { i["milestone"] = nil }),
		"no assignees":     edit(t, w.event, func(_, i map[string]any) { i["assignees"] = []any{} }),
		"no labels":        edit(t, w.event, func(_, i map[string]any) { i["labels"] = []any{} }),
		"big number":       edit(t, w.event, func(_, i map[string]any) { i["comments"] = json.Number("12345678901234567890123") }),
		"html and unicode": edit(t, w.event, func(_, i map[string]any) { i["title"] = "<b>&\u2028 é \U0001F600</b>" }),
		"escapes":          []byte(`{"issue":{"title":"a\"b\\c\u00e9\ud83d\ude00","number":1,"labels":[],"assignees":[],"user":{"login":"x"},"state":"open"},"repository":{"full_name":"a/b"}}`),
		"empty title":      edit(t, w.event, func(_, i map[string]any) { i["title"] = "" }),
		"bad action":       edit(t, w.event, func(ev, _ map[string]any) { ev["action"] = "deleted" }),
		"no issue":         []byte(`{"action":"opened"}`),
		"labels not list":  edit(t, w.event, func(_, i map[string]any) { i["labels"] = "x" }),
		"array":            []byte(` [1, 2] `),
		"string":           []byte(`"hello"`),
		"null":             []byte(`null`),
		"empty":            []byte("  \n"),
		"truncated":        w.event[:len(w.event)/2],
		"trailing":         append(append([]byte{}, w.event...), []byte(" {}")...),
		"too deep":         []byte(`{"issue":` + nest(70) + `}`),
		"too deep and bad": []byte(`{"issue":` + nest(70) + `,}`),
		"dup keys":         []byte(`{"issue":{"number":1,"number":2,"title":"t","labels":[],"assignees":[],"user":{"login":"x"},"state":"open"},"repository":{"full_name":"a/b"}}`),
	}
	for cname, cfg := range configs {
		cfg.MaxBytes, cfg.MaxDepth = maxBytes, maxDepth
		p, err := New(cfg)
		require.NoError(t, err)
		for pname, payload := range payloads {
			t.Run(cname+"/"+pname, func(t *testing.T) {
				t.Parallel()
				wantIn, wantCanon, wantDeliv, wantApplied, wantErr := legacy(t.Context(), cfg, payload)
				res, err := p.Run(t.Context(), payload)
				if wantErr != nil {
					require.Error(t, err, "legacy failed with %v", wantErr)
					var pe *Error
					require.ErrorAs(t, err, &pe)
					switch {
					case errors.Is(wantErr, ErrEmpty), errors.Is(wantErr, ErrTooLarge), errors.Is(wantErr, ErrMalformed), errors.Is(wantErr, ErrTooDeep),
						errors.Is(wantErr, ErrNotObject), errors.Is(wantErr, ErrUnencodable):
						assert.ErrorIs(t, err, wantErr)
					default:
						// contract and transform failures: the same error value
						assert.Equal(t, wantErr.Error(), pe.Err.Error())
					}
					return
				}
				require.NoError(t, err)
				assert.Equal(t, string(wantIn), string(res.PayloadIn), "payload_in")
				assert.Equal(t, string(wantCanon), string(res.Canonical), "canonical")
				assert.Equal(t, string(wantDeliv), string(res.Delivery), "delivery")
				if wantApplied == nil {
					assert.Nil(t, res.Applied)
				} else {
					// duration_ns differs run to run: compare the rest
					var a, b map[string]any
					require.NoError(t, json.Unmarshal(wantApplied, &a))
					require.NoError(t, json.Unmarshal(res.Applied, &b))
					delete(a, "duration_ns")
					delete(b, "duration_ns")
					assert.Equal(t, a, b)
				}
			})
		}
	}
}

func nest(n int) string {
	var b bytes.Buffer
	for range n {
		b.WriteString(`{"a":`)
	}
	b.WriteString("1")
	for range n {
		b.WriteString("}")
	}
	return b.String()
}

func mustCompact(t *testing.T, b []byte) []byte {
	t.Helper()
	var cb bytes.Buffer
	require.NoError(t, json.Compact(&cb, b))
	return cb.Bytes()
}

func TestErrors(t *testing.T) {
	t.Parallel()
	w := loadWorkload(t)
	p := w.pipeline(t)
	tests := []struct {
		name    string
		payload string
		stage   Stage
		kind    error
		is      error
	}{
		{"empty", "", StagePayload, ErrEmpty, nil},
		{"spaces", " \t\n", StagePayload, ErrEmpty, nil},
		{"malformed", `{"issue":`, StagePayload, ErrMalformed, nil},
		{"invalid utf-8", "{\"issue\":{\"title\":\"\xff\"}}", StagePayload, ErrMalformed, nil},
		{"invalid utf-8 where not read", "{\"sender\":{\"bio\":\"\xc3\x28\"}}", StagePayload, ErrMalformed, nil},
		{"too deep", `{"x":` + nest(64) + `}`, StagePayload, ErrTooDeep, nil},
		{"array", `[]`, StageMapping, ErrNotObject, nil},
		{"mapping fails", `{"issue":{"labels":"x","assignees":[],"number":1},"repository":{"full_name":"a/b"}}`, StageMapping, nil, transform.ErrEval},
		{"contract", `{"issue":{"labels":[],"assignees":[],"number":1,"title":"","user":{"login":"x"},"state":"open"},"repository":{"full_name":"a/b"}}`, StageCanonical, nil, contract.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := p.Run(t.Context(), []byte(tc.payload))
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.stage, pe.Stage)
			if tc.kind != nil {
				assert.ErrorIs(t, err, tc.kind)
			}
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.NotEmpty(t, err.Error())
		})
	}

	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		small, err := New(Config{MaxBytes: 100, Mapping: w.prog})
		require.NoError(t, err)
		_, err = small.Run(t.Context(), w.event)
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.ErrorIs(t, err, ErrTooLarge)
		assert.Equal(t, len(w.event), pe.Size)
		assert.Equal(t, 100, pe.Limit)
		assert.Contains(t, err.Error(), "100-byte limit")
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := p.Run(ctx, w.event)
		require.ErrorIs(t, err, context.Canceled)
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, StageMapping, pe.Stage)
	})
}

func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	w := loadWorkload(t)
	p := w.pipeline(t)
	want := string(bytes.TrimSpace(w.expected))
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for range 50 {
				res, err := p.Run(context.Background(), w.event)
				if err == nil && string(res.Canonical) != want {
					err = fmt.Errorf("goroutine %d: output differs", g)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

func TestAppendCompact(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{}`, ` { "a" : [ 1 , 2 ] , "b":"x y\t" } `, `"a\"b \\" `, `["\\\\", " \\\" ", 1e5]`,
		"{\n\t\"k\": \"v\\\\\",\n\t\"n\": null\n}\n", `"unterminated`,
	} {
		var want bytes.Buffer
		if json.Compact(&want, []byte(in)) != nil {
			// not well-formed: only check it does not panic
			_ = appendCompact(nil, []byte(in))
			continue
		}
		assert.Equal(t, want.String(), string(appendCompact(nil, []byte(in))), "%q", in)
	}
}

func FuzzAppendCompact(f *testing.F) {
	f.Add([]byte(`{"a": [1, "b \" c", {"d" : null}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var want bytes.Buffer
		got := appendCompact(nil, in)
		if json.Compact(&want, in) == nil {
			assert.Equal(t, want.String(), string(got))
		}
	})
}

func TestCheckPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		kind    error
	}{
		{"object", `{"a":1}`, nil},
		{"array", `[1]`, nil},
		{"empty", ` `, ErrEmpty},
		{"too large", `{"a":"` + string(bytes.Repeat([]byte("x"), 100)) + `"}`, ErrTooLarge},
		{"malformed", `{"a":`, ErrMalformed},
		{"too deep", nest(5), ErrTooDeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckPayload([]byte(tc.payload), 64, 4)
			if tc.kind == nil {
				require.NoError(t, err)
				return
			}
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, StagePayload, pe.Stage)
			assert.ErrorIs(t, err, tc.kind)
		})
	}
}

func TestCheckPayloadAllocatesNothing(t *testing.T) { //nolint:paralleltest // AllocsPerRun
	payload := []byte(`{"a":[1,2,{"b":"c"}]}`)
	assert.Zero(t, testing.AllocsPerRun(10, func() { _ = CheckPayload(payload, 0, 0) }))
}
