package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
	"github.com/google/uuid"
)

var (
	timeZero     time.Time
	durationZero time.Duration
)

// limitError is a helper refusing to build a value over a limit.
type limitError struct {
	what     string
	size     int
	limit    int
	function string
}

func (e *limitError) Error() string {
	return fmt.Sprintf("%s would build a %s of %d, over the limit of %d", e.function, e.what, e.size, e.limit)
}

// Is makes a limitError match ErrMemoryLimit.
func (e *limitError) Is(target error) bool { return target == ErrMemoryLimit }

// helperNames are the functions helpers registers.
var helperNames = map[string]bool{
	fnAdd: true, fnNum: true, fnGet: true, "coalesce": true, "lookup": true, "parseDate": true,
	"uuid5": true, "sha256": true, "path": true, "toNumber": true,
}

type helper struct {
	name  string
	fn    func(args ...any) (any, error)
	types []any
}

// helpers are the functions every expression can call, bound to one Rules' limits and
// lookup tables. Each is stateless and safe for concurrent use.
func helpers(c *config, tables map[string]map[string]any) []helper {
	maxStr := c.maxStringBytes
	return []helper{
		{fnAdd, addFunc(maxStr), nil},
		{fnNum, func(args ...any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%s: want 1 argument", fnNum)
			}
			return num(args[0]), nil
		}, nil},
		{fnGet, get, nil},
		{"coalesce", coalesce, []any{new(func(...any) any)}},
		{"lookup", lookupFunc(tables), []any{new(func(any, any) any), new(func(any, any, any) any)}},
		{"parseDate", parseDate, []any{new(func(any, ...string) any)}},
		{"uuid5", uuid5, []any{new(func(string, any) string)}},
		{"sha256", sha256Hex, []any{new(func(any) string)}},
		{"path", pathFunc, []any{new(func(any, string) any), new(func(any, string, any) any)}},
		{"toNumber", toNumber, []any{new(func(any) any)}},
	}
}

// limitedBuiltins overrides expr builtins that can grow a value geometrically inside one
// expression (replace(s, "a", s), concat(a, a), ...) with versions that refuse results
// over the string limit (strings) or the memory budget (arrays).
func limitedBuiltins(c *config) expr.Option {
	return func(cfg *conf.Config) {
		for _, name := range []string{"replace", "join", "concat", "flatten", "toJSON"} {
			idx, ok := builtin.Index[name]
			if !ok {
				continue
			}
			orig := builtin.Builtins[idx]
			if orig.Func == nil {
				continue
			}
			f := *orig
			inner := orig.Func
			fname := name
			f.Func = func(args ...any) (any, error) {
				out, err := inner(args...)
				if err != nil {
					return nil, err
				}
				switch v := out.(type) {
				case string:
					if len(v) > c.maxStringBytes {
						return nil, &limitError{what: "string", size: len(v), limit: c.maxStringBytes, function: fname}
					}
				case []any:
					if uint(len(v)) > c.memoryBudget {
						return nil, &limitError{what: "array", size: len(v), limit: int(c.memoryBudget), function: fname}
					}
				}
				return out, nil
			}
			cfg.Functions[name] = &f
		}
	}
}

// addFunc is +: strings are concatenated in one allocation under maxStr; other operands
// are added pairwise left to right as expr does, after json.Number conversion.
func addFunc(maxStr int) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		n := 0
		for _, a := range args {
			s, ok := a.(string)
			if !ok {
				return addGeneral(maxStr, args)
			}
			n += len(s)
		}
		if n > maxStr {
			return nil, &limitError{what: "string", size: n, limit: maxStr, function: "+"}
		}
		var b strings.Builder
		b.Grow(n)
		for _, a := range args {
			b.WriteString(a.(string))
		}
		return b.String(), nil
	}
}

func addGeneral(maxStr int, args []any) (any, error) {
	if len(args) == 0 {
		return nil, nil
	}
	acc := num(args[0])
	for _, b := range args[1:] {
		if s1, ok := acc.(string); ok {
			if s2, ok := b.(string); ok && len(s1)+len(s2) > maxStr {
				return nil, &limitError{what: "string", size: len(s1) + len(s2), limit: maxStr, function: "+"}
			}
		}
		acc = runtime.Add(acc, num(b))
	}
	return acc, nil
}

// num converts a json.Number to int (when integral and in range) or float64; a []any
// holding json.Numbers is copied with them converted. Other values are returned as is.
func num(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return f
		}
		return v
	case []any:
		for i, e := range x {
			if _, ok := e.(json.Number); ok {
				out := make([]any, len(x))
				copy(out, x[:i])
				for j := i; j < len(x); j++ {
					out[j] = num(x[j])
				}
				return out
			}
		}
	}
	return v
}

// getFast and numFast are get and num with signatures the VM calls without an argument
// slice; they panic on error, which the VM turns into the field's error.
var (
	getFast = func(obj, key any) any {
		v, err := get(obj, key)
		if err != nil {
			panic(err)
		}
		return v
	}
	numFast = func(v any) any { return num(v) }
)

// chainNil marks a short-circuited optional chain while it climbs the chain's spine.
var chainNil = &struct{ _ byte }{}

var (
	// getOptFast is a?.b inside a rewritten chain.
	getOptFast = func(obj, key any) any {
		if obj == nil || obj == any(chainNil) {
			return chainNil
		}
		return getFast(obj, key)
	}
	// getChainFast is a plain a.b above a ?. in a rewritten chain.
	getChainFast = func(obj, key any) any {
		if obj == any(chainNil) {
			return chainNil
		}
		return getFast(obj, key)
	}
	// unchainFast ends a rewritten chain.
	unchainFast = func(v any) any {
		if v == any(chainNil) {
			return nil
		}
		return v
	}
)

// add2Func is a + b for addFunc's rules, with a signature the VM calls directly.
func add2Func(maxStr int) func(a, b any) any {
	return func(a, b any) any {
		if s1, ok := a.(string); ok {
			if s2, ok := b.(string); ok {
				if len(s1)+len(s2) > maxStr {
					panic(&limitError{what: "string", size: len(s1) + len(s2), limit: maxStr, function: "+"})
				}
				return s1 + s2
			}
		}
		v, err := addGeneral(maxStr, []any{a, b})
		if err != nil {
			panic(err)
		}
		return v
	}
}

// stringFunc is expr's string() without fmt for strings and json.Number (exact and
// allocation-free), under the string limit for everything else.
func stringFunc(maxStr int) func(v any) any {
	fast := builtin.Builtins[builtin.Index["string"]].Fast
	return func(v any) any {
		switch x := v.(type) {
		case string:
			return x
		case json.Number:
			return string(x)
		}
		out := fast(v)
		if s, ok := out.(string); ok && len(s) > maxStr {
			panic(&limitError{what: "string", size: len(s), limit: maxStr, function: "string"})
		}
		return out
	}
}

// get is a.b: a map[string]any member without reflection, anything else as expr's
// fetch does it (a missing member of a map is nil; a member of nil is an error).
func get(args ...any) (any, error) {
	key := args[1].(string)
	switch m := args[0].(type) {
	case map[string]any:
		return m[key], nil
	case nil:
		return nil, fmt.Errorf("cannot fetch %s from <nil>", key)
	}
	return runtime.Fetch(args[0], key), nil
}

// coalesce returns its first argument that is neither nil nor the empty string, else nil.
func coalesce(args ...any) (any, error) {
	for _, a := range args {
		if a == nil {
			continue
		}
		if s, ok := a.(string); ok && s == "" {
			continue
		}
		return a, nil
	}
	return nil, nil
}

// lookupFunc implements lookup(table, key[, default]): table is the name of one of the
// rules' tables or a map; the key is compared as a string.
func lookupFunc(tables map[string]map[string]any) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) < 2 || len(args) > 3 {
			return nil, fmt.Errorf("lookup: want (table, key[, default]), got %d arguments", len(args))
		}
		var table map[string]any
		switch t := args[0].(type) {
		case string:
			var ok bool
			if table, ok = tables[t]; !ok {
				return nil, fmt.Errorf("lookup: no table %q", t)
			}
		case map[string]any:
			table = t
		default:
			return nil, fmt.Errorf("lookup: table must be a table name or a map, not %T", args[0])
		}
		if k, ok := keyString(args[1]); ok {
			if v, found := table[k]; found {
				return deepCopy(v), nil // tables stay private to the Program
			}
		}
		if len(args) == 3 {
			return args[2], nil
		}
		return nil, nil
	}
}

// keyString renders scalars as lookup keys and hash input: strings as they are, numbers
// in their shortest exact form, booleans as true/false.
func keyString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// Named layouts parseDate understands besides Go reference layouts.
var namedLayouts = map[string]string{
	"RFC3339": time.RFC3339Nano, "RFC3339Nano": time.RFC3339Nano, "RFC1123": time.RFC1123,
	"RFC1123Z": time.RFC1123Z, "RFC822": time.RFC822, "RFC822Z": time.RFC822Z, "RFC850": time.RFC850,
	"ANSIC": time.ANSIC, "UnixDate": time.UnixDate, "DateTime": time.DateTime, "DateOnly": time.DateOnly,
}

// defaultLayouts are tried, in order, when parseDate gets no layout.
var defaultLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", time.DateTime, time.DateOnly,
	time.RFC1123Z, time.RFC1123, time.RFC850, time.ANSIC, time.UnixDate,
}

// parseDate implements parseDate(value, layouts...): the value parsed with the first
// layout that fits, as an RFC 3339 string in UTC. nil and "" give nil. Numbers (and the
// layouts "unix" and "unix_ms") are Unix times in seconds (milliseconds).
func parseDate(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("parseDate: want (value, layouts...)")
	}
	layouts := make([]string, 0, len(args)-1)
	for _, a := range args[1:] {
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("parseDate: layout must be a string, not %T", a)
		}
		layouts = append(layouts, s)
	}
	var t time.Time
	switch v := args[0].(type) {
	case nil:
		return nil, nil
	case time.Time:
		t = v
	case string:
		if v == "" {
			return nil, nil
		}
		var err error
		if t, err = parseDateString(v, layouts); err != nil {
			return nil, err
		}
	case json.Number, int, int64, float64:
		ms := len(layouts) > 0 && layouts[0] == "unix_ms"
		f, ok := toFloat(v)
		if !ok {
			return nil, fmt.Errorf("parseDate: %v is not a Unix time", v)
		}
		t = unixTime(f, ms)
	default:
		return nil, fmt.Errorf("parseDate: cannot parse a %T", args[0])
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

func parseDateString(v string, layouts []string) (time.Time, error) {
	if len(layouts) == 0 {
		layouts = defaultLayouts
	}
	for _, l := range layouts {
		switch l {
		case "unix", "unix_ms":
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return unixTime(f, l == "unix_ms"), nil
			}
			continue
		}
		if nl, ok := namedLayouts[l]; ok {
			l = nl
		}
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("parseDate: %q matches none of the layouts %q", v, layouts)
}

func unixTime(f float64, ms bool) time.Time {
	if ms {
		return time.UnixMilli(int64(f)).Add(time.Duration((f - math.Trunc(f)) * float64(time.Millisecond)))
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

var uuidNamespaces = map[string]uuid.UUID{
	"dns": uuid.NameSpaceDNS, "url": uuid.NameSpaceURL, "oid": uuid.NameSpaceOID, "x500": uuid.NameSpaceX500,
}

// uuid5 implements uuid5(namespace, name): a name-based (SHA-1, version 5) UUID. The
// namespace is a UUID or one of dns, url, oid, x500; the name is rendered as sha256 does.
func uuid5(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("uuid5: want (namespace, name), got %d arguments", len(args))
	}
	nsName, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("uuid5: namespace must be a string, not %T", args[0])
	}
	ns, ok := uuidNamespaces[strings.ToLower(nsName)]
	if !ok {
		var err error
		if ns, err = uuid.Parse(nsName); err != nil {
			return nil, fmt.Errorf("uuid5: namespace %q is neither a UUID nor dns/url/oid/x500", nsName)
		}
	}
	data, err := hashInput("uuid5", args[1])
	if err != nil {
		return nil, err
	}
	return uuid.NewSHA1(ns, data).String(), nil
}

// sha256Hex implements sha256(value): the lowercase hex SHA-256 of a string, of a
// scalar's key form, or of the JSON encoding (sorted keys) of a map or array.
func sha256Hex(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("sha256: want 1 argument, got %d", len(args))
	}
	data, err := hashInput("sha256", args[0])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func hashInput(fn string, v any) ([]byte, error) {
	if s, ok := keyString(v); ok {
		return []byte(s), nil
	}
	if v == nil {
		return nil, fmt.Errorf("%s: value is nil", fn)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot encode %T: %w", fn, v, err)
	}
	return b, nil
}

// pathFunc implements path(value, "a.b[0].c"[, default]): safe access into nested maps
// and arrays. A missing key, an index out of range or a step into a scalar or nil yields
// the default (nil without one). Indexes may be written [n] or .n; negative ones count
// from the end.
func pathFunc(args ...any) (any, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Errorf("path: want (value, path[, default]), got %d arguments", len(args))
	}
	p, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("path: path must be a string, not %T", args[1])
	}
	var def any
	if len(args) == 3 {
		def = args[2]
	}
	cur := args[0]
	for p != "" {
		var seg string
		var index bool
		switch p[0] {
		case '.':
			p = p[1:]
			continue
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, fmt.Errorf("path: unclosed [ in %q", args[1])
			}
			seg, p, index = p[1:end], p[end+1:], true
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			seg, p = p[:end], p[end:]
		}
		switch c := cur.(type) {
		case map[string]any:
			if index {
				seg = strings.Trim(seg, `"'`)
			}
			v, found := c[seg]
			if !found {
				return def, nil
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil {
				return def, nil
			}
			if i < 0 {
				i += len(c)
			}
			if i < 0 || i >= len(c) {
				return def, nil
			}
			cur = c[i]
		default:
			return def, nil
		}
	}
	if cur == nil {
		return def, nil
	}
	return cur, nil
}

// toNumber implements toNumber(value): json.Number and numeric strings to int (when
// integral) or float64; numbers unchanged; nil stays nil.
func toNumber(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("toNumber: want 1 argument, got %d", len(args))
	}
	switch v := args[0].(type) {
	case nil, int, int64, float64, int32, float32, uint, uint64:
		return v, nil
	case json.Number:
		return num(v), nil
	case string:
		s := strings.TrimSpace(v)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i), nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
		return nil, fmt.Errorf("toNumber: %q is not a number", v)
	}
	return nil, fmt.Errorf("toNumber: cannot convert a %T", args[0])
}
