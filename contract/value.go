package contract

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// prepare checks that v is a document the validator can walk directly — built only of
// map[string]any, []any, string, bool, nil, json.Number and Go numbers — within the depth
// limit, with valid UTF-8 strings and finite numbers. Such a value is returned as is, with
// no copy: the common case costs one read-only pass. A value with any other Go type in it
// (structs, []string, map[string]string, named types, pointers, time.Time...) is converted
// once through encoding/json and the strict decoder, exactly as it would be serialised.
// Raw JSON ([]byte, json.RawMessage) at the top is decoded.
func prepare(v any, lim Limits) (any, error) {
	switch t := v.(type) {
	case json.RawMessage:
		return Decode(t, lim)
	case []byte:
		return Decode(t, lim)
	}
	w := walker{maxDepth: lim.maxDepth()}
	native, err := w.check(v, 0)
	if err != nil {
		return nil, err
	}
	if native {
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &InputError{Kind: ErrUnsupportedValue, Offset: -1, Detail: err.Error()}
	}
	out, err := Decode(b, Limits{MaxBytes: -1, MaxDepth: lim.MaxDepth})
	if ie, ok := err.(*InputError); ok {
		ie.Offset = -1
	}
	return out, err
}

type walker struct{ maxDepth int }

// check reports whether v is made only of natively supported types. It returns an error
// for problems conversion cannot fix (depth, bad UTF-8, NaN, malformed json.Number).
func (w *walker) check(v any, depth int) (bool, error) {
	switch t := v.(type) {
	case nil, bool, int, int8, int32, int64, uint, uint8, uint32, uint64:
		return true, nil
	case string:
		if !utf8.ValidString(t) {
			return false, &InputError{Kind: ErrInvalidUTF8, Offset: -1, Detail: "string is not valid UTF-8"}
		}
		return true, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return false, &InputError{Kind: ErrUnsupportedValue, Offset: -1, Detail: "number " + strconv.FormatFloat(t, 'g', -1, 64) + " has no JSON representation"}
		}
		return true, nil
	case float32:
		if math.IsNaN(float64(t)) || math.IsInf(float64(t), 0) {
			return false, &InputError{Kind: ErrUnsupportedValue, Offset: -1, Detail: "number has no JSON representation"}
		}
		return true, nil
	case json.Number:
		switch validNumber(string(t)) {
		case numberBad:
			return false, &InputError{Kind: ErrUnsupportedValue, Offset: -1, Detail: "json.Number " + strconv.Quote(string(t)) + " is not a JSON number"}
		case numberHuge:
			return false, &InputError{Kind: ErrTooLarge, Offset: -1, Detail: "number exponent beyond ±" + strconv.Itoa(MaxExponent)}
		}
		return true, nil
	case map[string]any:
		if depth++; depth > w.maxDepth {
			return false, &InputError{Kind: ErrTooDeep, Offset: -1, Detail: "nesting exceeds the limit of " + strconv.Itoa(w.maxDepth) + " (or the value contains a cycle)"}
		}
		native := true
		for k, e := range t {
			if !utf8.ValidString(k) {
				return false, &InputError{Kind: ErrInvalidUTF8, Offset: -1, Path: "/" + escapePointer(k), Detail: "object key is not valid UTF-8"}
			}
			ok, err := w.check(e, depth)
			if err != nil {
				return false, prefixPath(err, k)
			}
			native = native && ok
		}
		return native, nil
	case []any:
		if depth++; depth > w.maxDepth {
			return false, &InputError{Kind: ErrTooDeep, Offset: -1, Detail: "nesting exceeds the limit of " + strconv.Itoa(w.maxDepth) + " (or the value contains a cycle)"}
		}
		native := true
		for i, e := range t {
			ok, err := w.check(e, depth)
			if err != nil {
				return false, prefixPath(err, strconv.Itoa(i))
			}
			native = native && ok
		}
		return native, nil
	}
	return false, nil
}

const (
	numberOK = iota
	numberBad
	numberHuge
)

// validNumber reports whether s is a JSON number (RFC 8259 grammar) with an exponent
// within MaxExponent.
func validNumber(s string) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return numberBad
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return numberBad
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return numberBad
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return numberBad
		}
		if i == len(s) && exponentTooLarge(s[j:i]) {
			return numberHuge
		}
	}
	if i != len(s) {
		return numberBad
	}
	return numberOK
}
