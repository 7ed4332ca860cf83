package connectors_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
)

// The Standard Webhooks reference libraries' test vector.
const (
	stdSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	stdID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	stdTS     = "1614265330"
	stdBody   = `{"test": 2432232314}`
	stdSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestStandardWebhookVector(t *testing.T) {
	t.Parallel()
	at := time.Unix(1614265330, 0)
	assert.Equal(t, stdSig, connectors.SignStandardWebhook(stdSecret, stdID, at, []byte(stdBody)))
	h := http.Header{}
	h.Set("webhook-id", stdID)
	h.Set("webhook-timestamp", stdTS)
	h.Set("webhook-signature", "v1,bm90IHRoaXMgb25lIGJ1dCB0aGUgbmV4dCBvbmUgbWF0Y2hlcw== "+stdSig)
	tests := []struct {
		name    string
		secrets []string
		body    string
		now     time.Time
		want    error
	}{
		{"valid, second entry", []string{stdSecret}, stdBody, at, nil},
		{"rotated keys", []string{"whsec_b2xkIGtleQ==", stdSecret}, stdBody, at.Add(4 * time.Minute), nil},
		{"tampered", []string{stdSecret}, `{"test": 2432232315}`, at, connectors.ErrInvalidSignature},
		{"wrong key", []string{"whsec_b2xkIGtleQ=="}, stdBody, at, connectors.ErrInvalidSignature},
		{"no key", nil, stdBody, at, connectors.ErrInvalidSignature},
		{"stale", []string{stdSecret}, stdBody, at.Add(6 * time.Minute), connectors.ErrStaleWebhook},
		{"future", []string{stdSecret}, stdBody, at.Add(-6 * time.Minute), connectors.ErrStaleWebhook},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := connectors.VerifyStandardWebhook(tt.secrets, h, []byte(tt.body), tt.now, 5*time.Minute)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, stdID, ev.DeliveryID)
		})
	}
	_, err := connectors.VerifyStandardWebhook([]string{stdSecret}, http.Header{}, []byte(stdBody), at, 0)
	assert.ErrorIs(t, err, connectors.ErrInvalidSignature, "missing headers")
}

// stripeHeader builds Stripe-Signature as Stripe's documentation describes it ("Verify
// manually"): HMAC-SHA256 with the endpoint secret of "<t>.<payload>", hex, as v1.
func stripeHeader(secret string, t int64, body string) string {
	ts := strconv.FormatInt(t, 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + body))
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil)) + ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
}

func TestStripe(t *testing.T) {
	t.Parallel()
	const secret = "whsec_test_secret"
	body := `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","type":"payment_intent.succeeded","data":{}}`
	at := time.Unix(1700000000, 0)
	hdr := stripeHeader(secret, at.Unix(), body)
	assert.Equal(t, hdr[:len(hdr)-len(",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39")], connectors.SignStripe(secret, at, []byte(body)))
	tests := []struct {
		name, header, body string
		now                time.Time
		want               error
	}{
		{"valid", hdr, body, at.Add(time.Minute), nil},
		{"tampered", hdr, body + " ", at, connectors.ErrInvalidSignature},
		{"wrong secret", stripeHeader("whsec_other", at.Unix(), body), body, at, connectors.ErrInvalidSignature},
		{"stale", hdr, body, at.Add(10 * time.Minute), connectors.ErrStaleWebhook},
		{"missing", "", body, at, connectors.ErrInvalidSignature},
		{"no v1", "t=1700000000", body, at, connectors.ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.header != "" {
				h.Set("Stripe-Signature", tt.header)
			}
			ev, err := connectors.VerifyStripe([]string{secret}, h, []byte(tt.body), tt.now, 5*time.Minute)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "evt_1NG8Du2eZvKYlo2CUI79vXWy", ev.DeliveryID)
			assert.Equal(t, "payment_intent.succeeded", ev.Event)
		})
	}
}

func TestWebhookSchemeHMAC(t *testing.T) {
	t.Parallel()
	sep := ":"
	scheme := connectors.WebhookScheme{SignatureHeader: "X-Signature", Prefix: "sha256=", TimestampHeader: "X-Timestamp",
		Separator: &sep, DeliveryHeader: "X-Delivery", EventHeader: "X-Event", Tolerance: "1m"}
	now := time.Unix(1700000000, 0)
	v, err := scheme.Verifier([]string{"s3cret"}, func() time.Time { return now })
	require.NoError(t, err)
	body := []byte(`{"a":1}`)
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte("1700000000:" + string(body)))
	h := http.Header{}
	h.Set("X-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("X-Timestamp", "1700000000")
	h.Set("X-Delivery", "d-1")
	h.Set("X-Event", "thing.created")
	ev, err := v.VerifyWebhook(h, body)
	require.NoError(t, err)
	assert.Equal(t, "d-1", ev.DeliveryID)
	assert.Equal(t, "thing.created", ev.Event)
	_, err = v.VerifyWebhook(h, []byte(`{"a":2}`))
	assert.ErrorIs(t, err, connectors.ErrInvalidSignature)
	h.Set("X-Timestamp", "1699999000")
	_, err = v.VerifyWebhook(h, body)
	assert.ErrorIs(t, err, connectors.ErrInvalidSignature, "the timestamp is signed")

	for _, bad := range []connectors.WebhookScheme{{}, {Type: "nope"}, {SignatureHeader: "X", Algorithm: "md5"},
		{SignatureHeader: "X", Encoding: "b32"}, {Type: connectors.SchemeStripe, Tolerance: "soon"}} {
		_, err := bad.Verifier(nil, nil)
		assert.ErrorIs(t, err, connectors.ErrInvalidConfig, "%+v", bad)
	}
}
