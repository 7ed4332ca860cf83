package hubhttp

import (
	"context"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/store"
)

// Overview series: overviewBuckets buckets of overviewBucket over the last hour; cost is
// hourly over the last day.
const (
	overviewBucket  = 5 * time.Minute
	overviewBuckets = 12
	costBuckets     = 24
)

func (x *Handler) overview(ctx context.Context, _ *noParams) (*apiv1.Overview, error) {
	services, err := x.hub.ListServices(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := x.hub.GetIntegrationHealth(ctx, "")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	hour, err := x.hub.GetPerformanceMetrics(ctx, hub.TimeRange{From: now.Add(-time.Hour), To: now})
	if err != nil {
		return nil, err
	}
	// series: one metrics query per bucket, aggregated by the store
	end := now.Truncate(time.Minute).Add(time.Minute)
	start := end.Add(-overviewBucket * overviewBuckets)
	buckets := make([]*hub.PerformanceMetrics, overviewBuckets)
	for i := range buckets {
		from := start.Add(time.Duration(i) * overviewBucket)
		if buckets[i], err = x.hub.GetPerformanceMetrics(ctx, hub.TimeRange{From: from, To: from.Add(overviewBucket)}); err != nil {
			return nil, err
		}
	}
	an, err := x.hub.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Period: store.PeriodHour,
		Range: hub.TimeRange{From: now.Add(-costBuckets * time.Hour), To: now}})
	if err != nil {
		return nil, err
	}
	health := map[string]hub.ServiceHealth{}
	for _, s := range rep.Services {
		health[s.ServiceID] = s
	}
	perf := map[string]hub.ServicePerformance{}
	for _, s := range hour.Services {
		perf[s.ServiceID] = s
	}
	out := &apiv1.Overview{Status: string(rep.Status), GeneratedAt: rep.GeneratedAt, BucketSeconds: int(overviewBucket / time.Second),
		Services: []apiv1.ServiceOverview{}}
	for _, si := range services {
		id := si.Service.ID
		h := health[id]
		p, ok := perf[id]
		if !ok {
			p.SuccessRate = 1 // no events in the last hour
		}
		o := apiv1.ServiceOverview{
			ServiceID: id, Name: si.Service.Name, Connector: si.Service.ConnectorKind, Active: si.Service.IsActive,
			Status: string(h.Status), Reason: h.Reason, Breaker: si.Breaker,
			Throughput: p.Throughput * 60, ErrorRate: 1 - p.SuccessRate, P95MS: p.P95MS,
			DeadLetters: h.QueueDepth[store.StatusDead], Warnings: len(h.Warnings),
			SeriesEvents: make([]float64, overviewBuckets), SeriesErrorRate: make([]float64, overviewBuckets),
			SeriesP95MS: make([]float64, overviewBuckets), SeriesCost: make([]float64, costBuckets),
		}
		if o.Status == "" {
			o.Status = string(store.HealthUnknown)
		}
		if h.Breaker != "" {
			o.Breaker = h.Breaker
		}
		for i, b := range buckets {
			for _, s := range b.Services {
				if s.ServiceID == id {
					o.SeriesEvents[i] = float64(s.Events)
					o.SeriesErrorRate[i] = 1 - s.SuccessRate
					o.SeriesP95MS[i] = s.P95MS
				}
			}
		}
		costStart := an.Range.To.Add(-costBuckets * time.Hour)
		for _, r := range an.Rollups {
			if r.ServiceID != id {
				continue
			}
			o.Cost += r.Cost
			if i := int(r.PeriodStart.Sub(costStart) / time.Hour); i >= 0 && i < costBuckets {
				o.SeriesCost[i] += r.Cost
			}
		}
		out.Services = append(out.Services, o)
	}
	return out, nil
}
