package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// ingestHub is one store's hub in the ingest fuzz target: not started, so events are only
// accepted and stored.
type ingestHub struct {
	name string
	h    *hub.Hub
	st   store.Store
}

func ingestHubs(f *testing.F) []ingestHub {
	f.Helper()
	open := map[string]func() store.Store{
		"sqlite": func() store.Store { return openSQLite(f, filepath.Join(f.TempDir(), "fuzz.db")) },
	}
	hubs := []ingestHub{}
	kinds := []string{"memory", "sqlite"}
	if postgresURLSet() {
		kinds = append(kinds, "postgres")
		open["postgres"] = func() store.Store { return openPostgres(f, newSchema(f)) }
	}
	for _, k := range kinds {
		var st store.Store
		if o := open[k]; o != nil {
			st = o()
		}
		h, err := hub.New(st, hubtest.Fast()...)
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { _ = h.Close(context.Background()) })
		register(f, h, "ingest", "https://api.example.com/in", nil)
		hubs = append(hubs, ingestHub{name: k, h: h, st: h.Store()})
	}
	return hubs
}

// FuzzIngestDifferential hands the same payload to a hub on every store (memory and
// SQLite; PostgreSQL too when HUB_TEST_POSTGRES_URL is set): all accept it or all refuse it
// with the same sentinel, and an accepted payload is stored as the same bytes everywhere.
func FuzzIngestDifferential(f *testing.F) {
	for _, p := range hostileSeeds() {
		f.Add(p)
	}
	hubs := ingestHubs(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, payload []byte) {
		key := fmt.Sprintf("fuzz-%d", n.Add(1))
		type result struct {
			err              string
			payloadIn, canon string
		}
		var first *result
		for _, ih := range hubs {
			res, err := ih.h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "ingest", Payload: payload, IdempotencyKey: key, Mode: hub.Async})
			r := &result{}
			if err != nil {
				r.err = sentinelOf(err)
				if errors.Is(err, hub.ErrBusy) {
					t.Skip("store busy")
				}
			} else {
				ev, err := ih.st.GetEvent(t.Context(), res.EventID)
				if err != nil {
					t.Fatalf("%s: stored event not found: %v", ih.name, err)
				}
				r.payloadIn, r.canon = string(ev.PayloadIn), string(ev.CanonicalMapping)
				if !json.Valid(ev.PayloadIn) {
					t.Fatalf("%s: stored payload_in is not JSON: %q", ih.name, ev.PayloadIn)
				}
			}
			if first == nil {
				first = r
				continue
			}
			if *r != *first {
				t.Fatalf("%s differs from %s on %q:\n%+v\n%+v", ih.name, hubs[0].name, payload, r, first)
			}
		}
		if first.err != "" && first.err != hub.ErrInvalidInput.Error() {
			t.Fatalf("refused as %s, not as invalid input: %q", first.err, payload)
		}
	})
}

// hostileSeeds are the seed corpus of the ingest fuzz target: the differential test's
// payloads (without the 50 MB one) and a few ordinary ones.
func hostileSeeds() [][]byte {
	out := [][]byte{[]byte(`{}`), []byte(`{"a":"b"}`), []byte(`{"issue":{"number":1,"title":"x"}}`), []byte(`null`), []byte(``)}
	for _, p := range hostilePayloads() {
		if len(p.payload) < 1<<20 {
			out = append(out, p.payload)
		}
	}
	return out
}

// postgresURLSet reports whether the PostgreSQL tests can run.
func postgresURLSet() bool { return os.Getenv(postgresEnv) != "" }
