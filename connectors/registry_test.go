package connectors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
)

type nopConnector struct {
	connectors.ConnectorDefaults
	kind string
}

func (n nopConnector) Info() connectors.Info { return connectors.Info{Kind: n.kind} }
func (nopConnector) Invoke(context.Context, *connectors.Request) (*connectors.Response, error) {
	return &connectors.Response{StatusCode: 204}, nil
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := connectors.NewRegistry()
	f := func(cfg connectors.Config) (connectors.Connector, error) { return nopConnector{kind: "nop"}, nil }
	require.NoError(t, r.Register("nop", f))
	require.ErrorIs(t, r.Register("nop", f), connectors.ErrDuplicateKind)
	require.ErrorIs(t, r.Register("", f), connectors.ErrInvalidConfig)
	require.ErrorIs(t, r.Register("x", nil), connectors.ErrInvalidConfig)
	assert.Panics(t, func() { r.MustRegister("nop", f) })
	require.NoError(t, r.Register("a", f))
	assert.Equal(t, []string{"a", "nop"}, r.Kinds())

	c, err := r.New("nop", connectors.Config{})
	require.NoError(t, err)
	assert.Equal(t, "nop", c.Info().Kind)
	require.NoError(t, c.Check(t.Context()))
	_, err = r.New("missing", connectors.Config{})
	require.ErrorIs(t, err, connectors.ErrUnknownKind)
}

func TestConfigDecodeAndLog(t *testing.T) {
	t.Parallel()
	var cfg connectors.Config
	require.NoError(t, json.Unmarshal([]byte(`{"name":"gh","base_url":"http://127.0.0.1","auth":{"token":"tok-SECRET"},"options":{"owner":"o"},"max_response_bytes":100}`), &cfg))
	var auth struct {
		Token string `json:"token"`
	}
	require.NoError(t, cfg.DecodeAuth(&auth))
	assert.Equal(t, "tok-SECRET", auth.Token)
	var opts struct {
		Owner string `json:"owner"`
	}
	require.NoError(t, cfg.DecodeOptions(&opts))
	limit, err := cfg.ResponseLimit()
	require.NoError(t, err)
	assert.EqualValues(t, 100, limit)

	bad := connectors.Config{Auth: json.RawMessage(`{"token":"tok-SECRET","extra":1}`)}
	err = bad.DecodeAuth(&auth)
	require.ErrorIs(t, err, connectors.ErrInvalidConfig)
	assert.NotContains(t, err.Error(), "tok-SECRET")
	bad = connectors.Config{Auth: json.RawMessage(`{"token":42}`)}
	require.ErrorIs(t, bad.DecodeAuth(&auth), connectors.ErrInvalidConfig)
	bad = connectors.Config{Auth: json.RawMessage(`{"token":`)}
	require.ErrorIs(t, bad.DecodeAuth(&auth), connectors.ErrInvalidConfig)
	bad = connectors.Config{MaxResponseBytes: -1}
	_, err = bad.ResponseLimit()
	require.ErrorIs(t, err, connectors.ErrInvalidConfig)

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("built", "config", cfg)
	assert.NotContains(t, buf.String(), "tok-SECRET")
	assert.Contains(t, buf.String(), "http://127.0.0.1")
	assert.NotNil(t, cfg.Client())
	assert.NotNil(t, cfg.Clock()())
	assert.NotNil(t, cfg.Log())
}
