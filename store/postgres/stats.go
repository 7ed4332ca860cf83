package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/ehg/hub/store"
)

const (
	sqlCountByStatus = `SELECT status, count(*) FROM {s}.integration_events`
	// sqlEventStats is completed by a WHERE clause whose first argument is WithinMS.
	sqlEventStats = `SELECT service_id, min(service_name), count(*),
		count(*) FILTER (WHERE status = 'pending'),
		count(*) FILTER (WHERE status = 'processing'),
		count(*) FILTER (WHERE status = 'succeeded'),
		count(*) FILTER (WHERE status = 'retrying'),
		count(*) FILTER (WHERE status = 'failed'),
		count(*) FILTER (WHERE status = 'dead'),
		count(*) FILTER (WHERE status = 'expired'),
		count(*) FILTER (WHERE status = 'cancelled'),
		count(*) FILTER (WHERE retry_count > 0),
		count(*) FILTER (WHERE chairman_override),
		coalesce(sum(payload_in_bytes), 0)::bigint,
		coalesce(min(response_time_ms) FILTER (WHERE status = 'succeeded'), 0)::float8,
		coalesce(max(response_time_ms) FILTER (WHERE status = 'succeeded'), 0)::float8,
		coalesce(avg(response_time_ms::float8) FILTER (WHERE status = 'succeeded'), 0),
		coalesce(stddev_pop(response_time_ms::float8) FILTER (WHERE status = 'succeeded'), 0),
		coalesce(percentile_cont(0.50) WITHIN GROUP (ORDER BY response_time_ms)
			FILTER (WHERE status = 'succeeded'), 0),
		coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms)
			FILTER (WHERE status = 'succeeded'), 0),
		coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms)
			FILTER (WHERE status = 'succeeded'), 0),
		count(*) FILTER (WHERE status = 'succeeded' AND $1 > 0 AND response_time_ms <= $1)
	FROM {s}.integration_events`
	// sqlEventVolume is completed by a WHERE clause whose first argument is the period.
	sqlEventVolume = `SELECT service_id, min(service_name), date_trunc($1, created_at, 'UTC') AS bucket,
		count(*),
		count(*) FILTER (WHERE status = 'succeeded'),
		count(*) FILTER (WHERE status IN ('failed', 'dead')),
		count(*) FILTER (WHERE chairman_override),
		coalesce(sum(payload_in_bytes), 0)::bigint,
		coalesce(avg(response_time_ms::float8) FILTER (WHERE status = 'succeeded'), 0)
	FROM {s}.integration_events`
)

// CountEventsByStatus implements [store.StatsStore] with one GROUP BY.
func (s *Store) CountEventsByStatus(ctx context.Context, f store.EventFilter) (map[store.EventStatus]int64, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var w where
	if err := eventWhere(&w, f); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.q.countByStatus+w.sql()+" GROUP BY status", w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: count events by status: %w", err))
	}
	defer rows.Close()
	out := map[store.EventStatus]int64{}
	for rows.Next() {
		var (
			st string
			n  int64
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, mapError(fmt.Errorf("postgres: count events by status: %w", err))
		}
		out[store.EventStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(fmt.Errorf("postgres: count events by status: %w", err))
	}
	return out, nil
}

// rangeWhere adds a service and a [from, to) created_at range; zero bounds are open.
func rangeWhere(w *where, serviceID string, from, to time.Time) error {
	if serviceID != "" {
		if err := checkID("service", serviceID); err != nil {
			return err
		}
		w.add("service_id = " + w.arg(serviceID))
	}
	if !from.IsZero() {
		w.add("created_at >= " + w.arg(store.Timestamp(from)))
	}
	if !to.IsZero() {
		w.add("created_at < " + w.arg(store.Timestamp(to)))
	}
	return nil
}

// EventStats implements [store.StatsStore]: counts, sums, percentile_cont and stddev_pop
// are computed by PostgreSQL in one query.
func (s *Store) EventStats(ctx context.Context, p store.StatsParams) ([]store.EventStats, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	w := where{args: []any{p.WithinMS}}
	if err := rangeWhere(&w, p.ServiceID, p.From, p.To); err != nil {
		return nil, err
	}
	sql := s.q.eventStats + w.sql() + " GROUP BY service_id ORDER BY 2, 1"
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: event stats: %w", err))
	}
	defer rows.Close()
	var out []store.EventStats
	statuses := store.EventStatuses()
	for rows.Next() {
		var (
			st     store.EventStats
			counts [8]int64
			l      = &st.Latency
		)
		if err := rows.Scan(&st.ServiceID, &st.ServiceName, &st.Total,
			&counts[0], &counts[1], &counts[2], &counts[3], &counts[4], &counts[5], &counts[6], &counts[7],
			&st.Retried, &st.ChairmanOverrides, &st.PayloadBytes,
			&l.Min, &l.Max, &l.Mean, &l.StdDev, &l.P50, &l.P95, &l.P99, &l.Within); err != nil {
			return nil, mapError(fmt.Errorf("postgres: event stats: %w", err))
		}
		st.ByStatus = map[store.EventStatus]int64{}
		for i, n := range counts {
			if n > 0 {
				st.ByStatus[statuses[i]] = n
			}
		}
		l.Count = counts[2] // succeeded
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(fmt.Errorf("postgres: event stats: %w", err))
	}
	return out, nil
}

// EventVolume implements [store.StatsStore], bucketing with date_trunc in UTC.
func (s *Store) EventVolume(ctx context.Context, p store.VolumeParams) ([]store.VolumeBucket, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if !p.Period.Valid() {
		return nil, fmt.Errorf("%w: event volume: unknown period %q", store.ErrInvalidArgument, p.Period)
	}
	w := where{args: []any{string(p.Period)}}
	if err := rangeWhere(&w, p.ServiceID, p.From, p.To); err != nil {
		return nil, err
	}
	sql := s.q.eventVolume + w.sql() + " GROUP BY service_id, bucket ORDER BY 2, 1, bucket"
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: event volume: %w", err))
	}
	defer rows.Close()
	var out []store.VolumeBucket
	for rows.Next() {
		var b store.VolumeBucket
		if err := rows.Scan(&b.ServiceID, &b.ServiceName, &b.Start, &b.Total, &b.Succeeded,
			&b.Failed, &b.ChairmanOverrides, &b.PayloadBytes, &b.AvgResponseTimeMS); err != nil {
			return nil, mapError(fmt.Errorf("postgres: event volume: %w", err))
		}
		b.Start = b.Start.UTC()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(fmt.Errorf("postgres: event volume: %w", err))
	}
	return out, nil
}
