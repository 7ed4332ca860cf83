package connectors_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ehg/hub/connectors"
)

// ticketConnector is what a connector author writes: a struct holding its parsed
// configuration, Info, Invoke and Check, built by a Factory from plain data.
type ticketConnector struct {
	connectors.ConnectorDefaults // future optional methods get defaults
	base                         connectors.BaseURL
	client                       *http.Client
	token                        string
	limit                        int64
}

func newTicketConnector(cfg connectors.Config) (connectors.Connector, error) {
	base, err := connectors.ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	var auth struct {
		Token string `json:"token"`
	}
	if err := cfg.DecodeAuth(&auth); err != nil {
		return nil, err
	}
	if auth.Token == "" {
		return nil, fmt.Errorf("%w: auth.token is required", connectors.ErrInvalidConfig)
	}
	limit, err := cfg.ResponseLimit()
	if err != nil {
		return nil, err
	}
	return &ticketConnector{base: base, client: cfg.Client(), token: auth.Token, limit: limit}, nil
}

func (c *ticketConnector) Info() connectors.Info {
	return connectors.Info{Kind: "tickets", BaseURL: c.base.String(), Operations: []string{"create"}, DefaultOperation: "create"}
}

func (c *ticketConnector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	const op = "tickets.create"
	if r == nil || (r.Operation != "" && r.Operation != "create") {
		return nil, connectors.BadRequest(op, "unknown operation")
	}
	req, err := connectors.NewJSONRequest(ctx, op, http.MethodPost, c.base.Join("/tickets", nil), r.Body, r.Header, r.IdempotencyKey, "")
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
	return &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body, RemoteID: res.Header.Get("Location")}, nil
}

var _ connectors.Connector = (*ticketConnector)(nil)

// Example shows how a connector author writes a connector, registers its factory
// on a registry the application owns, and how callers read classified errors.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") == "dup" {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Location", "T-1")
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	reg := connectors.NewRegistry()
	reg.MustRegister("tickets", newTicketConnector)

	conn, err := reg.New("tickets", connectors.Config{
		BaseURL: srv.URL,
		Auth:    []byte(`{"token":"t0k"}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := conn.Invoke(context.Background(), &connectors.Request{Body: []byte(`{"title":"hi"}`), IdempotencyKey: "k1"})
	fmt.Println(resp.StatusCode, resp.RemoteID, err)

	_, err = conn.Invoke(context.Background(), &connectors.Request{Body: []byte(`{}`), IdempotencyKey: "dup"})
	var ce *connectors.Error
	if errors.As(err, &ce) {
		fmt.Println(errors.Is(err, connectors.ErrRateLimited), ce.RetryAfter())
	}
	// Output:
	// 201 T-1 <nil>
	// true 30s
}
