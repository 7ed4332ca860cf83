package connectors

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what some providers sign with; HMAC keeps it sound
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook signature schemes a generic connector can be configured with ([WebhookScheme.Type]).
const (
	// SchemeHMAC is a configurable HMAC over the body (optionally prefixed by a timestamp).
	SchemeHMAC = "hmac"
	// SchemeStripe is Stripe's Stripe-Signature: "t=<unix>,v1=<hex>" over "<t>.<body>".
	SchemeStripe = "stripe"
	// SchemeStandard is Standard Webhooks (standardwebhooks.com): webhook-id,
	// webhook-timestamp and webhook-signature ("v1,<base64>" entries) over
	// "<id>.<timestamp>.<body>", keys written "whsec_<base64>".
	SchemeStandard = "standard"
)

// DefaultWebhookTolerance is the replay window of the timestamped schemes when none is
// configured: five minutes either way, as Stripe and Standard Webhooks recommend.
const DefaultWebhookTolerance = 5 * time.Minute

// WebhookScheme describes how a service signs the webhooks it sends, for connectors that
// are configured rather than written for one vendor (httpconn). The secrets are not part
// of it: they belong with the service's credentials, which the hub stores sealed.
type WebhookScheme struct {
	// Type is SchemeHMAC (the default), SchemeStripe or SchemeStandard.
	Type string `json:"type,omitempty"`
	// Tolerance is the accepted distance between a delivery's signed timestamp and now, as
	// a Go duration ("5m"); default DefaultWebhookTolerance. Schemes without a timestamp
	// ignore it.
	Tolerance string `json:"tolerance,omitempty"`
	// EventField and IDField are the top-level body fields naming the event type and
	// identifying the delivery (defaults "type" and "id" for Stripe and Standard Webhooks,
	// none for HMAC).
	EventField string `json:"event_field,omitempty"`
	IDField    string `json:"id_field,omitempty"`

	// The fields below configure SchemeHMAC.

	// SignatureHeader carries the signature. Required for SchemeHMAC.
	SignatureHeader string `json:"signature_header,omitempty"`
	// Prefix precedes the signature in its header, e.g. "sha256=".
	Prefix string `json:"prefix,omitempty"`
	// Algorithm is "sha256" (default), "sha1" or "sha512".
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding of the signature: "hex" (default) or "base64".
	Encoding string `json:"encoding,omitempty"`
	// TimestampHeader, when set, carries the Unix time of the delivery; it must be within
	// Tolerance and the signed message is "<timestamp><Separator><body>".
	TimestampHeader string `json:"timestamp_header,omitempty"`
	// Separator joins the timestamp and the body; default ".".
	Separator *string `json:"separator,omitempty"`
	// DeliveryHeader and EventHeader name the headers carrying the delivery id and the
	// event type, when the provider sends them.
	DeliveryHeader string `json:"delivery_header,omitempty"`
	EventHeader    string `json:"event_header,omitempty"`
}

// Verifier returns a [WebhookVerifier] checking deliveries against secrets (any one may
// match, so keys can be rotated) with the clock now. Errors wrap [ErrInvalidConfig] for
// an unusable scheme. With no secret every delivery is refused.
func (s WebhookScheme) Verifier(secrets []string, now func() time.Time) (WebhookVerifier, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: webhook: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	tol := DefaultWebhookTolerance
	if s.Tolerance != "" {
		d, err := time.ParseDuration(s.Tolerance)
		if err != nil || d <= 0 {
			return nil, bad("tolerance %q is not a positive duration", s.Tolerance)
		}
		tol = d
	}
	if now == nil {
		now = time.Now
	}
	v := &schemeVerifier{scheme: s, secrets: secrets, tolerance: tol, now: now}
	switch s.Type {
	case "", SchemeHMAC:
		if s.SignatureHeader == "" {
			return nil, bad("signature_header is required for the hmac scheme")
		}
		switch s.Algorithm {
		case "", "sha256":
			v.hash = sha256.New
		case "sha1":
			v.hash = sha1.New
		case "sha512":
			v.hash = sha512.New
		default:
			return nil, bad("algorithm %q is not sha256, sha1 or sha512", s.Algorithm)
		}
		if s.Encoding != "" && s.Encoding != "hex" && s.Encoding != "base64" {
			return nil, bad("encoding %q is not hex or base64", s.Encoding)
		}
	case SchemeStripe, SchemeStandard:
		if v.scheme.EventField == "" {
			v.scheme.EventField = "type"
		}
		if v.scheme.IDField == "" && s.Type == SchemeStripe {
			v.scheme.IDField = "id"
		}
	default:
		return nil, bad("unknown scheme %q (want hmac, stripe or standard)", s.Type)
	}
	return v, nil
}

type schemeVerifier struct {
	scheme    WebhookScheme
	secrets   []string
	tolerance time.Duration
	now       func() time.Time
	hash      func() hash.Hash
}

// VerifyWebhook implements [WebhookVerifier].
func (v *schemeVerifier) VerifyWebhook(header http.Header, body []byte) (*WebhookEvent, error) {
	var (
		ev  *WebhookEvent
		err error
	)
	switch v.scheme.Type {
	case SchemeStripe:
		ev, err = VerifyStripe(v.secrets, header, body, v.now(), v.tolerance)
	case SchemeStandard:
		ev, err = VerifyStandardWebhook(v.secrets, header, body, v.now(), v.tolerance)
	default:
		ev, err = v.verifyHMAC(header, body)
	}
	if err != nil {
		return nil, err
	}
	if v.scheme.EventField != "" || v.scheme.IDField != "" {
		event, id := bodyFields(body, v.scheme.EventField, v.scheme.IDField)
		if ev.Event == "" {
			ev.Event = event
		}
		if ev.DeliveryID == "" {
			ev.DeliveryID = id
		}
	}
	return ev, nil
}

func (v *schemeVerifier) verifyHMAC(header http.Header, body []byte) (*WebhookEvent, error) {
	s := v.scheme
	sig, ok := strings.CutPrefix(strings.TrimSpace(header.Get(s.SignatureHeader)), s.Prefix)
	if !ok || sig == "" {
		return nil, fmt.Errorf("webhook: %w: %s missing or without its prefix", ErrInvalidSignature, s.SignatureHeader)
	}
	var want []byte
	var err error
	if s.Encoding == "base64" {
		want, err = base64.StdEncoding.DecodeString(sig)
	} else {
		want, err = hex.DecodeString(sig)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: %w: %s is not %s", ErrInvalidSignature, s.SignatureHeader, cmp.Or(s.Encoding, "hex"))
	}
	msg := body
	var signed time.Time
	if s.TimestampHeader != "" {
		raw := header.Get(s.TimestampHeader)
		if signed, err = unixSeconds(raw); err != nil {
			return nil, fmt.Errorf("webhook: %w: %s missing or not Unix seconds", ErrInvalidSignature, s.TimestampHeader)
		}
		sep := "."
		if s.Separator != nil {
			sep = *s.Separator
		}
		msg = make([]byte, 0, len(raw)+len(sep)+len(body))
		msg = append(append(append(msg, raw...), sep...), body...)
	}
	if !anyHMAC(v.hash, v.secrets, nil, msg, want) {
		return nil, fmt.Errorf("webhook: %w: signature does not match", ErrInvalidSignature)
	}
	if s.TimestampHeader != "" {
		if err := checkWindow(signed, v.now(), v.tolerance); err != nil {
			return nil, err
		}
	}
	ev := &WebhookEvent{Timestamp: signed, Body: body}
	if s.DeliveryHeader != "" {
		ev.DeliveryID = header.Get(s.DeliveryHeader)
	}
	if s.EventHeader != "" {
		ev.Event = header.Get(s.EventHeader)
	}
	return ev, nil
}

// VerifyStripe verifies a Stripe webhook: the Stripe-Signature header
// "t=<unix seconds>,v1=<hex>[,v1=<hex>...]" holds HMAC-SHA256 signatures, under the
// endpoint's signing secret used as is ("whsec_..."), of "<t>.<body>"; any v1 entry
// matching any of secrets passes, and t must be within tolerance of now (0: no check).
// The event is the body's "type" and the delivery id its "id" (Stripe's event id, the
// same on every retry). Errors wrap [ErrInvalidSignature] or [ErrStaleWebhook].
func VerifyStripe(secrets []string, header http.Header, body []byte, now time.Time, tolerance time.Duration) (*WebhookEvent, error) {
	var (
		ts   string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header.Get("Stripe-Signature"), ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = val
		case "v1":
			if b, err := hex.DecodeString(val); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	signed, err := unixSeconds(ts)
	if err != nil || len(sigs) == 0 {
		return nil, fmt.Errorf("stripe: %w: Stripe-Signature missing, or without t and a v1 signature", ErrInvalidSignature)
	}
	msg := make([]byte, 0, len(ts)+1+len(body))
	msg = append(append(append(msg, ts...), '.'), body...)
	if !anyHMAC(sha256.New, secrets, nil, msg, sigs...) {
		return nil, fmt.Errorf("stripe: %w: no v1 signature matches", ErrInvalidSignature)
	}
	if tolerance > 0 {
		if err := checkWindow(signed, now, tolerance); err != nil {
			return nil, err
		}
	}
	event, id := bodyFields(body, "type", "id")
	return &WebhookEvent{Event: event, DeliveryID: id, Timestamp: signed, Body: body}, nil
}

// SignStripe returns a Stripe-Signature header value for body signed at t with secret, as
// Stripe computes it. Tests and fakes use it.
func SignStripe(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + SignHMACSHA256([]byte(secret), append([]byte(ts+"."), body...))
}

// VerifyStandardWebhook verifies a Standard Webhooks delivery (standardwebhooks.com):
// webhook-signature holds space-separated "v1,<base64>" entries, each an HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>"; a key written "whsec_<base64>" is the
// decoded bytes, any other string its own bytes. Any entry matching any of secrets passes
// (so keys rotate), and webhook-timestamp must be within tolerance of now (0: no check).
// The delivery id is webhook-id. Errors wrap [ErrInvalidSignature] or [ErrStaleWebhook].
func VerifyStandardWebhook(secrets []string, header http.Header, body []byte, now time.Time, tolerance time.Duration) (*WebhookEvent, error) {
	id, ts := header.Get("webhook-id"), header.Get("webhook-timestamp")
	signed, err := unixSeconds(ts)
	if id == "" || err != nil {
		return nil, fmt.Errorf("standard webhooks: %w: webhook-id or webhook-timestamp missing or malformed", ErrInvalidSignature)
	}
	var sigs [][]byte
	for entry := range strings.FieldsSeq(header.Get("webhook-signature")) {
		ver, val, ok := strings.Cut(entry, ",")
		if !ok || ver != "v1" {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(val); err == nil && len(b) == sha256.Size {
			sigs = append(sigs, b)
		}
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("standard webhooks: %w: webhook-signature has no v1 signature", ErrInvalidSignature)
	}
	msg := make([]byte, 0, len(id)+len(ts)+2+len(body))
	msg = append(append(append(append(append(msg, id...), '.'), ts...), '.'), body...)
	if !anyHMAC(sha256.New, secrets, standardKey, msg, sigs...) {
		return nil, fmt.Errorf("standard webhooks: %w: no v1 signature matches", ErrInvalidSignature)
	}
	if tolerance > 0 {
		if err := checkWindow(signed, now, tolerance); err != nil {
			return nil, err
		}
	}
	return &WebhookEvent{DeliveryID: id, Timestamp: signed, Body: body}, nil
}

// SignStandardWebhook returns the webhook-signature value ("v1,<base64>") of a delivery
// under secret, as a Standard Webhooks sender computes it.
func SignStandardWebhook(secret, id string, t time.Time, body []byte) string {
	mac := hmac.New(sha256.New, standardKey(secret))
	mac.Write([]byte(id + "." + strconv.FormatInt(t.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// standardKey is the HMAC key of a Standard Webhooks secret.
func standardKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return k
		}
	}
	return []byte(secret)
}

// anyHMAC reports, in constant time per comparison, whether the HMAC of msg under any
// non-empty secret equals any of sigs. key turns a secret into key bytes (nil: its bytes).
func anyHMAC(h func() hash.Hash, secrets []string, key func(string) []byte, msg []byte, sigs ...[]byte) bool {
	ok := false
	for _, s := range secrets {
		if s == "" {
			continue
		}
		k := []byte(s)
		if key != nil {
			k = key(s)
		}
		mac := hmac.New(h, k)
		mac.Write(msg)
		sum := mac.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(sum, sig) {
				ok = true
			}
		}
	}
	return ok
}

func unixSeconds(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(n, 0).UTC(), nil
}

func checkWindow(signed, now time.Time, tolerance time.Duration) error {
	if d := now.Sub(signed); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: %w: signed %s from now (tolerance %s)", ErrStaleWebhook, d.Round(time.Second), tolerance)
	}
	return nil
}

// bodyFields reads two top-level string fields of a JSON object body ("" when absent).
func bodyFields(body []byte, eventField, idField string) (event, id string) {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return "", ""
	}
	str := func(name string) string {
		var s string
		if name != "" && json.Unmarshal(doc[name], &s) == nil {
			return s
		}
		return ""
	}
	return str(eventField), str(idField)
}
