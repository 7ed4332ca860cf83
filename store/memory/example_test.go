package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// A worker's round trip through the queue: insert an event (idempotently), claim it with a
// lease, and record the delivery.
func Example() {
	ctx := context.Background()
	st := memory.New(memory.Options{})
	gh, err := st.CreateService(ctx, &store.Service{Name: "github", Category: store.CategoryDevelopment, ConnectorKind: "github"})
	if err != nil {
		panic(err)
	}
	ev := &store.Event{ServiceID: gh.ID, ServiceName: gh.Name, IdempotencyKey: "delivery-1",
		PayloadIn: json.RawMessage(`{"title":"bug"}`)}
	_, created, _ := st.InsertEvent(ctx, ev)
	_, again, _ := st.InsertEvent(ctx, ev) // a redelivered webhook
	fmt.Println("created:", created, "created again:", again)

	claimed, _ := st.ClaimEvents(ctx, store.ClaimParams{Owner: "worker-1", Limit: 10, Lease: time.Minute})
	fmt.Println("claimed:", len(claimed), claimed[0].Status, claimed[0].LeaseOwner)

	lost, _ := st.CompleteEvents(ctx, []store.CompleteParams{{ID: claimed[0].ID, Owner: "worker-1", ResponseCode: 201, ResponseTimeMS: 87}})
	done, _ := st.GetEvent(ctx, claimed[0].ID)
	fmt.Println("lost:", len(lost), "status:", done.Status, done.ResponseCode)
	// Output:
	// created: true created again: false
	// claimed: 1 processing worker-1
	// lost: 0 status: succeeded 201
}

// Notifications wake idle workers when events may be due; they coalesce, so a worker
// drains at most one wake-up per batch of inserts.
func ExampleStore_Notifications() {
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New(memory.Options{})
	wake, err := st.Notifications(ctx)
	if err != nil {
		panic(err)
	}
	svc, _ := st.CreateService(ctx, &store.Service{Name: "slack", Category: store.CategoryCommunication, ConnectorKind: "slack"})
	for range 3 {
		_, _, _ = st.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name})
	}
	<-wake
	select {
	case <-wake:
		fmt.Println("second wake-up")
	default:
		fmt.Println("one wake-up for three inserts")
	}
	cancel()
	_, open := <-wake
	fmt.Println("open after cancel:", open)
	// Output:
	// one wake-up for three inserts
	// open after cancel: false
}
