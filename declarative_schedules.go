package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/config"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/store"
)

// snapshotSchedules reads the sync schedules of the snapshot's services into s (schedules
// of removed services are left out). A store without store.SyncStore has none.
func (h *Hub) snapshotSchedules(ctx context.Context, s *snapshot) error {
	ss, ok := h.st.(store.SyncStore)
	if !ok {
		return nil
	}
	byID := make(map[string]string, len(s.services))
	for name, svc := range s.services {
		byID[svc.svc.ID] = name
	}
	for off := 0; ; off += store.MaxPageLimit {
		page, err := ss.ListSyncSchedules(ctx, store.Page{Limit: store.MaxPageLimit, Offset: off})
		if err != nil {
			return mapStoreErr(err)
		}
		for _, sc := range page {
			name, ok := byID[sc.ServiceID]
			if !ok {
				continue
			}
			v, err := scheduleView(name, sc)
			if err != nil {
				return err
			}
			s.schedules[name] = v
		}
		if len(page) < store.MaxPageLimit {
			return nil
		}
	}
}

// scheduleView is the document form of a stored schedule.
func scheduleView(service string, sc *store.SyncSchedule) (config.Schedule, error) {
	v := config.Schedule{Service: service, Interval: config.Duration(sc.Interval), Operation: sc.Operation, PageSize: sc.PageSize,
		IDField: sc.IDField, VersionField: sc.VersionField, Disabled: !sc.Enabled}
	if len(sc.Params) > 0 && string(sc.Params) != "null" {
		if err := json.Unmarshal(sc.Params, &v.Params); err != nil {
			return v, fmt.Errorf("hub: the sync schedule of %q has unreadable params: %w", service, err)
		}
	}
	if len(v.Params) == 0 {
		v.Params = nil
	}
	return v, nil
}

// scheduleFields are the compared members of a schedule, in document form.
var scheduleFields = []struct {
	name string
	get  func(config.Schedule) string
}{
	{"interval", func(s config.Schedule) string { return s.Interval.String() }},
	{"operation", func(s config.Schedule) string { return s.Operation }},
	{"params", func(s config.Schedule) string {
		if len(s.Params) == 0 {
			return ""
		}
		var b strings.Builder
		for i, k := range slices.Sorted(maps.Keys(s.Params)) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + "=" + s.Params[k])
		}
		return b.String()
	}},
	{"page_size", func(s config.Schedule) string { return strconv.Itoa(s.PageSize) }},
	{"id_field", func(s config.Schedule) string { return s.IDField }},
	{"version_field", func(s config.Schedule) string { return s.VersionField }},
	{"disabled", func(s config.Schedule) string { return strconv.FormatBool(s.Disabled) }},
}

// planSchedules plans the document's sync schedules against the stored ones: a field diff
// for each, and the stored schedules of services the document schedules no more are
// removed. A schedule needs a connector that lists records and a store with
// store.SyncStore.
func (h *Hub) planSchedules(ctx context.Context, doc *config.Document, snap *snapshot, p *ConfigPlan, addErr func(error)) {
	if _, ok := h.st.(store.SyncStore); !ok && len(doc.Schedules) > 0 {
		addErr(doc.ErrorAt("schedules", ErrNotSupported, "the store keeps no sync schedules (store.SyncStore)"))
		return
	}
	for _, sc := range doc.Schedules {
		path := config.SchedulePath(sc.Service, "")
		if svc := doc.Service(sc.Service); svc != nil && !h.serviceLists(ctx, doc, snap, svc) {
			addErr(doc.ErrorAt(path+".service", ErrInvalidConfig, "the %s connector of %q does not list records", svc.Connector, sc.Service))
		}
		if len(sc.Params) == 0 {
			sc.Params = nil
		}
		ch := ConfigChange{Kind: KindSchedule, Name: sc.Service, Path: path, Action: PlanUnchanged}
		cur, ok := snap.schedules[sc.Service]
		for _, f := range scheduleFields {
			nv := f.get(sc)
			if !ok {
				if nv != "" && nv != "0" && nv != "false" {
					ch.Fields = append(ch.Fields, FieldChange{Field: f.name, New: nv})
				}
				continue
			}
			if old := f.get(cur); old != nv {
				ch.Fields = append(ch.Fields, FieldChange{Field: f.name, Old: old, New: nv})
			}
		}
		switch {
		case !ok:
			ch.Action = PlanCreate
		case len(ch.Fields) > 0:
			ch.Action = PlanUpdate
		}
		p.Changes = append(p.Changes, ch)
	}
	for _, name := range sortedKeys(snap.schedules) {
		if !slices.ContainsFunc(doc.Schedules, func(s config.Schedule) bool { return s.Service == name }) {
			p.Changes = append(p.Changes, ConfigChange{Kind: KindSchedule, Name: name, Path: config.SchedulePath(name, ""), Action: PlanRemove})
		}
	}
}

// serviceLists reports whether the document service's connector lists records
// (connectors.Lister), as a schedule needs: the running connector of a stored service that
// keeps its kind, else one built from the document (no I/O) and closed at once. A
// connector that cannot be built is the service's own error, reported when it is applied.
func (h *Hub) serviceLists(ctx context.Context, doc *config.Document, snap *snapshot, svc *config.Service) bool {
	if cur, ok := snap.services[svc.Name]; ok && cur.svc.ConnectorKind == svc.Connector {
		if rt, err := h.runtimeFor(ctx, cur.svc.ID); err == nil {
			return rt.lister() != nil
		}
	}
	auth, err := doc.ResolveAuth(ctx, svc.Name)
	if err != nil {
		return true // reported by the service's plan
	}
	c, err := h.reg.New(svc.Connector, connectors.Config{Name: svc.Name, BaseURL: svc.BaseURL, Auth: auth, Options: svc.Options,
		Logger: h.log, Now: h.cfg.Clock})
	if err != nil {
		return true
	}
	_, lists := connectors.Lists(c)
	if cl, ok := c.(connectors.Closer); ok {
		_ = cl.Close(ctx)
	}
	return lists
}

// applySchedule carries out one schedule change through ScheduleSync or UnscheduleSync,
// so it passes their permission checks and audit.
func (h *Hub) applySchedule(ctx context.Context, doc *config.Document, ch ConfigChange, who string) error {
	if ch.Action == PlanRemove {
		return h.UnscheduleSync(ctx, ch.Name, who)
	}
	for _, sc := range doc.Schedules {
		if sc.Service != ch.Name {
			continue
		}
		_, err := h.ScheduleSync(ctx, SyncConfig{Service: sc.Service, Interval: time.Duration(sc.Interval), Operation: sc.Operation,
			Params: sc.Params, PageSize: sc.PageSize, IDField: sc.IDField, VersionField: sc.VersionField, Disabled: sc.Disabled, Actor: who})
		return err
	}
	return fmt.Errorf("hub: the schedule of %q is not in the document", ch.Name)
}
