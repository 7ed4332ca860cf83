// Command quickstart shows the Integration Hub end to end, offline, in a few seconds.
//
// It opens the embedded SQLite store in a temporary folder and starts local stand-ins: a
// GitHub that sends signed "issues" webhooks, a Slack that accepts chat.postMessage and a
// tracker (any JSON API) that accepts work items. It registers GitHub as a source, Slack and
// the tracker as destinations with the canonical work-item contract, and one route: GitHub
// issues events → the GitHub → work item mapping → the contract → Slack and the tracker.
// GitHub's webhooks reach the hub through its WebhookHandler, which verifies each signature
// and stores the delivery, with one delivery per destination, before answering 200. Then:
//
//  1. the shared GitHub issue event and two variants arrive: each becomes a work item in
//     Slack and in the tracker;
//  2. a tampered delivery is refused (401) and a redelivery is recognised (not sent twice);
//  3. an event that breaks the contract is received but routed nowhere: every violation is
//     printed;
//  4. a burst arrives while Slack answers 503: Slack's breaker opens and its deliveries
//     wait, the tracker's go through at once, and Slack's drain once it recovers;
//  5. a summary: delivered, retried, dead, health and latency.
//
// With SLACK_BOT_TOKEN and SLACK_CHANNEL set, messages go to the real Slack instead of the
// stand-in (the failure burst is then skipped).
//
//	go run ./examples/quickstart
package main

import (
	"bytes"
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
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ehg/hub"
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
	h, err := hub.New(st,
		hub.WithSecretKey(key), // seals every service's credentials, webhook secrets included
		hub.WithWorkers(4),
		hub.WithPollInterval(20*time.Millisecond),
		hub.WithMaintenanceInterval(100*time.Millisecond),
		// The hub refuses loopback and other internal destinations by default; the
		// stand-ins listen on loopback, so open exactly that.
		hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")),
	)
	if err != nil {
		return err
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	defer h.Close(context.Background())

	// The stand-ins. Slack is the real one when configured.
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
	tracker := newTrackerStandIn()
	defer tracker.Close()
	githubAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"resources":{}}`) // GitHub's API, for the health check only
	}))
	defer githubAPI.Close()

	// The source: GitHub. Its webhook secret is part of its credentials, stored sealed.
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name:      "github",
		Category:  store.CategoryDevelopment,
		Connector: "github",
		BaseURL:   githubAPI.URL,
		Auth:      mustJSON(map[string]string{"token": "ghp-unused", "webhook_secret": webhookSecret}),
	}); err != nil {
		return fmt.Errorf("register github: %w", err)
	}
	// The destinations take work items (the contract); each has its own breaker and retries.
	workItem := &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: workItemSchema}
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name:             "slack-eng",
		Category:         store.CategoryCommunication,
		Connector:        "slack",
		BaseURL:          slackURL,
		Auth:             mustJSON(map[string]string{"bot_token": token}),
		ConnectorOptions: mustJSON(map[string]string{"channel": channel}),
		RateLimits:       json.RawMessage(`{"requests_per_minute": 600, "burst": 50}`),
		CircuitBreaker:   json.RawMessage(`{"failure_threshold": 3, "recovery_timeout": "400ms"}`),
		Retry:            json.RawMessage(`{"max_retries": 8, "initial_backoff": "50ms", "max_backoff": "500ms", "inline_retries": 0, "timeout": "10s"}`),
		Contract:         workItem,
	}); err != nil {
		return fmt.Errorf("register slack: %w", err)
	}
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name:      "tracker",
		Category:  store.CategoryDevelopment,
		Connector: "http",
		BaseURL:   tracker.URL + "/work-items",
		Auth:      json.RawMessage(`{"type": "bearer", "token": "tracker-quickstart-token"}`),
		Retry:     json.RawMessage(`{"max_retries": 8, "initial_backoff": "50ms", "max_backoff": "500ms", "inline_retries": 0, "timeout": "10s"}`),
		Contract:  &hub.ContractRef{Name: "work-item", Version: "1.0.0"},
	}); err != nil {
		return fmt.Errorf("register tracker: %w", err)
	}
	// The route: GitHub issues events, mapped to work items, to both destinations.
	route, err := h.PutRoute(ctx, hub.Route{
		Name:         "github-issues",
		Source:       "github",
		Condition:    `headers["X-GitHub-Event"] == "issues"`,
		Mapping:      workItemMapping,
		Contract:     &hub.ContractRef{Name: "work-item", Version: "1.0.0"},
		Destinations: []hub.RouteDestination{{Service: "slack-eng"}, {Service: "tracker"}},
	})
	if err != nil {
		return fmt.Errorf("route: %w", err)
	}
	fmt.Fprintf(out, "route %q v%d: github issues → work-item@1.0.0 → slack-eng, tracker\n\n", route.Name, route.Version)

	// The hub's webhook receiver, mounted under /webhooks/ as an embedding service would.
	mux := http.NewServeMux()
	mux.Handle("/webhooks/", http.StripPrefix("/webhooks", h.WebhookHandler()))
	receiver := httptest.NewServer(mux)
	defer receiver.Close()
	github := &githubStandIn{url: receiver.URL + "/webhooks/github", secret: webhookSecret}

	// 1. The shared event and two variants.
	fmt.Fprintln(out, "1. GitHub issues webhooks → work item → Slack and the tracker")
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
		res, err := github.send(ctx, fmt.Sprintf("delivery-%d", i), edit(issueEvent, v.edit))
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		kids, err := waitFanOut(ctx, h, res.EventID, 2)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		slices.SortFunc(kids, func(a, b *store.Event) int { return strings.Compare(a.ServiceName, b.ServiceName) })
		var wi struct{ ID, Status, Priority string }
		_ = json.Unmarshal(kids[0].PayloadIn, &wi) // the work item the route made
		fmt.Fprintf(out, "   %-22s %-36s status=%-11s priority=%-6s\n", v.name, wi.ID, wi.Status, wi.Priority)
		for _, k := range kids {
			fmt.Fprintf(out, "   %-22s → %-9s %s (HTTP %d, %d ms)\n", "", k.ServiceName, k.Status, k.ResponseCode, k.ResponseTimeMS)
		}
	}

	// 2. What the receiver refuses and what it recognises.
	fmt.Fprintln(out, "\n2. A tampered delivery and a redelivery")
	code, err := github.post(ctx, "delivery-tampered", issueEvent, []byte(`{"action":"opened","forged":true}`))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   tampered body: HTTP %d, nothing stored\n", code)
	again, err := github.send(ctx, "delivery-0", edit(issueEvent, variants[0].edit))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   redelivery of delivery-0: HTTP 200, duplicate=%v, not sent again\n", again.Duplicate)

	// 3. A contract violation: the mapping runs, the contract refuses it, nothing is sent.
	fmt.Fprintln(out, "\n3. An event that breaks the work-item contract")
	bad, err := github.send(ctx, "delivery-bad", edit(issueEvent, func(e map[string]any) {
		issue(e)["title"] = ""
		issue(e)["html_url"] = "not a url"
		issue(e)["number"] = 1350
	}))
	if err != nil {
		return err
	}
	in, err := h.Store().GetEvent(ctx, bad.EventID)
	if err != nil {
		return err
	}
	var routing struct {
		Routes []struct{ Route, Error string } `json:"routes"`
	}
	_ = json.Unmarshal(in.PayloadOut, &routing)
	if len(routing.Routes) == 0 || routing.Routes[0].Error == "" {
		return errors.New("the bad event was routed")
	}
	fmt.Fprintf(out, "   received (event %s) and routed nowhere:\n     %s\n", bad.EventID, routing.Routes[0].Error)

	// 4. A burst while Slack fails: its breaker opens and its deliveries wait; the tracker's
	// do not wait for Slack's.
	if slack != nil {
		fmt.Fprintln(out, "\n4. A burst of 20 webhooks while the Slack stand-in answers 503")
		slack.fail.Store(true)
		for i := range 20 {
			if _, err := github.send(ctx, fmt.Sprintf("burst-%d", i), edit(issueEvent, func(e map[string]any) { issue(e)["number"] = 2000 + i })); err != nil {
				return err
			}
		}
		// The waits end as soon as their condition holds; their bounds only matter on a
		// machine busy with other work.
		waitFor(time.Minute, func() bool {
			hr, err := h.GetIntegrationHealth(ctx, "slack-eng")
			return err == nil && hr.Services[0].Breaker == "open" && tracker.received.Load() >= 23
		})
		hr, err := h.GetIntegrationHealth(ctx, "slack-eng")
		if err != nil {
			return err
		}
		s := hr.Services[0]
		fmt.Fprintf(out, "   slack-eng: breaker %s, health %s; waiting: %d pending, %d retrying (Slack saw %d failed calls)\n",
			s.Breaker, s.Status, s.QueueDepth[store.StatusPending], s.QueueDepth[store.StatusRetrying], slack.failed.Load())
		fmt.Fprintf(out, "   tracker meanwhile: %d work items received\n", tracker.received.Load())
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

	// 5. Summary.
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
	fmt.Fprintf(out, "   events %d (received and delivered): delivered %d, retried %d, failed or dead %d\n", o.Events, o.Succeeded, o.Retried, o.Failed)
	fmt.Fprintf(out, "   slack-eng health %s (breaker %s, error rate over recent attempts %.0f%%)\n", s.Status, s.Breaker, 100*s.ErrorRate)
	fmt.Fprintf(out, "   latency p50 %.0f ms, p95 %.0f ms, p99 %.0f ms\n", o.P50MS, o.P95MS, o.P99MS)
	if slack != nil {
		fmt.Fprintf(out, "   Slack stand-in received %d messages\n", slack.posted.Load())
	}
	fmt.Fprintf(out, "   tracker stand-in received %d work items\n", tracker.received.Load())
	return nil
}

// waitFanOut waits until the n deliveries derived from the inbound event have left the
// queue and returns them.
func waitFanOut(ctx context.Context, h *hub.Hub, id string, n int) ([]*store.Event, error) {
	var kids []*store.Event
	ok := waitFor(time.Minute, func() bool {
		var err error
		kids, err = h.EventFanOut(ctx, id)
		if err != nil || len(kids) != n {
			return false
		}
		for _, k := range kids {
			if k.Status != store.StatusSucceeded && !k.Status.Terminal() {
				return false
			}
		}
		return true
	})
	if !ok {
		return nil, fmt.Errorf("the deliveries of event %s did not finish", id)
	}
	return kids, nil
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

// githubStandIn plays GitHub: it signs each payload with the webhook secret, as GitHub does
// (X-Hub-Signature-256: HMAC-SHA256 of the body), and posts it as an "issues" delivery.
type githubStandIn struct {
	url, secret string
}

// send delivers payload and returns the receiver's answer, which must be 200.
func (g *githubStandIn) send(ctx context.Context, delivery string, payload []byte) (*hub.WebhookResult, error) {
	req, err := g.request(ctx, delivery, payload, payload)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("delivery %s: HTTP %d", delivery, resp.StatusCode)
	}
	var res hub.WebhookResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, err
	}
	return &res, nil
}

// post delivers body with the signature of signed and returns the status code.
func (g *githubStandIn) post(ctx context.Context, delivery string, signed, body []byte) (int, error) {
	req, err := g.request(ctx, delivery, signed, body)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (g *githubStandIn) request(ctx context.Context, delivery string, signed, body []byte) (*http.Request, error) {
	mac := hmac.New(sha256.New, []byte(g.secret))
	mac.Write(signed)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	return req, nil
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

// trackerStandIn is a tracker's REST API: POST /work-items stores a work item, once per
// Idempotency-Key.
type trackerStandIn struct {
	*httptest.Server
	received atomic.Int64
}

func newTrackerStandIn() *trackerStandIn {
	t := &trackerStandIn{}
	seen := map[string]bool{}
	var mu = make(chan struct{}, 1)
	t.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tracker-quickstart-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/work-items" {
			w.WriteHeader(http.StatusOK) // the health check
			return
		}
		var item struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&item); err != nil || item.ID == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu <- struct{}{}
		if key := r.Header.Get("Idempotency-Key"); !seen[key] {
			seen[key] = true
			t.received.Add(1)
		}
		<-mu
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q}`, item.ID)
	}))
	return t
}
