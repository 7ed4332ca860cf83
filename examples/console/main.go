// Command console runs the Integration Hub with its web console in one command, offline.
//
// It opens the SQLite store (in a temporary folder unless -db is given), starts three local
// stand-ins for remote services — a CRM that fails now and then, a chat that always
// answers, and a tracker whose events are mapped to a canonical work item and checked
// against its contract — registers them, sends a little traffic so the charts move, and
// serves the management API and the console:
//
//	go run ./examples/console
//
// It prints the console's URL with a sign-in token (the chairman's) and the tokens of the
// other roles, for a second browser: the hub checks each role's permissions, and holds
// changes of credentials and endpoints, enabling and deletions for approval. Stop it with
// Ctrl-C.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/store/sqlite"
)

// The tracker's canonical contract and mapping.
const (
	workItemSchema = `{
  "type": "object",
  "required": ["id", "title", "status"],
  "properties": {
    "id": {"type": "string"},
    "title": {"type": "string", "minLength": 1},
    "status": {"enum": ["todo", "in_progress", "done"]},
    "assignee": {"type": "string"}
  }
}`
	trackerMapping = `{
  "id": "'issue-' + string(issue.number)",
  "title": "issue.title",
  "status": "lookup({'open': 'todo', 'closed': 'done'}, issue.state, 'in_progress')",
  "assignee": "issue.assignee?.login ?? 'nobody'"
}`
)

type config struct {
	addr  string
	db    string
	token string
	demo  bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to serve the console on")
	flag.StringVar(&cfg.db, "db", "", "SQLite database file (default: a temporary one, removed on exit)")
	flag.StringVar(&cfg.token, "token", "", "the chairman's sign-in token (default: random)")
	flag.BoolVar(&cfg.demo, "demo", true, "send a little traffic so the console has something to show")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "console:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. ready, when set, receives the console's base URL and the
// tokens by role once it serves.
func run(ctx context.Context, cfg config, out io.Writer, ready func(base string, tokens map[string]string)) error {
	dbPath := cfg.db
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "hub-console-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "hub.db")
	}
	st, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	defer st.Close()

	key := make([]byte, hub.SecretKeySize)
	_, _ = crand.Read(key)
	h, err := hub.New(st, hub.WithSecretKey(key),
		// The built-in roles decide what each token may do, and changes of credentials or
		// endpoints, enabling a disabled service, bulk retries and deletions wait for a
		// second person's approval (the console's approvals page).
		hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeCredentials, hub.ChangeEndpoints,
			hub.ChangeEnable, hub.ChangeBulkRetry, hub.ChangeDataDeletion}}),
		// the stand-ins listen on loopback, which the destination guard refuses by default
		hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")),
		hub.WithPollInterval(100*time.Millisecond), hub.WithMaintenanceInterval(time.Second))
	if err != nil {
		return err
	}
	// The example itself acts as an admin: it starts and stops the hub, registers the
	// stand-ins and sends the demo traffic.
	self := hub.Principal{ID: "console-example", Roles: []hub.Role{hub.RoleAdmin}}
	ctx = hub.WithPrincipal(ctx, self)
	if err := h.Start(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(hub.WithPrincipal(context.Background(), self), 10*time.Second)
		defer cancel()
		_ = h.Close(cctx)
	}()

	crm, chat, tracker, stopStandIns, err := startStandIns()
	if err != nil {
		return err
	}
	defer stopStandIns()
	if err := register(ctx, h, crm, chat, tracker); err != nil {
		return err
	}

	tokens := map[string]string{"chairman": cfg.token, "admin": "", "operator": "", "viewer": ""}
	principals := map[string]hubhttp.Principal{}
	for role, tok := range tokens {
		if tok == "" {
			tok = randomToken()
			tokens[role] = tok
		}
		principals[tok] = hubhttp.Principal{ID: role + "-user", Roles: []string{role}}
	}
	handler, err := hubhttp.New(h, hubhttp.Options{Authenticate: hubhttp.BearerTokens(principals), Title: "Integration Hub (example)"})
	if err != nil {
		return err
	}
	defer handler.Close()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "Integration Hub console: %s/#token=%s\n", base, tokens["chairman"])
	fmt.Fprintf(out, "  signed in as the chairman; other roles, for a second browser:\n")
	for _, role := range []string{"admin", "operator", "viewer"} {
		fmt.Fprintf(out, "    %-8s %s/#token=%s\n", role, base, tokens[role])
	}
	fmt.Fprintf(out, "  hubctl: HUBCTL_URL=%s HUBCTL_TOKEN=%s go run ./cmd/hubctl status\n", base, tokens["operator"])
	fmt.Fprintf(out, "  store: %s (Ctrl-C stops)\n", dbPath)
	if ready != nil {
		ready(base, tokens)
	}
	if cfg.demo {
		go traffic(ctx, h)
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	handler.Close()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// startStandIns starts the three remote stand-ins on loopback.
func startStandIns() (crm, chat, tracker string, stop func(), err error) {
	var servers []*http.Server
	start := func(h http.HandlerFunc) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, s)
		go func() { _ = s.Serve(ln) }()
		return "http://" + ln.Addr().String(), nil
	}
	stop = func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}
	var calls atomic.Int64
	ok := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Remaining", fmt.Sprint(1000-calls.Load()%1000))
		_, _ = io.WriteString(w, `{"ok":true}`)
	}
	// The CRM fails one request in five (503), and every request during one minute out
	// of every five, so its health, breaker and dead letters change while you watch.
	if crm, err = start(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if time.Now().Minute()%5 == 4 || rand.IntN(5) == 0 {
			http.Error(w, `{"error":"service unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		ok(w)
	}); err != nil {
		stop()
		return
	}
	if chat, err = start(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond)
		ok(w)
	}); err != nil {
		stop()
		return
	}
	if tracker, err = start(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		ok(w)
	}); err != nil {
		stop()
		return
	}
	return crm, chat, tracker, stop, nil
}

func register(ctx context.Context, h *hub.Hub, crm, chat, tracker string) error {
	fast := json.RawMessage(`{"initial_backoff":"200ms","max_backoff":"2s","multiplier":2,"jitter":0.2,"inline_retries":0,"timeout":"5s"}`)
	two := 2
	for _, cfg := range []hub.IntegrationConfig{
		{Name: "crm", Category: "crm", Connector: "http", BaseURL: crm, Retry: fast, MaxRetries: &two, CostPerCall: 0.002,
			HealthCheck:    json.RawMessage(`{"window_seconds": 120, "min_samples": 5}`),
			CircuitBreaker: json.RawMessage(`{"failure_threshold": 8, "recovery_timeout": "10s"}`)},
		{Name: "chat", Category: "communication", Connector: "http", BaseURL: chat, Retry: fast, CostPerCall: 0.0005},
		{Name: "tracker", Category: "project_management", Connector: "http", BaseURL: tracker, Retry: fast, CostPerCall: 0.001,
			Contract: &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: json.RawMessage(workItemSchema)},
			Mapping:  json.RawMessage(trackerMapping)},
	} {
		if _, err := h.RegisterIntegration(ctx, cfg); err != nil {
			return fmt.Errorf("register %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// traffic sends a few events a second until ctx ends.
func traffic(ctx context.Context, h *hub.Hub) {
	t := time.NewTicker(400 * time.Millisecond)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var ev hub.EventData
		switch n % 3 {
		case 0:
			ev = hub.EventData{Service: "crm", Payload: json.RawMessage(fmt.Sprintf(`{"contact":{"id":%d,"email":"person%d@example.com"}}`, n, n))}
		case 1:
			ev = hub.EventData{Service: "chat", Payload: json.RawMessage(fmt.Sprintf(`{"text":"build %d passed"}`, n))}
		default:
			state := []string{"open", "closed", "reopened"}[n%3]
			ev = hub.EventData{Service: "tracker", Payload: json.RawMessage(fmt.Sprintf(`{"issue":{"number":%d,"title":"Issue %d","state":%q}}`, n, n, state))}
		}
		ev.Mode = hub.Async
		_, _ = h.ProcessIntegrationEvent(ctx, ev)
	}
}
