package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// guardedHub is a started hub with the destination guard at its default (no loopback).
func guardedHub(t *testing.T, opts ...hub.Option) *hub.Hub {
	t.Helper()
	fast := hubtest.Fast()
	h, err := hub.New(nil, append(fast[:len(fast)-1:len(fast)-1], opts...)...) // Fast without AllowLoopback
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context()))
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

func TestRegistrationRefusesInternalLiterals(t *testing.T) {
	t.Parallel()
	h := guardedHub(t)
	for _, u := range []string{
		"http://127.0.0.1:8080/", "http://localhost/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
		"http://2852039166/", "http://0xa9fea9fe/", "http://0251.0376.0251.0376/", "http://10.0.0.1/", "http://[fd00::1]/",
		"http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://0.0.0.0/", "https://api.localhost/",
	} {
		_, err := h.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "svc", Connector: "http", BaseURL: u})
		var ce *hub.ConfigError
		require.ErrorAsf(t, err, &ce, u)
		require.Equal(t, "IntegrationConfig.BaseURL", ce.Field, u)
		require.ErrorIs(t, err, hub.ErrDestinationDenied, u)
		var de *hub.DestinationError
		require.ErrorAs(t, err, &de, u)
	}
	_, err := h.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "svc", Connector: "http", BaseURL: "https://example.com",
		BackupURLs: []string{"http://192.168.1.1/"}})
	var ce *hub.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "IntegrationConfig.BackupURLs[0]", ce.Field)
	// A name is judged when dialled, not at registration.
	_, err = h.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "svc", Connector: "http", BaseURL: "https://example.com"})
	require.NoError(t, err)
	// URLs in the credentials are dialled too (an OAuth token endpoint, a webhook URL): a
	// literal refused address there is refused at registration, and the error names the
	// field but not the URL (a webhook URL carries its secret in the path).
	for _, tc := range []struct{ connector, auth, field string }{
		{"http", `{"type":"oauth2_client_credentials","token_url":"http://169.254.169.254/token","client_id":"c","client_secret":"s3cr3t-cs"}`, "IntegrationConfig.Auth.token_url"},
		{"slack", `{"webhook_url":"https://10.0.0.1/services/T0/B0/s3cr3t-path"}`, "IntegrationConfig.Auth.webhook_url"},
		{"http", `{"type":"oauth2_refresh_token","token_url":"http://0x7f000001/oauth","client_id":"c","refresh_token":"s3cr3t-rt"}`, "IntegrationConfig.Auth.token_url"},
	} {
		_, err := h.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "svc-auth", Connector: tc.connector, BaseURL: "https://example.com",
			Auth: json.RawMessage(tc.auth)})
		var ce *hub.ConfigError
		require.ErrorAs(t, err, &ce, tc.auth)
		require.Equal(t, tc.field, ce.Field)
		require.ErrorIs(t, err, hub.ErrDestinationDenied, tc.auth)
		require.NotContains(t, fmt.Sprintf("%+v", err), "s3cr3t", "the error does not quote the credentials")
	}
	bad := "http://127.0.0.1/"
	_, err = h.ConfigureService(t.Context(), "svc", hub.ServiceConfig{BaseURL: &bad})
	require.ErrorIs(t, err, hub.ErrDestinationDenied)
	_, err = h.ConfigureService(t.Context(), "svc", hub.ServiceConfig{Auth: json.RawMessage(`{"webhook_url":"http://[::1]/hooks/s3cr3t"}`)})
	var ce2 *hub.ConfigError
	require.ErrorAs(t, err, &ce2)
	require.Equal(t, "ServiceConfig.Auth.webhook_url", ce2.Field)
	require.ErrorIs(t, err, hub.ErrDestinationDenied)
	_, err = h.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "svc2", Connector: "http", BaseURL: "https://example.com", Redirects: "always"})
	require.ErrorIs(t, err, hub.ErrInvalidConfig)
}

// TestDeliveryRefusedByGuard: a stored service whose base URL points at loopback (written
// before the guard existed, or by a hub allowing loopback) is refused when dialled: probes
// and deliveries fail with a typed error, the event fails permanently, nothing reaches the
// server.
func TestDeliveryRefusedByGuard(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	h := guardedHub(t)
	register(t, h, "guarded", "https://example.invalid", nil)
	svc, err := h.Store().GetServiceByName(t.Context(), "guarded")
	require.NoError(t, err)
	svc.BaseURL = srv.URL
	_, err = h.Store().UpdateService(t.Context(), svc)
	require.NoError(t, err)
	eventually(t, 10*time.Second, func() bool {
		res, err := h.TestIntegration(t.Context(), "guarded", hub.TestData{})
		return err == nil && !res.OK && strings.Contains(res.Steps[0].Error, "destination not allowed")
	}, "the hub picks up the stored base URL and the guard refuses it")

	res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "guarded", Payload: json.RawMessage(`{"a":1}`), Mode: hub.Sync})
	require.ErrorIs(t, err, hub.ErrDeliveryFailed)
	require.ErrorIs(t, err, hub.ErrDestinationDenied)
	var de *hub.DestinationError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "loopback", de.Range)
	require.Equal(t, store.StatusFailed, res.Status, "a refused destination is a permanent failure")
	require.Zero(t, hits.Load())
}

// TestAllowedNetworksOpensTheGuard: WithAllowedNetworks lets the chosen prefix through.
func TestAllowedNetworksOpensTheGuard(t *testing.T) {
	t.Parallel()
	sink := hubtest.NewSink(t)
	h := guardedHub(t, hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.1/32")))
	register(t, h, "sink", sink.URL, nil)
	res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "sink", Payload: json.RawMessage(`{"a":1}`), IdempotencyKey: "k1", Mode: hub.Sync})
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, res.Status)
	require.Equal(t, 1, sink.Delivered("k1"))
	_, err = hub.New(nil, hub.WithAllowedNetworks(netip.Prefix{}))
	require.ErrorIs(t, err, hub.ErrInvalidConfig)
}

// TestRedirectPolicies: a delivery follows no redirect by default (the 3xx is a permanent
// failure); a service that opts in follows same-origin redirects; a cross-origin redirect is
// never followed, so the API key header never reaches the other origin.
func TestRedirectPolicies(t *testing.T) {
	t.Parallel()
	var foreign atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreign.Add(1)
		t.Errorf("the other origin was called with key %q", r.Header.Get("X-API-Key"))
	}))
	t.Cleanup(other.Close)
	var finals atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/same"):
			http.Redirect(w, r, "/final", http.StatusTemporaryRedirect)
		case r.URL.Path == "/final":
			if r.Header.Get("X-API-Key") == "k-123456" {
				finals.Add(1)
			}
			w.WriteHeader(http.StatusCreated)
		default:
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		}
	}))
	t.Cleanup(origin.Close)
	h := hubtest.New(t, nil)
	auth := json.RawMessage(`{"type":"api_key","key":"k-123456","header":"X-API-Key"}`)
	for _, tc := range []struct {
		name      string
		path      string
		redirects hub.RedirectPolicy
		ok        bool
	}{
		{"default-same", "/same", "", false},
		{"optin-same", "/same", hub.RedirectsSameOrigin, true},
		{"optin-cross", "/cross", hub.RedirectsSameOrigin, false},
		{"none-cross", "/cross", hub.RedirectsNone, false},
	} {
		register(t, h, tc.name, origin.URL+tc.path, func(c *hub.IntegrationConfig) {
			c.Auth, c.Redirects = auth, tc.redirects
		})
		res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: tc.name, Payload: json.RawMessage(`{}`), Mode: hub.Sync})
		if tc.ok {
			require.NoError(t, err, tc.name)
			require.Equal(t, http.StatusCreated, res.ResponseCode, tc.name)
			continue
		}
		require.ErrorIs(t, err, hub.ErrDeliveryFailed, tc.name)
		require.Equal(t, store.StatusFailed, res.Status, tc.name)
		require.Equal(t, http.StatusTemporaryRedirect, res.ResponseCode, tc.name)
	}
	require.EqualValues(t, 1, finals.Load())
	require.Zero(t, foreign.Load())
}

// TestCloseClosesIdleConnections: after Close, no connection of the hub's transport stays
// open at the remote.
func TestCloseClosesIdleConnections(t *testing.T) {
	t.Parallel()
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	h, err := hub.New(nil, hubtest.Fast()...)
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context()))
	register(t, h, "svc", srv.URL, nil)
	_, err = h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "svc", Payload: json.RawMessage(`{}`), Mode: hub.Sync})
	require.NoError(t, err)
	require.Positive(t, open.Load(), "the connection is kept alive")
	require.NoError(t, h.Close(t.Context()))
	eventually(t, 5*time.Second, func() bool { return open.Load() == 0 }, "idle connections closed by Close")
	require.False(t, errors.Is(err, hub.ErrClosed))
}
