package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/store"
)

// WebhookHandler returns the hub's webhook receiver: an http.Handler serving
// POST /{service} for every registered service whose connector verifies webhooks
// (connectors.WebhookVerifier: GitHub's X-Hub-Signature-256, Slack's v0 signature, the
// generic HTTP connector's HMAC, Stripe and Standard Webhooks schemes, and the other
// built-in connectors' own). Mount it where providers can reach it, under a prefix with
// http.StripPrefix if needed:
//
//	mux.Handle("/webhooks/", http.StripPrefix("/webhooks", h.WebhookHandler()))
//
// For each delivery it reads at most Config.MaxPayloadBytes of body (413 beyond), verifies
// the signature and timestamp with the service's connector and its sealed credentials (401
// with an empty body when they fail, whatever the reason), and stores the delivery as an
// inbound event keyed by the provider's delivery id (X-GitHub-Delivery, Stripe's event id,
// webhook-id, Slack's event_id; a hash of the body when the provider sends none), together
// with the outbound events of the routes that take it, in one store transaction. It answers
// 200 only once that transaction has committed, so a provider that retries after a crash
// or a timeout is safe: a delivery id seen before is answered 200 and not processed again.
// Slack's url_verification challenge is answered with the challenge. Other answers: 404
// for an unknown service or one whose connector does not verify webhooks, 405 for a method
// other than POST, 415 for a body that is neither JSON nor a form, 400 for a payload the
// hub refuses (too deep, not UTF-8), 503 when the store is busy or the hub closed.
//
// The answer body, when there is one, is JSON: {"event_id": "...", "duplicate": false}.
// The handler is safe for concurrent use. Its callers are the providers, authenticated by
// their signatures, not principals: it passes no authorization (see WithAuthorization).
func (h *Hub) WebhookHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{service}", h.serveWebhook)
	return mux
}

// WebhookResult is the JSON body of a 200 answer of WebhookHandler.
type WebhookResult struct {
	// EventID is the inbound event's ID.
	EventID string `json:"event_id"`
	// Duplicate is set when the delivery had been received before.
	Duplicate bool `json:"duplicate"`
}

func (h *Hub) serveWebhook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.closed.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rt, err := h.runtimeFor(ctx, r.PathValue("service"))
	if err != nil || rt.meta.Removed != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	verifier := rt.webhookVerifier()
	if verifier == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(h.cfg.MaxPayloadBytes)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	wh, err := verifier.VerifyWebhook(r.Header, body)
	if err != nil {
		// The reason stays in the log: a caller probing signatures learns nothing.
		h.log.Warn("hub: webhook refused", slog.String("service", rt.svc.Name), slog.Any("error", err))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	payload, ok := webhookPayload(r.Header, body)
	if !ok {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	if challenge, ok := slackChallenge(rt, payload); ok {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"challenge": challenge})
		return
	}
	id := wh.DeliveryID
	if id == "" {
		id = bodyDeliveryID(payload)
	}
	key := "webhook:" + id
	if id == "" || len(key) > 512 {
		key = "webhook:sha256:" + sha256Hex(body)
	}
	ev, dup, err := h.accept(ctx, &inbound{
		src: rt, key: key, event: wh.Event, deliveryID: wh.DeliveryID, headers: lowerHeaders(r.Header),
		payload: payload, operation: wh.Event,
	})
	if err != nil {
		h.log.Warn("hub: webhook not stored", slog.String("service", rt.svc.Name), slog.Any("error", err))
		switch {
		case errors.Is(err, ErrInvalidInput):
			w.WriteHeader(http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(WebhookResult{EventID: ev.ID, Duplicate: dup})
}

// webhookVerifier returns the connector of the service's primary endpoint when it verifies
// webhooks, else nil.
func (rt *runtime) webhookVerifier() connectors.WebhookVerifier {
	if v, ok := rt.conns[rt.svc.BaseURL].(connectors.WebhookVerifier); ok {
		return v
	}
	for _, c := range rt.conns {
		if v, ok := c.(connectors.WebhookVerifier); ok {
			return v
		}
	}
	return nil
}

// webhookPayload returns the delivery as the JSON document the inbound event stores: the
// body when it is JSON; for a form (Slack's slash commands and interactivity, some other
// providers), its "payload" field when that is JSON, else an object of its fields.
func webhookPayload(header http.Header, body []byte) (json.RawMessage, bool) {
	if strings.HasPrefix(header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false
		}
		if p := form.Get("payload"); p != "" && json.Valid([]byte(p)) {
			return json.RawMessage(p), true
		}
		fields := make(map[string]string, len(form))
		for k, v := range form {
			fields[k] = v[0]
		}
		return mustJSON(fields), true
	}
	if !json.Valid(body) {
		return nil, false
	}
	return body, true
}

// slackChallenge answers Slack's Events API url_verification (sent signed, once, when the
// request URL is set).
func slackChallenge(rt *runtime, payload json.RawMessage) (string, bool) {
	if rt.svc.ConnectorKind != "slack" {
		return "", false
	}
	var doc struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(payload, &doc) != nil || doc.Type != "url_verification" {
		return "", false
	}
	return doc.Challenge, true
}

// bodyDeliveryID is the delivery id some providers put in the body only (Slack's Events API
// event_id, the same on each retry).
func bodyDeliveryID(payload json.RawMessage) string {
	var doc struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(payload, &doc) == nil {
		return doc.EventID
	}
	return ""
}

func lowerHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[strings.ToLower(k)] = v[0]
		}
	}
	return out
}

// acknowledge is the outcome of an inbound event: received, nothing to deliver.
func acknowledge(*store.Event) *connectors.Response {
	return &connectors.Response{StatusCode: http.StatusAccepted}
}

// ReceiveEvent stores payload as an inbound event of the service, as a verified webhook
// would be, with its routes' fan-out in the same transaction. key dedupes (a second call
// with the same key returns the first event and stores nothing); empty keys are derived
// from the payload. Use it for deliveries the embedding service verified itself. Errors:
// ErrUnknownService, ErrInvalidInput (payload), ErrBusy, ErrClosed.
func (h *Hub) ReceiveEvent(ctx context.Context, service string, payload json.RawMessage, key string) (*ProcessingResult, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if err := h.guard(ctx, call{method: "ReceiveEvent", service: service, perms: perms(PermProcess)}); err != nil {
		return nil, err
	}
	rt, err := h.runtimeFor(ctx, service)
	if err != nil {
		return nil, err
	}
	if rt.meta.Removed != nil {
		return nil, fmt.Errorf("%w: %q was removed and accepts no events", ErrUnknownService, service)
	}
	if key == "" {
		key = "sha256:" + sha256Hex(payload)
	}
	ev, dup, err := h.accept(ctx, &inbound{src: rt, key: key, payload: payload})
	if err != nil {
		return nil, err
	}
	return resultOf(ev, dup), nil
}
