package resilience_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ehg/hub/resilience"
)

func TestParseQuota(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   resilience.Quota
	}{
		{"none", http.Header{"Content-Type": {"application/json"}},
			resilience.Quota{Limit: -1, Remaining: -1}},
		{"github", http.Header{
			"X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Remaining": {"4999"},
			"X-Ratelimit-Reset": {"1772370000"}, "X-Ratelimit-Used": {"1"},
		}, resilience.Quota{Limit: 5000, Remaining: 4999, Reset: time.Unix(1772370000, 0), Source: "x-ratelimit"}},
		{"x-ratelimit delta reset", http.Header{"X-Ratelimit-Remaining": {"3"}, "X-Ratelimit-Reset": {"30"}},
			resilience.Quota{Limit: -1, Remaining: 3, Reset: now.Add(30 * time.Second), Source: "x-ratelimit"}},
		{"x-ratelimit millis reset", http.Header{"X-Ratelimit-Reset": {"1772370000500"}},
			resilience.Quota{Limit: -1, Remaining: -1, Reset: time.UnixMilli(1772370000500), Source: "x-ratelimit"}},
		{"429 with retry-after", http.Header{"Retry-After": {"17"}, "X-Ratelimit-Remaining": {"0"}},
			resilience.Quota{Limit: -1, Remaining: 0, RetryAfter: 17 * time.Second, HasRetryAfter: true, Source: "x-ratelimit"}},
		{"ietf draft 6", http.Header{"Ratelimit-Limit": {"100, 100;w=60"}, "Ratelimit-Remaining": {"42"}, "Ratelimit-Reset": {"25"}},
			resilience.Quota{Limit: 100, Remaining: 42, Reset: now.Add(25 * time.Second), Window: time.Minute, Source: "ratelimit"}},
		{"ietf combined", http.Header{"Ratelimit": {"limit=10, remaining=2, reset=5"}},
			resilience.Quota{Limit: 10, Remaining: 2, Reset: now.Add(5 * time.Second), Source: "ratelimit"}},
		{"ietf structured", http.Header{"Ratelimit": {`"default";r=7;t=12, "daily";r=900;t=3600`}, "Ratelimit-Policy": {`"default";q=50;w=60`}},
			resilience.Quota{Limit: 50, Remaining: 7, Reset: now.Add(12 * time.Second), Window: time.Minute, Source: "ratelimit"}},
		{"salesforce", http.Header{"Sforce-Limit-Info": {"api-usage=4990/5000"}},
			resilience.Quota{Limit: 5000, Remaining: 10, Window: 24 * time.Hour, Source: "sforce"}},
		{"salesforce with per-app", http.Header{"Sforce-Limit-Info": {"per-app-api-usage=17/250(appName=x), api-usage=18/5000"}},
			resilience.Quota{Limit: 5000, Remaining: 4982, Window: 24 * time.Hour, Source: "sforce"}},
		{"garbage ignored", http.Header{"X-Ratelimit-Limit": {"lots"}, "Ratelimit-Reset": {"-4"}, "Sforce-Limit-Info": {"api-usage=x/y"}},
			resilience.Quota{Limit: -1, Remaining: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := resilience.ParseQuota(tt.header, now)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseQuota(f *testing.F) {
	f.Add("5000", "4999", "1772370000", "17", `"default";r=7;t=12`, "api-usage=18/5000")
	f.Add("", "", "", "Sun, 01 Mar 2026 11:00:00 GMT", "limit=10, remaining=2, reset=5", "")
	f.Add("-1", "1e400", "NaN", "-99999999999999999999", ";;;==,,", "api-usage=/0")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, limit, remaining, reset, retryAfter, ietf, sforce string) {
		h := http.Header{}
		for k, v := range map[string]string{
			"X-Ratelimit-Limit": limit, "X-Ratelimit-Remaining": remaining, "X-Ratelimit-Reset": reset,
			"Retry-After": retryAfter, "Ratelimit": ietf, "Ratelimit-Policy": ietf, "Ratelimit-Limit": limit,
			"Sforce-Limit-Info": sforce,
		} {
			if v != "" {
				h.Set(k, v)
			}
		}
		q := resilience.ParseQuota(h, now)
		if q.Limit < -1 || q.Remaining < -1 || q.Window < 0 || q.RetryAfter < 0 {
			t.Fatalf("negative values from %v: %+v", h, q)
		}
		// Feeding the same headers to a policy must never panic either.
		p, err := resilience.New(resilience.DefaultConfig(), resilience.Options{Clock: newVirtualClock()})
		if err != nil {
			t.Fatal(err)
		}
		p.Observe(http.StatusTooManyRequests, h)
		p.Observe(http.StatusTooManyRequests, nil)
		p.Observe(http.StatusServiceUnavailable, h)
		p.Observe(http.StatusOK, h)
		_, _ = resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) {
			return 0, &plainLimitedErr{}
		})
		_, _ = resilience.Execute(t.Context(), p, func(context.Context, string) (*httpResult, error) {
			return &httpResult{status: http.StatusOK, header: h}, nil
		})
		if d := p.NextBackoff(2, &plainLimitedErr{}); d < 0 {
			t.Fatalf("negative backoff %s", d)
		}
		_ = p.Status()
	})
}
