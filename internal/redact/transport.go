package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// maxTokenResponse bounds how much of a token response Observe reads to find the tokens.
const maxTokenResponse = 1 << 20

// Observe wraps next so that the credentials a request carries at run time are registered
// with r before the request is sent: the value of its Authorization and
// Proxy-Authorization headers (whole and without the scheme: an OAuth access token that was
// never configured), and the tokens of an OAuth token response (access_token,
// refresh_token and id_token of the JSON or form answer to a form-encoded POST) before the
// caller reads them.
func Observe(r *Redactor, next http.RoundTripper) http.RoundTripper {
	return &observer{r: r, next: next}
}

type observer struct {
	r    *Redactor
	next http.RoundTripper
	seen sync.Map // header values already registered
}

// RoundTrip registers the request's credentials, sends it, and registers the tokens of a
// token response.
func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, v := range req.Header.Values(name) {
			o.header(v)
		}
	}
	resp, err := o.next.RoundTrip(req)
	if err != nil || resp == nil || resp.Body == nil || !tokenRequest(req) {
		return resp, err
	}
	buf, rerr := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	o.tokens(buf)
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), errReader{rerr}, rest), rest}
	return resp, nil
}

// CloseIdleConnections forwards to next, as http.Client expects.
func (o *observer) CloseIdleConnections() {
	if c, ok := o.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (o *observer) header(v string) {
	if v == "" {
		return
	}
	if _, ok := o.seen.Load(v); ok {
		return
	}
	forms := Forms(v)
	if _, cred, ok := strings.Cut(v, " "); ok {
		forms = append(forms, Forms(strings.TrimSpace(cred))...)
	}
	o.r.Add(forms...)
	o.seen.Store(v, struct{}{})
}

// tokens registers the tokens of an OAuth token response body (JSON, or form-encoded as
// some providers answer).
func (o *observer) tokens(body []byte) {
	keys := []string{"access_token", "refresh_token", "id_token"}
	var doc map[string]any
	if json.Unmarshal(body, &doc) == nil {
		for _, k := range keys {
			if s, ok := doc[k].(string); ok {
				o.r.AddSecret(s)
			}
		}
		return
	}
	if vals, err := url.ParseQuery(string(body)); err == nil {
		for _, k := range keys {
			o.r.AddSecret(vals.Get(k))
		}
	}
}

// tokenRequest reports whether req looks like an OAuth token request: a form-encoded POST
// with a grant_type (RFC 6749 §4).
func tokenRequest(req *http.Request) bool {
	if req.Method != http.MethodPost {
		return false
	}
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" || req.GetBody == nil {
		return false
	}
	body, err := req.GetBody()
	if err != nil {
		return false
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 64<<10))
	if err != nil {
		return false
	}
	vals, err := url.ParseQuery(string(b))
	return err == nil && vals.Get("grant_type") != ""
}

// errReader returns err once the buffered part of a body is consumed (nil: continue with
// the rest).
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}
