package jira_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/jira"
)

// FuzzResponses feeds arbitrary statuses, rate-limit headers and bodies to the
// connector: it must never panic and must fail only with classified errors.
func FuzzResponses(f *testing.F) {
	f.Add(200, "0", "5", `{"results":[],"issues":[],"id":"1"}`)
	f.Add(429, "0", "1.5", `{"retry_after":0.5,"global":true,"policyName":"DAILY","code":"rate_limited"}`)
	f.Add(207, "", "", `{"results":[{"id":"1"}],"errors":[{"category":"X"}],"numErrors":1}`)
	f.Add(400, "x", "y", `{"message":{"title":["blank"]},"errorMessages":["e"],"errors":{"a":"b"}}`)
	f.Add(200, "", "", `Microsoft Teams endpoint returned HTTP error 429 with ContextId x`)
	var status atomic.Int32
	var h1, h2, body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", h1.Load().(string))
		w.Header().Set("X-RateLimit-Reset", h2.Load().(string))
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(body.Load().(string)))
	}))
	f.Cleanup(srv.Close)
	newConn := func(t *testing.T) connectors.Connector {
		c, err := jira.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: json.RawMessage(`{"email":"a@example.com","api_token":"t","webhook_secret":"s","client_secret":"c"}`), Options: json.RawMessage(`{"project_key":"PAY","jql":"project = PAY"}`)})
		require.NoError(t, err)
		return c
	}
	f.Fuzz(func(t *testing.T, st int, v1, v2, b string) {
		if st < 200 || st > 599 || strings.ContainsAny(v1+v2, "\r\n\x00") {
			return
		}
		status.Store(int32(st))
		h1.Store(v1)
		h2.Store(v2)
		body.Store(b)
		c := newConn(t) // fresh: a closed gate from one input must not mask the next
		check := func(err error) {
			var ce *connectors.Error
			if err != nil {
				require.True(t, errors.As(err, &ce), "unclassified error %v", err)
			}
		}
		_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
		check(err)
		check(c.Check(t.Context()))
		if l, ok := c.(connectors.Lister); ok {
			_, err := l.List(t.Context(), &connectors.ListRequest{})
			check(err)
		}
		if v, ok := c.(connectors.WebhookVerifier); ok {
			hdr := http.Header{}
			for _, k := range []string{"X-Hub-Signature", "Authorization", "X-Gitlab-Token", "Webhook-Signature", "Webhook-Id", "Webhook-Timestamp",
				"X-Notion-Signature", "X-Signature-Ed25519", "X-Signature-Timestamp", "X-Hubspot-Signature-V3", "X-Hubspot-Request-Timestamp", "X-Gitlab-Event"} {
				hdr.Set(k, v1)
			}
			if _, err := v.VerifyWebhook(hdr, []byte(b)); err != nil {
				require.True(t, errors.Is(err, connectors.ErrInvalidSignature) || errors.Is(err, connectors.ErrStaleWebhook), "%v", err)
			}
		}
	})
}

// FuzzVerifyJWT: arbitrary tokens never panic and never verify without the secret's
// signature.
func FuzzVerifyJWT(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3NjQwNzI2MDB9.sig")
	f.Add("a.b.c")
	f.Add("..")
	now := time.Unix(1764072000, 0)
	f.Fuzz(func(t *testing.T, token string) {
		err := jira.VerifyJWT([]byte("secret"), token, now)
		if err == nil {
			parts := strings.Split(token, ".")
			require.Len(t, parts, 3)
			mac := hmac.New(sha256.New, []byte("secret"))
			mac.Write([]byte(parts[0] + "." + parts[1]))
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			require.NoError(t, err)
			require.Equal(t, mac.Sum(nil), sig)
			return
		}
		require.True(t, errors.Is(err, connectors.ErrInvalidSignature) || errors.Is(err, connectors.ErrStaleWebhook), "%v", err)
	})
}
