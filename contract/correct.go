package contract

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Rule names a correction rule.
type Rule string

// Correction rules. Each applies only where the violated schema makes the intended value
// unambiguous; a value with two plausible readings is left alone.
const (
	// RuleTrimSpace removes leading and trailing white space from a string that violates
	// its schema.
	RuleTrimSpace Rule = "trim-space"
	// RuleNumericString turns a numeric string into a number where only numbers (or only
	// integers, for whole numbers) are allowed; the number keeps its exact text.
	RuleNumericString Rule = "numeric-string"
	// RuleBooleanString turns "true"/"false" (any case) into a boolean where booleans are
	// expected.
	RuleBooleanString Rule = "boolean-string"
	// RuleEnumCase replaces a string that equals exactly one enum value ignoring case.
	RuleEnumCase Rule = "enum-case"
	// RuleDateTimeLayout rewrites a date-time given as 2006-01-02 (midnight UTC), RFC 1123
	// with GMT/UTC or a numeric offset, or Unix seconds (number or digits, up to 10
	// digits) as RFC 3339 in UTC.
	RuleDateTimeLayout Rule = "date-time-layout"
	// RuleWrapArray wraps a single value in an array where only an array is allowed.
	RuleWrapArray Rule = "wrap-in-array"
)

// Fix records one correction.
type Fix struct {
	// Path is the JSON Pointer of the corrected value.
	Path string `json:"path"`
	// Rule is the rule applied.
	Rule Rule `json:"rule"`
	// Before and After are the value as received and as corrected.
	Before any `json:"before"`
	After  any `json:"after"`
}

// Correction is the outcome of [Compiled.Correct].
type Correction struct {
	// Value is the corrected document (the input document itself when nothing changed;
	// otherwise a corrected copy — the input is never modified).
	Value any `json:"value"`
	// Fixes lists every correction applied, in order.
	Fixes []Fix `json:"fixes,omitempty"`
	// Result is the validation of Value.
	Result *Result `json:"result"`
}

const maxCorrectionRounds = 4

// Correct validates v and, where it violates the contract in a way the schema makes
// unambiguous, corrects it (see the Rule constants), then validates the corrected copy
// again. Violations inside anyOf/oneOf alternatives are never corrected: which alternative
// was meant is a guess.
//
// It returns the correction (with the final Result) and, if the corrected value still
// violates the contract, a *ValidationError (ErrInvalid) for the remaining violations.
// Input errors are as for Validate. v is never modified. Safe for concurrent use.
func (c *Compiled) Correct(v any) (*Correction, error) {
	doc, err := prepare(v, c.limits)
	if err != nil {
		return nil, err
	}
	res, verr := c.validate(doc)
	if res == nil {
		return nil, verr
	}
	corr := &Correction{Value: doc, Result: res}
	if res.Valid {
		return corr, nil
	}
	work := deepCopy(doc)
	for round := 0; round < maxCorrectionRounds && !res.Valid; round++ {
		fixed := map[string]bool{}
		n := len(corr.Fixes)
		for _, viol := range res.Violations {
			if fixed[viol.InstancePath] {
				continue
			}
			sch := c.parentSchema(viol.SchemaLocation)
			if sch == nil {
				continue
			}
			before := lookup(work, viol.InstancePath)
			after, rule, ok := fixValue(before, viol.Keyword, sch)
			if !ok {
				continue
			}
			work = setAt(work, viol.InstancePath, after)
			fixed[viol.InstancePath] = true
			corr.Fixes = append(corr.Fixes, Fix{Path: viol.InstancePath, Rule: rule, Before: before, After: after})
		}
		if len(corr.Fixes) == n {
			break
		}
		res, verr = c.validate(work)
		if res == nil {
			return nil, verr
		}
		corr.Value, corr.Result = work, res
	}
	if !corr.Result.Valid {
		return corr, &ValidationError{Contract: c.c.Name, Version: c.c.Version, Violations: corr.Result.Violations}
	}
	return corr, nil
}

// fixValue proposes the corrected value for a violation of keyword kw in schema sch.
func fixValue(v any, kw string, sch *jsonschema.Schema) (any, Rule, bool) {
	if s, ok := v.(string); ok && s != strings.TrimSpace(s) {
		switch kw {
		case "type", "enum", "const", "format", "pattern", "minLength", "maxLength":
			return strings.TrimSpace(s), RuleTrimSpace, true
		}
	}
	switch kw {
	case "type":
		return fixType(v, sch)
	case "enum":
		s, ok := v.(string)
		if !ok {
			return nil, "", false
		}
		var match any
		n := 0
		for _, e := range sch.Enum {
			if es, ok := e.(string); ok && strings.EqualFold(es, s) {
				match = es
				n++
			}
		}
		if n == 1 {
			return match, RuleEnumCase, true
		}
	case "format":
		if sch.Format == "date-time" {
			if s, ok := v.(string); ok {
				if out, ok := parseDateTimeLayouts(s); ok {
					return out, RuleDateTimeLayout, true
				}
			}
		}
	}
	return nil, "", false
}

func allows(types []string, t string) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// fixType handles a "type" violation; it applies a rule only when exactly one reading fits.
func fixType(v any, sch *jsonschema.Schema) (any, Rule, bool) {
	types := sch.Types
	type reading struct {
		v    any
		rule Rule
	}
	var rs []reading
	switch t := v.(type) {
	case string:
		if allows(types, "number") || allows(types, "integer") {
			if validNumber(t) == numberOK {
				r, _ := new(big.Rat).SetString(t)
				if allows(types, "number") || r.IsInt() {
					rs = append(rs, reading{json.Number(t), RuleNumericString})
				}
			}
		}
		if allows(types, "boolean") && (strings.EqualFold(t, "true") || strings.EqualFold(t, "false")) {
			rs = append(rs, reading{strings.EqualFold(t, "true"), RuleBooleanString})
		}
	case json.Number, float64, float32, int, int8, int32, int64, uint, uint8, uint32, uint64:
		if allows(types, "string") && sch.Format == "date-time" {
			if out, ok := unixSeconds(jsonNumberText(t)); ok {
				rs = append(rs, reading{out, RuleDateTimeLayout})
			}
		}
	}
	if allows(types, "array") {
		if _, isArr := v.([]any); !isArr {
			rs = append(rs, reading{[]any{v}, RuleWrapArray})
		}
	}
	if len(rs) != 1 {
		return nil, "", false
	}
	return rs[0].v, rs[0].rule, true
}

func jsonNumberText(v any) string {
	switch t := v.(type) {
	case json.Number:
		return string(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// unixSeconds reads up to 10 digits as Unix seconds (longer values could be milliseconds).
func unixSeconds(s string) (string, bool) {
	if s == "" || len(s) > 10 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", false
	}
	return time.Unix(n, 0).UTC().Format(time.RFC3339), true
}

// parseDateTimeLayouts reads the common layouts the date-time rule accepts.
func parseDateTimeLayouts(s string) (string, bool) {
	if out, ok := unixSeconds(s); ok {
		return out, true
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC().Format(time.RFC3339), true
	}
	if t, err := time.Parse(time.RFC1123Z, s); err == nil {
		return t.UTC().Format(time.RFC3339), true
	}
	// RFC 1123 with a zone name: only GMT and UTC are unambiguous.
	if strings.HasSuffix(s, " GMT") || strings.HasSuffix(s, " UTC") {
		if t, err := time.Parse(time.RFC1123, s); err == nil {
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC).Format(time.RFC3339Nano), true
		}
	}
	return "", false
}

// deepCopy copies the maps and slices of a document; scalars are shared.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// setAt replaces the value at ptr in doc (which must exist) and returns the document.
func setAt(doc any, ptr string, val any) any {
	if ptr == "" {
		return val
	}
	parentPtr, tok := lastToken(ptr)
	switch p := lookup(doc, parentPtr).(type) {
	case map[string]any:
		p[tok] = val
	case []any:
		if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(p) {
			p[i] = val
		}
	}
	return doc
}
