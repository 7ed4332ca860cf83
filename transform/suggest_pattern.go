package transform

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// patternPart is one piece of a target pattern: literal text, a choice of literals, or a
// slot some source value must fill.
type patternPart struct {
	literal string
	choices []string
	re      string // slot regexp
}

// patternParts splits an anchored pattern that is a concatenation into parts; ok is
// false for shapes it does not model.
func patternParts(pattern string) ([]patternPart, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, false
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat {
		return nil, false
	}
	subs := re.Sub
	if len(subs) > 0 && (subs[0].Op == syntax.OpBeginText || subs[0].Op == syntax.OpBeginLine) {
		subs = subs[1:]
	} else {
		return nil, false
	}
	if n := len(subs); n > 0 && (subs[n-1].Op == syntax.OpEndText || subs[n-1].Op == syntax.OpEndLine) {
		subs = subs[:n-1]
	} else {
		return nil, false
	}
	var parts []patternPart
	for _, s := range subs {
		if s.Op == syntax.OpCapture {
			s = s.Sub[0]
		}
		switch s.Op {
		case syntax.OpLiteral:
			parts = append(parts, patternPart{literal: string(s.Rune)})
		case syntax.OpAlternate:
			if ch, ok := finiteStrings(s, 64); ok {
				parts = append(parts, patternPart{choices: ch})
			} else {
				parts = append(parts, patternPart{re: s.String()})
			}
		default:
			parts = append(parts, patternPart{re: s.String()})
		}
	}
	return parts, true
}

// finiteStrings lists the strings a literal/concat/alternate regexp matches, up to max.
func finiteStrings(re *syntax.Regexp, max int) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpCapture:
		return finiteStrings(re.Sub[0], max)
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			ss, ok := finiteStrings(s, max)
			if !ok || len(out)+len(ss) > max {
				return nil, false
			}
			out = append(out, ss...)
		}
		return out, true
	case syntax.OpConcat:
		out := []string{""}
		for _, s := range re.Sub {
			ss, ok := finiteStrings(s, max)
			if !ok || len(out)*len(ss) > max {
				return nil, false
			}
			var next []string
			for _, a := range out {
				for _, b := range ss {
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

func isQuoted(e string) bool {
	return len(e) >= 2 && e[0] == '\'' && e[len(e)-1] == '\'' && !strings.Contains(e[1:len(e)-1], "'")
}

// humanNumberNames rank the members a number slot prefers: the human-facing number of a
// record (#1347) before database ids.
var humanNumberNames = []string{"number", "num", "no", "iid", "key", "id"}

// compositeCandidate builds a target that no single source matches from several sources
// and literals, when the target's pattern is a concatenation: every slot (a run of
// pattern parts, possibly spanning literals such as the / of owner/repo) is filled by a
// sample value that matches it exactly, and every choice of literals by a sample value
// or a constant found in the sample. The result must match the whole pattern.
func compositeCandidate(t *targetField, sources []*sourceField, sample map[string]any, primary string) (scored, bool) {
	if t.pattern == nil || !hasType(t, "string") {
		return scored{}, false
	}
	parts, ok := patternParts(t.pattern.String())
	if !ok {
		return scored{}, false
	}
	var exprs, reasons []string
	var built strings.Builder
	main := ""
	used := map[string]bool{}
	for i := 0; i < len(parts); {
		p := parts[i]
		switch {
		case p.literal != "":
			exprs = append(exprs, quote(p.literal))
			built.WriteString(p.literal)
			i++
		case p.choices != nil:
			c, why := chooseConstant(p.choices, sources, sample)
			if c == "" {
				return scored{}, false
			}
			exprs = append(exprs, quote(c))
			built.WriteString(c)
			reasons = append(reasons, why)
			i++
		default:
			// The longest run of parts from i that one sample value fills.
			found := false
			for j := len(parts); j > i; j-- {
				if parts[j-1].literal != "" || parts[j-1].choices != nil {
					continue
				}
				var re strings.Builder
				re.WriteString("^(?:")
				simple, inner := true, false
				for _, q := range parts[i:j] {
					switch {
					case q.literal != "":
						inner = true
						re.WriteString(regexp.QuoteMeta(q.literal))
					case q.choices != nil:
						simple = false
					default:
						re.WriteString(q.re)
					}
				}
				re.WriteString(")$")
				if !simple {
					continue
				}
				rx, err := regexp.Compile(re.String())
				if err != nil || !inner && rx.MatchString("abc") {
					// A bare word slot fits almost any value: no evidence.
					continue
				}
				if s, val := fillSlot(rx, sources, primary, used); s != nil {
					used[s.path] = true
					if main == "" {
						main = s.path
					}
					e := s.expr
					if _, isStr := s.value.(string); !isStr {
						e = "string(" + e + ")"
					}
					exprs = append(exprs, e)
					built.WriteString(val)
					reasons = append(reasons, fmt.Sprintf("%s fills %s", s.path, strings.TrimSuffix(strings.TrimPrefix(re.String(), "^(?:"), ")$")))
					i, found = j, true
					break
				}
			}
			if !found {
				return scored{}, false
			}
		}
	}
	if !t.pattern.MatchString(built.String()) {
		return scored{}, false
	}
	// Join adjacent literals: 'github' + ':' is 'github:'.
	var merged []string
	for _, e := range exprs {
		if n := len(merged); n > 0 && isQuoted(merged[n-1]) && isQuoted(e) {
			merged[n-1] = merged[n-1][:len(merged[n-1])-1] + e[1:]
			continue
		}
		merged = append(merged, e)
	}
	exprs = merged
	return scored{
		src:   &sourceField{path: main},
		score: 1.0,
		expr:  strings.Join(exprs, " + "),
		reasons: append([]string{fmt.Sprintf("no single field matches the target pattern; composed %q from %d parts", built.String(), len(exprs))},
			reasons...),
	}, true
}

// fillSlot picks the sample value that matches rx and no other slot took: members of the
// primary object first, then shallower paths, then human-facing numbers (number before
// id).
func fillSlot(rx *regexp.Regexp, sources []*sourceField, primary string, used map[string]bool) (*sourceField, string) {
	var best *sourceField
	var bestVal string
	bestRank := 1 << 30
	for _, s := range sources {
		if s.project || s.arrayVal || used[s.path] {
			continue
		}
		val, ok := keyString(s.value)
		if !ok || val == "" || !rx.MatchString(val) {
			continue
		}
		rank := s.depth * 10
		if primary != "" && parentPath(s) != primary {
			rank += 100
		}
		if _, isStr := s.value.(string); !isStr {
			leaf := normName(s.segs[len(s.segs)-1])
			idx := slices.Index(humanNumberNames, leaf)
			if idx < 0 {
				idx = len(humanNumberNames)
			}
			rank += idx
		}
		if rank < bestRank || rank == bestRank && s.path < best.path {
			best, bestVal, bestRank = s, val, rank
		}
	}
	return best, bestVal
}

// chooseConstant picks one of the literal choices: the most frequent one appearing in the
// sample's strings.
func chooseConstant(choices []string, sources []*sourceField, sample map[string]any) (string, string) {
	counts := map[string]int{}
	for _, s := range sources {
		str, ok := s.value.(string)
		if !ok || s.project {
			continue
		}
		ls := strings.ToLower(str)
		for _, c := range choices {
			if len(c) >= 3 && strings.Contains(ls, strings.ToLower(c)) {
				counts[c]++
			}
		}
	}
	best, n := "", 0
	for _, c := range choices {
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	if best == "" {
		return "", ""
	}
	return best, fmt.Sprintf("%q of the pattern's choices appears in %d sample values", best, n)
}
