package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// A contract marks the personal fields of a contact and the field identifying its data
// subject. The subject asks for erasure: EraseSubject removes their data from every stored
// event; ExportSubject then finds nothing about them.
func ExampleHub_EraseSubject() {
	ctx := context.Background()
	key := []byte(strings.Repeat("k", hub.SecretKeySize)) // the index of subjects is keyed
	h, err := hub.New(nil, hub.WithSecretKey(key))
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	contact := `{"type": "object", "properties": {
		"email": {"type": "string", "x-pii": "email", "x-subject": true},
		"name": {"type": "string", "x-pii": "name"},
		"plan": {"type": "string"}}}`
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http",
		BaseURL: "https://crm.example.com", Disabled: true, // events wait in the queue
		Contract: &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(contact)}}); err != nil {
		panic(err)
	}
	for _, p := range []string{
		`{"email": "ann@example.com", "name": "Ann Lee", "plan": "pro"}`,
		`{"email": "ANN@example.com", "name": "Ann Lee", "plan": "team"}`,
		`{"email": "bob@example.com", "name": "Bob Stone", "plan": "pro"}`,
	} {
		if _, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(p), Mode: hub.Async}); err != nil {
			panic(err)
		}
	}
	exp, err := h.ExportSubject(ctx, "ann@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println("held about Ann:", len(exp.Events), "events")

	res, err := h.EraseSubject(ctx, "ann@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Records, "events erased")
	ev, err := h.Store().GetEvent(ctx, exp.Events[0].ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.Status, string(ev.PayloadIn))
	exp, err = h.ExportSubject(ctx, "ann@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println("held about Ann now:", len(exp.Events), "events")
	// Output:
	// held about Ann: 2 events
	// completed 2 events erased
	// cancelled {"email":"[erased]","name":"[erased]","plan":"pro"}
	// held about Ann now: 0 events
}

// A retention policy keeps delivered events for a week. RunRetention (the background
// cleaner runs it every Config.CleanupInterval) deletes what is older.
func ExampleHub_RunRetention() {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memoryStoreAt(clock)
	h, err := hub.New(st, hub.WithClock(clock), hub.WithRetention(hub.RetentionPolicy{
		Events: map[store.EventStatus]time.Duration{store.StatusSucceeded: 7 * 24 * time.Hour},
	}))
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	svc, err := st.CreateService(ctx, &store.Service{Name: "orders", Category: store.CategoryOther, ConnectorKind: "http", IsActive: true})
	if err != nil {
		panic(err)
	}
	for day := range 10 { // one event delivered a day
		ev, _, err := st.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: json.RawMessage(`{}`)})
		if err != nil {
			panic(err)
		}
		if _, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Minute}); err != nil {
			panic(err)
		}
		if _, err := st.CompleteEvents(ctx, []store.CompleteParams{{ID: ev.ID, Owner: "w", ResponseCode: 200}}); err != nil {
			panic(err)
		}
		if day < 9 {
			now = now.Add(24 * time.Hour)
		}
	}
	rep, err := h.RunRetention(ctx)
	if err != nil {
		panic(err)
	}
	left, _ := st.CountEventsByStatus(ctx, store.EventFilter{})
	fmt.Println("removed", rep.Events, "kept", left[store.StatusSucceeded])
	// Output:
	// removed 2 kept 8
}

// memoryStoreAt returns an in-memory store reading time from clock.
func memoryStoreAt(clock func() time.Time) store.Store {
	return memory.New(memory.Options{Now: clock})
}
