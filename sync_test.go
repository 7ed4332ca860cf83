package hub_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/builtin"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// fakeAPI is a paginated remote of records that change while they are read. Pages are in
// id order; the cursor is the last id of the page; Since keeps records updated at or after
// it. Every List call changes a few records, until changes run out.
type fakeAPI struct {
	mu       sync.Mutex
	ids      []string
	version  map[string]int
	updated  map[string]time.Time
	history  map[string]map[int]bool // every version each record has had
	rng      *rand.Rand
	changes  int // left to make
	inflight atomic.Int32
	overlaps atomic.Int32
	calls    []listCall
}

type listCall struct {
	hub, cursor string
}

func newFakeAPI(n, changes int) *fakeAPI {
	a := &fakeAPI{version: map[string]int{}, updated: map[string]time.Time{}, history: map[string]map[int]bool{},
		rng: rand.New(rand.NewPCG(17, 17)), changes: changes}
	now := time.Now()
	for i := range n {
		id := fmt.Sprintf("r%06d", i)
		a.ids = append(a.ids, id)
		a.version[id], a.updated[id] = 1, now
		a.history[id] = map[int]bool{1: true}
	}
	return a
}

func (a *fakeAPI) list(hubName string, req *connectors.ListRequest) (*connectors.Page, error) {
	if a.inflight.Add(1) > 1 {
		a.overlaps.Add(1)
	}
	defer a.inflight.Add(-1)
	time.Sleep(time.Millisecond) // widen the window two concurrent pullers would share
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, listCall{hub: hubName, cursor: req.Cursor})
	for range min(3, a.changes) { // the remote changes while it is read
		id := a.ids[a.rng.IntN(len(a.ids))]
		a.version[id]++
		a.updated[id] = time.Now()
		a.history[id][a.version[id]] = true
		a.changes--
	}
	limit := cmp.Or(req.Limit, 100)
	start := sort.SearchStrings(a.ids, req.Cursor)
	if req.Cursor != "" && start < len(a.ids) && a.ids[start] == req.Cursor {
		start++
	}
	page := &connectors.Page{}
	i := start
	for ; i < len(a.ids) && len(page.Items) < limit; i++ {
		id := a.ids[i]
		if !req.Since.IsZero() && a.updated[id].Before(req.Since) {
			continue
		}
		b, _ := json.Marshal(map[string]any{"id": id, "version": a.version[id], "updated_at": a.updated[id]})
		page.Items = append(page.Items, b)
	}
	if i < len(a.ids) {
		page.NextCursor = a.ids[i-1]
	}
	return page, nil
}

// fakeLister is the connector of one hub over the fake API.
type fakeLister struct {
	connectors.ConnectorDefaults
	api *fakeAPI
	hub string
}

func (f *fakeLister) Info() connectors.Info { return connectors.Info{Kind: "fakelist"} }
func (f *fakeLister) Invoke(context.Context, *connectors.Request) (*connectors.Response, error) {
	return &connectors.Response{StatusCode: 200}, nil
}
func (f *fakeLister) List(_ context.Context, req *connectors.ListRequest) (*connectors.Page, error) {
	return f.api.list(f.hub, req)
}

func fakeRegistry(api *fakeAPI, hubName string) *connectors.Registry {
	reg := builtin.NewRegistry()
	reg.MustRegister("fakelist", func(connectors.Config) (connectors.Connector, error) {
		return &fakeLister{api: api, hub: hubName}, nil
	})
	return reg
}

// dyingStore is the store of a hub that dies after it stored the events of its pages'th
// page: from then on it saves no progress and claims nothing (its lease stays until it
// runs out, as a killed process's would).
type dyingStore struct {
	store.Store
	pages int
	saved atomic.Int32
	dead  atomic.Bool
}

func (d *dyingStore) PutSyncSchedule(ctx context.Context, s *store.SyncSchedule) (*store.SyncSchedule, error) {
	return d.Store.(store.SyncStore).PutSyncSchedule(ctx, s)
}
func (d *dyingStore) GetSyncSchedule(ctx context.Context, id string) (*store.SyncSchedule, error) {
	return d.Store.(store.SyncStore).GetSyncSchedule(ctx, id)
}
func (d *dyingStore) ListSyncSchedules(ctx context.Context, p store.Page) ([]*store.SyncSchedule, error) {
	return d.Store.(store.SyncStore).ListSyncSchedules(ctx, p)
}
func (d *dyingStore) DeleteSyncSchedule(ctx context.Context, id string) error {
	return d.Store.(store.SyncStore).DeleteSyncSchedule(ctx, id)
}
func (d *dyingStore) ClaimSyncSchedule(ctx context.Context, p store.ClaimSyncParams) (*store.SyncSchedule, error) {
	if d.dead.Load() {
		return nil, errKilled
	}
	return d.Store.(store.SyncStore).ClaimSyncSchedule(ctx, p)
}
func (d *dyingStore) SaveSyncProgress(ctx context.Context, p store.SyncProgress) (*store.SyncSchedule, error) {
	if d.dead.Load() || d.saved.Add(1) > int32(d.pages) {
		d.dead.Store(true)
		return nil, errKilled
	}
	return d.Store.(store.SyncStore).SaveSyncProgress(ctx, p)
}

// TestScheduledSync: 10,000 records changing while they are read; the hub pulling them dies
// mid-run; two other hubs share the store: one resumes at the saved cursor, the two never
// pull at once, and every record version read becomes exactly one event.
func TestScheduledSync(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			n, changes := 10000, 600
			if raceEnabled && sk.name == "sqlite" {
				// The race detector slows modernc.org/sqlite about twentyfold: the full size
				// runs without it (go test -run TestScheduledSync .), a tenth with it.
				n, changes = 1000, 100
			}
			testScheduledSync(t, sk.open(t), n, changes)
		})
	}
}

func testScheduledSync(t *testing.T, st store.Store, n, changes int) {
	ctx := t.Context()
	api := newFakeAPI(n, changes)
	key := make([]byte, hub.SecretKeySize)
	opts := func(name string) []hub.Option {
		return []hub.Option{hub.WithSecretKey(key), hub.WithConnectors(fakeRegistry(api, name)), hub.WithInstanceID(name),
			hub.WithSyncInterval(20 * time.Millisecond), hub.WithSyncLease(2 * time.Second)}
	}
	dying := &dyingStore{Store: st, pages: n / 100 / 2} // dies halfway through the first run
	a := hubtest.New(t, dying, opts("hub-a")...)
	register(t, a, "records", "https://records.example.com", func(c *hub.IntegrationConfig) { c.Connector = "fakelist" })
	_, err := a.ScheduleSync(ctx, hub.SyncConfig{Service: "records", Interval: 50 * time.Millisecond, PageSize: 100,
		VersionField: "version", RunNow: true})
	require.NoError(t, err)
	require.Eventually(t, dying.dead.Load, time.Minute, 5*time.Millisecond, "hub a pulls half the pages, then dies")
	sched, err := st.(store.SyncStore).GetSyncSchedule(ctx, serviceID(t, a, "records"))
	require.NoError(t, err)
	savedCursor := sched.Cursor
	require.NotEmpty(t, savedCursor, "hub a died mid-run")
	require.NoError(t, a.Close(ctx))

	b := hubtest.New(t, st, opts("hub-b")...)
	c := hubtest.New(t, st, opts("hub-c")...)
	_ = c
	// Wait until the changes ran out and a run that started after the last change completed.
	var done time.Time
	require.Eventually(t, func() bool {
		api.mu.Lock()
		left := api.changes
		api.mu.Unlock()
		if left > 0 {
			return false
		}
		if done.IsZero() {
			done = time.Now()
		}
		s, err := b.SyncSchedule(ctx, "records")
		return err == nil && s.LastRunAt != nil && s.HighWater != nil && s.HighWater.After(done)
	}, 5*time.Minute, 20*time.Millisecond)

	// The first call after the death resumed at the saved cursor.
	api.mu.Lock()
	calls := append([]listCall(nil), api.calls...)
	history := api.history
	latest := map[string]int{}
	for id, v := range api.version {
		latest[id] = v
	}
	api.mu.Unlock()
	for i, call := range calls {
		if call.hub != "hub-a" {
			assert.Equal(t, savedCursor, call.cursor, "the run resumed at the saved cursor")
			assert.Equal(t, "hub-a", calls[i-1].hub)
			break
		}
	}
	assert.Zero(t, api.overlaps.Load(), "two hubs pulled at once")

	// Every record version read became exactly one event; every latest version was read.
	svcID := serviceID(t, b, "records")
	seen := map[string]int{}
	for off := 0; ; off += store.MaxPageLimit {
		evs, err := st.ListEvents(ctx, store.EventFilter{ServiceID: svcID, Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		require.NoError(t, err)
		for _, ev := range evs {
			require.Equal(t, store.DirectionInbound, ev.Direction)
			var rec struct {
				ID      string `json:"id"`
				Version int    `json:"version"`
			}
			require.NoError(t, json.Unmarshal(ev.PayloadIn, &rec))
			assert.Equal(t, "sync:"+rec.ID+"@"+strconv.Itoa(rec.Version), ev.IdempotencyKey)
			assert.True(t, history[rec.ID][rec.Version], "event of a version that never existed: %s", ev.IdempotencyKey)
			seen[ev.IdempotencyKey]++
		}
		if len(evs) < store.MaxPageLimit {
			break
		}
	}
	for k, c := range seen {
		assert.Equal(t, 1, c, k)
	}
	for id, v := range latest {
		assert.Equal(t, 1, seen["sync:"+id+"@"+strconv.Itoa(v)], "latest version of %s", id)
	}
	t.Logf("%d records, %d list calls, %d events (%d versions beyond the first)", n, len(calls), len(seen), len(seen)-n)
}

// The permission matrix (governance_test.go) covers the sync methods too.
func init() {
	matrix = append(matrix,
		matrixRow{"ScheduleSync", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
			_, err := h.ScheduleSync(ctx, hub.SyncConfig{Service: "crm", Interval: time.Hour})
			return err
		}},
		matrixRow{"UnscheduleSync", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
			return h.UnscheduleSync(ctx, "crm", "")
		}},
		matrixRow{"SyncSchedule", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
			_, err := h.SyncSchedule(ctx, "crm")
			return err
		}},
	)
}

func TestScheduleSyncErrors(t *testing.T) {
	t.Parallel()
	reg := builtin.NewRegistry()
	reg.MustRegister("nolist", func(connectors.Config) (connectors.Connector, error) { return nonLister{}, nil })
	b := setup(t, hub.WithConnectors(reg))
	ctx := t.Context()
	register(t, b.hub, "chat", b.sink.URL, func(c *hub.IntegrationConfig) { c.Connector = "nolist" })
	tests := []struct {
		name string
		cfg  hub.SyncConfig
		want error
	}{
		{"unknown service", hub.SyncConfig{Service: "nope", Interval: time.Minute}, hub.ErrUnknownService},
		{"connector does not list", hub.SyncConfig{Service: "chat", Interval: time.Minute}, hub.ErrInvalidConfig},
		{"no interval", hub.SyncConfig{Service: "sink"}, hub.ErrInvalidConfig},
		{"negative page size", hub.SyncConfig{Service: "sink", Interval: time.Minute, PageSize: -1}, hub.ErrInvalidConfig},
	}
	for _, tt := range tests {
		_, err := b.hub.ScheduleSync(ctx, tt.cfg)
		assert.ErrorIs(t, err, tt.want, tt.name)
	}
	s, err := b.hub.ScheduleSync(ctx, hub.SyncConfig{Service: "sink", Interval: time.Hour, Params: map[string]string{"state": "open"}, Disabled: true})
	require.NoError(t, err)
	assert.False(t, s.Enabled)
	got, err := b.hub.SyncSchedule(ctx, "sink")
	require.NoError(t, err)
	assert.JSONEq(t, `{"state":"open"}`, string(got.Params))
	require.NoError(t, b.hub.UnscheduleSync(ctx, "sink", "ops"))
	_, err = b.hub.SyncSchedule(ctx, "sink")
	assert.ErrorIs(t, err, hub.ErrNotFound)
	assert.ErrorIs(t, b.hub.UnscheduleSync(ctx, "sink", "ops"), hub.ErrNotFound)
}

// nonLister is a connector that delivers but does not list.
type nonLister struct{ connectors.ConnectorDefaults }

func (nonLister) Info() connectors.Info { return connectors.Info{Kind: "nolist"} }
func (nonLister) Invoke(context.Context, *connectors.Request) (*connectors.Response, error) {
	return &connectors.Response{StatusCode: 200}, nil
}
