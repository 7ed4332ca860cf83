// Package restclient is the request loop the vendor connectors share: it holds a call
// back while the remote's rate-limit window is closed ([Gate]), builds the JSON
// request, authenticates it, sends it within the response bound, lets the connector
// read the vendor's rate-limit signals from every response, refreshes an OAuth token
// once when the remote rejects it, and classifies failures with the connector's
// vendor rules.
//
// Everything vendor-specific stays in the connector: the auth header, extra headers,
// how an error body maps to a class and which headers close the gate.
package restclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/oauthtoken"
	"github.com/ehg/hub/resilience"
)

// ErrHeldBack is the cause of the rate-limited error returned, without any request
// being sent, when a call comes before the reset the remote announced.
var ErrHeldBack = errors.New("connectors: remote rate limit not yet reset; request not sent")

// GlobalKey is the gate key that holds back every call of a connector.
const GlobalKey = ""

// Gate remembers until when the remote asked not to be called, per key (a Discord
// bucket, a HubSpot policy) and globally. It is safe for concurrent use.
type Gate struct {
	now func() time.Time

	mu    sync.Mutex
	until map[string]time.Time
}

// NewGate returns an open gate on the clock now (time.Now when nil).
func NewGate(now func() time.Time) *Gate {
	if now == nil {
		now = time.Now
	}
	return &Gate{now: now, until: map[string]time.Time{}}
}

// Block holds calls on key back until t. An earlier t than one already set is ignored,
// so the longest announced wait wins.
func (g *Gate) Block(key string, t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.After(g.until[key]) {
		g.until[key] = t
	}
}

// Wait returns how long calls on key (or every call, through [GlobalKey]) must still
// wait, or 0 when they may go.
func (g *Gate) Wait(key string) time.Duration {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	var d time.Duration
	for _, k := range []string{GlobalKey, key} {
		if t, ok := g.until[k]; ok {
			if w := t.Sub(now); w > d {
				d = w
			} else if w <= 0 {
				delete(g.until, k)
			}
		}
	}
	return d
}

// Check returns nil when key may be called, or an *connectors.Error of class
// ClassRateLimited with the remaining wait as RetryDelay, wrapping [ErrHeldBack] and a
// *resilience.RejectedError (reason resilience.ErrRateLimited): nothing reached the
// remote, so the hub's delivery engine reschedules the event after the wait without
// counting an attempt, as it does for its own rate limiter.
func (g *Gate) Check(op, key string) error {
	if d := g.Wait(key); d > 0 {
		return &connectors.Error{Class: connectors.ClassRateLimited, Op: op, RetryDelay: d,
			Err: fmt.Errorf("%w: %w", ErrHeldBack, &resilience.RejectedError{Reason: resilience.ErrRateLimited, Wait: d})}
	}
	return nil
}

// Client sends requests for one connector. Its fields are set once, before first use;
// after that it is safe for concurrent use.
type Client struct {
	// HTTP sends the requests.
	HTTP *http.Client
	// Limit bounds response bodies.
	Limit int64
	// UserAgent is sent as User-Agent.
	UserAgent string
	// Now is the clock.
	Now func() time.Time
	// Gate holds calls back until announced resets; nil never holds back.
	Gate *Gate
	// Tokens, when set, is invalidated after a 401 and the call retried once.
	Tokens *oauthtoken.Cache
	// Keeper, when set, persists the OAuth tokens of a refresh flow (connectors.Config.Tokens).
	Keeper connectors.TokenKeeper
	// TokenURL is the token endpoint UseRefreshFlow resolved ("" without OAuth).
	TokenURL string
	// Secrets are redacted from token-endpoint errors.
	Secrets []string
	// Authorize sets the request's credentials (and any fixed vendor headers) and
	// returns the access token it used, if it came from Tokens.
	Authorize func(ctx context.Context, req *http.Request) (token string, err error)
	// Observe reads rate-limit signals from every response (success or not), e.g. to
	// close the gate when the remaining quota reaches zero. key is the call's gate key.
	Observe func(key string, res *connectors.HTTPResult)
	// Classify turns a non-2xx result into the connector's error. Required.
	Classify func(op string, res *connectors.HTTPResult) *connectors.Error
}

// Call is one request.
type Call struct {
	// Op names the operation for errors, e.g. "hubspot.create".
	Op string
	// Method and URL address the request.
	Method, URL string
	// Body is the JSON body; nil sends none.
	Body []byte
	// Header holds extra headers (Authorization is ignored).
	Header http.Header
	// IdempotencyKey is forwarded as connectors.IdempotencyKeyHeader.
	IdempotencyKey string
	// GateKey selects the gate entry consulted before sending ("" for the global one).
	GateKey string
}

// Do performs c. It returns the result of a 2xx response; otherwise the gate's
// rate-limited error, the transport error, the token error classified by
// oauthtoken.ClassifyError, or the connector's classification of the response.
func (cl *Client) Do(ctx context.Context, c *Call) (*connectors.HTTPResult, error) {
	for attempt := 0; ; attempt++ {
		if cl.Gate != nil {
			if err := cl.Gate.Check(c.Op, c.GateKey); err != nil {
				return nil, err
			}
		}
		req, err := connectors.NewJSONRequest(ctx, c.Op, c.Method, c.URL, c.Body, c.Header, c.IdempotencyKey, cl.UserAgent)
		if err != nil {
			return nil, err
		}
		token := ""
		if cl.Authorize != nil {
			if token, err = cl.Authorize(ctx, req); err != nil {
				return nil, oauthtoken.ClassifyError(ctx, c.Op, err, cl.Secrets...)
			}
		}
		res, err := connectors.Do(ctx, cl.HTTP, c.Op, req, cl.Limit)
		if err != nil {
			return nil, err
		}
		if cl.Observe != nil {
			cl.Observe(c.GateKey, res)
		}
		if res.OK() {
			return res, nil
		}
		if res.StatusCode == http.StatusUnauthorized && cl.Tokens != nil && token != "" && attempt == 0 {
			cl.Tokens.Invalidate(token)
			continue
		}
		return nil, cl.Classify(c.Op, res)
	}
}
