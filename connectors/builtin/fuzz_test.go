package builtin_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/builtin"
)

// webhookSecret is the secret every verifier of the fuzz target is configured with.
const webhookSecret = "fuzz-webhook-secret-0123456789"

// verifierAuth is the credentials document of one kind: its webhook secret (under the name
// the kind reads it from) and what the kind needs to be built; kinds not listed verify no
// webhooks and get {}.
func verifierAuth(kind string, pub ed25519.PublicKey) json.RawMessage {
	docs := map[string]map[string]any{
		"github":     {"token": "fuzz-token", "webhook_secret": webhookSecret},
		"slack":      {"bot_token": "xoxb-fuzz", "signing_secret": webhookSecret},
		"gitlab":     {"token": "fuzz-token", "webhook_token": webhookSecret},
		"hubspot":    {"token": "fuzz-token", "webhook_secret": webhookSecret},
		"jira":       {"email": "fuzz@example.com", "api_token": "fuzz-api-token", "webhook_secret": webhookSecret},
		"notion":     {"token": "fuzz-token", "webhook_verification_token": webhookSecret},
		"teams":      {"webhook_url": "https://hooks.example.com/webhookb2/abcdefghijklmnop", "security_token": base64.StdEncoding.EncodeToString([]byte(webhookSecret))},
		"salesforce": {"flow": "static", "access_token": "fuzz-token"},
		"discord":    {"webhook_url": "https://discord.example.com/api/webhooks/1/abcdefghijklmnop", "public_key": hex.EncodeToString(pub)},
	}
	doc, ok := docs[kind]
	if !ok {
		return json.RawMessage(`{}`)
	}
	b, _ := json.Marshal(doc)
	return b
}

// verifiers builds every built-in connector that verifies webhooks.
func verifiers(tb testing.TB) (kinds []string, vs []connectors.WebhookVerifier, priv ed25519.PrivateKey) {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(strings.NewReader(strings.Repeat("fuzz-seed", 8)))
	if err != nil {
		tb.Fatal(err)
	}
	reg := builtin.NewRegistry()
	for _, kind := range reg.Kinds() {
		opts := json.RawMessage(nil)
		if kind == "hubspot" {
			opts = json.RawMessage(`{"webhook_url":"https://hub.example.com/hooks"}`)
		}
		c, err := reg.New(kind, connectors.Config{Name: "fuzz-" + kind, BaseURL: "https://api.example.com",
			Auth: verifierAuth(kind, pub), Options: opts, HTTPClient: http.DefaultClient})
		if err != nil {
			tb.Logf("%s: not built with the shared document: %v", kind, err)
			continue
		}
		if v, ok := c.(connectors.WebhookVerifier); ok {
			kinds = append(kinds, kind)
			vs = append(vs, v)
		}
	}
	return kinds, vs, priv
}

// parseHeaders reads "Name: value" lines.
func parseHeaders(s string) http.Header {
	h := http.Header{}
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return h
}

func hmacHex(msg string) string {
	m := hmac.New(sha256.New, []byte(webhookSecret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// FuzzVerifyWebhook runs every built-in webhook verifier (registry-wide) on arbitrary
// headers and bodies: none panics, every refusal wraps connectors.ErrInvalidSignature (or
// ErrStaleWebhook for a signed delivery outside the replay window, or ErrInvalidConfig
// for a verifier the document does not configure), and an accepted
// delivery hands back exactly the body it was given.
func FuzzVerifyWebhook(f *testing.F) {
	kinds, vs, priv := verifiers(f)
	for _, want := range []string{"github", "slack", "gitlab", "hubspot", "jira", "notion", "teams", "discord"} {
		if !slices.Contains(kinds, want) {
			f.Fatalf("the %s verifier is not built (verifiers: %v)", want, kinds)
		}
	}
	body := `{"action":"opened","issue":{"number":1}}`
	ts := time.Now().Unix()
	tss := time.Unix(ts, 0).UTC().Format(time.RFC3339)
	_ = tss
	sig := ed25519.Sign(priv, []byte(itoa(ts)+body))
	seeds := []string{
		"X-Hub-Signature-256: sha256=" + hmacHex(body) + "\nX-GitHub-Event: issues\nX-GitHub-Delivery: 1",
		"X-Slack-Signature: v0=" + hmacHex("v0:"+itoa(ts)+":"+body) + "\nX-Slack-Request-Timestamp: " + itoa(ts),
		"X-Gitlab-Token: " + webhookSecret + "\nX-Gitlab-Event: Issue Hook",
		"X-HubSpot-Signature-v3: " + base64.StdEncoding.EncodeToString([]byte("x")) + "\nX-HubSpot-Request-Timestamp: " + itoa(ts*1000),
		"X-Hub-Signature: sha256=" + hmacHex(body),
		"X-Notion-Signature: sha256=" + hmacHex(body),
		"Authorization: HMAC " + base64.StdEncoding.EncodeToString([]byte("not-a-mac")),
		"X-Signature-Ed25519: " + hex.EncodeToString(sig) + "\nX-Signature-Timestamp: " + itoa(ts),
		"", "X-Hub-Signature-256: sha256=zz", "X-Slack-Request-Timestamp: 99999999999999999999",
	}
	for i, s := range seeds {
		for k := range kinds {
			f.Add(uint8(k+i), s, []byte(body))
		}
	}
	f.Add(uint8(0), "X-Hub-Signature-256: sha256="+hmacHex(""), []byte{})
	f.Add(uint8(1), "X-Slack-Signature: v0=\nX-Slack-Request-Timestamp: -1", []byte("\xff"))
	f.Fuzz(func(t *testing.T, which uint8, headers string, body []byte) {
		i := int(which) % len(vs)
		ev, err := vs[i].VerifyWebhook(parseHeaders(headers), body)
		if err != nil {
			if !errors.Is(err, connectors.ErrInvalidSignature) && !errors.Is(err, connectors.ErrStaleWebhook) && !errors.Is(err, connectors.ErrInvalidConfig) {
				t.Fatalf("%s: refusal of an unexpected kind: %v", kinds[i], err)
			}
			if ev != nil {
				t.Fatalf("%s: an event with an error", kinds[i])
			}
			return
		}
		if ev == nil || string(ev.Body) != string(body) {
			t.Fatalf("%s: accepted, but the event does not carry the body", kinds[i])
		}
	})
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
