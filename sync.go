package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/store"
)

// Defaults of the scheduled sync settings.
const (
	// SyncIntervalDefault is how often a hub looks for due sync schedules.
	SyncIntervalDefault = time.Second
	// SyncLeaseDefault is how long a hub holds a schedule without saving a page.
	SyncLeaseDefault = 30 * time.Second
	// SyncIDFieldDefault and SyncVersionFieldDefault name the record fields that identify
	// a record and its version when a schedule names none.
	SyncIDFieldDefault      = "id"
	SyncVersionFieldDefault = "updated_at"
)

// WithSyncInterval sets Config.SyncInterval; negative disables pulling on this hub.
func WithSyncInterval(d time.Duration) Option {
	return func(c *Config) error { c.SyncInterval = d; return nil }
}

// WithSyncLease sets Config.SyncLease (at least 100 ms).
func WithSyncLease(d time.Duration) Option {
	return func(c *Config) error {
		if d < 100*time.Millisecond {
			return configErr("Config.SyncLease", fmt.Sprintf("%v is below the minimum 100ms", d), nil)
		}
		c.SyncLease = d
		return nil
	}
}

// SyncConfig schedules the pulling of a service whose connector lists records
// (connectors.Lister). Every Interval the hub lists the records changed since the last
// completed run, page by page, saving the cursor in the store after each page, and turns
// each record version it has not seen into an inbound event of the service (deduplicated
// by record id and version), routed like a webhook. The schedule lives in the store: any
// hub sharing it may run it, one at a time, and a hub that dies mid-run is replaced at the
// saved cursor once its lease runs out.
type SyncConfig struct {
	// Service names the service (name or ID). Required.
	Service string
	// Interval is the time from the end of one run to the start of the next. Required, at
	// least a millisecond.
	Interval time.Duration
	// Operation is the connector's list operation ("" = its default listing).
	Operation string
	// Params are the list operation's arguments.
	Params map[string]string
	// PageSize is the page size asked for (0 = the connector's default).
	PageSize int
	// IDField and VersionField are the dotted paths of a record's id and version. Defaults
	// SyncIDFieldDefault and SyncVersionFieldDefault.
	IDField, VersionField string
	// Disabled keeps the schedule (and its progress) without running it.
	Disabled bool
	// RunNow makes the schedule due at once instead of at its saved time.
	RunNow bool
	// Actor names who schedules, for the audit log. Default "hub".
	Actor string
}

// ScheduleSync creates or changes the sync schedule of a service and returns it as stored.
// Changing a schedule keeps its progress (cursor, high-water mark). Errors: ErrUnknownService;
// *ConfigError (ErrInvalidConfig) when the connector cannot list or a field is bad;
// errors.ErrUnsupported when the store keeps no schedules (store.SyncStore); ErrClosed.
func (h *Hub) ScheduleSync(ctx context.Context, cfg SyncConfig) (*store.SyncSchedule, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if err := h.guard(ctx, call{method: "ScheduleSync", service: cfg.Service, perms: perms(PermConfigure)}); err != nil {
		return nil, err
	}
	ss, err := h.syncStore()
	if err != nil {
		return nil, err
	}
	rt, err := h.runtimeFor(ctx, cfg.Service)
	if err != nil {
		return nil, err
	}
	if rt.lister() == nil {
		return nil, configErr("SyncConfig.Service", fmt.Sprintf("the %s connector of %q does not list records", rt.svc.ConnectorKind, rt.svc.Name), nil)
	}
	if cfg.Interval < time.Millisecond {
		return nil, configErr("SyncConfig.Interval", "must be at least 1ms", nil)
	}
	if cfg.PageSize < 0 {
		return nil, configErr("SyncConfig.PageSize", "must not be negative", nil)
	}
	var params json.RawMessage
	if len(cfg.Params) > 0 {
		params = mustJSON(cfg.Params)
	}
	s := &store.SyncSchedule{ServiceID: rt.svc.ID, Interval: cfg.Interval, Operation: cfg.Operation, Params: params,
		PageSize: cfg.PageSize, IDField: cfg.IDField, VersionField: cfg.VersionField, Enabled: !cfg.Disabled}
	if cfg.RunNow {
		s.NextRunAt = h.cfg.Clock()
	}
	out, err := ss.PutSyncSchedule(ctx, s)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	h.audit(ctx, cfg.Actor, "sync.schedule", rt.svc.ID, nil, mustJSON(out))
	return out, nil
}

// UnscheduleSync removes the service's sync schedule and its progress. Errors: ErrNotFound,
// ErrUnknownService, errors.ErrUnsupported.
func (h *Hub) UnscheduleSync(ctx context.Context, service, actor string) error {
	if err := h.guard(ctx, call{method: "UnscheduleSync", service: service, perms: perms(PermConfigure)}); err != nil {
		return err
	}
	ss, err := h.syncStore()
	if err != nil {
		return err
	}
	rt, err := h.runtimeFor(ctx, service)
	if err != nil {
		return err
	}
	if err := ss.DeleteSyncSchedule(ctx, rt.svc.ID); err != nil {
		return mapStoreErr(err)
	}
	h.audit(ctx, actor, "sync.unschedule", rt.svc.ID, nil, nil)
	return nil
}

// SyncSchedule returns the service's sync schedule with its progress. Errors: ErrNotFound,
// ErrUnknownService, errors.ErrUnsupported.
func (h *Hub) SyncSchedule(ctx context.Context, service string) (*store.SyncSchedule, error) {
	if err := h.guard(ctx, call{method: "SyncSchedule", service: service, perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	ss, err := h.syncStore()
	if err != nil {
		return nil, err
	}
	rt, err := h.runtimeFor(ctx, service)
	if err != nil {
		return nil, err
	}
	s, err := ss.GetSyncSchedule(ctx, rt.svc.ID)
	return s, mapStoreErr(err)
}

func (h *Hub) syncStore() (store.SyncStore, error) {
	ss, ok := h.st.(store.SyncStore)
	if !ok {
		return nil, fmt.Errorf("hub: %w: the store does not implement store.SyncStore", errors.ErrUnsupported)
	}
	return ss, nil
}

// lister returns the connector of the service's primary endpoint when it lists records as
// configured (connectors.Lists).
func (rt *runtime) lister() connectors.Lister {
	if c, ok := rt.conns[rt.svc.BaseURL]; ok {
		if l, ok := connectors.Lists(c); ok {
			return l
		}
	}
	for _, c := range rt.conns {
		if l, ok := connectors.Lists(c); ok {
			return l
		}
	}
	return nil
}

func (h *Hub) syncLease() time.Duration {
	if h.cfg.SyncLease > 0 {
		return h.cfg.SyncLease
	}
	return SyncLeaseDefault
}

// startSync runs the sync loop when the store keeps schedules and pulling is enabled.
func (h *Hub) startSync(ctx context.Context) {
	ss, ok := h.st.(store.SyncStore)
	if !ok || h.cfg.SyncInterval < 0 {
		return
	}
	every := h.cfg.SyncInterval
	if every == 0 {
		every = SyncIntervalDefault
	}
	h.bgWG.Add(1)
	go func() {
		defer h.bgWG.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			h.runDueSyncs(ctx, ss)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// runDueSyncs claims and runs due schedules until none is left.
func (h *Hub) runDueSyncs(ctx context.Context, ss store.SyncStore) {
	for ctx.Err() == nil {
		s, err := ss.ClaimSyncSchedule(ctx, store.ClaimSyncParams{Owner: h.cfg.InstanceID, Lease: h.syncLease()})
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
				h.log.Warn("hub: claiming a sync schedule failed", slog.Any("error", err))
			}
			return
		}
		h.runSync(ctx, ss, s)
	}
}

// runSync runs (or resumes) one claimed schedule to its end, saving each page's cursor.
// While it runs, a heartbeat extends the lease every third of it, so a slow page never
// lets the lease lapse and another hub start pulling the same service; if the lease is
// lost anyway (the store was unreachable for longer than the lease), the run stops.
func (h *Hub) runSync(ctx context.Context, ss store.SyncStore, s *store.SyncSchedule) {
	log := h.log.With(slog.String("service_id", s.ServiceID))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // orders the saves of the run and of the heartbeat
	save := func(p store.SyncProgress) (*store.SyncSchedule, error) {
		mu.Lock()
		defer mu.Unlock()
		return ss.SaveSyncProgress(context.WithoutCancel(ctx), p)
	}
	saved, serviceID := s.Cursor, s.ServiceID
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(h.syncLease() / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			mu.Lock()
			cur := saved
			mu.Unlock()
			if _, err := save(store.SyncProgress{ServiceID: serviceID, Owner: h.cfg.InstanceID, Cursor: cur, Lease: h.syncLease()}); errors.Is(err, store.ErrLeaseLost) {
				cancel()
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	fail := func(err error) {
		// Keep the cursor; the next attempt resumes there. On shutdown the lease is given
		// back at once so another hub can go on.
		retry := h.cfg.Clock().Add(min(s.Interval, time.Minute))
		if ctx.Err() != nil {
			retry = h.cfg.Clock()
		}
		if _, serr := save(store.SyncProgress{ServiceID: s.ServiceID, Owner: h.cfg.InstanceID,
			Cursor: s.Cursor, Error: err.Error(), RetryAt: retry}); serr != nil && !errors.Is(serr, store.ErrLeaseLost) {
			log.Warn("hub: saving a failed sync run failed", slog.Any("error", serr))
		}
	}
	rt, err := h.runtimeFor(runCtx, s.ServiceID)
	if err != nil {
		fail(err)
		return
	}
	l := rt.lister()
	if l == nil {
		fail(fmt.Errorf("the %s connector does not list records", rt.svc.ConnectorKind))
		return
	}
	var params map[string]string
	if len(s.Params) > 0 {
		if err := json.Unmarshal(s.Params, &params); err != nil {
			fail(fmt.Errorf("params: %w", err))
			return
		}
	}
	idField, versionField := cmpOr(s.IDField, SyncIDFieldDefault), cmpOr(s.VersionField, SyncVersionFieldDefault)
	for {
		req := &connectors.ListRequest{Operation: s.Operation, Cursor: s.Cursor, Limit: s.PageSize, Params: params}
		if s.Cursor == "" && s.HighWater != nil {
			req.Since = *s.HighWater
		}
		page, err := l.List(runCtx, req)
		if err != nil {
			fail(fmt.Errorf("list: %w", err))
			return
		}
		created, err := h.acceptRecords(runCtx, rt, page.Items, idField, versionField)
		if err != nil {
			fail(err)
			return
		}
		p := store.SyncProgress{ServiceID: s.ServiceID, Owner: h.cfg.InstanceID, Cursor: page.NextCursor,
			Records: int64(created), Lease: h.syncLease(), Done: page.NextCursor == ""}
		next, err := save(p)
		if err != nil {
			if !errors.Is(err, store.ErrLeaseLost) {
				log.Warn("hub: saving sync progress failed", slog.Any("error", err))
			}
			return // the lease is gone or the store is: another run resumes at the saved cursor
		}
		if p.Done {
			return
		}
		mu.Lock()
		saved = next.Cursor
		mu.Unlock()
		s = next
		if runCtx.Err() != nil {
			fail(runCtx.Err())
			return
		}
	}
}

// acceptRecords stores each listed record as an inbound event of rt's service keyed by its
// id and version, with its routes' fan-out, in one store transaction; versions stored before
// are skipped. It returns how many new events it stored.
func (h *Hub) acceptRecords(ctx context.Context, rt *runtime, items []json.RawMessage, idField, versionField string) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	var batch []*store.Event
	for i, item := range items {
		id, version := jsonField(item, idField), jsonField(item, versionField)
		if id == "" {
			return 0, fmt.Errorf("%w: record %d has no %q", ErrInvalidInput, i, idField)
		}
		in := &inbound{src: rt, key: "sync:" + id + "@" + version, payload: item, operation: "sync"}
		if len(in.key) > 512 {
			in.key = "sync:sha256:" + sha256Hex([]byte(in.key))
		}
		if err := h.checkPayload(item); err != nil {
			return 0, fmt.Errorf("record %s: %w", id, err)
		}
		ev := h.inboundEvent(in)
		children, rec, err := h.fanOut(ctx, in, ev.ID)
		if err != nil {
			return 0, err
		}
		if len(rec.Routes) > 0 {
			ev.PayloadOut = mustJSON(rec)
		}
		batch = append(append(batch, ev), children...)
	}
	res, err := h.st.InsertEvents(ctx, batch)
	if err != nil {
		return 0, mapStoreErr(err)
	}
	created, total := 0, 0
	for _, r := range res {
		if r.Created {
			total++
			if r.Event.Direction == store.DirectionInbound {
				created++
			}
		}
	}
	h.noteAccepted(total)
	h.eng.Wake()
	return created, nil
}

// jsonField returns the value at a dotted path of a JSON object as text: a string as is,
// any other value as its JSON; "" when absent or null.
func jsonField(doc json.RawMessage, path string) string {
	cur := doc
	for part := range strings.SplitSeq(path, ".") {
		var m map[string]json.RawMessage
		if json.Unmarshal(cur, &m) != nil {
			return ""
		}
		cur = m[part]
		if cur == nil {
			return ""
		}
	}
	var s string
	if json.Unmarshal(cur, &s) == nil {
		return s
	}
	if string(cur) == "null" {
		return ""
	}
	return string(compact(cur))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
