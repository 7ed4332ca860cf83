package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// ExampleOpen opens a database file, stores a service and an event, and takes the event
// through the queue: claim, then complete.
func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hub-sqlite-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	st, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"), sqlite.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	svc, err := st.CreateService(ctx, &store.Service{Name: "github", Category: store.CategoryDevelopment,
		ConnectorKind: "github", BaseURL: "https://api.github.com", IsActive: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, created, err := st.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
		IdempotencyKey: "delivery-1", PayloadIn: json.RawMessage(`{"action":"opened"}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, again, _ := st.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
		IdempotencyKey: "delivery-1"})
	fmt.Println("created:", created, "duplicate created:", again)

	claimed, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "worker-1", Limit: 10, Lease: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("claimed:", len(claimed), claimed[0].Status)
	lost, err := st.CompleteEvents(ctx, []store.CompleteParams{{ID: claimed[0].ID, Owner: "worker-1", ResponseCode: 201}})
	if err != nil {
		fmt.Println(err)
		return
	}
	done, _ := st.GetEvent(ctx, claimed[0].ID)
	fmt.Println("lost:", len(lost), "status:", done.Status)
	// Output:
	// created: true duplicate created: false
	// claimed: 1 processing
	// lost: 0 status: succeeded
}
