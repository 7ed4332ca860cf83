// Command quickstart shows the Integration Hub end to end, offline, in a few seconds.
//
// It opens the embedded SQLite store in a temporary folder, starts two local stand-ins —
// a GitHub that sends signed "issues" webhooks and a Slack that accepts chat.postMessage —
// registers the Slack service with the canonical work-item contract and the GitHub → work
// item mapping, then:
//
//  1. processes the shared GitHub issue event and a few variants (delivered synchronously);
//  2. processes one that breaks the contract, and prints every violation;
//  3. sends a burst while the Slack stand-in fails: the breaker opens, the events wait,
//     and drain once the stand-in recovers;
//  4. prints a summary: delivered, retried, dead, health and latency.
//
// With SLACK_BOT_TOKEN and SLACK_CHANNEL set, messages go to the real Slack instead of the
// stand-in (the failure burst is then skipped).
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/github"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// The shared workload, embedded so that a fresh clone runs on its own.
var (
	//go:embed data/github-issue-event.json
	issueEvent []byte
	//go:embed data/work-item.schema.json
	workItemSchema []byte
	//go:embed data/github-issue-to-work-item.expr.json
	workItemMapping []byte
)

const webhookSecret = "quickstart-webhook-secret"

func main() {
	start := time.Now()
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	fmt.Printf("\ndone in %s\n", time.Since(start).Round(time.Millisecond))
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "hub-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	st, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"), sqlite.Options{})
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	defer st.Close()

	key := make([]byte, hub.SecretKeySize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	opts := []hub.Option{
		hub.WithSecretKey(key),
		hub.WithWorkers(4),
		hub.WithPollInterval(20 * time.Millisecond),
		hub.WithMaintenanceInterval(100 * time.Millisecond),
	}
	if os.Getenv("SLACK_BOT_TOKEN") == "" || os.Getenv("SLACK_CHANNEL") == "" {
		// The hub refuses loopback and other internal destinations by default; the Slack
		// stand-in listens on loopback, so open exactly that. Posting to the real Slack
		// needs no such option.
		opts = append(opts, hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")))
	}
	h, err := hub.New(st, opts...)
	if err != nil {
		return err
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	defer h.Close(context.Background())

	// Slack: the real one when configured, else a local stand-in.
	token, channel := os.Getenv("SLACK_BOT_TOKEN"), os.Getenv("SLACK_CHANNEL")
	real := token != "" && channel != ""
	slackURL := "https://slack.com/api"
	var slack *slackStandIn
	if !real {
		slack = newSlackStandIn()
		defer slack.Close()
		slackURL, token, channel = slack.URL, "xoxb-quickstart-token", "C0QUICKSTART"
		fmt.Fprintf(out, "Slack stand-in at %s (set SLACK_BOT_TOKEN and SLACK_CHANNEL to post to Slack)\n", slackURL)
	} else {
		fmt.Fprintf(out, "posting to the real Slack, channel %s\n", channel)
	}

	reg, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name:             "slack-eng",
		Category:         store.CategoryCommunication,
		Connector:        "slack",
		BaseURL:          slackURL,
		Auth:             mustJSON(map[string]string{"bot_token": token}),
		ConnectorOptions: mustJSON(map[string]string{"channel": channel}),
		RateLimits:       json.RawMessage(`{"requests_per_minute": 600, "burst": 50}`),
		CircuitBreaker:   json.RawMessage(`{"failure_threshold": 3, "recovery_timeout": "400ms"}`),
		Retry:            json.RawMessage(`{"max_retries": 8, "initial_backoff": "50ms", "max_backoff": "500ms", "inline_retries": 0, "timeout": "10s"}`),
		Contract:         &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: workItemSchema},
		Mapping:          workItemMapping,
	})
	if err != nil {
		return fmt.Errorf("register slack: %w", err)
	}
	fmt.Fprintf(out, "registered %q (mapping v%d, contract work-item@1.0.0, credentials sealed)\n\n", reg.Name, reg.MappingVersion)

	// GitHub: a stand-in that sends signed issues webhooks to our receiver, which verifies
	// them and hands them to the hub.
	gh, err := github.New(connectors.Config{Auth: mustJSON(map[string]string{"token": "ghp-unused", "webhook_secret": webhookSecret})})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var results []*hub.ProcessingResult
	var failures []error
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wh, err := gh.VerifyWebhook(r.Header, body)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mode := hub.Sync
		if r.URL.Query().Get("async") == "1" {
			mode = hub.Async
		}
		res, err := h.ProcessIntegrationEvent(r.Context(), hub.EventData{
			Service: "slack-eng", Payload: wh.Body, IdempotencyKey: "github:" + wh.DeliveryID, Mode: mode,
		})
		mu.Lock()
		results = append(results, res)
		failures = append(failures, err)
		mu.Unlock()
		switch {
		case res == nil:
			w.WriteHeader(http.StatusUnprocessableEntity)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer receiver.Close()
	send := func(delivery string, payload []byte, async bool) (*hub.ProcessingResult, error) {
		u := receiver.URL
		if async {
			u += "?async=1"
		}
		if err := sendWebhook(ctx, u, delivery, payload); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		return results[len(results)-1], failures[len(failures)-1]
	}

	// 1. The shared event and a few variants.
	fmt.Fprintln(out, "1. GitHub issues webhooks → work item → Slack (sync)")
	variants := []struct {
		name string
		edit func(map[string]any)
	}{
		{"shared event", func(map[string]any) {}},
		{"closed issue", func(e map[string]any) { issue(e)["state"] = "closed"; issue(e)["number"] = 1348 }},
		{"unassigned, no labels", func(e map[string]any) {
			issue(e)["assignees"] = []any{}
			issue(e)["labels"] = []any{}
			issue(e)["number"] = 1349
		}},
	}
	for i, v := range variants {
		payload := edit(issueEvent, v.edit)
		res, err := send(fmt.Sprintf("delivery-%d", i), payload, false)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		var wi struct {
			ID, Status, Priority string
		}
		_ = json.Unmarshal(res.Canonical, &wi)
		fmt.Fprintf(out, "   %-22s %-28s status=%-11s priority=%-6s → %s (HTTP %d, %s, rule %s v%d)\n",
			v.name, wi.ID, wi.Status, wi.Priority, res.Status, res.ResponseCode, res.ResponseTime.Round(10*time.Microsecond), res.RuleName, res.RuleVersion)
	}

	// 2. A contract violation: the mapping runs, the canonical contract refuses it.
	fmt.Fprintln(out, "\n2. An event that breaks the work-item contract")
	bad := edit(issueEvent, func(e map[string]any) {
		issue(e)["title"] = ""
		issue(e)["html_url"] = "not a url"
		issue(e)["number"] = 1350
	})
	_, err = send("delivery-bad", bad, false)
	var cv *hub.ContractViolationError
	switch {
	case errors.As(err, &cv):
		fmt.Fprintf(out, "   rejected (nothing stored): %s contract %s@%s, %d violations:\n", cv.Stage, cv.Contract, cv.Version, len(cv.Violations))
		for _, v := range cv.Violations {
			fmt.Fprintf(out, "     %-8s %-10s %s\n", v.Path, v.Keyword, v.Message)
		}
	case err == nil:
		return errors.New("the bad event was accepted")
	default:
		return err
	}

	// 3. A burst while Slack fails: the breaker opens, events wait, then drain.
	if slack != nil {
		fmt.Fprintln(out, "\n3. A burst of 20 events while the Slack stand-in answers 503")
		slack.fail.Store(true)
		for i := range 20 {
			payload := edit(issueEvent, func(e map[string]any) { issue(e)["number"] = 2000 + i })
			if _, err := send(fmt.Sprintf("burst-%d", i), payload, true); err != nil {
				return err
			}
		}
		// The waits end as soon as their condition holds; their bounds only matter on a
		// machine busy with other work.
		waitFor(time.Minute, func() bool {
			hr, err := h.GetIntegrationHealth(ctx, "slack-eng")
			return err == nil && hr.Services[0].Breaker == "open"
		})
		hr, err := h.GetIntegrationHealth(ctx, "slack-eng")
		if err != nil {
			return err
		}
		s := hr.Services[0]
		fmt.Fprintf(out, "   breaker %s, health %s; waiting: %d pending, %d retrying (Slack saw %d failed calls)\n",
			s.Breaker, s.Status, s.QueueDepth[store.StatusPending], s.QueueDepth[store.StatusRetrying], slack.failed.Load())
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintln(out, "   Slack recovers …")
		slack.fail.Store(false)
		drained := waitFor(2*time.Minute, func() bool {
			hr, err := h.GetIntegrationHealth(ctx, "slack-eng")
			if err != nil {
				return false
			}
			q := hr.Services[0].QueueDepth
			return q[store.StatusPending]+q[store.StatusRetrying]+q[store.StatusProcessing] == 0
		})
		hr, _ = h.GetIntegrationHealth(ctx, "slack-eng")
		fmt.Fprintf(out, "   drained=%v: breaker %s, %d succeeded in all\n", drained, hr.Services[0].Breaker, hr.Services[0].QueueDepth[store.StatusSucceeded])
	}

	// 4. Summary.
	pm, err := h.GetPerformanceMetrics(ctx, hub.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Second)})
	if err != nil {
		return err
	}
	hr, err := h.GetIntegrationHealth(ctx, "slack-eng")
	if err != nil {
		return err
	}
	s := hr.Services[0]
	o := pm.Overall
	fmt.Fprintln(out, "\nSummary")
	fmt.Fprintf(out, "   events %d: delivered %d, retried %d, failed or dead %d\n", o.Events, o.Succeeded, o.Retried, o.Failed)
	fmt.Fprintf(out, "   health %s (breaker %s, error rate over recent attempts %.0f%%)\n", s.Status, s.Breaker, 100*s.ErrorRate)
	fmt.Fprintf(out, "   latency p50 %.0f ms, p95 %.0f ms, p99 %.0f ms\n", o.P50MS, o.P95MS, o.P99MS)
	if slack != nil {
		fmt.Fprintf(out, "   Slack stand-in received %d messages\n", slack.posted.Load())
	}
	return nil
}

func issue(e map[string]any) map[string]any { return e["issue"].(map[string]any) }

func edit(doc []byte, f func(map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		panic(err) // embedded sample; cannot happen
	}
	f(m)
	return mustJSON(m)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// sendWebhook plays GitHub: it signs payload with the webhook secret and posts it as an
// "issues" delivery.
func sendWebhook(ctx context.Context, url, delivery string, payload []byte) error {
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(payload)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	return nil
}

// slackStandIn answers chat.postMessage and auth.test like Slack's Web API.
type slackStandIn struct {
	*httptest.Server
	fail   atomic.Bool
	posted atomic.Int64
	failed atomic.Int64
}

func newSlackStandIn() *slackStandIn {
	s := &slackStandIn{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer xoxb-quickstart-token" {
			_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
			return
		}
		switch r.URL.Path {
		case "/auth.test":
			_, _ = io.WriteString(w, `{"ok":true,"team":"quickstart"}`)
		case "/chat.postMessage":
			if s.fail.Load() {
				s.failed.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			var msg struct {
				Channel string `json:"channel"`
				Text    string `json:"text"`
			}
			_ = json.NewDecoder(r.Body).Decode(&msg)
			if msg.Channel == "" || msg.Text == "" {
				_, _ = io.WriteString(w, `{"ok":false,"error":"no_text"}`)
				return
			}
			n := s.posted.Add(1)
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1700000000.%06d"}`, msg.Channel, n)
		default:
			_, _ = io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
		}
	}))
	return s
}
