package command

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

var testCatalog = Catalog{
	Services: []Service{{Name: "gh-prod", Connector: "github"}, {Name: "team-chat", Connector: "slack"},
		{Name: "alerts", Connector: "slack"}, {Name: "sf", Connector: "salesforce"}},
	Ventures: map[string]string{"Acme": "8d7c6b5a-4f3e-4d2c-8b1a-0f9e8d7c6b5a"},
}

func TestServiceByConnectorKind(t *testing.T) {
	now := time.Date(2026, 3, 18, 14, 30, 0, 0, time.UTC)
	r, nu := Parse("pause GitHub", testCatalog, now)
	require.Nil(t, nu)
	require.Equal(t, "gh-prod", r.Service)
	r, nu = Parse("what is wrong with Salesforce?", testCatalog, now)
	require.Nil(t, nu)
	require.Equal(t, Diagnose, r.Intent)
	require.Equal(t, "sf", r.Service)
	// two Slack services: the kind is ambiguous
	_, nu = Parse("pause Slack", testCatalog, now)
	require.NotNil(t, nu)
	require.Contains(t, nu.Reason, "alerts, team-chat")
	// a name wins over a kind
	r, nu = Parse("resume team-chat", testCatalog, now)
	require.Nil(t, nu)
	require.Equal(t, "team-chat", r.Service)
}

func TestTimes(t *testing.T) {
	now := time.Date(2026, 3, 18, 14, 30, 0, 0, time.UTC) // a Wednesday
	day := time.Date(2026, 3, 18, 0, 0, 0, 0, time.UTC)
	for text, want := range map[string]time.Time{
		"show failed events since 2 hours ago":        now.Add(-2 * time.Hour),
		"show failed events in the last 30 minutes":   now.Add(-30 * time.Minute),
		"show failed events in the past day":          now.Add(-24 * time.Hour),
		"show failed events this week":                day.AddDate(0, 0, -2),
		"show failed events since this morning":       day.Add(6 * time.Hour),
		"show failed events since 9am":                day.Add(9 * time.Hour),
		"show failed events since 3:15pm":             day.AddDate(0, 0, -1).Add(15*time.Hour + 15*time.Minute), // later today: yesterday
		"show failed events since wednesday":          day.AddDate(0, 0, -7),
		"show failed events since 2026-03-10 08:00":   time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC),
		"show failed events in the last twelve hours": now.Add(-12 * time.Hour),
	} {
		r, nu := Parse(text, testCatalog, now)
		require.Nil(t, nu, text)
		require.Equal(t, ListEvents, r.Intent, text)
		require.True(t, want.Equal(r.Since), "%s: %v, want %v", text, r.Since, want)
	}
}

func TestGrammarExamplesParse(t *testing.T) {
	cat := Catalog{Services: []Service{{Name: "GitHub"}, {Name: "Slack"}, {Name: "Salesforce"}}, Ventures: map[string]string{"A": "0b7e4a52-6c1d-4d35-9a51-7f0c1b2a3e4d"}}
	now := time.Now()
	for _, r := range Grammar {
		for _, ex := range r.Examples {
			if r.Intent == Approve || r.Intent == Reject {
				ex = r.Examples[0][:len(r.Examples[0])-len("3f2a…")] + "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
			}
			got, nu := Parse(ex, cat, now)
			require.Nil(t, nu, "%q: %v", ex, nu)
			require.Equal(t, r.Intent, got.Intent, ex)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, r := range Grammar {
		for _, ex := range r.Examples {
			f.Add(ex)
		}
	}
	f.Add("retry failed events for venture   since  : :")
	f.Add("show events since 99:99pm")
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return
		}
		r, nu := Parse(text, testCatalog, time.Date(2026, 3, 18, 14, 30, 0, 0, time.UTC))
		if (r == nil) == (nu == nil) {
			t.Fatalf("exactly one of request and not-understood must be set for %q", text)
		}
		if nu != nil && len(nu.Suggestions) == 0 {
			t.Fatalf("no suggestions for %q", text)
		}
	})
}
