package hub_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store/sqlite"
)

// The README's "Using it" snippet is the part of this example between the README markers;
// TestREADMESnippetsAreExamples keeps the two identical, so a change that breaks the
// snippet fails the tests. A hub on a SQLite file maps the shared GitHub issue event to a
// work item, validates it against the work-item contract and posts it to Slack (a stand-in
// here).
func Example_readme() {
	dir, err := os.MkdirTemp("", "hub-readme-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true,"channel":"C0ENG","ts":"1700000000.000100"}`) // chat.postMessage
	}))
	defer slack.Close()
	slackURL := slack.URL                                             // https://slack.com/api when left empty
	onPremise := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} // where the stand-in listens
	key := make([]byte, hub.SecretKeySize)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	schema, mapping, body := mustRead(workload+"work-item.schema.json"),
		mustRead(workload+"github-issue-to-work-item.expr.json"), mustRead(workload+"github-issue-event.json")

	// README: begin
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"), sqlite.Options{}) // or memory.New, postgres.Open
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	h, err := hub.New(st,
		hub.WithSecretKey(key),                // 32 bytes that seal stored credentials
		hub.WithAllowedNetworks(onPremise...)) // besides public addresses; none by default
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name:             "slack-eng",
		Connector:        "slack",
		BaseURL:          slackURL,
		Auth:             json.RawMessage(`{"bot_token": "xoxb-your-token"}`),
		ConnectorOptions: json.RawMessage(`{"channel": "C0ENG"}`),
		Contract:         &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: schema},
		Mapping:          mapping, // target field -> expr-lang expression over the event
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "slack-eng", Payload: body})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, res.ResponseCode, res.RuleName, res.RuleVersion)
	// README: end

	// Output:
	// succeeded 200 slack-eng.mapping 1
}

// workload is the folder of the shared workload files.
const workload = "examples/quickstart/data/"
