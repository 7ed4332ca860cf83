package builtin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/builtin"
)

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	r := builtin.NewRegistry()
	assert.Equal(t, []string{"discord", "github", "gitlab", "http", "hubspot", "jira", "notion", "salesforce", "slack", "teams"}, r.Kinds())
	require.ErrorIs(t, builtin.Register(r), connectors.ErrDuplicateKind)
	assert.NotSame(t, r, builtin.NewRegistry(), "no shared state")
}

// TestBuildFromStoredJSON builds every built-in from a configuration document as the
// hub stores it and delivers one event with the default operation.
func TestBuildFromStoredJSON(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true,"ts":"1.1","id":"001xx","number":5}`))
	}))
	t.Cleanup(srv.Close)
	docs := map[string]string{
		"http":       `{"base_url":"` + srv.URL + `","auth":{"type":"bearer","token":"t"}}`,
		"github":     `{"base_url":"` + srv.URL + `","auth":{"token":"t"},"options":{"owner":"o","repo":"r"}}`,
		"slack":      `{"base_url":"` + srv.URL + `","auth":{"bot_token":"xoxb-t"},"options":{"channel":"C1"}}`,
		"salesforce": `{"base_url":"` + srv.URL + `","auth":{"flow":"static","access_token":"t"},"options":{"sobject":"Case"}}`,
		"hubspot":    `{"base_url":"` + srv.URL + `","auth":{"token":"pat-t"},"options":{"object_type":"contacts"}}`,
		"teams":      `{"auth":{"webhook_url":"` + srv.URL + `/webhookb2/x/IncomingWebhook/y/z"}}`,
		"discord":    `{"base_url":"` + srv.URL + `","auth":{"webhook_id":"1","webhook_token":"t"}}`,
		"jira":       `{"base_url":"` + srv.URL + `","auth":{"email":"a@example.com","api_token":"t"},"options":{"project_key":"PAY"}}`,
		"gitlab":     `{"base_url":"` + srv.URL + `","auth":{"token":"t"},"options":{"project":"acme/payments"}}`,
		"notion":     `{"base_url":"` + srv.URL + `","auth":{"token":"t"},"options":{"database_id":"d","properties":{"Name":{"type":"title","from":"title"}}}}`,
	}
	wantID := map[string]string{"http": "", "github": "5", "slack": "1.1", "salesforce": "001xx", "hubspot": "001xx", "teams": "", "discord": "001xx",
		"jira": "", "gitlab": "", "notion": "001xx"}
	r := builtin.NewRegistry()
	for kind, doc := range docs {
		var cfg connectors.Config
		require.NoError(t, json.Unmarshal([]byte(doc), &cfg), kind)
		cfg.HTTPClient = srv.Client()
		c, err := r.New(kind, cfg)
		require.NoError(t, err, kind)
		assert.Equal(t, kind, c.Info().Kind)
		assert.NotEmpty(t, c.Info().DefaultOperation, kind)
		resp, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"Disk full","Subject":"Disk full"}`), IdempotencyKey: "evt-1"})
		require.NoError(t, err, kind)
		assert.Equal(t, wantID[kind], resp.RemoteID, kind)
	}
	_, err := r.New("github", connectors.Config{Auth: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, connectors.ErrInvalidConfig)
}

var fixedTime = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
