package builtin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/builtin"
)

// BenchmarkInvoke delivers the benchmark workload's canonical work item through each
// built-in connector's default operation to a loopback fake. The figure is dominated
// by the loopback HTTP round trip; allocs/op shows the connector's own overhead.
func BenchmarkInvoke(b *testing.B) {
	workItem, err := os.ReadFile("../github/testdata/work-item.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true,"ts":"1.1","id":"001xx","number":5}`))
	}))
	b.Cleanup(srv.Close)
	docs := map[string]string{
		"http":       `{"base_url":"` + srv.URL + `","auth":{"type":"bearer","token":"t"}}`,
		"github":     `{"base_url":"` + srv.URL + `","auth":{"token":"t"},"options":{"owner":"o","repo":"r"}}`,
		"slack":      `{"base_url":"` + srv.URL + `","auth":{"bot_token":"xoxb-t"},"options":{"channel":"C1"}}`,
		"salesforce": `{"base_url":"` + srv.URL + `","auth":{"flow":"static","access_token":"t"},"options":{"sobject":"Case","field_map":{"Subject":"title","Description":"description"}}}`,
		"hubspot":    `{"base_url":"` + srv.URL + `","auth":{"token":"t"}}`,
		"jira":       `{"base_url":"` + srv.URL + `","auth":{"email":"a@example.com","api_token":"t"},"options":{"project_key":"PAY"}}`,
		"gitlab":     `{"base_url":"` + srv.URL + `","auth":{"token":"t"},"options":{"project":"acme/payments"}}`,
		"notion":     `{"base_url":"` + srv.URL + `","auth":{"token":"t"},"options":{"database_id":"d","properties":{"Name":{"type":"title","from":"title"}}}}`,
		"teams":      `{"auth":{"webhook_url":"` + srv.URL + `/webhookb2/x"}}`,
		"discord":    `{"base_url":"` + srv.URL + `","auth":{"webhook_id":"1","webhook_token":"t"}}`,
	}
	b.Run("baseline_net_http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, srv.URL+"/x", bytes.NewReader(workItem))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer t")
			resp, err := srv.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
	})
	reg := builtin.NewRegistry()
	for _, kind := range []string{"http", "github", "slack", "salesforce", "hubspot", "jira", "gitlab", "notion", "teams", "discord"} {
		var cfg connectors.Config
		if err := json.Unmarshal([]byte(docs[kind]), &cfg); err != nil {
			b.Fatal(err)
		}
		cfg.HTTPClient = srv.Client()
		c, err := reg.New(kind, cfg)
		if err != nil {
			b.Fatal(err)
		}
		req := &connectors.Request{Body: workItem, IdempotencyKey: "evt-1"}
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Invoke(b.Context(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClassify measures building a classified error from a 429 response.
func BenchmarkClassify(b *testing.B) {
	res := &connectors.HTTPResult{StatusCode: 429, Header: http.Header{"Retry-After": {"7"}}, Body: []byte(`{"message":"slow down"}`)}
	b.ReportAllocs()
	for b.Loop() {
		e := connectors.StatusError("bench.op", res, "", "slow down", fixedTime, "secret-token")
		if !e.RateLimited() {
			b.Fatal("not rate limited")
		}
	}
}
