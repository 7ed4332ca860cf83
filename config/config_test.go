package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ehg/hub/config"
)

func vault() config.Option {
	return config.WithResolver("vault", config.ResolverFunc(func(_ context.Context, ref string) (string, error) {
		if ref == "kv/slack#token" {
			return "xoxb-from-vault", nil
		}
		return "", errors.New("no such secret")
	}))
}

func TestLoadFull(t *testing.T) {
	t.Parallel()
	doc, err := config.Load("testdata/valid/full.yaml", vault())
	require.NoError(t, err)
	require.Len(t, doc.Services, 2)
	gh := doc.Service("github-issues")
	require.NotNil(t, gh)
	assert.Equal(t, "https://api.example.com", gh.BaseURL)
	assert.Equal(t, 4, *gh.MaxRetries)
	assert.InDelta(t, 0.002, gh.CostPerCall, 1e-12)
	assert.JSONEq(t, `{"type":"bearer","token":"env:GITHUB_TOKEN"}`, string(gh.Auth))
	// mapping member order is kept: fields are evaluated in order
	assert.Equal(t, `{"title":"issue.title","status":"issue.state == \"open\" ? \"todo\" : \"done\""}`, string(gh.Mapping))
	assert.Equal(t, config.Duration(7*24*60*60*1e9), doc.Retention.Events["succeeded"])
	assert.Equal(t, config.Forever, doc.Retention.Events["failed"])
	assert.Equal(t, "full.yaml:6:5", doc.Position("services[github-issues].connector").String())
	assert.Equal(t, "full.yaml:11:7", doc.Position("services[github-issues].auth.token").String())
}

func TestErrorsNameFileLineAndPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, where, path, msg string
	}{
		{"unknown-field.yaml", "unknown-field.yaml:5:5", "services[a].base_ulr", `unknown field "base_ulr"`},
		{"wrong-type.yaml", "wrong-type.yaml:5:18", "services[a].max_retries", "expected an integer, got a string"},
		{"literal-secret.yaml", "literal-secret.yaml:7:7", "services[a].auth.token", "a literal value where a secret reference is required"},
		{"missing-version.yaml", "missing-version.yaml:1:1", "", "version is required"},
		{"missing-connector.yaml", "missing-connector.yaml:3:5", "services[a]", "connector is required"},
		{"bad-duration.yaml", "bad-duration.yaml:3:23", "retention.events.succeeded", "is not a duration"},
		{"bad-status.yaml", "bad-status.yaml:3:12", "retention.events.pending", "not a terminal event status"},
		{"contract-no-schema.yaml", "contract-no-schema.yaml:3:5", "contracts[c@1.0.0]", "schema is required"},
		{"unknown-top.json", "unknown-top.json:1:16", "pipelines", `unknown field "pipelines"`},
		{"route-no-destination.yaml", "route-no-destination.yaml:3:5", "routes[r]", "at least one destination"},
		{"options-not-object.yaml", "options-not-object.yaml:5:5", "services[a].options", "expected a mapping"},
		{"bad-override.yaml", "bad-override.yaml:8:21", "environments.prod.services.a.base_url", "expected a string, got an integer"},
		{"version-2.yaml", "version-2.yaml:1:1", "version", "format version 2 is not supported"},
		{"redirects.yaml", "redirects.yaml:5:5", "services[a].redirects", "not a redirect policy"},
		{"schedule-unknown-field.yaml", "schedule-unknown-field.yaml:8:5", "schedules[crm].every", `unknown field "every"`},
		{"schedule-no-interval.yaml", "schedule-no-interval.yaml:6:5", "schedules[crm].interval", "interval is required"},
		{"approvals-unknown-field.yaml", "approvals-unknown-field.yaml:4:3", "approvals.quorum", `unknown field "quorum"`},
		{"roles-wrong-type.yaml", "roles-wrong-type.yaml:3:11", "roles.viewer", "expected a list, got a string"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(filepath.Join("testdata/invalid", tc.file))
			require.Error(t, err)
			require.ErrorIs(t, err, config.ErrInvalid)
			var es config.Errors
			require.ErrorAs(t, err, &es)
			require.NotEmpty(t, es)
			e := es[0]
			assert.Equal(t, tc.where, e.Position.String(), err.Error())
			assert.Equal(t, tc.path, e.Path)
			assert.Contains(t, e.Error(), tc.msg)
		})
	}
}

func TestLiteralSecretNeverQuoted(t *testing.T) {
	t.Parallel()
	_, err := config.Load("testdata/invalid/literal-secret.yaml")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "ghp_abcdefghijklmnop")
}

func TestUnknownScheme(t *testing.T) {
	t.Parallel()
	_, err := config.Load("testdata/valid/full.yaml") // no vault resolver
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Contains(t, err.Error(), `services[pager].auth.bot_token: secret reference scheme "vault" is unknown`)
	assert.Contains(t, err.Error(), "full.yaml:34:7")
}

func TestDuplicatesAndOverridesOfUnknownServices(t *testing.T) {
	t.Parallel()
	_, err := config.Parse("dup.yaml", []byte("version: 1\nservices:\n- {name: a, connector: http}\n- {name: a, connector: http}\nenvironments:\n  prod:\n    services:\n      b: {disabled: true}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `dup.yaml:4:3: services[a]: service "a" is defined twice`)
	assert.Contains(t, err.Error(), `environments.prod.services.b: environment "prod" overrides service "b"`)
}

func TestSyntaxError(t *testing.T) {
	t.Parallel()
	_, err := config.Parse("broken.yaml", []byte("version: 1\nservices:\n  - name: [a\n"))
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Contains(t, err.Error(), "broken.yaml:")
	_, err = config.Parse("two.yaml", []byte("version: 1\n---\nversion: 1\n"))
	require.ErrorIs(t, err, config.ErrInvalid)
	_, err = config.Parse("empty.yaml", nil)
	require.ErrorIs(t, err, config.ErrInvalid)
}

func TestFolder(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A_TOKEN": "a-secret"}
	doc, err := config.Load("testdata/folder", config.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	require.NoError(t, err)
	require.Len(t, doc.Services, 2)
	assert.Equal(t, "services/b.json:1:15", doc.Position("services[b]").String())
	a, err := doc.ResolveAuth(t.Context(), "a")
	require.NoError(t, err)
	assert.JSONEq(t, `{"token":"a-secret"}`, string(a))
	b, err := doc.ResolveAuth(t.Context(), "b")
	require.NoError(t, err)
	assert.JSONEq(t, `{"token":"b-secret"}`, string(b))
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	doc, err := config.Load("testdata/valid/full.yaml", vault(), config.WithLookupEnv(func(string) (string, bool) { return "", false }))
	require.NoError(t, err)
	_, err = doc.ResolveAuth(t.Context(), "github-issues")
	require.ErrorIs(t, err, config.ErrSecret)
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Contains(t, err.Error(), "full.yaml:11:7: services[github-issues].auth.token")
	assert.Contains(t, err.Error(), "GITHUB_TOKEN is not set")
	p, err := doc.ResolveAuth(t.Context(), "pager")
	require.NoError(t, err)
	assert.JSONEq(t, `{"bot_token":"xoxb-from-vault"}`, string(p))

	staging, err := doc.ForEnvironment("staging")
	require.NoError(t, err)
	_, err = staging.ResolveAuth(t.Context(), "github-issues")
	require.ErrorIs(t, err, config.ErrSecret)
	// the override's position is reported, not the base document's
	assert.Contains(t, err.Error(), "full.yaml:58:30")
	assert.Contains(t, err.Error(), "staging-token cannot be read")
}

func TestForEnvironment(t *testing.T) {
	t.Parallel()
	doc, err := config.Load("testdata/valid/full.yaml", vault())
	require.NoError(t, err)
	st, err := doc.ForEnvironment("staging")
	require.NoError(t, err)
	gh := st.Service("github-issues")
	assert.Equal(t, "https://staging.example.com", gh.BaseURL)
	assert.True(t, gh.Disabled)
	assert.Equal(t, 1, *gh.MaxRetries)
	assert.Nil(t, st.Environments)
	assert.Len(t, st.Retention.Events, 1)
	// the base document is unchanged
	assert.Equal(t, "https://api.example.com", doc.Service("github-issues").BaseURL)
	_, err = doc.ForEnvironment("prod")
	require.ErrorIs(t, err, config.ErrInvalid)
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"testdata/valid/full.yaml", "testdata/valid/minimal.json", "testdata/valid/anchors.yaml", "testdata/valid/governance.yaml"} {
		doc, err := config.Load(f, vault())
		require.NoError(t, err)
		out, err := config.Encode(doc)
		require.NoError(t, err)
		again, err := config.Parse("again.yaml", out, vault())
		require.NoError(t, err, string(out))
		out2, err := config.Encode(again)
		require.NoError(t, err)
		assert.Equal(t, string(out), string(out2))
		assert.Equal(t, doc.Service("github-issues") == nil, again.Service("github-issues") == nil)
	}
}

// TestSchemaAgreesWithDecoder validates every sample against the published schema and
// checks the verdict is the decoder's.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	t.Parallel()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	require.NoError(t, c.AddResource("schema.json", bytes.NewReader(config.Schema())))
	sch, err := c.Compile("schema.json")
	require.NoError(t, err)
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			var v any
			require.NoError(t, yaml.Unmarshal(data, &v), f)
			jb, err := json.Marshal(v)
			require.NoError(t, err, f)
			var inst any
			require.NoError(t, json.Unmarshal(jb, &inst))
			schemaErr := sch.Validate(inst)
			_, loadErr := config.Load(f, vault())
			assert.Equal(t, dir == "valid", schemaErr == nil, "%s: schema says %v", f, schemaErr)
			assert.Equal(t, dir == "valid", loadErr == nil, "%s: decoder says %v", f, loadErr)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"30d": "30d", "48h": "2d", "90m": "1h30m0s", "forever": "forever", "0s": "0s"} {
		d, err := config.ParseDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, d.String())
	}
	for _, bad := range []string{"", "-1h", "7 days", "xd"} {
		_, err := config.ParseDuration(bad)
		assert.Error(t, err, bad)
	}
	b, err := json.Marshal(config.Duration(0))
	require.NoError(t, err)
	var d config.Duration
	require.NoError(t, json.Unmarshal(b, &d))
	assert.True(t, strings.HasPrefix(string(b), `"`))
}

func TestGoDocumentValidate(t *testing.T) {
	t.Parallel()
	doc := &config.Document{Version: 1, Services: []config.Service{{Name: "a", Connector: "http", Auth: json.RawMessage(`{"token":"plain"}`)}}}
	err := doc.Validate()
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Contains(t, err.Error(), "services[a].auth.token")
	assert.NotContains(t, err.Error(), "plain")
}
