package hub

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/ehg/hub/internal/health"
	"github.com/ehg/hub/store"
)

// bucketKey names one service's period bucket.
type bucketKey struct {
	serviceID string
	start     int64 // unix microseconds of the bucket's start
}

// rollups computes the analytics rows of every period bucket in [from, to), for the service
// serviceID or all ("" ): one row per service and bucket having events created in it or
// probes recorded in it.
//
// Uptime is the share of passed probes recorded in the bucket (availability health
// metrics), else the succeeded share of the bucket's terminal outcomes, else unknown (nil):
// a service down for the whole bucket reports 0, one that nothing checked reports nothing.
// Cost is the service's cost per call times its events. performance_trends compares the row
// with the same service's bucket just before it (see trendDoc).
func (h *Hub) rollups(ctx context.Context, serviceID string, p store.Period, from, to time.Time) ([]*store.AnalyticsRollup, error) {
	start := p.Truncate(from)
	prevStart := start.Add(-p.Duration())
	volume, err := h.st.EventVolume(ctx, store.VolumeParams{ServiceID: serviceID, From: prevStart, To: to, Period: p})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	probes, err := h.availability(ctx, serviceID, prevStart, to)
	if err != nil {
		return nil, err
	}
	byKey := map[bucketKey]store.VolumeBucket{}
	for _, b := range volume {
		byKey[bucketKey{b.ServiceID, b.Start.UnixMicro()}] = b
	}
	probesOf := map[bucketKey][]*store.HealthMetric{}
	for _, m := range probes {
		k := bucketKey{m.ServiceID, p.Truncate(m.RecordedAt).UnixMicro()}
		probesOf[k] = append(probesOf[k], m)
	}
	keys := map[bucketKey]bool{}
	for k := range byKey {
		keys[k] = true
	}
	for k := range probesOf {
		keys[k] = true
	}
	var rolls []*store.AnalyticsRollup
	sorted := slices.SortedFunc(maps.Keys(keys), func(a, b bucketKey) int {
		return cmp.Or(cmp.Compare(a.serviceID, b.serviceID), cmp.Compare(a.start, b.start))
	})
	for _, k := range sorted {
		if k.start < start.UnixMicro() {
			continue // the bucket before the range: only a reference for the trend
		}
		rt, rterr := h.runtimeFor(ctx, k.serviceID)
		b, ok := byKey[k]
		if !ok {
			if rterr != nil {
				continue // probes of a service that no longer exists
			}
			b = store.VolumeBucket{ServiceID: k.serviceID, ServiceName: rt.svc.Name, Start: time.UnixMicro(k.start).UTC()}
		}
		cur := rollupOf(b, probesOf[k], p)
		if rterr == nil {
			cur.Cost = rt.meta.CostPerCall * float64(b.Total)
		}
		pk := bucketKey{k.serviceID, b.Start.Add(-p.Duration()).UnixMicro()}
		var prev *store.AnalyticsRollup
		if pb, ok := byKey[pk]; ok || len(probesOf[pk]) > 0 {
			if !ok {
				pb = store.VolumeBucket{ServiceID: k.serviceID, ServiceName: b.ServiceName, Start: time.UnixMicro(pk.start).UTC()}
			}
			prev = rollupOf(pb, probesOf[pk], p)
		}
		cur.PerformanceTrends = trendDoc(cur, prev)
		rolls = append(rolls, cur)
	}
	return rolls, nil
}

// rollupOf builds the figures of one bucket (cost aside) from its event volume and probes.
func rollupOf(b store.VolumeBucket, probes []*store.HealthMetric, p store.Period) *store.AnalyticsRollup {
	r := &store.AnalyticsRollup{
		ServiceID: b.ServiceID, ServiceName: b.ServiceName, Period: p, PeriodStart: b.Start,
		TotalEvents: b.Total, Successes: b.Succeeded, Failures: b.Failed,
		AvgResponseTimeMS: b.AvgResponseTimeMS, DataVolumeBytes: b.PayloadBytes,
		ChairmanInterventions: b.ChairmanOverrides,
	}
	if b.Total > 0 {
		r.ErrorRate = float64(b.Failed) / float64(b.Total)
	}
	if up, ok := health.Uptime(probes); ok {
		r.UptimePercent = &up
	} else if b.Succeeded+b.Failed > 0 {
		up := 100 * float64(b.Succeeded) / float64(b.Succeeded+b.Failed)
		r.UptimePercent = &up
	}
	return r
}

// storedTrend is the performance_trends document of a rollup.
type storedTrend struct {
	// ComparedTo is the start of the previous bucket, absent when it had no figures.
	ComparedTo *time.Time `json:"compared_to,omitempty"`
	// Direction is improving, worsening, steady, or new (no previous figures).
	Direction string `json:"direction"`
	// EventsChange is the relative change of the event count; the others are absolute
	// differences (current - previous). UptimeChange is absent unless both uptimes are known.
	EventsChange        float64  `json:"events_change"`
	ErrorRateChange     float64  `json:"error_rate_change"`
	AvgResponseChangeMS float64  `json:"avg_response_change_ms"`
	UptimeChange        *float64 `json:"uptime_change,omitempty"`
}

// trendDoc compares cur with prev (nil when the bucket before had no figures) as
// GetIntegrationAnalytics compares ranges.
func trendDoc(cur, prev *store.AnalyticsRollup) json.RawMessage {
	var tr AnalyticsTrend
	doc := storedTrend{}
	if prev == nil || prev.TotalEvents == 0 {
		tr = trendOf(cur.ServiceID, cur.ServiceName, totalsOf([]*store.AnalyticsRollup{cur}), AnalyticsTotals{})
	} else {
		tr = trendOf(cur.ServiceID, cur.ServiceName, totalsOf([]*store.AnalyticsRollup{cur}), totalsOf([]*store.AnalyticsRollup{prev}))
	}
	if prev != nil {
		at := prev.PeriodStart
		doc.ComparedTo = &at
		if cur.UptimePercent != nil && prev.UptimePercent != nil {
			d := *cur.UptimePercent - *prev.UptimePercent
			doc.UptimeChange = &d
		}
	}
	doc.Direction = tr.Direction
	doc.EventsChange, doc.ErrorRateChange, doc.AvgResponseChangeMS = tr.EventsChange, tr.ErrorRateChange, tr.AvgResponseChangeMS
	return mustJSON(doc)
}

// availability lists the availability health metrics (probe results) of the service (all
// when "") recorded in [from, to).
func (h *Hub) availability(ctx context.Context, serviceID string, from, to time.Time) ([]*store.HealthMetric, error) {
	var out []*store.HealthMetric
	for off := 0; ; off += store.MaxPageLimit {
		page, err := h.st.ListHealthMetrics(ctx, store.HealthMetricFilter{ServiceID: serviceID, MetricType: store.MetricAvailability,
			From: from, To: to, Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return nil, mapStoreErr(err)
		}
		out = append(out, page...)
		if len(page) < store.MaxPageLimit {
			return out, nil
		}
	}
}
