package connectortest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

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
