package connectortest_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/connectortest"
)

// refConnector is the smallest connector that passes the suite; it keeps the suite
// honest about what it demands.
type refConnector struct {
	base   connectors.BaseURL
	client *http.Client
	limit  int64
	token  string
}

func (c *refConnector) Info() connectors.Info {
	return connectors.Info{Kind: "ref", DefaultOperation: "post"}
}

func (c *refConnector) call(ctx context.Context, op, method string, r *connectors.Request) (*connectors.Response, error) {
	req, err := connectors.NewJSONRequest(ctx, op, method, c.base.Join("/items", nil), r.Body, r.Header, r.IdempotencyKey, "")
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := connectors.Do(ctx, c.client, op, req, c.limit)
	if err != nil {
		return nil, err
	}
	if !res.OK() {
		return nil, connectors.StatusError(op, res, "", string(res.Body), time.Now(), c.token)
	}
	return &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}, nil
}

func (c *refConnector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("ref.post", "nil request")
	}
	return c.call(ctx, "ref.post", http.MethodPost, r)
}

func (c *refConnector) Check(ctx context.Context) error {
	_, err := c.call(ctx, "ref.check", http.MethodGet, &connectors.Request{})
	return err
}

func TestSuiteAgainstReference(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		base, err := connectors.ParseBaseURL(cfg.BaseURL)
		require.NoError(t, err)
		limit, err := cfg.ResponseLimit()
		require.NoError(t, err)
		return &refConnector{base: base, client: cfg.Client(), limit: limit, token: "ref-secret-token"}
	}, connectortest.Features{Secrets: []string{"ref-secret-token"}})
}

// stubbornConnector is refConnector with calls that ignore their context: the request is
// sent without it, so a server holding the request holds the call.
type stubbornConnector struct{ refConnector }

func (c *stubbornConnector) Invoke(_ context.Context, r *connectors.Request) (*connectors.Response, error) {
	return c.refConnector.Invoke(context.Background(), r)
}

func (c *stubbornConnector) Check(context.Context) error {
	return c.refConnector.Check(context.Background())
}

const stubbornChildEnv = "HUB_CONNECTORTEST_STUBBORN_CHILD"

// TestSuiteFailsAStubbornConnector runs the suite, in a child process, against a connector
// that ignores cancellation: the suite must fail it with a message naming the fault within
// its deadlines instead of hanging until the test binary's timeout.
func TestSuiteFailsAStubbornConnector(t *testing.T) {
	if os.Getenv(stubbornChildEnv) != "" {
		connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
			base, err := connectors.ParseBaseURL(cfg.BaseURL)
			require.NoError(t, err)
			return &stubbornConnector{refConnector{base: base, client: cfg.Client(), limit: connectortest.LimitBytes, token: "t"}}
		}, connectortest.Features{})
		return
	}
	t.Parallel()
	exe, err := os.Executable()
	require.NoError(t, err)
	// Far beyond the suite's own deadlines (CancelGrace), far below a hang.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestSuiteFailsAStubbornConnector$", "-test.v")
	cmd.Env = append(os.Environ(), stubbornChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "the suite hung on a connector that ignores cancellation:\n%s", out)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the suite passed a connector that ignores cancellation:\n%s", out)
	text := string(out)
	assert.Contains(t, text, "connector ignored context cancellation for 5s")
	for _, step := range []string{"--- FAIL: TestSuiteFailsAStubbornConnector/Cancel", "--- FAIL: TestSuiteFailsAStubbornConnector/Deadline"} {
		assert.Contains(t, text, step)
	}
	assert.Contains(t, text, "--- PASS: TestSuiteFailsAStubbornConnector/Success", "calls that need no cancellation still pass")
}
