package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Advisor proposes a mapping from a source sample to a target JSON Schema. Heuristic is
// the built-in implementation; a model-backed one can be plugged in behind the same
// interface. Implementations must be safe for concurrent use and honour ctx.
type Advisor interface {
	// Suggest returns one Suggestion per target leaf of the schema, in schema order.
	// sample is a decoded source document; targetSchema a JSON Schema of an object.
	// Errors: ErrInvalidSchema for an unreadable schema, the context's error.
	Suggest(ctx context.Context, sample map[string]any, targetSchema []byte) ([]Suggestion, error)
}

// Candidate is one proposed source for a target.
type Candidate struct {
	// Expr is the proposed expression ("" when nothing fits).
	Expr string `json:"expr"`
	// Source is the main source path the expression reads ("issue.user.login";
	// "issue.labels[].name" for a projection; "" for a constant).
	Source string `json:"source"`
	// Confidence is between 0 and 1.
	Confidence float64 `json:"confidence"`
	// Reason explains the score in words.
	Reason string `json:"reason"`
}

// Suggestion is the best candidate for one target path, with the runners-up.
type Suggestion struct {
	// Target is the dotted target path.
	Target string `json:"target"`
	Candidate
	// Alternatives are the next best candidates, best first (at most
	// Heuristic.Alternatives).
	Alternatives []Candidate `json:"alternatives,omitempty"`
}

// Heuristic is the explainable built-in Advisor. It scores every source path of the
// sample against every target field by name similarity across naming styles
// (snake_case, camelCase, kebab-case, plurals) and synonyms, type compatibility, value
// patterns (e-mail, URL, date-time, date, schema pattern, enum membership) and closeness
// to the object most targets come from, then builds an expression for the best one
// (projections with map() for arrays of objects, lookups for enum values named
// differently, constants for enum members that only appear inside other values).
//
// The zero value is ready to use; it is immutable and safe for concurrent use.
type Heuristic struct {
	// Synonyms adds groups of interchangeable field names to the built-in ones; each
	// group's names (in any naming style) are treated as synonyms of each other.
	Synonyms [][]string
	// Alternatives is how many runners-up each Suggestion keeps (default 3; negative for
	// none).
	Alternatives int
}

// Suggest proposes a mapping with the built-in Heuristic; see Advisor.Suggest.
func Suggest(ctx context.Context, sample map[string]any, targetSchema []byte) ([]Suggestion, error) {
	return Heuristic{}.Suggest(ctx, sample, targetSchema)
}

// RulesFromSuggestions turns suggestions into Rules, keeping those with an expression
// and a confidence of at least minConfidence.
func RulesFromSuggestions(name string, version int, s []Suggestion, minConfidence float64) Rules {
	r := Rules{Name: name, Version: version}
	for _, sg := range s {
		if sg.Expr != "" && sg.Confidence >= minConfidence {
			r.Fields = append(r.Fields, Field{Target: sg.Target, Expr: sg.Expr})
		}
	}
	return r
}

// builtinSynonyms are groups of field names that mean the same across services.
var builtinSynonyms = [][]string{
	{"description", "body", "details", "content", "text", "desc"},
	{"title", "subject", "summary", "headline"},
	{"status", "state", "stage"},
	{"priority", "severity", "urgency", "importance"},
	{"reporter", "user", "author", "creator", "submitter", "opened_by", "reported_by", "created_by", "requester"},
	{"assignees", "assignee", "assigned_to", "owners", "responsible"},
	{"url", "html_url", "link", "href", "web_url", "permalink", "browse_url", "self_url", "self"},
	{"created_at", "created", "creation_date", "created_on", "inserted_at", "date_created", "create_time", "opened_at"},
	{"updated_at", "updated", "modified", "modified_at", "last_modified", "updated_on", "update_time", "date_modified"},
	{"comment_count", "comments", "comments_count", "num_comments", "comment_total"},
	{"labels", "tags", "categories", "keywords", "topics"},
	{"milestone", "sprint", "iteration", "fix_version", "target_version"},
	{"email", "mail", "email_address", "e_mail"},
	{"phone", "telephone", "phone_number", "mobile", "tel"},
	{"first_name", "given_name", "firstname", "forename"},
	{"last_name", "family_name", "lastname", "surname"},
	{"amount", "total", "total_price", "price", "grand_total", "sum"},
	{"currency", "currency_code", "iso_currency"},
	{"customer", "client", "buyer", "purchaser", "account"},
	{"company", "organization", "organisation", "org", "employer"},
	{"city", "town", "locality"},
	{"postal_code", "zip", "zip_code", "postcode"},
	{"country", "country_code", "nation"},
	{"street", "address1", "address_line1", "line1"},
	{"name", "full_name", "display_name", "displayname"},
	{"id", "identifier", "key", "uid"},
	{"marketing_opt_in", "accepts_marketing", "marketing_consent", "newsletter", "opt_in"},
}

// identityLeaves are member names that identify or label the object they belong to; when
// a scalar target matches an object, these are the member to take.
var identityLeaves = map[string]float64{
	"login": 1, "username": 1, "name": 0.95, "display_name": 0.95, "title": 0.95, "key": 0.8,
	"email": 0.8, "label": 0.9, "value": 0.7, "slug": 0.7, "id": 0.5, "total": 0.9, "count": 0.9,
}

// valueSynonyms map common status vocabularies onto each other for enum targets.
var valueSynonyms = [][]string{
	{"todo", "to_do", "open", "opened", "new", "backlog", "pending", "created", "reopened"},
	{"in_progress", "doing", "active", "started", "wip", "in_review", "review"},
	{"done", "closed", "resolved", "completed", "complete", "finished", "merged", "fixed"},
	{"low", "minor", "trivial", "p3", "p4"},
	{"medium", "normal", "moderate", "p2"},
	{"high", "major", "important", "p1"},
	{"urgent", "critical", "blocker", "highest", "p0"},
}

// targetField is one leaf of the target schema.
type targetField struct {
	path     string
	name     string
	parents  []string
	types    []string
	format   string
	pattern  *regexp.Regexp
	enum     []string
	def      any
	items    *targetField
	required bool
}

// sourceField is one path of the sample.
type sourceField struct {
	path     string   // dotted path; "a.list[].name" for a projection
	segs     []string // path segments without "[]"
	expr     string
	value    any    // sample value (first element's for projections)
	values   []any  // for projections: every element's value
	project  bool   // built with map() over an array of objects
	arrExpr  string // for projections: the array's expression
	arrayVal bool
	depth    int
	nullable bool // some parent may be null (use ?.)
}

type scored struct {
	src     *sourceField
	score   float64
	expr    string
	reasons []string
}

// Suggest implements Advisor.
func (h Heuristic) Suggest(ctx context.Context, sample map[string]any, targetSchema []byte) ([]Suggestion, error) {
	targets, err := readSchema(targetSchema)
	if err != nil {
		return nil, err
	}
	syn := newSynonyms(append(slices.Clone(builtinSynonyms), h.Synonyms...))
	sources := flattenSample(sample)
	alts := h.Alternatives
	if alts == 0 {
		alts = 3
	}
	// Pass 1: the object that hosts most strong name matches is the primary entity.
	hosts := map[string]float64{}
	for _, t := range targets {
		if len(t.parents) > 0 {
			continue // nested target objects come from their own source objects
		}
		best, host := 0.0, ""
		for _, s := range sources {
			if n, _ := nameScore(t, s, syn); n > best {
				best, host = n, parentPath(s)
			}
		}
		if best >= 0.85 {
			hosts[host] += best
		}
	}
	primary, top := "", 0.0
	for hst, v := range hosts {
		if v > top || v == top && hst < primary {
			primary, top = hst, v
		}
	}
	out := make([]Suggestion, 0, len(targets))
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var cands []scored
		for _, s := range sources {
			if c, ok := scorePair(t, s, syn, primary); ok {
				cands = append(cands, c)
			}
		}
		cands = append(cands, specialCandidates(t, sources, sample, primary)...)
		if c, ok := compositeCandidate(t, sources, sample, primary); ok {
			cands = append(cands, c)
		}
		sort.SliceStable(cands, func(i, j int) bool {
			if cands[i].score != cands[j].score {
				return cands[i].score > cands[j].score
			}
			return cands[i].src.path < cands[j].src.path
		})
		sg := Suggestion{Target: t.path}
		if len(cands) == 0 {
			sg.Reason = "no source field has a compatible type and a related name"
		} else {
			sg.Candidate = cands[0].candidate()
			for i := 1; i < len(cands) && i <= alts; i++ {
				sg.Alternatives = append(sg.Alternatives, cands[i].candidate())
			}
		}
		out = append(out, sg)
	}
	return out, nil
}

func (c scored) candidate() Candidate {
	conf := math.Max(0, math.Min(1, c.score/1.15))
	return Candidate{Expr: c.expr, Source: c.src.path, Confidence: math.Round(conf*100) / 100,
		Reason: strings.Join(c.reasons, "; ")}
}

func parentPath(s *sourceField) string {
	if i := strings.LastIndex(s.path, "."); i >= 0 {
		return strings.TrimSuffix(s.path[:i], "[]")
	}
	return ""
}

// ---- names

type synonyms map[string]int // normalised name -> group

func newSynonyms(groups [][]string) synonyms {
	s := synonyms{}
	for i, g := range groups {
		for _, n := range g {
			s[normName(n)] = i + 1
		}
	}
	return s
}

// tokens splits a name in any naming style into lowercase singular words.
func tokens(name string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, singular(strings.ToLower(string(cur))))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

func singular(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 4 && (strings.HasSuffix(w, "sses") || strings.HasSuffix(w, "xes")):
		return w[:len(w)-2]
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us"):
		return w[:len(w)-1]
	}
	return w
}

func normName(n string) string { return strings.Join(tokens(n), "_") }

// nameSim compares two single names: 1 equal, 0.9 synonyms, else token overlap.
func nameSim(a, b string, syn synonyms) (float64, string) {
	na, nb := normName(a), normName(b)
	if na == "" || nb == "" {
		return 0, ""
	}
	if na == nb {
		return 1, fmt.Sprintf("name %q matches %q", b, a)
	}
	if na == nb+"s" || nb == na+"s" {
		return 0.95, fmt.Sprintf("name %q is the singular or plural of %q", b, a)
	}
	if g := syn[na]; g != 0 && g == syn[nb] {
		return 0.9, fmt.Sprintf("%q is a synonym of %q", b, a)
	}
	ta, tb := strings.Split(na, "_"), strings.Split(nb, "_")
	common := 0
	for _, x := range ta {
		if slices.Contains(tb, x) {
			common++
		}
	}
	if common == 0 {
		return 0, ""
	}
	j := float64(common) / float64(len(ta)+len(tb)-common)
	return 0.75 * j, fmt.Sprintf("%q shares words with %q", b, a)
}

// nameScore compares a target with a source path: the last segment counts fully, the
// parent when the last is an identity member (user.login for reporter), the rest less.
func nameScore(t *targetField, s *sourceField, syn synonyms) (float64, string) {
	segs := s.segs
	best, why := nameSim(t.name, segs[len(segs)-1], syn)
	if len(segs) >= 2 {
		last := normName(segs[len(segs)-1])
		w, identity := identityLeaves[last]
		if !identity {
			w = 0.5
		}
		if n, r := nameSim(t.name, segs[len(segs)-2], syn); n*0.85*w > best {
			best, why = n*0.85*w, r+fmt.Sprintf(" (taking its %q)", segs[len(segs)-1])
		}
	}
	return best, why
}

// ---- scoring

func scorePair(t *targetField, s *sourceField, syn synonyms, primary string) (scored, bool) {
	n, why := nameScore(t, s, syn)
	if n < 0.2 {
		return scored{}, false
	}
	c := scored{src: s, expr: s.expr, reasons: []string{why}}
	ty, tyWhy, conv := typeFit(t, s)
	if ty == 0 {
		return scored{}, false
	}
	c.score = 0.7*n + 0.3*ty
	c.reasons = append(c.reasons, tyWhy)
	if conv != "" {
		c.expr = conv
	}
	if pv, pWhy := patternFit(t, s); pWhy != "" {
		c.score += pv
		c.reasons = append(c.reasons, pWhy)
	}
	if len(t.enum) > 0 {
		if e, eWhy, eExpr := enumFit(t, s, c.expr); eWhy != "" {
			c.score += e
			c.reasons = append(c.reasons, eWhy)
			if eExpr != "" {
				c.expr = eExpr
			}
		}
	}
	host := parentPath(s)
	switch {
	case primary != "" && host == primary:
		c.score += 0.15
		c.reasons = append(c.reasons, fmt.Sprintf("member of the primary object %q", primary))
	case primary != "" && strings.HasPrefix(host, primary+"."):
		c.score += 0.1
		c.reasons = append(c.reasons, fmt.Sprintf("inside the primary object %q", primary))
	case primary != "" && host != "" && strings.HasPrefix(primary, host+"."):
		// The record that holds the primary object (a Jira issue holding its fields).
		c.score += 0.1
		c.reasons = append(c.reasons, fmt.Sprintf("member of %q, which holds the primary object", host))
	}
	if len(t.parents) > 0 {
		for _, p := range t.parents {
			for _, seg := range s.segs[:len(s.segs)-1] {
				if v, _ := nameSim(p, seg, syn); v >= 0.9 {
					c.score += 0.1
					c.reasons = append(c.reasons, fmt.Sprintf("under %q like the target's %q", seg, p))
				}
			}
		}
	}
	c.score -= 0.02 * float64(s.depth)
	return c, true
}

func hasType(t *targetField, name string) bool {
	return len(t.types) == 0 || slices.Contains(t.types, name)
}

// typeFit scores the JSON type of the sample value against the target's types and may
// return a converting expression.
func typeFit(t *targetField, s *sourceField) (float64, string, string) {
	v := s.value
	if s.project {
		if !hasType(t, "array") {
			if len(t.types) > 0 && kindFits(t, v) {
				return 0.5, "first element's member", fmt.Sprintf("%s?.[0]?.%s", s.arrExpr, s.segs[len(s.segs)-1])
			}
			return 0, "", ""
		}
		if t.items != nil && !kindFits(t.items, v) {
			return 0, "", ""
		}
		return 1, "array of the members of each element", ""
	}
	if hasType(t, "array") && len(t.types) > 0 && t.items != nil && !s.arrayVal && v != nil && kindFits(t.items, v) {
		return 0.6, "single value wrapped in an array", fmt.Sprintf("let v = %s; v == nil ? [] : [v]", s.expr)
	}
	switch x := v.(type) {
	case nil:
		return 0.3, "sample value is null", ""
	case string:
		switch {
		case hasType(t, "string"):
			return 1, "both strings", ""
		case hasType(t, "integer") || hasType(t, "number"):
			if _, err := strconv.ParseFloat(x, 64); err == nil {
				return 0.6, "numeric string converted with toNumber()", "toNumber(" + s.expr + ")"
			}
		}
	case json.Number, float64, int:
		f, _ := toFloat(x)
		switch {
		case hasType(t, "integer") && f == math.Trunc(f):
			return 1, "both integers", ""
		case hasType(t, "number"):
			return 1, "both numbers", ""
		case hasType(t, "string"):
			return 0.4, "number rendered with string()", "string(" + s.expr + ")"
		}
	case bool:
		if hasType(t, "boolean") {
			return 1, "both booleans", ""
		}
	case []any:
		if hasType(t, "array") {
			if t.items == nil || len(x) == 0 || kindFits(t.items, x[0]) {
				return 1, "both arrays", ""
			}
		}
	case map[string]any:
		if hasType(t, "object") {
			return 0.9, "both objects", ""
		}
	}
	return 0, "", ""
}

func kindFits(t *targetField, v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return hasType(t, "string")
	case json.Number, float64, int:
		f, _ := toFloat(x)
		return hasType(t, "number") || hasType(t, "integer") && f == math.Trunc(f)
	case bool:
		return hasType(t, "boolean")
	case []any:
		return hasType(t, "array")
	case map[string]any:
		return hasType(t, "object")
	}
	return false
}

var (
	dateTimeRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}`)
	dateRe     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

func looksURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func looksEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

func looksAPI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (strings.HasPrefix(u.Host, "api.") || strings.HasPrefix(u.Path, "/api/") || strings.Contains(u.Path, "/rest/api/"))
}

// patternFit checks formats and patterns against the sample value.
func patternFit(t *targetField, s *sourceField) (float64, string) {
	str, ok := s.value.(string)
	if !ok || s.project && hasType(t, "array") {
		return 0, ""
	}
	var score float64
	var why []string
	switch t.format {
	case "uri", "url", "iri", "uri-reference":
		if looksURL(str) {
			score += 0.15
			why = append(why, "value is a URL")
			if looksAPI(str) {
				score -= 0.2
				why = append(why, "but an API address, not a web page")
			}
		} else {
			score -= 0.4
			why = append(why, "value is not a URL")
		}
	case "email", "idn-email":
		if looksEmail(str) {
			score += 0.15
			why = append(why, "value is an e-mail address")
		} else {
			score -= 0.4
			why = append(why, "value is not an e-mail address")
		}
	case "date-time":
		if dateTimeRe.MatchString(str) {
			score += 0.1
			why = append(why, "value is a date-time")
		} else {
			score -= 0.4
			why = append(why, "value is not a date-time")
		}
	case "date":
		if dateRe.MatchString(str) || dateTimeRe.MatchString(str) {
			score += 0.1
			why = append(why, "value is a date")
		} else {
			score -= 0.4
			why = append(why, "value is not a date")
		}
	case "":
		// A URL or e-mail value for a target that is not about links or addresses is
		// a weak match.
		if looksURL(str) && !strings.Contains(normName(t.name), "url") && !strings.Contains(normName(t.name), "link") {
			score -= 0.1
		}
	}
	if t.pattern != nil {
		if t.pattern.MatchString(str) {
			score += 0.15
			why = append(why, "value matches the target pattern")
		} else {
			score -= 0.3
			why = append(why, "value does not match the target pattern")
		}
	}
	return score, strings.Join(why, ", ")
}

// enumFit checks enum membership, case-insensitively and through value synonyms.
func enumFit(t *targetField, s *sourceField, expr string) (float64, string, string) {
	str, ok := s.value.(string)
	if !ok || s.project {
		return 0, "", ""
	}
	if slices.Contains(t.enum, str) {
		return 0.2, fmt.Sprintf("value %q is an enum member", str), ""
	}
	for _, e := range t.enum {
		if strings.EqualFold(e, str) {
			return 0.15, fmt.Sprintf("value %q is an enum member in another case", str), "lower(" + expr + ")"
		}
	}
	if table := enumTable(t.enum); len(table) > 0 {
		if m, found := table[normName(str)]; found {
			return 0.05, fmt.Sprintf("value %q corresponds to enum member %q; mapped with a lookup table", str, m),
				fmt.Sprintf("lookup(%s, replace(lower(%s ?? ''), ' ', '_'), %s)", mapLiteral(table), expr, quote(enumDefault(t)))
		}
	}
	return -0.15, fmt.Sprintf("value %q is not an enum member", str), ""
}

// enumTable maps known synonyms of enum members to the members.
func enumTable(enum []string) map[string]string {
	out := map[string]string{}
	for _, m := range enum {
		nm := normName(m)
		for _, g := range valueSynonyms {
			if slices.Contains(g, nm) {
				for _, v := range g {
					out[v] = m
				}
			}
		}
	}
	return out
}

func enumDefault(t *targetField) string {
	if s, ok := t.def.(string); ok {
		return s
	}
	for _, m := range t.enum {
		switch normName(m) {
		case "medium", "normal", "default", "todo", "unknown", "other":
			return m
		}
	}
	return t.enum[0]
}

func mapLiteral(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(k) + ": " + quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// specialCandidates finds sources no single path gives: enum members carried as
// "name:member" tags in an array, and constants for enum members that appear inside the
// sample's values (a host name, a URL).
func specialCandidates(t *targetField, sources []*sourceField, sample map[string]any, primary string) []scored {
	if len(t.enum) == 0 {
		return nil
	}
	var out []scored
	key := normName(t.name)
	for _, s := range sources {
		if !s.project {
			continue
		}
		for _, v := range s.values {
			str, ok := v.(string)
			if !ok {
				continue
			}
			for _, sep := range []string{":", "/", "=", "-"} {
				pre, member, found := strings.Cut(str, sep)
				if !found || normName(pre) != key {
					continue
				}
				arr := s.arrExpr
				leaf := s.segs[len(s.segs)-1]
				prefix := pre + sep
				expr := fmt.Sprintf("let v = trimPrefix(find(%s, hasPrefix(.%s, %s))?.%s ?? '', %s); v in %s ? v : %s",
					arr, leaf, quote(prefix), leaf, quote(prefix), listLiteral(t.enum), quote(enumDefault(t)))
				sc := 0.95
				why := fmt.Sprintf("the %s tags carry %q values as %q (e.g. %q)", s.path, t.name, prefix+"<value>", str)
				if slices.Contains(t.enum, member) {
					sc += 0.1
					why += ", and the value is an enum member"
				}
				if strings.HasPrefix(parentPath(s), primary) && primary != "" {
					sc += 0.1
				}
				src := *s
				src.path = strings.TrimSuffix(strings.TrimSuffix(s.path, "."+leaf), "[]")
				out = append(out, scored{src: &src, score: sc, expr: expr, reasons: []string{why}})
				break
			}
		}
	}
	// A constant: an enum member that appears in many sample strings (host names, URLs).
	counts := map[string]int{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 8 {
			return
		}
		switch x := v.(type) {
		case string:
			lx := strings.ToLower(x)
			for _, m := range t.enum {
				if len(m) >= 3 && strings.Contains(lx, strings.ToLower(m)) {
					counts[m]++
				}
			}
		case map[string]any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		}
	}
	walk(sample, 0)
	best, n := "", 0
	for _, m := range t.enum {
		if counts[m] > n {
			best, n = m, counts[m]
		}
	}
	if n >= 3 {
		out = append(out, scored{src: &sourceField{path: ""}, score: 0.75, expr: quote(best),
			reasons: []string{fmt.Sprintf("no field holds an enum member, but %q appears in %d sample values: a constant", best, n)}})
	}
	return out
}

func listLiteral(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// ---- sample

// flattenSample lists every path of the sample (objects and arrays up to depth 8), and
// for arrays of objects one projection per scalar member.
func flattenSample(sample map[string]any) []*sourceField {
	var out []*sourceField
	var walk func(m map[string]any, segs []string, expr string, nullable bool, depth int)
	walk = func(m map[string]any, segs []string, expr string, nullable bool, depth int) {
		if depth > 8 {
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := m[k]
			ss := append(slices.Clone(segs), k)
			e := memberExpr(expr, k, nullable)
			sf := &sourceField{path: strings.Join(ss, "."), segs: ss, expr: e, value: v, depth: depth, nullable: nullable}
			out = append(out, sf)
			switch x := v.(type) {
			case map[string]any:
				walk(x, ss, e, depth >= 1, depth+1)
			case []any:
				sf.arrayVal = true
				out = append(out, projections(x, ss, e, depth)...)
			case nil:
			}
		}
	}
	walk(sample, nil, "", false, 0)
	return out
}

func memberExpr(base, k string, nullable bool) string {
	ident := isIdent(k)
	switch {
	case base == "" && ident:
		return k
	case base == "":
		return "$env[" + quote(k) + "]"
	case ident && nullable:
		return base + "?." + k
	case ident:
		return base + "." + k
	case nullable:
		return base + "?.[" + quote(k) + "]"
	default:
		return base + "[" + quote(k) + "]"
	}
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var reserved = map[string]bool{"true": true, "false": true, "nil": true, "in": true, "not": true,
	"and": true, "or": true, "matches": true, "contains": true, "startsWith": true, "endsWith": true,
	"let": true, "if": true, "else": true}

func isIdent(k string) bool { return identRe.MatchString(k) && !reserved[k] }

// projections lists name[].member for the scalar members of the array's objects.
func projections(arr []any, segs []string, expr string, depth int) []*sourceField {
	members := map[string][]any{}
	for _, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		for k, v := range m {
			switch v.(type) {
			case map[string]any, []any:
				continue
			}
			members[k] = append(members[k], v)
		}
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		if isIdent(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []*sourceField
	for _, k := range keys {
		ss := append(slices.Clone(segs), k)
		out = append(out, &sourceField{
			path: strings.Join(segs, ".") + "[]." + k, segs: ss,
			expr: fmt.Sprintf("map(%s, .%s)", expr, k), arrExpr: expr,
			value: members[k][0], values: members[k], project: true, depth: depth + 1,
		})
	}
	return out
}

// ---- schema

// readSchema lists the leaf fields of an object schema (nested objects with properties
// become dotted paths), resolving local $refs.
func readSchema(data []byte) ([]*targetField, error) {
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	var out []*targetField
	var walk func(s map[string]any, prefix []string, depth int) error
	walk = func(s map[string]any, prefix []string, depth int) error {
		s = deref(root, s, 0)
		if depth > 16 {
			return fmt.Errorf("%w: nesting too deep at %q", ErrInvalidSchema, strings.Join(prefix, "."))
		}
		props, ok := s["properties"].(map[string]any)
		if !ok {
			return fmt.Errorf("%w: %q has no properties", ErrInvalidSchema, strings.Join(prefix, "."))
		}
		req := map[string]bool{}
		if rl, ok := s["required"].([]any); ok {
			for _, r := range rl {
				if rs, ok := r.(string); ok {
					req[rs] = true
				}
			}
		}
		names := orderedKeys(data, props)
		for _, name := range names {
			ps, ok := props[name].(map[string]any)
			if !ok {
				continue
			}
			ps = deref(root, ps, 0)
			path := append(slices.Clone(prefix), name)
			if _, nested := ps["properties"]; nested && typesOf(ps) != nil && slices.Contains(typesOf(ps), "object") || nested && typesOf(ps) == nil {
				if err := walk(ps, path, depth+1); err != nil {
					return err
				}
				continue
			}
			tf := fieldOf(root, ps)
			tf.path, tf.name, tf.parents, tf.required = strings.Join(path, "."), name, prefix, req[name]
			out = append(out, tf)
		}
		return nil
	}
	if err := walk(root, nil, 0); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no target fields", ErrInvalidSchema)
	}
	return out, nil
}

func fieldOf(root, s map[string]any) *targetField {
	tf := &targetField{types: typesOf(s), def: s["default"]}
	tf.format, _ = s["format"].(string)
	if p, ok := s["pattern"].(string); ok {
		tf.pattern, _ = regexp.Compile(p)
	}
	if en, ok := s["enum"].([]any); ok {
		for _, e := range en {
			if es, ok := e.(string); ok {
				tf.enum = append(tf.enum, es)
			}
		}
	}
	if c, ok := s["const"].(string); ok {
		tf.enum = []string{c}
	}
	if it, ok := s["items"].(map[string]any); ok {
		tf.items = fieldOf(root, deref(root, it, 0))
	}
	return tf
}

func typesOf(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if es, ok := e.(string); ok {
				out = append(out, es)
			}
		}
		return out
	}
	return nil
}

// deref follows a local "$ref" ("#/$defs/x", "#/definitions/x").
func deref(root, s map[string]any, depth int) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok || depth > 8 || !strings.HasPrefix(ref, "#/") {
		return s
	}
	var cur any = root
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return s
		}
		cur = m[part]
	}
	if m, ok := cur.(map[string]any); ok {
		return deref(root, m, depth+1)
	}
	return s
}

// orderedKeys returns the property names in document order when they can be found,
// else sorted.
func orderedKeys(data []byte, props map[string]any) []string {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Order by first appearance of the quoted name in the document: exact for schemas
	// whose property names are unique, stable otherwise.
	pos := func(k string) int {
		from := max(0, strings.Index(string(data), `"properties"`))
		i := strings.Index(string(data[from:]), strconv.Quote(k))
		if i < 0 {
			return math.MaxInt
		}
		return i
	}
	sort.SliceStable(keys, func(i, j int) bool { return pos(keys[i]) < pos(keys[j]) })
	return keys
}

var _ Advisor = Heuristic{}
