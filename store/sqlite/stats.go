package sqlite

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ehg/hub/store"
)

// CountEventsByStatus implements store.StatsStore with one GROUP BY.
func (s *Store) CountEventsByStatus(ctx context.Context, f store.EventFilter) (map[store.EventStatus]int64, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w, err := eventWhere(f)
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT status, count(*) FROM integration_events`+w.String()+
		` GROUP BY status`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("count events: %w", mapError(err))
	}
	defer rows.Close()
	out := make(map[store.EventStatus]int64)
	for rows.Next() {
		var st store.EventStatus
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count events: %w", err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count events: %w", mapError(err))
	}
	return out, nil
}

// statsWhere selects the events of a service (optional) created in [from, to) (each bound
// optional).
func statsWhere(serviceID string, from, to time.Time) (*where, error) {
	w := &where{}
	sid, err := optionalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	if sid != "" {
		w.add("service_id = ?", sid)
	}
	if !from.IsZero() {
		w.add("created_at >= ?", micros(from))
	}
	if !to.IsZero() {
		w.add("created_at < ?", micros(to))
	}
	return w, nil
}

// eventStatsSQL aggregates per service in SQL. The percentiles are percentile_cont: the
// succeeded events' response times are ranked per service with row_number(), the values at
// ranks floor(p*(n-1)) and ceil(p*(n-1)) picked, and interpolated linearly, with the same
// floating-point operations, in the same order, as store.Percentile (p is bound as a
// float64, not parsed from SQL text). The standard deviation comes from the sum and the sum
// of squares (integers, so exact) in one pass.
const eventStatsSQL = `WITH ev AS (
	SELECT service_id, service_name, status, retry_count, chairman_override, payload_in_bytes,
		response_time_ms
	FROM integration_events%s
), agg AS (
	SELECT service_id, min(service_name) AS service_name, count(*) AS total,
		sum(retry_count > 0) AS retried, sum(chairman_override) AS overrides,
		sum(payload_in_bytes) AS bytes,
		sum(status = 'succeeded') AS n,
		min(CASE WHEN status = 'succeeded' THEN response_time_ms END) AS lmin,
		max(CASE WHEN status = 'succeeded' THEN response_time_ms END) AS lmax,
		sum(CASE WHEN status = 'succeeded' THEN response_time_ms END) AS lsum,
		sum(CASE WHEN status = 'succeeded' THEN response_time_ms * response_time_ms END) AS lsumsq,
		sum(status = 'succeeded' AND response_time_ms <= ?) AS within
	FROM ev GROUP BY service_id
), ranked AS (
	SELECT service_id, CAST(response_time_ms AS REAL) AS v,
		row_number() OVER (PARTITION BY service_id ORDER BY response_time_ms) - 1 AS rn,
		count(*) OVER (PARTITION BY service_id) - 1 AS m
	FROM ev WHERE status = 'succeeded'
), pos AS (
	SELECT service_id, v, rn, ? * m AS x50, ? * m AS x95, ? * m AS x99 FROM ranked
), pick AS (
	SELECT service_id, max(x50) AS x50, max(x95) AS x95, max(x99) AS x99,
		max(CASE WHEN rn = CAST(x50 AS INTEGER) THEN v END) AS lo50,
		max(CASE WHEN rn = CAST(x50 AS INTEGER) + (x50 > CAST(x50 AS INTEGER)) THEN v END) AS hi50,
		max(CASE WHEN rn = CAST(x95 AS INTEGER) THEN v END) AS lo95,
		max(CASE WHEN rn = CAST(x95 AS INTEGER) + (x95 > CAST(x95 AS INTEGER)) THEN v END) AS hi95,
		max(CASE WHEN rn = CAST(x99 AS INTEGER) THEN v END) AS lo99,
		max(CASE WHEN rn = CAST(x99 AS INTEGER) + (x99 > CAST(x99 AS INTEGER)) THEN v END) AS hi99
	FROM pos GROUP BY service_id
)
SELECT agg.service_id, agg.service_name, total, retried, overrides, bytes, n,
	coalesce(lmin, 0), coalesce(lmax, 0),
	coalesce(CAST(lsum AS REAL) / n, 0),
	coalesce(CAST(lsumsq AS REAL) / n - (CAST(lsum AS REAL) / n) * (CAST(lsum AS REAL) / n), 0),
	coalesce(CASE WHEN x50 = CAST(x50 AS INTEGER) THEN lo50
		ELSE lo50 + (x50 - CAST(x50 AS INTEGER)) * (hi50 - lo50) END, 0),
	coalesce(CASE WHEN x95 = CAST(x95 AS INTEGER) THEN lo95
		ELSE lo95 + (x95 - CAST(x95 AS INTEGER)) * (hi95 - lo95) END, 0),
	coalesce(CASE WHEN x99 = CAST(x99 AS INTEGER) THEN lo99
		ELSE lo99 + (x99 - CAST(x99 AS INTEGER)) * (hi99 - lo99) END, 0),
	coalesce(within, 0)
FROM agg LEFT JOIN pick ON pick.service_id = agg.service_id
ORDER BY agg.service_name, agg.service_id`

// EventStats implements store.StatsStore: the figures and the percentiles are computed by
// SQLite (see eventStatsSQL); only the square root of the variance is taken in Go.
func (s *Store) EventStats(ctx context.Context, p store.StatsParams) ([]store.EventStats, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w, err := statsWhere(p.ServiceID, p.From, p.To)
	if err != nil {
		return nil, err
	}
	within := int64(math.MinInt64) // counts nothing when WithinMS is not positive
	if p.WithinMS > 0 {
		within = p.WithinMS
	}
	// Plain ? parameters are numbered in the order they appear: the filter's first.
	args := append(append([]any{}, w.args...), within, 0.5, 0.95, 0.99)
	var out []store.EventStats
	err = s.read(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, fmt.Sprintf(eventStatsSQL, w.String()), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		index := make(map[string]int)
		for rows.Next() {
			var (
				st       store.EventStats
				variance float64
			)
			l := &st.Latency
			if err := rows.Scan(&st.ServiceID, &st.ServiceName, &st.Total, &st.Retried,
				&st.ChairmanOverrides, &st.PayloadBytes, &l.Count, &l.Min, &l.Max, &l.Mean,
				&variance, &l.P50, &l.P95, &l.P99, &l.Within); err != nil {
				return err
			}
			l.StdDev = math.Sqrt(max(variance, 0))
			st.ByStatus = make(map[store.EventStatus]int64)
			index[st.ServiceID] = len(out)
			out = append(out, st)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(out) == 0 {
			return nil
		}
		byStatus, err := q.QueryContext(ctx, `SELECT service_id, status, count(*) FROM integration_events`+
			w.String()+` GROUP BY service_id, status`, w.args...)
		if err != nil {
			return err
		}
		defer byStatus.Close()
		for byStatus.Next() {
			var (
				id string
				st store.EventStatus
				n  int64
			)
			if err := byStatus.Scan(&id, &st, &n); err != nil {
				return err
			}
			if i, ok := index[id]; ok {
				out[i].ByStatus[st] = n
			}
		}
		return byStatus.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("event stats: %w", err)
	}
	return out, nil
}

// EventVolume implements store.StatsStore with one GROUP BY over (service, bucket). Buckets
// start on UTC hour or day boundaries, which unix time is aligned to.
func (s *Store) EventVolume(ctx context.Context, p store.VolumeParams) ([]store.VolumeBucket, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if !p.Period.Valid() {
		return nil, invalidf("unknown volume period %q", p.Period)
	}
	w, err := statsWhere(p.ServiceID, p.From, p.To)
	if err != nil {
		return nil, err
	}
	period := p.Period.Duration().Microseconds()
	// ?1 is the period; the filter's plain ? parameters follow it.
	args := append([]any{period}, w.args...)
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT service_id, min(service_name) AS name,
			created_at - ((created_at % ?1) + ?1) % ?1 AS bucket,
			count(*), sum(status = 'succeeded'), sum(status IN ('failed', 'dead')),
			sum(chairman_override), sum(payload_in_bytes),
			coalesce(CAST(sum(CASE WHEN status = 'succeeded' THEN response_time_ms END) AS REAL)
				/ sum(status = 'succeeded'), 0)
		FROM integration_events`+w.String()+`
		GROUP BY service_id, bucket
		ORDER BY name, service_id, bucket`, args...)
	if err != nil {
		return nil, fmt.Errorf("event volume: %w", mapError(err))
	}
	defer rows.Close()
	var out []store.VolumeBucket
	for rows.Next() {
		var (
			b     store.VolumeBucket
			start int64
		)
		if err := rows.Scan(&b.ServiceID, &b.ServiceName, &start, &b.Total, &b.Succeeded, &b.Failed,
			&b.ChairmanOverrides, &b.PayloadBytes, &b.AvgResponseTimeMS); err != nil {
			return nil, fmt.Errorf("event volume: %w", err)
		}
		b.Start = fromMicros(start)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event volume: %w", mapError(err))
	}
	return out, nil
}
