package resilience

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Quota is what one response said about the remote rate limit. Fields that the response did
// not carry are -1 (counts), zero (Reset) or 0 (durations).
type Quota struct {
	// Limit is the number of calls allowed per window, -1 when unknown.
	Limit int
	// Remaining is the number of calls left in the current window, -1 when unknown.
	Remaining int
	// Reset is when the current window ends, zero when unknown.
	Reset time.Time
	// Window is the length of a window when the response said so (RateLimit-Policy w=,
	// Salesforce's rolling 24 h), else 0.
	Window time.Duration
	// RetryAfter is the Retry-After hint, valid when HasRetryAfter.
	RetryAfter    time.Duration
	HasRetryAfter bool
	// Source names the header family read: "x-ratelimit", "ratelimit", "sforce" or "".
	Source string
}

// Known reports whether the response said anything about the remote limit.
func (q Quota) Known() bool {
	return q.Limit >= 0 || q.Remaining >= 0 || !q.Reset.IsZero() || q.HasRetryAfter
}

// ParseQuota reads the rate-limit headers of a response, relative to now:
//   - Retry-After (delta-seconds or HTTP date);
//   - GitHub-style X-RateLimit-Limit / -Remaining / -Reset (reset as Unix seconds, Unix
//     milliseconds, or delta-seconds when small);
//   - IETF draft RateLimit-Limit / -Remaining / -Reset (delta-seconds), the combined
//     "RateLimit: limit=, remaining=, reset=" form, the structured
//     `RateLimit: "name";r=..;t=..` form and RateLimit-Policy (q=, w=);
//   - Salesforce Sforce-Limit-Info: api-usage=USED/LIMIT (a rolling 24 h window).
//
// The first family present wins; malformed values are ignored, never an error.
// Header names are looked up in canonical form ("X-Ratelimit-Limit"), which http.Header.Get
// matches without allocating.
func ParseQuota(h http.Header, now time.Time) Quota {
	q := Quota{Limit: -1, Remaining: -1}
	q.RetryAfter, q.HasRetryAfter = ParseRetryAfter(h, now)

	if parseXRateLimit(h, now, &q) || parseIETF(h, now, &q) {
		return q
	}
	parseSforce(h, &q)
	return q
}

func parseXRateLimit(h http.Header, now time.Time, q *Quota) bool {
	lim, okL := headerInt(h.Get("X-Ratelimit-Limit"))
	rem, okR := headerInt(h.Get("X-Ratelimit-Remaining"))
	reset := strings.TrimSpace(h.Get("X-Ratelimit-Reset"))
	if !okL && !okR && reset == "" {
		return false
	}
	q.Source = "x-ratelimit"
	if okL {
		q.Limit = lim
	}
	if okR {
		q.Remaining = rem
	}
	if f, err := strconv.ParseFloat(reset, 64); err == nil && f >= 0 && f < 1e15 {
		switch {
		case f >= 1e12: // Unix milliseconds
			q.Reset = time.UnixMilli(int64(f))
		case f >= 1e9: // Unix seconds (GitHub)
			q.Reset = time.Unix(int64(f), int64((f-math.Floor(f))*1e9))
		default: // delta-seconds
			q.Reset = now.Add(secondsDuration(f))
		}
	}
	return true
}

func parseIETF(h http.Header, now time.Time, q *Quota) bool {
	found := false
	if v := h.Get("Ratelimit-Limit"); v != "" {
		// "100" or "100, 100;w=60, 1000;w=3600": the first item is the effective limit; the
		// window is the w of the policy item with that quota.
		limit := -1
		for item := range strings.SplitSeq(v, ",") {
			num, params, _ := strings.Cut(item, ";")
			n, ok := headerInt(num)
			if !ok {
				continue
			}
			if limit < 0 {
				limit = n
				q.Limit, found = n, true
			}
			if w, ok := paramValue(params, "w"); ok && n == limit {
				q.Window = secondsDuration(w)
				break
			}
		}
	}
	if n, ok := headerInt(h.Get("Ratelimit-Remaining")); ok {
		q.Remaining, found = n, true
	}
	if f, ok := headerFloat(h.Get("Ratelimit-Reset")); ok {
		q.Reset, found = now.Add(secondsDuration(f)), true
	}
	if v := h.Get("Ratelimit"); v != "" {
		// Either "limit=100, remaining=50, reset=30" or `"default";r=50;t=30` (first item).
		for item := range strings.SplitSeq(v, ",") {
			for kv := range strings.SplitSeq(item, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
				if !ok {
					continue
				}
				f, ok := headerFloat(val)
				if !ok {
					continue
				}
				switch strings.ToLower(k) {
				case "limit":
					q.Limit, found = int(f), true
				case "remaining", "r":
					if q.Remaining < 0 {
						q.Remaining, found = int(f), true
					}
				case "reset", "t":
					if q.Reset.IsZero() {
						q.Reset, found = now.Add(secondsDuration(f)), true
					}
				}
			}
			if strings.HasPrefix(strings.TrimSpace(item), `"`) {
				break // structured form: the first policy item is the one that applies
			}
		}
	}
	if v := h.Get("Ratelimit-Policy"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		item, params, _ := strings.Cut(first, ";")
		if n, ok := headerInt(item); ok && q.Limit < 0 {
			q.Limit = n
		}
		if n, ok := paramValue(first, "q"); ok && q.Limit < 0 {
			q.Limit = int(n)
		}
		if w, ok := paramValue(params, "w"); ok {
			q.Window = secondsDuration(w)
		}
		found = found || q.Limit >= 0
	}
	if found {
		q.Source = "ratelimit"
	}
	return found
}

func parseSforce(h http.Header, q *Quota) {
	v := h.Get("Sforce-Limit-Info")
	for item := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || !strings.EqualFold(k, "api-usage") {
			continue
		}
		usedS, limS, ok := strings.Cut(val, "/")
		used, ok1 := headerInt(usedS)
		lim, ok2 := headerInt(limS)
		if !ok || !ok1 || !ok2 || lim == 0 {
			continue
		}
		q.Source = "sforce"
		q.Limit = lim
		q.Remaining = max(0, lim-used)
		q.Window = 24 * time.Hour
		return
	}
}

// paramValue finds key=value among ";"-separated parameters.
func paramValue(params, key string) (float64, bool) {
	for kv := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && strings.EqualFold(k, key) {
			return headerFloat(v)
		}
	}
	return 0, false
}

func headerInt(v string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func headerFloat(v string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e12 {
		return 0, false
	}
	return f, true
}

// secondsDuration converts non-negative seconds to a Duration, saturating at a year.
func secondsDuration(f float64) time.Duration {
	if !(f > 0) {
		return 0
	}
	if f > maxConfigDuration.Seconds() {
		return maxConfigDuration
	}
	return time.Duration(f * float64(time.Second))
}
