package hub_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	if os.Getenv(eraseChildEnv) != "" {
		os.Exit(eraseChild())
	}
	if os.Getenv(auditChildEnv) != "" {
		os.Exit(auditChild())
	}
	goleak.VerifyTestMain(m,
		// pgx pools and net/http keep-alive readers wind down asynchronously after Close.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreAnyFunction("database/sql.(*DB).connectionOpener"),
	)
}

// The shared workload (copies live with the quickstart, so a fresh clone has them).
var (
	issueEvent      = mustRead("examples/quickstart/data/github-issue-event.json")
	workItemSchema  = mustRead("examples/quickstart/data/work-item.schema.json")
	workItemMapping = mustRead("examples/quickstart/data/github-issue-to-work-item.expr.json")
)

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return b
}

type bundle struct {
	hub  *hub.Hub
	st   store.Store
	sink *hubtest.Sink
	reg  *hub.Registration
}

// setup starts a hub on the memory store with a sink service named "sink" (generic HTTP
// connector, fast retries, no rate ceiling) and returns the bundle.
func setup(t *testing.T, opts ...hub.Option) *bundle {
	t.Helper()
	h := hubtest.New(t, nil, opts...)
	sink := hubtest.NewSink(t)
	reg := register(t, h, "sink", sink.URL, nil)
	return &bundle{hub: h, st: h.Store(), sink: sink, reg: reg}
}

func register(t testing.TB, h *hub.Hub, name, url string, edit func(*hub.IntegrationConfig)) *hub.Registration {
	t.Helper()
	cfg := hub.IntegrationConfig{
		Name:           name,
		Connector:      "http",
		BaseURL:        url,
		Retry:          json.RawMessage(hubtest.FastRetry),
		RateLimits:     json.RawMessage(hubtest.Unlimited),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 1000, "recovery_timeout": "100ms"}`),
	}
	if edit != nil {
		edit(&cfg)
	}
	reg, err := h.RegisterIntegration(context.Background(), cfg)
	require.NoError(t, err)
	return reg
}

// workItemService configures the service with the shared contract and mapping.
func workItemService(c *hub.IntegrationConfig) {
	c.Contract = &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: workItemSchema}
	c.Mapping = workItemMapping
}

// eventually waits for cond, failing the test when it does not hold after d — or after
// eventuallyFloor when d is shorter: the bound is there to catch a hang, not to time the
// hub, and on a machine whose cores are saturated by other work anything may take that long.
// A condition that holds sooner returns as soon as it holds.
func eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventuallyf(t, cond, max(d, eventuallyFloor), 25*time.Millisecond, msg, args...)
}

// eventuallyFloor is the shortest wait of eventually.
const eventuallyFloor = 2 * time.Minute

func statusOf(t testing.TB, st store.Store, id string) store.EventStatus {
	t.Helper()
	ev, err := st.GetEvent(context.Background(), id)
	require.NoError(t, err)
	return ev.Status
}

func issueWith(t testing.TB, edit func(issue map[string]any)) json.RawMessage {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(issueEvent, &m))
	edit(m["issue"].(map[string]any))
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func intp(v int) *int { return &v }
