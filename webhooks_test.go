package hub_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// Signatures in these tests are computed here from each provider's documentation, with
// crypto/hmac, not with the connectors' own helpers.

// githubSign is GitHub's X-Hub-Signature-256 ("Validating webhook deliveries"): HMAC-SHA256
// of the raw body under the webhook secret, hex, prefixed "sha256=".
func githubSign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// slackSign is Slack's v0 signature ("Verifying requests from Slack"): HMAC-SHA256 of
// "v0:<timestamp>:<body>" under the signing secret, hex, prefixed "v0=".
func slackSign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends one delivery to handler and returns the recorded answer.
func post(handler http.Handler, service string, header http.Header, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/"+service, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return rec
}

func githubHeader(secret, delivery string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-GitHub-Event", "issues")
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-Hub-Signature-256", githubSign(secret, body))
	return h
}

func result(t *testing.T, rec *httptest.ResponseRecorder) hub.WebhookResult {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var r hub.WebhookResult
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
	return r
}

func registerGitHub(t testing.TB, h *hub.Hub, name, url, secret string) {
	t.Helper()
	register(t, h, name, url, func(c *hub.IntegrationConfig) {
		c.Connector = "github"
		c.Auth = json.RawMessage(`{"token":"ghp-test","webhook_secret":` + strconv.Quote(secret) + `}`)
	})
}

func TestWebhookGitHub(t *testing.T) {
	t.Parallel()
	b := setup(t, hub.WithPayloadLimits(64<<10, 0))
	registerGitHub(t, b.hub, "github", b.sink.URL, "s3cret")
	handler := b.hub.WebhookHandler()
	ctx := t.Context()

	first := result(t, post(handler, "github", githubHeader("s3cret", "d-1", issueEvent), issueEvent))
	assert.False(t, first.Duplicate)
	ev, err := b.st.GetEvent(ctx, first.EventID)
	require.NoError(t, err)
	assert.Equal(t, store.DirectionInbound, ev.Direction)
	assert.Equal(t, "webhook:d-1", ev.IdempotencyKey)
	assert.Equal(t, "issues", ev.Operation)
	assert.JSONEq(t, string(issueEvent), string(ev.PayloadIn))

	// GitHub retries the same delivery: accepted, not processed again
	again := result(t, post(handler, "github", githubHeader("s3cret", "d-1", issueEvent), issueEvent))
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.EventID, again.EventID)

	tampered := bytes.Replace(issueEvent, []byte(`"opened"`), []byte(`"closed"`), 1)
	missing := githubHeader("s3cret", "d-2", issueEvent)
	missing.Del("X-Hub-Signature-256")
	big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 70<<10)...)
	big = append(big, `"}`...)
	tests := []struct {
		name    string
		service string
		header  http.Header
		body    []byte
		want    int
	}{
		{"tampered body", "github", githubHeader("s3cret", "d-2", issueEvent), tampered, http.StatusUnauthorized},
		{"wrong secret", "github", githubHeader("other", "d-2", issueEvent), issueEvent, http.StatusUnauthorized},
		{"missing signature", "github", missing, issueEvent, http.StatusUnauthorized},
		{"oversized body", "github", githubHeader("s3cret", "d-3", big), big, http.StatusRequestEntityTooLarge},
		{"unknown service", "nope", githubHeader("s3cret", "d-2", issueEvent), issueEvent, http.StatusNotFound},
		{"no verifier", "sink", githubHeader("s3cret", "d-2", issueEvent), issueEvent, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		rec := post(handler, tt.service, tt.header, tt.body)
		assert.Equal(t, tt.want, rec.Code, tt.name)
		if tt.want == http.StatusUnauthorized {
			assert.Empty(t, rec.Body.String(), "%s: no detail", tt.name)
		}
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/github", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)

	// Only the one delivery was stored.
	evs, err := b.st.ListEvents(ctx, store.EventFilter{ServiceID: ev.ServiceID})
	require.NoError(t, err)
	assert.Len(t, evs, 1)
	// The hub acknowledges an inbound event; nothing is sent back to GitHub.
	require.Eventually(t, func() bool {
		got, err := b.st.GetEvent(ctx, first.EventID)
		return err == nil && got.Status == store.StatusSucceeded
	}, 30*time.Second, 10*time.Millisecond)
	assert.Zero(t, b.sink.Total())
}

// GitHub's published test vector ("Testing the webhook payload validation"): secret
// "It's a Secret to Everybody", payload "Hello, World!".
func TestWebhookGitHubVector(t *testing.T) {
	t.Parallel()
	b := setup(t)
	registerGitHub(t, b.hub, "github", b.sink.URL, "It's a Secret to Everybody")
	h := http.Header{}
	h.Set("X-GitHub-Event", "ping")
	h.Set("X-GitHub-Delivery", "vector")
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	rec := post(b.hub.WebhookHandler(), "github", h, []byte("Hello, World!"))
	// The signature verifies; the body is not JSON, which the hub cannot store as an event.
	assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18")
	assert.Equal(t, http.StatusUnauthorized, post(b.hub.WebhookHandler(), "github", h, []byte("Hello, World!")).Code)
}

// Slack's published example ("Verifying requests from Slack"): a slash command signed at
// 1531420618 with the signing secret 8f742231b10e8888abcd99yyyzzz85a5.
const (
	slackVectorSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	slackVectorTS     = "1531420618"
	slackVectorBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackVectorSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func TestWebhookSlack(t *testing.T) {
	t.Parallel()
	signedAt := time.Unix(1531420618, 0)
	tests := []struct {
		name string
		now  time.Time
		want int
	}{
		{"within the window", signedAt.Add(2 * time.Minute), http.StatusOK},
		{"stale", signedAt.Add(6 * time.Minute), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, hub.WithClock(func() time.Time { return tt.now }))
			register(t, b.hub, "slack", b.sink.URL, func(c *hub.IntegrationConfig) {
				c.Connector = "slack"
				c.Auth = json.RawMessage(`{"bot_token":"xoxb-test","signing_secret":"` + slackVectorSecret + `"}`)
			})
			h := http.Header{}
			h.Set("Content-Type", "application/x-www-form-urlencoded")
			h.Set("X-Slack-Request-Timestamp", slackVectorTS)
			h.Set("X-Slack-Signature", slackVectorSig)
			rec := post(b.hub.WebhookHandler(), "slack", h, []byte(slackVectorBody))
			require.Equal(t, tt.want, rec.Code)
			if tt.want != http.StatusOK {
				assert.Empty(t, rec.Body.String())
				return
			}
			ev, err := b.st.GetEvent(t.Context(), result(t, rec).EventID)
			require.NoError(t, err)
			var form map[string]string
			require.NoError(t, json.Unmarshal(ev.PayloadIn, &form))
			assert.Equal(t, "/webhook-collect", form["command"])

			// url_verification: signed like any request, answered with the challenge
			body := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
			ts := strconv.FormatInt(tt.now.Unix(), 10)
			h = http.Header{}
			h.Set("Content-Type", "application/json")
			h.Set("X-Slack-Request-Timestamp", ts)
			h.Set("X-Slack-Signature", slackSign(slackVectorSecret, ts, body))
			rec = post(b.hub.WebhookHandler(), "slack", h, body)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.JSONEq(t, `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`, rec.Body.String())
			h.Set("X-Slack-Signature", slackSign("wrong", ts, body))
			assert.Equal(t, http.StatusUnauthorized, post(b.hub.WebhookHandler(), "slack", h, body).Code)

			// an Events API callback retried by Slack is deduplicated by its event_id
			cb := []byte(`{"type":"event_callback","event_id":"Ev0PV52K21","event":{"type":"app_mention","text":"hi"}}`)
			h.Set("X-Slack-Signature", slackSign(slackVectorSecret, ts, cb))
			one := result(t, post(b.hub.WebhookHandler(), "slack", h, cb))
			h.Set("X-Slack-Retry-Num", "1")
			two := result(t, post(b.hub.WebhookHandler(), "slack", h, cb))
			assert.True(t, two.Duplicate)
			assert.Equal(t, one.EventID, two.EventID)
		})
	}
}

// stripeSignature follows Stripe's "Verify signatures manually": HMAC-SHA256 of
// "<t>.<payload>" under the endpoint secret, hex, in "t=<t>,v1=<sig>".
func stripeSignature(secret string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// standardSignature follows the Standard Webhooks specification: HMAC-SHA256 of
// "<id>.<timestamp>.<body>" under the base64-decoded part of "whsec_...", base64, "v1,".
func standardSignature(secret, id string, at time.Time, body []byte) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestWebhookGenericSchemes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b := setup(t)
	const stripeSecret = "whsec_stripe_test_0123456789"
	const oldKey, newKey = "whsec_b2xkLWtleS1vbGQta2V5LW9sZA==", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	register(t, b.hub, "stripe", b.sink.URL, func(c *hub.IntegrationConfig) {
		c.Auth = json.RawMessage(`{"type":"bearer","token":"sk_test","webhook_secret":"` + stripeSecret + `"}`)
		c.ConnectorOptions = json.RawMessage(`{"webhook":{"type":"stripe"}}`)
	})
	register(t, b.hub, "standard", b.sink.URL, func(c *hub.IntegrationConfig) {
		c.Auth = json.RawMessage(`{"webhook_secrets":["` + oldKey + `","` + newKey + `"]}`)
		c.ConnectorOptions = json.RawMessage(`{"webhook":{"type":"standard","tolerance":"2m"}}`)
	})
	register(t, b.hub, "custom", b.sink.URL, func(c *hub.IntegrationConfig) {
		c.Auth = json.RawMessage(`{"webhook_secret":"custom-secret"}`)
		c.ConnectorOptions = json.RawMessage(`{"webhook":{"signature_header":"X-Signature","encoding":"base64","delivery_header":"X-Delivery-Id","timestamp_header":"X-Timestamp"}}`)
	})
	handler := b.hub.WebhookHandler()
	stripeBody := []byte(`{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}`)
	standardBody := []byte(`{"type":"user.created","data":{"id":"u1"}}`)
	customBody := []byte(`{"thing":"changed"}`)
	customHeader := func(secret string, at time.Time, body []byte) http.Header {
		ts := strconv.FormatInt(at.Unix(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		h := http.Header{}
		h.Set("X-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		h.Set("X-Timestamp", ts)
		h.Set("X-Delivery-Id", "c-1")
		return h
	}
	standardHeader := func(key, id string, at time.Time, body []byte) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		h.Set("webhook-signature", standardSignature(key, id, at, body))
		return h
	}
	stripeHeader := func(secret string, at time.Time) http.Header {
		h := http.Header{}
		h.Set("Stripe-Signature", stripeSignature(secret, at, stripeBody))
		return h
	}
	tests := []struct {
		name, service string
		header        http.Header
		body          []byte
		want          int
		dup           bool
	}{
		{"stripe valid", "stripe", stripeHeader(stripeSecret, now), stripeBody, http.StatusOK, false},
		{"stripe retry", "stripe", stripeHeader(stripeSecret, now.Add(time.Minute)), stripeBody, http.StatusOK, true},
		{"stripe wrong secret", "stripe", stripeHeader("whsec_other", now), stripeBody, http.StatusUnauthorized, false},
		{"stripe stale", "stripe", stripeHeader(stripeSecret, now.Add(-10*time.Minute)), stripeBody, http.StatusUnauthorized, false},
		{"stripe tampered", "stripe", stripeHeader(stripeSecret, now), append([]byte(" "), stripeBody...), http.StatusUnauthorized, false},
		{"stripe missing", "stripe", http.Header{}, stripeBody, http.StatusUnauthorized, false},
		{"standard new key", "standard", standardHeader(newKey, "msg_1", now, standardBody), standardBody, http.StatusOK, false},
		{"standard old key", "standard", standardHeader(oldKey, "msg_2", now, standardBody), standardBody, http.StatusOK, false},
		{"standard retry", "standard", standardHeader(newKey, "msg_1", now, standardBody), standardBody, http.StatusOK, true},
		{"standard stale", "standard", standardHeader(newKey, "msg_3", now.Add(-3*time.Minute), standardBody), standardBody, http.StatusUnauthorized, false},
		{"standard unknown key", "standard", standardHeader("whsec_c29tZW9uZS1lbHNl", "msg_4", now, standardBody), standardBody, http.StatusUnauthorized, false},
		{"custom valid", "custom", customHeader("custom-secret", now, customBody), customBody, http.StatusOK, false},
		{"custom retry", "custom", customHeader("custom-secret", now, customBody), customBody, http.StatusOK, true},
		{"custom wrong secret", "custom", customHeader("nope", now, customBody), customBody, http.StatusUnauthorized, false},
		{"custom stale", "custom", customHeader("custom-secret", now.Add(-time.Hour), customBody), customBody, http.StatusUnauthorized, false},
	}
	for _, tt := range tests { // in order: the retries follow their first delivery
		rec := post(handler, tt.service, tt.header, tt.body)
		require.Equal(t, tt.want, rec.Code, tt.name)
		if tt.want == http.StatusOK {
			assert.Equal(t, tt.dup, result(t, rec).Duplicate, tt.name)
		} else {
			assert.Empty(t, rec.Body.String(), tt.name)
		}
	}
	ev, err := b.st.GetEventByIdempotencyKey(t.Context(), serviceID(t, b.hub, "stripe"), "webhook:evt_1")
	require.NoError(t, err)
	assert.Equal(t, "invoice.paid", ev.Operation)
}

func serviceID(t *testing.T, h *hub.Hub, name string) string {
	t.Helper()
	svc, err := h.Store().GetServiceByName(t.Context(), name)
	require.NoError(t, err)
	return svc.ID
}

// crashingStore loses the process at a chosen point of the webhook's store transaction:
// before it commits, or after it commits but before the handler can answer.
type crashingStore struct {
	store.Store
	afterCommit bool
	crashed     bool
}

var errKilled = errors.New("process killed")

func (c *crashingStore) InsertEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	if c.crashed {
		return nil, errKilled
	}
	c.crashed = true
	if !c.afterCommit {
		return nil, errKilled
	}
	if _, err := c.Store.InsertEvents(ctx, es); err != nil {
		return nil, err
	}
	return nil, errKilled
}

// TestWebhookCrashLosesNothing: the hub dies between GitHub's request and its answer
// (before or after the store commit); GitHub retries against a new hub on the same
// database; the delivery is stored exactly once, with its fan-out.
func TestWebhookCrashLosesNothing(t *testing.T) {
	t.Parallel()
	for _, afterCommit := range []bool{false, true} {
		t.Run("afterCommit="+strconv.FormatBool(afterCommit), func(t *testing.T) {
			t.Parallel()
			path := t.TempDir() + "/hub.db"
			sink := hubtest.NewSink(t)
			key := make([]byte, hub.SecretKeySize)
			opts := []hub.Option{hub.WithSecretKey(key)}

			st1 := openSQLite(t, path)
			h1 := hubtest.New(t, &crashingStore{Store: st1, afterCommit: afterCommit}, opts...)
			registerGitHub(t, h1, "github", sink.URL, "s3cret")
			register(t, h1, "dest", sink.URL, nil)
			_, err := h1.PutRoute(t.Context(), hub.Route{Name: "to-dest", Source: "github", Destinations: []hub.RouteDestination{{Service: "dest"}}})
			require.NoError(t, err)
			rec := post(h1.WebhookHandler(), "github", githubHeader("s3cret", "crash-1", issueEvent), issueEvent)
			require.NotEqual(t, http.StatusOK, rec.Code, "the provider saw no 2xx")
			require.NoError(t, h1.Close(t.Context()))

			h2 := hubtest.New(t, openSQLite(t, path), opts...)
			retry := result(t, post(h2.WebhookHandler(), "github", githubHeader("s3cret", "crash-1", issueEvent), issueEvent))
			assert.Equal(t, afterCommit, retry.Duplicate)
			again := result(t, post(h2.WebhookHandler(), "github", githubHeader("s3cret", "crash-1", issueEvent), issueEvent))
			assert.True(t, again.Duplicate)
			assert.Equal(t, retry.EventID, again.EventID)

			evs, err := h2.Store().ListEvents(t.Context(), store.EventFilter{})
			require.NoError(t, err)
			assert.Len(t, evs, 2, "the inbound event and its one derived event")
			kids, err := h2.EventFanOut(t.Context(), retry.EventID)
			require.NoError(t, err)
			require.Len(t, kids, 1)
			require.Eventually(t, func() bool { return sink.Delivered("webhook:crash-1|route:to-dest") == 1 }, 30*time.Second, 10*time.Millisecond)
		})
	}
}

// webhookProvider signs deliveries as one provider's documentation describes: sign returns
// the headers of a delivery with id, signed at at, under secret.
type webhookProvider struct {
	name        string
	configure   func(c *hub.IntegrationConfig, secret string)
	body        func(id string) []byte
	sign        func(secret, id string, at time.Time, body []byte) http.Header
	sigHeader   string // the header "missing header" leaves out
	timestamped bool   // the provider signs a timestamp (GitHub does not)
}

func webhookProviders() []webhookProvider {
	jsonHeader := func() http.Header {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		return h
	}
	return []webhookProvider{
		{
			name: "github",
			configure: func(c *hub.IntegrationConfig, secret string) {
				c.Connector = "github"
				c.Auth = json.RawMessage(`{"token":"ghp-test","webhook_secret":` + strconv.Quote(secret) + `}`)
			},
			body: func(string) []byte { return issueEvent },
			sign: func(secret, id string, _ time.Time, body []byte) http.Header {
				return githubHeader(secret, id, body)
			},
			sigHeader: "X-Hub-Signature-256",
		},
		{
			name: "slack",
			configure: func(c *hub.IntegrationConfig, secret string) {
				c.Connector = "slack"
				c.Auth = json.RawMessage(`{"bot_token":"xoxb-test","signing_secret":` + strconv.Quote(secret) + `}`)
			},
			body: func(id string) []byte {
				return []byte(`{"type":"event_callback","event_id":"` + id + `","event":{"type":"app_mention","text":"hi"}}`)
			},
			sign: func(secret, _ string, at time.Time, body []byte) http.Header {
				ts := strconv.FormatInt(at.Unix(), 10)
				h := jsonHeader()
				h.Set("X-Slack-Request-Timestamp", ts)
				h.Set("X-Slack-Signature", slackSign(secret, ts, body))
				return h
			},
			sigHeader: "X-Slack-Signature", timestamped: true,
		},
		{
			name: "stripe",
			configure: func(c *hub.IntegrationConfig, secret string) {
				c.Auth = json.RawMessage(`{"type":"bearer","token":"sk_test","webhook_secret":` + strconv.Quote(secret) + `}`)
				c.ConnectorOptions = json.RawMessage(`{"webhook":{"type":"stripe"}}`)
			},
			body: func(id string) []byte {
				return []byte(`{"id":"` + id + `","object":"event","type":"invoice.paid","data":{"object":{}}}`)
			},
			sign: func(secret, _ string, at time.Time, body []byte) http.Header {
				h := jsonHeader()
				h.Set("Stripe-Signature", stripeSignature(secret, at, body))
				return h
			},
			sigHeader: "Stripe-Signature", timestamped: true,
		},
		{
			name: "standard",
			configure: func(c *hub.IntegrationConfig, secret string) {
				c.Auth = json.RawMessage(`{"webhook_secrets":[` + strconv.Quote(secret) + `]}`)
				c.ConnectorOptions = json.RawMessage(`{"webhook":{"type":"standard"}}`)
			},
			body: func(string) []byte { return []byte(`{"type":"user.created","data":{"id":"u1"}}`) },
			sign: func(secret, id string, at time.Time, body []byte) http.Header {
				h := jsonHeader()
				h.Set("webhook-id", id)
				h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
				h.Set("webhook-signature", standardSignature(secret, id, at, body))
				return h
			},
			sigHeader: "webhook-signature", timestamped: true,
		},
		{
			name: "hmac",
			configure: func(c *hub.IntegrationConfig, secret string) {
				c.Auth = json.RawMessage(`{"webhook_secret":` + strconv.Quote(secret) + `}`)
				c.ConnectorOptions = json.RawMessage(`{"webhook":{"signature_header":"X-Signature","encoding":"base64","delivery_header":"X-Delivery-Id","timestamp_header":"X-Timestamp"}}`)
			},
			body: func(string) []byte { return []byte(`{"thing":"changed"}`) },
			sign: func(secret, id string, at time.Time, body []byte) http.Header {
				ts := strconv.FormatInt(at.Unix(), 10)
				mac := hmac.New(sha256.New, []byte(secret))
				mac.Write([]byte(ts + "."))
				mac.Write(body)
				h := jsonHeader()
				h.Set("X-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
				h.Set("X-Timestamp", ts)
				h.Set("X-Delivery-Id", id)
				return h
			},
			sigHeader: "X-Signature", timestamped: true,
		},
	}
}

// TestWebhookEveryProvider runs the same deliveries against every scheme, signed here
// from each provider's documentation: a valid delivery is accepted and processed once (its
// route's destination receives it once); the same delivery id again is accepted as a
// duplicate and not processed again; a tampered body, a wrong secret, a stale timestamp
// and a missing signature header are 401 with no detail; a body over the limit is 413.
func TestWebhookEveryProvider(t *testing.T) {
	t.Parallel()
	for _, p := range webhookProviders() {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			const secret, limit = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 64 << 10
			now := time.Now()
			b := setup(t, hub.WithPayloadLimits(limit, 0))
			register(t, b.hub, p.name, b.sink.URL, func(c *hub.IntegrationConfig) { p.configure(c, secret) })
			register(t, b.hub, "dest", b.sink.URL, nil)
			_, err := b.hub.PutRoute(t.Context(), hub.Route{Name: "to-dest", Source: p.name, Destinations: []hub.RouteDestination{{Service: "dest"}}})
			require.NoError(t, err)
			handler := b.hub.WebhookHandler()
			body := p.body("evt-1")

			first := result(t, post(handler, p.name, p.sign(secret, "evt-1", now, body), body))
			assert.False(t, first.Duplicate, "valid: accepted")
			again := result(t, post(handler, p.name, p.sign(secret, "evt-1", now.Add(time.Second), body), body))
			assert.True(t, again.Duplicate, "the same delivery id: a duplicate")
			assert.Equal(t, first.EventID, again.EventID)

			tampered := bytes.Replace(body, []byte(`}`), []byte(`,"x":1}`), 1)
			missing := p.sign(secret, "evt-2", now, p.body("evt-2"))
			missing.Del(p.sigHeader)
			big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), limit)...)
			big = append(big, `"}`...)
			refused := []struct {
				name   string
				header http.Header
				body   []byte
				want   int
			}{
				{"tampered body", p.sign(secret, "evt-2", now, p.body("evt-2")), tampered, http.StatusUnauthorized},
				{"wrong secret", p.sign("whsec_b2xkLWtleS1vbGQta2V5LW9sZA==", "evt-2", now, p.body("evt-2")), p.body("evt-2"), http.StatusUnauthorized},
				{"missing header", missing, p.body("evt-2"), http.StatusUnauthorized},
				{"oversized body", p.sign(secret, "evt-3", now, big), big, http.StatusRequestEntityTooLarge},
			}
			if p.timestamped {
				refused = append(refused, struct {
					name   string
					header http.Header
					body   []byte
					want   int
				}{"stale timestamp", p.sign(secret, "evt-2", now.Add(-time.Hour), p.body("evt-2")), p.body("evt-2"), http.StatusUnauthorized})
			}
			for _, tt := range refused {
				rec := post(handler, p.name, tt.header, tt.body)
				assert.Equal(t, tt.want, rec.Code, tt.name)
				if tt.want == http.StatusUnauthorized {
					assert.Empty(t, rec.Body.String(), "%s: no detail", tt.name)
				}
			}

			evs, err := b.st.ListEvents(t.Context(), store.EventFilter{ServiceID: serviceID(t, b.hub, p.name)})
			require.NoError(t, err)
			assert.Len(t, evs, 1, "only the valid delivery is stored, once")
			kids, err := b.hub.EventFanOut(t.Context(), first.EventID)
			require.NoError(t, err)
			require.Len(t, kids, 1)
			hubtest.WaitForStatus(t, b.hub, kids[0].ID, store.StatusSucceeded)
			assert.Equal(t, 1, b.sink.Delivered("webhook:evt-1|route:to-dest"), "processed once")
			t.Logf("%s: valid 200 (duplicate=%v), retry 200 (duplicate=%v), %d refusals as expected, 1 event stored, destination received it %d time(s)",
				p.name, first.Duplicate, again.Duplicate, len(refused), b.sink.Delivered("webhook:evt-1|route:to-dest"))
		})
	}
}
