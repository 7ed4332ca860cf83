package memory

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/store"
)

// CountEventsByStatus implements [store.StatsStore].
func (s *Store) CountEventsByStatus(ctx context.Context, f store.EventFilter) (map[store.EventStatus]int64, error) {
	if err := begin(ctx, "count events by status"); err != nil {
		return nil, err
	}
	m, err := newEventMatcher("count events by status", f)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[store.EventStatus]int64{}
	for e := range s.events.all() {
		if m.match(&e.ev) {
			out[e.ev.Status]++
		}
	}
	return out, nil
}

// rangeMatcher checks the service and created_at range of the aggregate queries.
func rangeMatcher(op, serviceID string, from, to time.Time) (*eventMatcher, error) {
	return newEventMatcher(op, store.EventFilter{ServiceID: serviceID, CreatedFrom: from, CreatedTo: to})
}

// statsAcc accumulates one service's EventStats.
type statsAcc struct {
	st    store.EventStats
	times []float64
}

// EventStats implements [store.StatsStore].
func (s *Store) EventStats(ctx context.Context, p store.StatsParams) ([]store.EventStats, error) {
	if err := begin(ctx, "event stats"); err != nil {
		return nil, err
	}
	m, err := rangeMatcher("event stats", p.ServiceID, p.From, p.To)
	if err != nil {
		return nil, err
	}
	accs := map[string]*statsAcc{}
	s.mu.RLock()
	for e := range s.events.all() {
		ev := &e.ev
		if !m.match(ev) {
			continue
		}
		a, ok := accs[ev.ServiceID]
		if !ok {
			a = &statsAcc{st: store.EventStats{ServiceID: ev.ServiceID, ServiceName: ev.ServiceName,
				ByStatus: map[store.EventStatus]int64{}}}
			accs[ev.ServiceID] = a
		}
		st := &a.st
		if ev.ServiceName < st.ServiceName {
			st.ServiceName = ev.ServiceName
		}
		st.Total++
		st.ByStatus[ev.Status]++
		if ev.RetryCount > 0 {
			st.Retried++
		}
		if ev.ChairmanOverride {
			st.ChairmanOverrides++
		}
		st.PayloadBytes += e.payloadBytes
		if ev.Status == store.StatusSucceeded {
			a.times = append(a.times, float64(ev.ResponseTimeMS))
			if p.WithinMS > 0 && ev.ResponseTimeMS <= p.WithinMS {
				st.Latency.Within++
			}
		}
	}
	s.mu.RUnlock()
	out := make([]store.EventStats, 0, len(accs))
	for _, a := range accs {
		a.st.Latency = latency(a.times, a.st.Latency.Within)
		out = append(out, a.st)
	}
	slices.SortFunc(out, func(a, b store.EventStats) int {
		if c := strings.Compare(a.ServiceName, b.ServiceName); c != 0 {
			return c
		}
		return strings.Compare(a.ServiceID, b.ServiceID)
	})
	return out, nil
}

// latency summarises response times: min, max, mean, population standard deviation and
// continuous percentiles.
func latency(times []float64, within int64) store.LatencyStats {
	l := store.LatencyStats{Count: int64(len(times)), Within: within}
	if len(times) == 0 {
		return l
	}
	slices.Sort(times)
	l.Min, l.Max = times[0], times[len(times)-1]
	var sum float64
	for _, v := range times {
		sum += v
	}
	l.Mean = sum / float64(len(times))
	var sq float64
	for _, v := range times {
		d := v - l.Mean
		sq += d * d
	}
	l.StdDev = math.Sqrt(sq / float64(len(times)))
	l.P50 = store.Percentile(times, 0.50)
	l.P95 = store.Percentile(times, 0.95)
	l.P99 = store.Percentile(times, 0.99)
	return l
}

// volumeAcc accumulates one VolumeBucket.
type volumeAcc struct {
	b        store.VolumeBucket
	sumTime  float64
	nSuccess int64
}

// EventVolume implements [store.StatsStore].
func (s *Store) EventVolume(ctx context.Context, p store.VolumeParams) ([]store.VolumeBucket, error) {
	if err := begin(ctx, "event volume"); err != nil {
		return nil, err
	}
	if !p.Period.Valid() {
		return nil, fmt.Errorf("%w: memory: event volume: unknown period %q", store.ErrInvalidArgument, p.Period)
	}
	m, err := rangeMatcher("event volume", p.ServiceID, p.From, p.To)
	if err != nil {
		return nil, err
	}
	type key struct {
		serviceID string
		start     int64
	}
	accs := map[key]*volumeAcc{}
	s.mu.RLock()
	for e := range s.events.all() {
		ev := &e.ev
		if !m.match(ev) {
			continue
		}
		start := p.Period.Truncate(ev.CreatedAt)
		k := key{ev.ServiceID, start.UnixMicro()}
		a, ok := accs[k]
		if !ok {
			a = &volumeAcc{b: store.VolumeBucket{ServiceID: ev.ServiceID, ServiceName: ev.ServiceName, Start: start}}
			accs[k] = a
		}
		b := &a.b
		if ev.ServiceName < b.ServiceName {
			b.ServiceName = ev.ServiceName
		}
		b.Total++
		switch ev.Status {
		case store.StatusSucceeded:
			b.Succeeded++
			a.nSuccess++
			a.sumTime += float64(ev.ResponseTimeMS)
		case store.StatusFailed, store.StatusDead:
			b.Failed++
		}
		if ev.ChairmanOverride {
			b.ChairmanOverrides++
		}
		b.PayloadBytes += e.payloadBytes
	}
	s.mu.RUnlock()
	out := make([]store.VolumeBucket, 0, len(accs))
	for _, a := range accs {
		if a.nSuccess > 0 {
			a.b.AvgResponseTimeMS = a.sumTime / float64(a.nSuccess)
		}
		out = append(out, a.b)
	}
	slices.SortFunc(out, func(a, b store.VolumeBucket) int {
		if c := strings.Compare(a.ServiceName, b.ServiceName); c != 0 {
			return c
		}
		if c := strings.Compare(a.ServiceID, b.ServiceID); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	return out, nil
}
