package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/postgres"
)

// Example opens the store (applying the migrations), queues an event, and runs one worker
// cycle: wait for a notification or a poll tick, claim a batch, complete it. It needs a
// database, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	st, err := postgres.Open(ctx, os.Getenv("HUB_TEST_POSTGRES_URL"), postgres.Options{Schema: "hub"})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	wake, err := st.Notifications(ctx)
	if err != nil {
		log.Fatal(err)
	}
	_, created, err := st.InsertEvent(ctx, &store.Event{
		ServiceID:      "7b0c3f1e-5d2a-4c8e-9f10-2a3b4c5d6e7f",
		ServiceName:    "github",
		PayloadIn:      []byte(`{"action":"opened"}`),
		IdempotencyKey: "delivery-42",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", created)

	// Notifications only cut latency: poll as well.
	select {
	case <-wake:
	case <-time.After(time.Second):
	}
	evs, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "worker-1", Limit: 100, Lease: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	done := make([]store.CompleteParams, len(evs))
	for i, e := range evs {
		done[i] = store.CompleteParams{ID: e.ID, Owner: "worker-1", ResponseCode: 200}
	}
	lost, err := st.CompleteEvents(ctx, done)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("lost leases:", len(lost))
}

// ExampleMigrate applies the migrations explicitly, for deployments that migrate in a
// separate step; two processes doing it at once do not collide.
func ExampleMigrate() {
	ctx := context.Background()
	st, err := postgres.Open(ctx, os.Getenv("HUB_TEST_POSTGRES_URL"), postgres.Options{Schema: "hub_staging"})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	res, err := postgres.Migrate(ctx, st.Pool(), postgres.Options{Schema: "hub_staging"})
	if err != nil {
		log.Fatal(err) // errors.Is(err, postgres.ErrSchemaTooNew) when a newer build migrated it
	}
	fmt.Printf("schema at version %d (applied %v)\n", res.To, res.Applied)
}
