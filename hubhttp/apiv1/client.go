package apiv1

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the management API. It is safe for concurrent use.
type Client struct {
	// BaseURL is where the handler is mounted, e.g. "http://127.0.0.1:8080" or
	// "https://ops.example.com/hub".
	BaseURL string
	// Token is sent as a bearer token.
	Token string
	// HTTPClient sends the requests. Default: a client with a 30 s timeout (none for
	// streams).
	HTTPClient *http.Client
	// Header is added to every request, for example the governance headers Hub-Reason
	// (the justification an approval request stores) and Hub-Override-Reason (a
	// chairman's override).
	Header http.Header
}

// authorize sets the bearer token and the client's extra headers on req.
func (c *Client) authorize(req *http.Request) {
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

func (c *Client) url(path string) string {
	return strings.TrimRight(c.BaseURL, "/") + "/api/v1/" + strings.TrimLeft(path, "/")
}

func (c *Client) http() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTP
}

// Do sends method path (relative to /api/v1/) with in encoded as the JSON body (none when
// nil) and decodes the response into out (ignored when nil). An error response is returned
// as a *Problem.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("apiv1: encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return fmt.Errorf("apiv1: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	c.authorize(req)
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("apiv1: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 || strings.HasPrefix(resp.Header.Get("Content-Type"), ProblemContentType) {
		// a problem is an error whatever its status (202 approval-required)
		return problemFrom(resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("apiv1: reading the response of %s %s: %w", method, path, err)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("apiv1: decoding the response of %s %s: %w", method, path, err)
	}
	return nil
}

// Query builds a query string from pairs of name and value, leaving out empty values.
func Query(pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// StreamMessage is one message of the live stream.
type StreamMessage struct {
	ID    string
	Event StreamEvent
}

// Stream reads GET /stream (query as built by Query) from lastID and calls fn for each
// message until ctx ends, fn returns an error, or the stream fails; it does not reconnect.
// It returns the ID of the last message received, to resume with.
func (c *Client) Stream(ctx context.Context, query, lastID string, fn func(StreamMessage) error) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("stream")+query, nil)
	if err != nil {
		return lastID, fmt.Errorf("apiv1: %w", err)
	}
	c.authorize(req)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	hc := *c.http()
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return lastID, fmt.Errorf("apiv1: stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return lastID, problemFrom(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != nil {
				var ev StreamEvent
				if err := json.Unmarshal(data, &ev); err != nil {
					return lastID, fmt.Errorf("apiv1: stream message: %w", err)
				}
				if id != "" {
					lastID = id
				}
				if err := fn(StreamMessage{ID: id, Event: ev}); err != nil {
					return lastID, err
				}
			}
			id, data = "", nil
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:]...)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return lastID, fmt.Errorf("apiv1: stream: %w", err)
	}
	return lastID, ctx.Err()
}

// problemFrom reads the problem document of an error response (or describes the response
// when it holds none).
func problemFrom(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p Problem
	if json.Unmarshal(raw, &p) == nil && p.Status != 0 {
		return &p
	}
	return &Problem{Type: ProblemTypePrefix + CodeInternal, Title: resp.Status, Status: resp.StatusCode, Code: CodeInternal,
		Detail: strings.TrimSpace(string(raw))}
}
