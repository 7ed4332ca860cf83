// Package command understands operator sentences ("retry the failed GitHub events for
// Venture A since yesterday", "pause Slack", "what is wrong with Salesforce?") by a small
// grammar with synonyms, and turns them into a structured request the hub plans and runs.
// It is pure: it knows only the names it is given (services, their connector kinds,
// ventures) and the time.
//
// The grammar is documented in Grammar; each intent is recognised by its verb (or question)
// with synonyms, and the rest of the sentence fills the slots: the service (by name, or by
// connector kind when one service has it), the venture ("for venture X"), the statuses
// ("failed", "dead", "dead letters"), the time ("since yesterday", "today", "in the last 3
// hours", "since monday", "since 2026-01-31"), an approval ID, an escalation summary.
package command

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Intent is what a sentence asks for.
type Intent string

// Intents, with the hub call each plans.
const (
	Status       Intent = "status"          // GetIntegrationHealth of every service
	Diagnose     Intent = "diagnose"        // GetIntegrationHealth of one service, explained
	ListEvents   Intent = "list_events"     // the events of a status (dead letters by default)
	Retry        Intent = "retry_events"    // RetryFailedIntegration of each failed (and dead) event
	Redrive      Intent = "redrive_dead"    // RetryFailedIntegration of each dead event
	Pause        Intent = "pause"           // TriggerRecoveryAction disable
	Resume       Intent = "resume"          // TriggerRecoveryAction enable
	ResetBreaker Intent = "reset_breaker"   // TriggerRecoveryAction reset_breaker
	OpenBreaker  Intent = "open_breaker"    // TriggerRecoveryAction open_breaker
	Failover     Intent = "failover"        // TriggerRecoveryAction failover
	Test         Intent = "test"            // TestIntegration
	Escalate     Intent = "escalate"        // EscalateIntegrationIssue
	Metrics      Intent = "metrics"         // GetPerformanceMetrics
	Cost         Intent = "cost"            // GetIntegrationAnalytics
	Approvals    Intent = "list_approvals"  // the pending approvals
	Remove       Intent = "remove"          // RemoveService
	Approve      Intent = "approve"         // Approve
	Reject       Intent = "reject"          // Reject
	VerifyAudit  Intent = "verify_audit"    // VerifyAudit
	ListRoutes   Intent = "list_routes"     // Routes (of one source service, or all)
	Suggest      Intent = "suggest_mapping" // a mapping suggested from the service's last event to its contract
	Preview      Intent = "preview_mapping" // the service's mapping applied to its last event, checked
	Help         Intent = "help"            // the grammar
)

// Service is a service the parser may name.
type Service struct {
	Name      string
	Connector string
}

// Catalog is what the parser knows of the hub.
type Catalog struct {
	Services []Service
	// Ventures maps venture names (any case) to their IDs.
	Ventures map[string]string
}

// Request is an understood sentence.
type Request struct {
	Intent Intent
	// Service is the service's name ("" when the sentence names none).
	Service string
	// Statuses the events must be in (retry, list): "failed", "dead".
	Statuses []string
	// Since bounds event creation times (zero: no bound); SinceText says it in words.
	Since     time.Time
	SinceText string
	// Venture and VentureID name the venture ("for venture X").
	Venture, VentureID string
	// ApprovalID names the approval to decide.
	ApprovalID string
	// Summary and Severity describe an escalation.
	Summary, Severity string
	// Drain asks a removal to deliver the queue first.
	Drain bool
}

// NotUnderstood explains why a sentence was not understood, with sentences of the grammar
// close to it.
type NotUnderstood struct {
	Reason      string
	Suggestions []string
}

// Error returns the reason.
func (n *NotUnderstood) Error() string { return "not understood: " + n.Reason }

// Rule documents one intent of the grammar.
type Rule struct {
	Intent   Intent
	Pattern  string   // the shape, with [optional] parts and <slots>
	Synonyms []string // verbs and phrases that select the intent
	Examples []string
}

// Grammar is the documented grammar, in the order intents are tried.
var Grammar = []Rule{
	{Help, "help", []string{"help", "what can you do", "commands", "usage"}, []string{"help"}},
	{Approve, "approve <approval id>", []string{"approve", "accept", "sign off", "allow"}, []string{"approve 3f2a…"}},
	{Reject, "reject <approval id>", []string{"reject", "deny", "decline", "refuse"}, []string{"reject 3f2a…"}},
	{Approvals, "show [pending] approvals", []string{"approvals", "approval requests", "inbox", "what needs my approval", "pending changes"}, []string{"show pending approvals", "what needs my approval?"}},
	{VerifyAudit, "verify the audit [log|chain]", []string{"verify", "check", "validate", "audit", "chain"}, []string{"verify the audit chain", "is the audit log intact?"}},
	{ListRoutes, "show [the] routes [of <service>]", []string{"routes", "routing"}, []string{"show routes", "list the routes of GitHub"}},
	{Suggest, "suggest a mapping for <service>", []string{"suggest", "propose", "recommend"}, []string{"suggest a mapping for GitHub"}},
	{Preview, "preview the mapping of <service> [on its last event]", []string{"preview", "try", "dry run"}, []string{"preview the GitHub mapping", "preview the mapping of GitHub on its last event"}},
	{Redrive, "redrive [the] dead letters [of <service>] [for venture <v>] [since <time>]", []string{"redrive", "retry", "replay", "resend", "reprocess", "requeue", "rerun", "re-run", "re-send"}, []string{"redrive the dead letters of Slack", "replay dead events since yesterday"}},
	{Retry, "retry [the] failed [<service>] events [for venture <v>] [since <time>]", []string{"retry", "redrive", "replay", "resend", "reprocess", "requeue", "rerun", "try again"}, []string{"retry the failed GitHub events for Venture A since yesterday", "resend failed Slack messages from today"}},
	{ListEvents, "show [dead|failed] events|dead letters [of <service>] [since <time>]", []string{"show", "list", "display", "find", "which", "get"}, []string{"show dead letters", "list failed Salesforce events in the last 2 hours"}},
	{ResetBreaker, "reset|close the breaker of <service>", []string{"reset", "close", "breaker", "circuit"}, []string{"reset the breaker for Slack"}},
	{OpenBreaker, "open|trip the breaker of <service>", []string{"open", "trip", "breaker", "circuit"}, []string{"trip the circuit for GitHub"}},
	{Failover, "fail over <service> [to its backup]", []string{"fail over", "failover", "switch to backup", "use the backup"}, []string{"fail over Salesforce"}},
	{Remove, "remove <service> [after delivering its queue]", []string{"remove", "delete", "decommission", "retire", "unregister", "drain"}, []string{"remove the Salesforce integration", "decommission GitHub after delivering its queue"}},
	{Pause, "pause <service>", []string{"pause", "disable", "stop", "suspend", "halt", "turn off", "switch off", "deactivate", "hold"}, []string{"pause Slack", "stop sending to GitHub"}},
	{Resume, "resume <service>", []string{"resume", "enable", "unpause", "reactivate", "turn on", "switch on", "restart", "start"}, []string{"resume Slack", "turn GitHub back on"}},
	{Test, "test <service>", []string{"test", "ping", "probe", "check the connection"}, []string{"test the Salesforce connection"}},
	{Escalate, "escalate <service>: <summary>", []string{"escalate", "page", "alert", "raise"}, []string{"escalate Salesforce: logins failing since 9am"}},
	{Diagnose, "what is wrong with <service>?", []string{"what is wrong", "what's wrong", "whats wrong", "diagnose", "why is", "how is", "health of", "status of", "problem with", "is <service> ok", "explain"}, []string{"what is wrong with Salesforce?", "how is Slack doing?"}},
	{Metrics, "show metrics|performance|latency [of <service>] [since <time>]", []string{"metrics", "performance", "latency", "throughput", "p95", "response time", "how fast"}, []string{"show performance for the last hour", "what is the latency of GitHub?"}},
	{Cost, "show cost|analytics [of <service>] [since <time>]", []string{"cost", "costs", "spend", "spent", "analytics", "how much", "usage"}, []string{"how much did Slack cost today?", "show analytics"}},
	{Status, "status | overview | how are things?", []string{"status", "overview", "how are things", "dashboard", "health", "everything ok", "is anything broken", "what is wrong"}, []string{"status", "is anything broken?"}},
}

var (
	reUUIDish  = regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	reDate     = regexp.MustCompile(`\b(\d{4}-\d{2}-\d{2})(?:[t ](\d{2}:\d{2}))?\b`)
	reLastN    = regexp.MustCompile(`\b(?:in the |over the |for the |during the )?(?:last|past) (\d+|an?|one|two|three|four|five|six|ten|twelve|twenty-four|24) ?(minutes?|mins?|hours?|hrs?|h|days?|d|weeks?)\b`)
	reLastUnit = regexp.MustCompile(`\b(?:in the |over the |for the |during the )?(?:last|past) (minute|hour|day|week)\b`)
	reSinceAgo = regexp.MustCompile(`\b(?:since |from )?(\d+|an?|one|two|three|ten) (minutes?|hours?|days?|weeks?) ago\b`)
	reClock    = regexp.MustCompile(`\b(?:since|from) (\d{1,2})(?::(\d{2}))? ?(am|pm)\b`)
)

var numberWords = map[string]int{"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10, "twelve": 12, "twenty-four": 24, "24": 24}

// Parse understands text, or explains why it cannot.
func Parse(text string, cat Catalog, now time.Time) (*Request, *NotUnderstood) {
	raw := strings.TrimSpace(text)
	// "escalate X: what is wrong" — the words after ": " are a summary, not slots
	head, summary := raw, ""
	if i := strings.Index(raw, ": "); i >= 0 {
		head, summary = raw[:i], strings.TrimSpace(raw[i+2:])
	}
	s := normalize(head)
	if s == "" {
		return nil, &NotUnderstood{Reason: "the sentence is empty", Suggestions: examples(3)}
	}
	req := &Request{}
	// slots first, so their words do not select intents
	var err *NotUnderstood
	s, err = parseTime(s, now, req)
	if err != nil {
		return nil, err
	}
	s, err = parseVenture(s, cat, req)
	if err != nil {
		return nil, err
	}
	if id := reUUIDish.FindString(s); id != "" {
		req.ApprovalID = id
		s = strings.Replace(s, id, " ", 1)
	}
	s, svc, ambiguous := findService(s, cat)
	req.Service = svc
	words := strings.Fields(s)
	has := func(phrases ...string) bool {
		for _, p := range phrases {
			if containsPhrase(words, p) {
				return true
			}
		}
		return false
	}
	dead := has("dead", "dead letters", "dead letter", "dead-letter", "dead-letters", "dlq", "deadletters")
	failed := has("failed", "failing", "failures", "failure", "errors", "errored", "broken", "undelivered")
	eventsWord := has("events", "event", "messages", "message", "deliveries", "delivery", "letters", "items", "jobs", "webhooks", "calls")
	retryVerb := has("retry", "redrive", "re-drive", "replay", "resend", "re-send", "reprocess", "requeue", "re-queue", "rerun", "re-run", "redeliver", "try again", "push again")
	showVerb := has("show", "list", "display", "find", "which", "get", "see", "view", "what are", "any")
	breaker := has("breaker", "circuit", "circuit breaker")
	switch {
	case has("help", "what can you do", "commands", "usage") && svc == "":
		req.Intent = Help
	case has("approve", "accept", "sign off", "allow") && req.ApprovalID != "":
		req.Intent = Approve
	case has("reject", "deny", "decline", "refuse") && req.ApprovalID != "":
		req.Intent = Reject
	case has("approvals", "approval", "inbox", "pending changes", "needs my approval", "need my approval", "awaiting approval"):
		req.Intent = Approvals
	case has("audit", "audit log", "audit chain", "audit trail") || (has("chain") && has("verify", "check", "intact")):
		req.Intent = VerifyAudit
	case has("routes", "routing") && !retryVerb && (showVerb || len(words) == 1):
		req.Intent = ListRoutes
	case has("mapping", "mappings") && has("suggest", "propose", "recommend", "suggested", "suggestion"):
		req.Intent = Suggest
	case has("mapping", "mappings") && has("preview", "try", "dry run", "dry-run"):
		req.Intent = Preview
	case retryVerb && dead:
		req.Intent, req.Statuses = Redrive, []string{"dead"}
	case retryVerb && (failed || eventsWord || svc != ""):
		req.Intent, req.Statuses = Retry, []string{"failed", "dead"}
	case (showVerb || has("how many")) && (dead || failed || eventsWord):
		req.Intent = ListEvents
		switch {
		case dead:
			req.Statuses = []string{"dead"}
		case failed:
			req.Statuses = []string{"failed", "dead"}
		}
	case breaker && has("reset", "close", "closed", "clear"):
		req.Intent = ResetBreaker
	case breaker && has("open", "trip", "break", "force"):
		req.Intent = OpenBreaker
	case has("trip"):
		req.Intent = OpenBreaker
	case has("fail over", "failover", "fail-over", "backup", "switch over"):
		req.Intent = Failover
	case has("remove", "delete", "decommission", "retire", "unregister", "deregister") && svc != "":
		req.Intent = Remove
		req.Drain = has("drain", "after delivering", "deliver", "delivering", "finish", "flush")
	case has("unpause", "resume", "enable", "reactivate", "turn on", "switch on", "back on", "restart", "start", "reenable", "re-enable"):
		req.Intent = Resume
	case has("pause", "disable", "stop", "suspend", "halt", "turn off", "switch off", "deactivate", "hold", "mute"):
		req.Intent = Pause
	case has("escalate", "page", "alert", "raise"):
		req.Intent, req.Summary = Escalate, summary
		req.Severity = "medium"
		for _, sev := range []string{"critical", "high", "low"} {
			if has(sev) || (sev == "critical" && has("urgent", "urgently", "sev1")) {
				req.Severity = sev
				break
			}
		}
	case has("test", "ping", "probe", "check the connection", "check connection", "connection") && svc != "":
		req.Intent = Test
	case has("cost", "costs", "spend", "spent", "spending", "analytics", "how much", "usage", "bill", "billing"):
		req.Intent = Cost
	case has("metrics", "performance", "latency", "throughput", "p95", "p99", "response time", "response times", "how fast", "slow", "slowest", "speed"):
		req.Intent = Metrics
	case svc != "" && has("what is wrong", "what's wrong", "whats wrong", "wrong", "diagnose", "why is", "why", "how is", "how's", "health", "healthy", "status", "state", "problem", "problems", "issue", "issues", "ok", "okay", "doing", "explain", "check", "up", "down", "working"):
		req.Intent = Diagnose
	case svc == "" && has("status", "overview", "how are things", "how is everything", "dashboard", "health", "everything ok", "anything broken", "what is wrong", "what's wrong", "whats wrong", "summary", "report", "any problems", "all good", "unhealthy"):
		req.Intent = Status
	}
	if req.Intent == "" {
		if ambiguous != "" {
			return nil, &NotUnderstood{Reason: ambiguous, Suggestions: suggest(words, cat)}
		}
		return nil, &NotUnderstood{Reason: fmt.Sprintf("no command matches %q", raw), Suggestions: suggest(words, cat)}
	}
	needsService := map[Intent]bool{Suggest: true, Preview: true, Remove: true, Pause: true, Resume: true, ResetBreaker: true, OpenBreaker: true, Failover: true, Test: true, Escalate: true, Diagnose: true}
	if needsService[req.Intent] && req.Service == "" {
		reason := fmt.Sprintf("%s needs a service; known services: %s", req.Intent, serviceNames(cat))
		if ambiguous != "" {
			reason = ambiguous
		}
		return nil, &NotUnderstood{Reason: reason, Suggestions: suggestFor(req.Intent, cat)}
	}
	if ambiguous != "" && req.Service == "" && (req.Intent == Retry || req.Intent == Redrive || req.Intent == ListEvents) {
		return nil, &NotUnderstood{Reason: ambiguous, Suggestions: suggestFor(req.Intent, cat)}
	}
	if req.Intent == Escalate && req.Summary == "" {
		return nil, &NotUnderstood{Reason: "an escalation needs a summary after a colon", Suggestions: []string{"escalate " + req.Service + ": what is wrong"}}
	}
	if (req.Intent == Approve || req.Intent == Reject) && req.ApprovalID == "" {
		return nil, &NotUnderstood{Reason: "name the approval by its ID", Suggestions: []string{"show pending approvals"}}
	}
	return req, nil
}

// normalize lowercases text, keeps letters, digits and the characters names and times use,
// and collapses spaces.
func normalize(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer("’", "'", "‘", "'", "“", " ", "”", " ").Replace(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_', r == '.', r == '\'', r == ':' || r == '/':
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	// trailing sentence punctuation kept above for names; drop it at word ends
	out = strings.NewReplacer(". ", " ", ": ", " : ").Replace(out + " ")
	return strings.TrimSpace(strings.TrimRight(out, ". "))
}

func containsPhrase(words []string, phrase string) bool {
	p := strings.Fields(phrase)
	for i := 0; i+len(p) <= len(words); i++ {
		if slices.Equal(words[i:i+len(p)], p) {
			return true
		}
	}
	return false
}

// parseTime finds the time bound, removes it from s and sets req.Since.
func parseTime(s string, now time.Time, req *Request) (string, *NotUnderstood) {
	set := func(t time.Time, text string) { req.Since, req.SinceText = t, text }
	day := func(t time.Time) time.Time { y, m, d := t.Date(); return time.Date(y, m, d, 0, 0, 0, 0, t.Location()) }
	if m := reLastN.FindStringSubmatch(s); m != nil {
		n, ok := numberWords[m[1]]
		if !ok {
			n, _ = strconv.Atoi(m[1])
		}
		unit := unitOf(m[2])
		set(now.Add(-time.Duration(n)*unit), fmt.Sprintf("in the last %d %s", n, unitName(unit, n)))
		return strings.Replace(s, m[0], " ", 1), nil
	}
	if m := reLastUnit.FindStringSubmatch(s); m != nil {
		unit := unitOf(m[1])
		set(now.Add(-unit), "in the last "+unitName(unit, 1))
		return strings.Replace(s, m[0], " ", 1), nil
	}
	if m := reSinceAgo.FindStringSubmatch(s); m != nil {
		n, ok := numberWords[m[1]]
		if !ok {
			n, _ = strconv.Atoi(m[1])
		}
		unit := unitOf(m[2])
		set(now.Add(-time.Duration(n)*unit), fmt.Sprintf("since %d %s ago", n, unitName(unit, n)))
		return strings.Replace(s, m[0], " ", 1), nil
	}
	if m := reDate.FindStringSubmatch(s); m != nil {
		layout, v := "2006-01-02", m[1]
		if m[2] != "" {
			layout, v = "2006-01-02 15:04", m[1]+" "+m[2]
		}
		t, err := time.ParseInLocation(layout, v, now.Location())
		if err != nil {
			return s, &NotUnderstood{Reason: fmt.Sprintf("%q is not a date", v), Suggestions: []string{"since 2026-01-31", "since yesterday"}}
		}
		set(t, "since "+v)
		return strings.Replace(s, m[0], " ", 1), nil
	}
	if m := reClock.FindStringSubmatch(s); m != nil {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		if h == 12 {
			h = 0
		}
		if m[3] == "pm" {
			h += 12
		}
		t := day(now).Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute)
		if t.After(now) {
			t = t.AddDate(0, 0, -1)
		}
		set(t, "since "+t.Format("15:04"))
		return strings.Replace(s, m[0], " ", 1), nil
	}
	words := strings.Fields(s)
	for i, w := range words {
		prefixed := i > 0 && (words[i-1] == "since" || words[i-1] == "from")
		var t time.Time
		var text string
		switch w {
		case "yesterday":
			t, text = day(now).AddDate(0, 0, -1), "since yesterday"
		case "today", "tonight":
			t, text = day(now), "since today"
		case "week":
			if i > 0 && words[i-1] == "this" {
				t = day(now).AddDate(0, 0, -int((now.Weekday()+6)%7))
				text = "since this week"
			}
		case "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday":
			if prefixed || (i > 0 && words[i-1] == "on") {
				wd := weekday(w)
				back := (int(now.Weekday()) - int(wd) + 7) % 7
				if back == 0 {
					back = 7
				}
				t, text = day(now).AddDate(0, 0, -back), "since "+w
			}
		case "morning":
			if i > 0 && words[i-1] == "this" {
				t, text = day(now).Add(6*time.Hour), "since this morning"
			}
		}
		if text == "" {
			continue
		}
		set(t, text)
		start := i
		if prefixed || (i > 0 && (words[i-1] == "this" || words[i-1] == "on")) {
			start = i - 1
		}
		return strings.Join(append(slices.Clone(words[:start]), words[i+1:]...), " "), nil
	}
	return s, nil
}

func unitOf(u string) time.Duration {
	switch {
	case strings.HasPrefix(u, "m"):
		return time.Minute
	case strings.HasPrefix(u, "h"):
		return time.Hour
	case strings.HasPrefix(u, "w"):
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

func unitName(u time.Duration, n int) string {
	name := map[time.Duration]string{time.Minute: "minute", time.Hour: "hour", 24 * time.Hour: "day", 7 * 24 * time.Hour: "week"}[u]
	if n != 1 {
		name += "s"
	}
	return name
}

func weekday(w string) time.Weekday {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(d.String(), w) {
			return d
		}
	}
	return time.Sunday
}

// parseVenture finds "for venture X" / "venture X" / "of venture X", resolves X through
// the catalog and removes the phrase from s.
func parseVenture(s string, cat Catalog, req *Request) (string, *NotUnderstood) {
	words := strings.Fields(s)
	i := slices.IndexFunc(words, func(w string) bool { return w == "venture" || w == "ventures" })
	if i < 0 || i == len(words)-1 {
		return s, nil
	}
	start := i
	if i > 0 && slices.Contains([]string{"for", "of", "in", "from"}, words[i-1]) {
		start = i - 1
	}
	stop := map[string]bool{"since": true, "from": true, "in": true, "today": true, "yesterday": true, "of": true, "on": true, "and": true, "that": true, "which": true}
	// the longest run of words after "venture" that names a known venture, else one word
	rest := words[i+1:]
	best := 0
	name := ""
	for n := 1; n <= len(rest) && n <= 4; n++ {
		if stop[rest[n-1]] {
			break
		}
		if key, id, ok := lookupVenture(cat, strings.Join(rest[:n], " ")); ok {
			best, name, req.VentureID = n, key, id
		}
	}
	if best == 0 {
		cand := rest[0]
		if reUUIDish.MatchString(cand) {
			best, name, req.VentureID = 1, cand, cand
		} else {
			known := make([]string, 0, len(cat.Ventures))
			for v := range cat.Ventures {
				known = append(known, v)
			}
			slices.Sort(known)
			return s, &NotUnderstood{Reason: fmt.Sprintf("unknown venture %q (known: %s)", cand, orNone(known)), Suggestions: ventureSuggestions(known)}
		}
	}
	req.Venture = name
	return strings.Join(append(slices.Clone(words[:start]), words[i+1+best:]...), " "), nil
}

// lookupVenture returns the catalog's name and ID of the venture called name (any case).
func lookupVenture(cat Catalog, name string) (key, id string, ok bool) {
	for k, id := range cat.Ventures {
		if strings.EqualFold(k, name) {
			return k, id, true
		}
	}
	return "", "", false
}

func ventureSuggestions(known []string) []string {
	var out []string
	for i, v := range known {
		if i == 3 {
			break
		}
		out = append(out, "retry the failed events for venture "+v)
	}
	return out
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// findService finds the service s names: by name (the longest match wins; separators and
// case do not matter), else by connector kind when exactly one service has it. It removes
// the name from s. ambiguous explains a kind shared by several services.
func findService(s string, cat Catalog) (rest, name, ambiguous string) {
	words := strings.Fields(s)
	type hit struct {
		start, n int
		name     string
	}
	var best *hit
	for _, svc := range cat.Services {
		key := squash(svc.Name)
		if key == "" {
			continue
		}
		for i := range words {
			acc := ""
			for n := 1; i+n <= len(words) && n <= 6; n++ {
				acc += squash(words[i+n-1])
				if acc == key || acc == key+"s" || acc == key+"'s" {
					if best == nil || n > best.n || (n == best.n && len(svc.Name) > len(best.name)) {
						best = &hit{i, n, svc.Name}
					}
				}
				if !strings.HasPrefix(key, acc) {
					break
				}
			}
		}
	}
	if best != nil {
		rest := append(slices.Clone(words[:best.start]), words[best.start+best.n:]...)
		return strings.Join(rest, " "), best.name, ""
	}
	for i, w := range words {
		k := strings.TrimSuffix(squash(w), "s")
		var matches []string
		for _, svc := range cat.Services {
			if svc.Connector != "" && squash(svc.Connector) == k {
				matches = append(matches, svc.Name)
			}
		}
		switch len(matches) {
		case 0:
			continue
		case 1:
			rest := append(slices.Clone(words[:i]), words[i+1:]...)
			return strings.Join(rest, " "), matches[0], ""
		default:
			slices.Sort(matches)
			return s, "", fmt.Sprintf("%q could be any of %s; name one", w, strings.Join(matches, ", "))
		}
	}
	return s, "", ""
}

func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func serviceNames(cat Catalog) string {
	var names []string
	for _, s := range cat.Services {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return orNone(names)
}

func examples(n int) []string {
	var out []string
	for _, r := range Grammar {
		out = append(out, r.Examples[0])
		if len(out) == n {
			break
		}
	}
	return out
}

// suggest returns the three grammar examples sharing the most words with the sentence, or,
// when none shares any, the most common commands naming a known service.
func suggest(words []string, cat Catalog) []string {
	type scored struct {
		ex    string
		score int
		order int
	}
	var all []scored
	set := map[string]bool{}
	for _, w := range words {
		set[w] = true
	}
	order := 0
	for _, r := range Grammar {
		if r.Intent == Approve || r.Intent == Reject {
			continue // their examples need an ID
		}
		vocab := map[string]bool{}
		for _, syn := range r.Synonyms {
			for _, w := range strings.Fields(syn) {
				vocab[w] = true
			}
		}
		for _, ex := range r.Examples {
			score := 0
			for w := range set {
				if vocab[w] {
					score += 2
				}
				if slices.Contains(strings.Fields(strings.ToLower(ex)), w) && len(w) > 3 {
					score++
				}
			}
			all = append(all, scored{ex, score, order})
			order++
		}
	}
	slices.SortStableFunc(all, func(a, b scored) int { return b.score - a.score })
	if len(all) == 0 || all[0].score == 0 {
		svc := "Slack"
		if len(cat.Services) > 0 {
			svc = cat.Services[0].Name
		}
		return []string{"status", "show dead letters", "what is wrong with " + svc + "?", "retry the failed " + svc + " events since yesterday"}
	}
	var out []string
	for _, s := range all {
		if !slices.Contains(out, s.ex) {
			out = append(out, s.ex)
		}
		if len(out) == 3 {
			break
		}
	}
	return out
}

// suggestFor returns example sentences of intent naming the catalog's services.
func suggestFor(intent Intent, cat Catalog) []string {
	var pattern string
	for _, r := range Grammar {
		if r.Intent == intent {
			pattern = r.Pattern
		}
	}
	var out []string
	for i, s := range cat.Services {
		if i == 3 {
			break
		}
		out = append(out, strings.NewReplacer("<service>", s.Name).Replace(pattern))
	}
	if len(out) == 0 {
		out = append(out, pattern)
	}
	return out
}
