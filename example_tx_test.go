package hub_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store/sqlite"
)

// A service writes its own row and the event announcing it in one transaction (the
// transactional outbox): the event exists only if the transaction commits, and is
// delivered after the commit. Here on SQLite; with PostgreSQL, pass a pgx.Tx.
func ExampleHub_ProcessIntegrationEventTx() {
	ctx := context.Background()
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer remote.Close()
	dir, err := os.MkdirTemp("", "hub-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")

	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	h, err := hub.New(st, hub.WithPollInterval(10*time.Millisecond),
		hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8")))
	if err != nil {
		panic(err)
	}
	if err := h.Start(ctx); err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "billing", Connector: "http", BaseURL: remote.URL}); err != nil {
		panic(err)
	}

	// The service's own database handle on the same file; DSN makes transactions IMMEDIATE.
	app, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
	if err != nil {
		panic(err)
	}
	defer app.Close()
	if _, err := app.ExecContext(ctx, `CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)`); err != nil {
		panic(err)
	}

	placeOrder := func(id, total int, commit bool) string {
		tx, err := app.BeginTx(ctx, nil)
		if err != nil {
			panic(err)
		}
		defer tx.Rollback() //nolint:errcheck // a no-op after Commit
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders VALUES (?, ?)`, id, total); err != nil {
			panic(err)
		}
		res, err := h.ProcessIntegrationEventTx(ctx, tx, hub.EventData{
			Service: "billing", IdempotencyKey: fmt.Sprintf("order-%d", id),
			Payload: json.RawMessage(fmt.Sprintf(`{"order": %d, "total": %d}`, id, total)),
		})
		if err != nil {
			panic(err)
		}
		if commit {
			if err := tx.Commit(); err != nil {
				panic(err)
			}
		}
		return res.EventID
	}

	kept := placeOrder(1, 40, true)
	dropped := placeOrder(2, 99, false)

	ev, err := h.WaitEvent(ctx, kept)
	if err != nil {
		panic(err)
	}
	fmt.Println("committed:", ev.Status, string(ev.PayloadIn))
	_, err = h.GetEvent(ctx, dropped)
	fmt.Println("rolled back:", err != nil)
	// Output:
	// committed: succeeded {"order":1,"total":40}
	// rolled back: true
}
