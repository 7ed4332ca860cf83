package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
)

// writeFiles writes each name's content into a temporary folder and returns the paths.
func writeFiles(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		paths[name] = p
	}
	return paths
}

// TestMappingVerbs: mapping preview prints the output and each violation at its path
// (table and JSON, exit status 1 when invalid), mapping suggest proposes a mapping to the
// contract, and mapping save stores the service's next mapping version.
func TestMappingVerbs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := writeFiles(t, map[string]string{
		"sample.json":   `{"issue":{"title":"Crash","state":"open"}}`,
		"contract.json": `{"name":"item","version":"1.0.0","schema":{"type":"object","required":["title","state"],"properties":{"title":{"type":"string"},"state":{"enum":["todo","done"]}}}}`,
		"raw.json":      `{"title":"issue.title","state":"issue.state"}`,
		"good.json":     `{"title":"issue.title","state":"issue.state == 'open' ? 'todo' : 'done'"}`,
		"broken.json":   `{"n":"int(issue.title"}`,
		"notjson.json":  `{"title":`,
	})

	code, out, errOut := b.hubctl(t, "", "mapping", "preview", "-mapping", f["raw.json"], "-sample", f["sample.json"], "-contract", f["contract.json"])
	require.Equal(t, 1, code, "a preview with violations fails")
	require.Contains(t, out, "Preview FAILED (contract item@1.0.0)")
	require.Contains(t, out, `Output: {"state":"open","title":"Crash"}`)
	require.Regexp(t, `(?m)^/state\s+\S`, out, "the violation at its path")
	require.Contains(t, errOut, "0 errors, 1 violations")

	code, out, errOut = b.hubctl(t, "", "-o", "json", "mapping", "preview", "-mapping", f["good.json"], "-sample", f["sample.json"], "-contract", f["contract.json"])
	require.Equal(t, 0, code, errOut)
	var pr apiv1.PreviewResult
	require.NoError(t, json.Unmarshal([]byte(out), &pr), out)
	require.True(t, pr.OK)
	require.JSONEq(t, `{"title":"Crash","state":"todo"}`, string(pr.Output))
	require.Empty(t, pr.Violations)

	code, out, _ = b.hubctl(t, "", "mapping", "preview", "-mapping", f["broken.json"], "-sample", f["sample.json"])
	require.Equal(t, 1, code)
	require.Regexp(t, `(?m)^n\s+\d+:\d+\s+\S`, out, "a compile error at its target and position")

	code, _, errOut = b.hubctl(t, "", "mapping", "preview", "-mapping", f["raw.json"])
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "-sample FILE")
	code, _, errOut = b.hubctl(t, "", "mapping", "preview", "-mapping", f["notjson.json"], "-sample", f["sample.json"])
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not a JSON document")
	code, _, errOut = b.hubctl(t, "", "mapping", "preview", "-mapping", f["raw.json"], "-sample", f["sample.json"], "-service", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not-found (404")

	code, out, errOut = b.hubctl(t, "", "mapping", "suggest", "-sample", f["sample.json"], "-contract", f["contract.json"])
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^title\s+issue\.title\s+\d\.\d\d`, out)
	code, out, _ = b.hubctl(t, "", "-o", "json", "mapping", "suggest", "-sample", f["sample.json"], "-contract", f["contract.json"])
	require.Equal(t, 0, code)
	var sr apiv1.SuggestResult
	require.NoError(t, json.Unmarshal([]byte(out), &sr), out)
	var suggested map[string]any
	require.NoError(t, json.Unmarshal(sr.Mapping, &suggested))
	require.Equal(t, "issue.title", suggested["title"])
	code, _, errOut = b.hubctl(t, "", "mapping", "suggest", "-sample", f["sample.json"])
	require.Equal(t, 2, code, "a target contract or service is required")
	require.Contains(t, errOut, "-contract FILE or -service S")

	code, out, errOut = b.hubctl(t, "", "mapping", "save", "sink", "-mapping", f["good.json"])
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "sink: mapping saved as version 1")
	code, out, errOut = b.hubctl(t, "", "-o", "json", "mapping", "save", "-mapping", f["raw.json"], "sink")
	require.Equal(t, 0, code, errOut)
	var ch apiv1.ServiceChange
	require.NoError(t, json.Unmarshal([]byte(out), &ch), out)
	require.Equal(t, 2, ch.MappingVersion)
	svc, err := b.hub.GetService(t.Context(), "sink")
	require.NoError(t, err)
	require.Equal(t, 2, svc.MappingVersion, "the hub stores the saved mapping")
	code, _, errOut = b.hubctl(t, "", "mapping", "save", "nope", "-mapping", f["good.json"])
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not-found (404")
	code, _, _ = b.hubctl(t, "", "mapping", "save", "sink")
	require.Equal(t, 2, code)
	code, _, _ = b.hubctl(t, "", "mapping", "frobnicate")
	require.Equal(t, 2, code)
}

// TestRouteVerbs: route put stores versions, routes lists them (table and JSON), route
// delete stores the route inactive, and refused routes report the hub's problem.
func TestRouteVerbs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.hub.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "chat", Connector: "http", BaseURL: b.sink.URL})
	require.NoError(t, err)
	f := writeFiles(t, map[string]string{
		"route.json": `{"source":"sink","condition":"payload.action == \"opened\"","mapping":{"fields":{"title":"payload.title"}},"destinations":[{"service":"chat","priority":"high"}]}`,
		"lost.json":  `{"source":"sink","destinations":[{"service":"nowhere"}]}`,
	})

	code, out, errOut := b.hubctl(t, "", "route", "put", "opened", "-file", f["route.json"])
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "route opened stored as version 1 (sink -> chat)")
	code, out, errOut = b.hubctl(t, "", "-o", "json", "route", "put", "-file", f["route.json"], "opened")
	require.Equal(t, 0, code, errOut)
	var r apiv1.Route
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.Equal(t, 2, r.Version)

	code, out, errOut = b.hubctl(t, "", "routes")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^opened\s+v2\s+sink\s+chat\s+payload\.action == "opened"`, out)
	code, out, _ = b.hubctl(t, "", "-o", "json", "routes", "-source", "sink")
	require.Equal(t, 0, code)
	var list apiv1.RouteList
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list.Routes, 1)
	require.Equal(t, "high", list.Routes[0].Destinations[0].Priority)

	code, _, errOut = b.hubctl(t, "", "route", "put", "lost", "-file", f["lost.json"])
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not-found (404")
	code, _, _ = b.hubctl(t, "", "route", "put", "opened")
	require.Equal(t, 2, code, "-file is required")
	code, _, _ = b.hubctl(t, "", "route", "put", "a", "b", "-file", f["route.json"])
	require.Equal(t, 2, code, "one name")

	code, out, errOut = b.hubctl(t, "", "route", "delete", "opened")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "route opened stored inactive")
	code, out, _ = b.hubctl(t, "", "-o", "json", "routes")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list.Routes, 1)
	require.True(t, list.Routes[0].Disabled)
	require.Equal(t, 3, list.Routes[0].Version)
	code, _, errOut = b.hubctl(t, "", "route", "delete", "never")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not-found (404")
	code, _, _ = b.hubctl(t, "", "route", "delete")
	require.Equal(t, 2, code)
}
