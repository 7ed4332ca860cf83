package hub

import (
	"context"
	"log/slog"
	"time"

	"github.com/ehg/hub/store"
)

// loadMetricsWindow is the shortest span a throughput figure is measured over.
const loadMetricsWindow = time.Minute

// recordLoadMetrics writes, on the rollup job's schedule (every Config.RollupInterval), two
// health metric rows per active service:
//
//   - queue_depth: the events waiting for delivery (pending, retrying and processing) now.
//     With Config.MaxQueuedEvents set, its thresholds are 80% (warning) and 100% (critical)
//     of that limit, and the status follows them; otherwise the row has no thresholds and is
//     normal.
//   - throughput: events delivered per minute over the last window — the larger of the
//     rollup interval and a minute —, counting the events created in the window that have
//     succeeded. No thresholds; normal.
//
// Failures are logged and the next tick tries again.
func (h *Hub) recordLoadMetrics(ctx context.Context, now time.Time) {
	if err := h.writeLoadMetrics(ctx, now); err != nil && ctx.Err() == nil {
		h.log.Warn("hub: recording throughput and queue depth failed", slog.Any("error", err))
	}
}

func (h *Hub) writeLoadMetrics(ctx context.Context, now time.Time) error {
	window := max(h.cfg.RollupInterval, loadMetricsWindow)
	stats, err := h.st.EventStats(ctx, store.StatsParams{From: now.Add(-window), To: now})
	if err != nil {
		return err
	}
	delivered := map[string]int64{}
	for _, s := range stats {
		delivered[s.ServiceID] = s.ByStatus[store.StatusSucceeded]
	}
	var warn, crit *float64
	if m := h.cfg.MaxQueuedEvents; m > 0 {
		w, c := 0.8*float64(m), float64(m)
		warn, crit = &w, &c
	}
	for off := 0; ; off += store.MaxPageLimit {
		svcs, err := h.st.ListServices(ctx, store.ServiceFilter{ActiveOnly: true, Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return err
		}
		for _, svc := range svcs {
			counts, err := h.st.CountEventsByStatus(ctx, store.EventFilter{ServiceID: svc.ID,
				Statuses: []store.EventStatus{store.StatusPending, store.StatusRetrying, store.StatusProcessing}})
			if err != nil {
				return err
			}
			var depth int64
			for _, n := range counts {
				depth += n
			}
			status := store.MetricNormal
			if crit != nil {
				switch d := float64(depth); {
				case d >= *crit:
					status = store.MetricCritical
				case d >= *warn:
					status = store.MetricWarning
				}
			}
			rows := []*store.HealthMetric{
				{ServiceID: svc.ID, MetricType: store.MetricQueueDepth, Value: float64(depth),
					WarningThreshold: warn, CriticalThreshold: crit, Status: status, RecordedAt: now},
				{ServiceID: svc.ID, MetricType: store.MetricThroughput, Value: float64(delivered[svc.ID]) / window.Minutes(),
					Status: store.MetricNormal, RecordedAt: now},
			}
			for _, m := range rows {
				if _, err := h.st.InsertHealthMetric(ctx, m); err != nil {
					return err
				}
			}
		}
		if len(svcs) < store.MaxPageLimit {
			return nil
		}
	}
}
