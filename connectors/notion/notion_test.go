package notion_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/connectortest"
	"github.com/ehg/hub/connectors/internal/fakeclock"
	"github.com/ehg/hub/connectors/internal/restclient"
	"github.com/ehg/hub/connectors/notion"
)

const (
	token       = "ntn_SECRET_INTEGRATION_TOKEN"
	verifyToken = "secret_NOTION_VERIFICATION_TOKEN"
	dbID        = "2f26ee68-df30-4251-aad4-8ddc420cba3d"
)

// fake reproduces the Notion API: bearer auth and the Notion-Version header
// (missing_version), pages in a database with rich text validated to 2000 characters
// (validation_error), block children up to 100, database queries with
// start_cursor/next_cursor/has_more, /users/me, 409 conflict_error and 429
// rate_limited with Retry-After.
type fake struct {
	mu       sync.Mutex
	hits     atomic.Int32
	pages    []map[string]any
	patches  []string
	total    int
	throttle bool
	conflict bool
}

func nErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "error", "status": status, "code": code, "message": msg, "request_id": "b8f7"})
}

func richTextOK(v any) string {
	arr, _ := v.([]any)
	if len(arr) > 100 {
		return fmt.Sprintf("rich_text.length should be ≤ `100`, instead was `%d`", len(arr))
	}
	for i, it := range arr {
		c := it.(map[string]any)["text"].(map[string]any)["content"].(string)
		if n := len(utf16.Encode([]rune(c))); n > 2000 {
			return fmt.Sprintf("[%d].text.content.length should be ≤ `2000`, instead was `%d`", i, n)
		}
	}
	return ""
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token {
		nErr(w, 401, "unauthorized", "API token is invalid.")
		return
	}
	if r.Header.Get("Notion-Version") == "" {
		nErr(w, 400, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.")
		return
	}
	if f.throttle {
		w.Header().Set("Retry-After", "3")
		nErr(w, 429, "rate_limited", "You have been rate limited. Please try again in a few minutes.")
		return
	}
	if f.conflict {
		nErr(w, 409, "conflict_error", "Conflict occurred while saving. Please try again.")
		return
	}
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	switch {
	case r.Method == http.MethodPost && path == "/pages":
		parent, _ := body["parent"].(map[string]any)
		if parent["database_id"] != nil && parent["database_id"] != dbID {
			nErr(w, 404, "object_not_found", "Could not find database with ID: "+fmt.Sprint(parent["database_id"])+". Make sure the relevant pages and databases are shared with your integration.")
			return
		}
		props, _ := body["properties"].(map[string]any)
		for name, p := range props {
			for _, typ := range []string{"title", "rich_text"} {
				if v, ok := p.(map[string]any)[typ]; ok {
					if msg := richTextOK(v); msg != "" {
						nErr(w, 400, "validation_error", "body failed validation: body.properties."+name+"."+typ+msg+".")
						return
					}
				}
			}
		}
		if ch, _ := body["children"].([]any); len(ch) > 100 {
			nErr(w, 400, "validation_error", "body failed validation: body.children.length should be ≤ `100`.")
			return
		}
		f.pages = append(f.pages, body)
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "page", "id": fmt.Sprintf("59833787-2cf9-4fdf-8782-e53db20768a%d", len(f.pages))})
	case r.Method == http.MethodPatch && (strings.HasPrefix(path, "/pages/") || strings.HasPrefix(path, "/blocks/")):
		f.patches = append(f.patches, path)
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "page", "id": strings.Split(path, "/")[2]})
	case r.Method == http.MethodPost && path == "/databases/"+dbID+"/query":
		size := int(body["page_size"].(float64))
		start := 0
		if c, ok := body["start_cursor"].(string); ok {
			start, _ = strconv.Atoi(strings.TrimPrefix(c, "cur-"))
		}
		end := min(start+size, f.total)
		res := []map[string]any{}
		for i := start; i < end; i++ {
			res = append(res, map[string]any{"object": "page", "id": fmt.Sprintf("p%d", i)})
		}
		doc := map[string]any{"object": "list", "results": res, "has_more": end < f.total, "next_cursor": nil, "type": "page_or_database"}
		if end < f.total {
			doc["next_cursor"] = fmt.Sprintf("cur-%d", end)
		}
		_ = json.NewEncoder(w).Encode(doc)
	case r.Method == http.MethodGet && path == "/users/me":
		_, _ = w.Write([]byte(`{"object":"user","id":"16d84278","type":"bot","bot":{}}`))
	default:
		nErr(w, 400, "invalid_request_url", "Invalid request URL.")
	}
}

const opts = `{"database_id":"` + dbID + `","parent_page_id":"b55c9c91","properties":{
	"Name":{"type":"title","from":"title"},"Status":{"type":"status","from":"status"},"Priority":{"type":"select","from":"priority"},
	"Labels":{"type":"multi_select","from":"labels"},"Due":{"type":"date","from":"due_date"},"Points":{"type":"number","from":"points"},
	"Done":{"type":"checkbox","from":"done"},"Link":{"type":"url","from":"url"},"Owner":{"type":"email","from":"owner.email"},
	"Notes":{"type":"rich_text","from":"notes"}}}`

func start(t *testing.T, f *fake, clk *fakeclock.Clock) *notion.Connector {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := notion.New(connectors.Config{BaseURL: srv.URL + "/v1", HTTPClient: srv.Client(), Now: clk.Now,
		Auth: json.RawMessage(`{"token":"` + token + `","webhook_verification_token":"` + verifyToken + `"}`), Options: json.RawMessage(opts)})
	require.NoError(t, err)
	return c
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		cfg.Auth = json.RawMessage(`{"token":"` + token + `","webhook_verification_token":"` + verifyToken + `"}`)
		cfg.Options = json.RawMessage(opts)
		c, err := notion.New(cfg)
		require.NoError(t, err)
		return c
	}, connectortest.Features{
		Secrets: []string{token, verifyToken},
		Request: func() *connectors.Request {
			return &connectors.Request{Body: json.RawMessage(`{"title":"conformance"}`)}
		},
		Success: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"object":"list","id":"p1","results":[],"has_more":false,"next_cursor":null}`))
		},
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]connectors.Config{
		"no token":  {Auth: json.RawMessage(`{}`)},
		"bad type":  {Auth: json.RawMessage(`{"token":"t"}`), Options: json.RawMessage(`{"properties":{"X":{"type":"formula","from":"x"}}}`)},
		"no from":   {Auth: json.RawMessage(`{"token":"t"}`), Options: json.RawMessage(`{"properties":{"X":{"type":"title"}}}`)},
		"bad op":    {Auth: json.RawMessage(`{"token":"t"}`), Options: json.RawMessage(`{"default_operation":"delete"}`)},
		"bad age":   {Auth: json.RawMessage(`{"token":"t"}`), Options: json.RawMessage(`{"webhook_max_age":"x"}`)},
		"bad field": {Auth: json.RawMessage(`{"token":"t","secret":"x"}`)},
	} {
		_, err := notion.New(cfg)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
	}
}

func TestRichTextLimits(t *testing.T) {
	t.Parallel()
	rt, err := notion.RichText(strings.Repeat("a", 4500))
	require.NoError(t, err)
	require.Len(t, rt, 3, "2000 + 2000 + 500")
	// Emoji outside the BMP count twice, as Notion counts UTF-16 code units; no chunk
	// splits one.
	rt, err = notion.RichText(strings.Repeat("😀", 1500))
	require.NoError(t, err)
	require.Len(t, rt, 2)
	first := rt[0].(map[string]any)["text"].(map[string]any)["content"].(string)
	assert.Equal(t, 1000, len([]rune(first)))
	_, err = notion.RichText(strings.Repeat("a", 2000*100+1))
	require.Error(t, err, "over 100 rich text objects")
	for typ, v := range map[string]any{
		notion.TypeURL:         "https://x.example/" + strings.Repeat("a", 2000),
		notion.TypeEmail:       strings.Repeat("a", 195) + "@x.example",
		notion.TypeNumber:      "five",
		notion.TypeCheckbox:    "yes",
		notion.TypeDate:        "25/11/2025",
		notion.TypeSelect:      "a,b",
		notion.TypeMultiSelect: make([]any, 101),
	} {
		if typ == notion.TypeMultiSelect {
			arr := v.([]any)
			for i := range arr {
				arr[i] = strconv.Itoa(i)
			}
		}
		_, err := notion.PropertyValue(typ, v)
		require.Error(t, err, typ)
	}
}

func TestCreateRowAndPages(t *testing.T) {
	t.Parallel()
	f := &fake{}
	c := start(t, f, fakeclock.New())
	longNotes := strings.Repeat("n", 2500)
	resp, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"Refund retries exhaust","status":"In progress","priority":"High",
		"labels":["bug","refunds"],"due_date":"2025-12-01","points":5,"done":false,"url":"https://x.example/1","owner":{"email":"jchen@example.com"},
		"notes":"` + longNotes + `","description":"First paragraph.\n\nSecond paragraph."}`)})
	require.NoError(t, err)
	assert.Equal(t, "59833787-2cf9-4fdf-8782-e53db20768a1", resp.RemoteID)
	f.mu.Lock()
	page := f.pages[0]
	f.mu.Unlock()
	props := page["properties"].(map[string]any)
	assert.Equal(t, map[string]any{"database_id": dbID}, page["parent"])
	assert.Equal(t, map[string]any{"status": map[string]any{"name": "In progress"}}, props["Status"])
	assert.Equal(t, map[string]any{"select": map[string]any{"name": "High"}}, props["Priority"])
	assert.Equal(t, map[string]any{"multi_select": []any{map[string]any{"name": "bug"}, map[string]any{"name": "refunds"}}}, props["Labels"])
	assert.Equal(t, map[string]any{"date": map[string]any{"start": "2025-12-01"}}, props["Due"])
	assert.Equal(t, map[string]any{"number": float64(5)}, props["Points"])
	assert.Equal(t, map[string]any{"checkbox": false}, props["Done"])
	assert.Equal(t, map[string]any{"email": "jchen@example.com"}, props["Owner"])
	assert.Len(t, props["Notes"].(map[string]any)["rich_text"], 2, "2500 characters in two rich text objects")
	assert.Len(t, page["children"], 2, "two paragraphs")

	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: notion.OpCreatePage, Body: json.RawMessage(`{"title":"Runbook"}`)})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: notion.OpUpdatePage, Params: map[string]string{"page_id": "p1"}, Body: json.RawMessage(`{"status":"Done"}`)})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: notion.OpAppendBlocks, Body: json.RawMessage(`{"id":"p1","description":"More."}`)})
	require.NoError(t, err)
	f.mu.Lock()
	assert.Equal(t, []string{"/pages/p1", "/blocks/p1/children"}, f.patches)
	f.mu.Unlock()

	_, err = c.Invoke(t.Context(), &connectors.Request{Params: map[string]string{"database_id": "missing"}, Body: json.RawMessage(`{"title":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrPermanent)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "object_not_found", ce.Code)

	many := strings.Repeat("p\n\n", 101)
	for name, req := range map[string]*connectors.Request{
		"101 paragraphs": {Body: json.RawMessage(`{"title":"x","description":"` + strings.ReplaceAll(many, "\n", `\n`) + `"}`)},
		"bad date":       {Body: json.RawMessage(`{"title":"x","due_date":"tomorrow"}`)},
		"no props":       {Body: json.RawMessage(`{"unmapped":"x"}`)},
		"update no id":   {Operation: notion.OpUpdatePage, Body: json.RawMessage(`{"status":"Done"}`)},
		"append empty":   {Operation: notion.OpAppendBlocks, Params: map[string]string{"page_id": "p1"}},
		"not object":     {Body: json.RawMessage(`[1]`)},
		"unknown":        {Operation: "delete"},
	} {
		_, err := c.Invoke(t.Context(), req)
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
	assert.EqualValues(t, 5, f.hits.Load(), "nothing over Notion's limits was sent")
}

func TestQueryToTheEnd(t *testing.T) {
	t.Parallel()
	f := &fake{total: 230}
	c := start(t, f, fakeclock.New())
	var ids []string
	cursor := ""
	for i := 0; ; i++ {
		require.Less(t, i, 10)
		p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor, Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
		require.NoError(t, err)
		for _, it := range p.Items {
			var pg struct{ ID string }
			require.NoError(t, json.Unmarshal(it, &pg))
			ids = append(ids, pg.ID)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Len(t, ids, 230)
	assert.Equal(t, "p229", ids[229])
}

func TestRateLimitAndErrors(t *testing.T) {
	t.Parallel()
	f := &fake{throttle: true}
	clk := fakeclock.New()
	c := start(t, f, clk)
	_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrRateLimited)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 3*time.Second, ce.RetryAfter())
	assert.Equal(t, "rate_limited", ce.Code)
	f.mu.Lock()
	f.throttle = false
	f.mu.Unlock()
	clk.Advance(3*time.Second - time.Millisecond)
	require.ErrorIs(t, c.Check(t.Context()), restclient.ErrHeldBack)
	assert.EqualValues(t, 1, f.hits.Load(), "no request before Retry-After")
	clk.Advance(time.Millisecond)
	require.NoError(t, c.Check(t.Context()))

	f.mu.Lock()
	f.conflict = true
	f.mu.Unlock()
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrTransient, "409 conflict_error is worth retrying")

	for code, class := range map[string]error{"unauthorized": connectors.ErrAuth, "restricted_resource": connectors.ErrAuth,
		"validation_error": connectors.ErrPermanent, "service_unavailable": connectors.ErrTransient, "gateway_timeout": connectors.ErrTransient} {
		cl, ok := notion.ClassForCode(code)
		require.True(t, ok, code)
		assert.Equal(t, class, map[connectors.Class]error{connectors.ClassAuth: connectors.ErrAuth, connectors.ClassPermanent: connectors.ErrPermanent,
			connectors.ClassTransient: connectors.ErrTransient}[cl], code)
	}
	srv := httptest.NewServer(&fake{})
	t.Cleanup(srv.Close)
	bad, err := notion.New(connectors.Config{BaseURL: srv.URL + "/v1", HTTPClient: srv.Client(), Auth: json.RawMessage(`{"token":"wrong"}`)})
	require.NoError(t, err)
	require.ErrorIs(t, bad.Check(t.Context()), connectors.ErrAuth)
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New()
	c, err := notion.New(connectors.Config{Now: clk.Now, Auth: json.RawMessage(`{"token":"t","webhook_verification_token":"` + verifyToken + `"}`),
		Options: json.RawMessage(`{"webhook_max_age":"5m"}`)})
	require.NoError(t, err)
	body := []byte(`{"id":"367cba44-b6f3-4c92-81e7-6a2e9659efd4","timestamp":"2025-11-25T11:58:00.000Z","workspace_id":"13950b26","subscription_id":"29d75c0d","integration_id":"0ef2e755","type":"page.created","entity":{"id":"153104cd","type":"page"}}`)
	h := http.Header{"X-Notion-Signature": {"sha256=" + connectors.SignHMACSHA256([]byte(verifyToken), body)}}
	ev, err := c.VerifyWebhook(h, body)
	require.NoError(t, err)
	assert.Equal(t, "page.created", ev.Event)
	assert.Equal(t, "367cba44-b6f3-4c92-81e7-6a2e9659efd4", ev.DeliveryID)
	_, err = c.VerifyWebhook(h, []byte(strings.Replace(string(body), "page.created", "page.deleted", 1)))
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "tampered")
	_, err = c.VerifyWebhook(http.Header{}, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "unsigned")
	clk.Advance(4 * time.Minute)
	_, err = c.VerifyWebhook(h, body)
	require.ErrorIs(t, err, connectors.ErrStaleWebhook, "older than webhook_max_age")
	none, err := notion.New(connectors.Config{Auth: json.RawMessage(`{"token":"t"}`)})
	require.NoError(t, err)
	_, err = none.VerifyWebhook(h, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "no verification token rejects everything")
}

// TestErrorBodies: Notion's documented error responses ({"object": "error", "status",
// "code", "message"}), as the API sends them, are classified by their code: auth,
// permanent, transient or rate-limited, with the code kept and no secret in the text.
func TestErrorBodies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		code   string
		class  error
	}{
		{401, "unauthorized", connectors.ErrAuth},
		{403, "restricted_resource", connectors.ErrAuth},
		{400, "validation_error", connectors.ErrPermanent},
		{400, "invalid_json", connectors.ErrPermanent},
		{404, "object_not_found", connectors.ErrPermanent},
		{409, "conflict_error", connectors.ErrTransient},
		{500, "internal_server_error", connectors.ErrTransient},
		{502, "bad_gateway", connectors.ErrTransient},
		{503, "service_unavailable", connectors.ErrTransient},
		{504, "gateway_timeout", connectors.ErrTransient},
		{429, "rate_limited", connectors.ErrRateLimited},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.status == 429 {
				w.Header().Set("Retry-After", "2")
			}
			nErr(w, tt.status, tt.code, "failed for "+r.Header.Get("Authorization"))
		}))
		c, err := notion.New(connectors.Config{BaseURL: srv.URL + "/v1", HTTPClient: srv.Client(),
			Auth: json.RawMessage(`{"token":"` + token + `"}`), Options: json.RawMessage(opts)})
		require.NoError(t, err)
		_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
		srv.Close()
		require.ErrorIs(t, err, tt.class, tt.code)
		var ce *connectors.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tt.code, ce.Code)
		assert.Equal(t, tt.status, ce.StatusCode)
		assert.NotContains(t, err.Error(), token)
	}
}
