package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ehg/hub/store"
)

const syncCols = `service_id, interval_ms, operation, params, page_size, id_field, version_field,
	enabled, cursor, high_water, run_started_at, next_run_at, last_run_at, last_error, records,
	owner, lease_until, created_at, updated_at`

func scanSync(sc scanner) (*store.SyncSchedule, error) {
	var (
		v                             store.SyncSchedule
		intervalMS                    int64
		enabled                       int
		high, started, last, leaseEnd sql.NullInt64
		owner                         sql.NullString
		next, created, updated        int64
	)
	if err := sc.Scan(&v.ServiceID, &intervalMS, &v.Operation, rawDest(&v.Params), &v.PageSize,
		&v.IDField, &v.VersionField, &enabled, &v.Cursor, &high, &started, &next, &last,
		&v.LastError, &v.Records, &owner, &leaseEnd, &created, &updated); err != nil {
		return nil, err
	}
	v.Interval = time.Duration(intervalMS) * time.Millisecond
	v.Enabled = enabled != 0
	v.HighWater, v.RunStartedAt, v.LastRunAt, v.LeaseUntil = timePtr(high), timePtr(started), timePtr(last), timePtr(leaseEnd)
	v.NextRunAt, v.CreatedAt, v.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	v.Owner = owner.String
	if len(v.Params) == 0 {
		v.Params = nil
	}
	return &v, nil
}

// PutSyncSchedule implements store.SyncStore with one upsert that keeps the progress.
func (s *Store) PutSyncSchedule(ctx context.Context, in *store.SyncSchedule) (*store.SyncSchedule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", in.ServiceID)
	if err != nil {
		return nil, err
	}
	now := micros(s.now())
	var next any
	if !in.NextRunAt.IsZero() {
		next = micros(in.NextRunAt)
	}
	var out *store.SyncSchedule
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		var err error
		out, err = scanSync(q.QueryRowContext(ctx, `INSERT INTO sync_schedules (service_id, interval_ms,
			operation, params, page_size, id_field, version_field, enabled, next_run_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, ?), ?, ?)
			ON CONFLICT (service_id) DO UPDATE SET interval_ms = excluded.interval_ms,
				operation = excluded.operation, params = excluded.params, page_size = excluded.page_size,
				id_field = excluded.id_field, version_field = excluded.version_field,
				enabled = excluded.enabled, next_run_at = coalesce(?, sync_schedules.next_run_at),
				updated_at = excluded.updated_at
			RETURNING `+syncCols,
			id, in.Interval.Milliseconds(), in.Operation, jsonArg(in.Params), in.PageSize, in.IDField,
			in.VersionField, boolInt(in.Enabled), next, now, now, now, next))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("put sync schedule: %w", mapError(err))
	}
	return out, nil
}

// GetSyncSchedule implements store.SyncStore.
func (s *Store) GetSyncSchedule(ctx context.Context, serviceID string) (*store.SyncSchedule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	v, err := scanSync(db.QueryRowContext(ctx, `SELECT `+syncCols+` FROM sync_schedules WHERE service_id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get sync schedule of service %s: %w", id, mapError(err))
	}
	return v, nil
}

// ListSyncSchedules implements store.SyncStore.
func (s *Store) ListSyncSchedules(ctx context.Context, p store.Page) ([]*store.SyncSchedule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	page, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+syncCols+` FROM sync_schedules ORDER BY service_id LIMIT ? OFFSET ?`, page.Limit, page.Offset)
	if err != nil {
		return nil, fmt.Errorf("list sync schedules: %w", mapError(err))
	}
	defer rows.Close()
	var out []*store.SyncSchedule
	for rows.Next() {
		v, err := scanSync(rows)
		if err != nil {
			return nil, fmt.Errorf("list sync schedules: %w", mapError(err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sync schedules: %w", mapError(err))
	}
	return out, nil
}

// DeleteSyncSchedule implements store.SyncStore.
func (s *Store) DeleteSyncSchedule(ctx context.Context, serviceID string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	id, err := canonicalID("service", serviceID)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		res, err := q.ExecContext(ctx, `DELETE FROM sync_schedules WHERE service_id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: no sync schedule", store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete sync schedule of service %s: %w", id, mapError(err))
	}
	return nil
}

// ClaimSyncSchedule implements store.SyncStore in one IMMEDIATE transaction.
func (s *Store) ClaimSyncSchedule(ctx context.Context, p store.ClaimSyncParams) (*store.SyncSchedule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := micros(s.now())
	// Most claims find nothing due: a read answers them without taking the write lock.
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	var due int
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sync_schedules
		WHERE enabled = 1 AND next_run_at <= ? AND (lease_until IS NULL OR lease_until <= ?))`, now, now).Scan(&due); err != nil {
		return nil, fmt.Errorf("claim sync schedule: %w", mapError(err))
	}
	if due == 0 {
		return nil, fmt.Errorf("claim sync schedule: %w: none is due", store.ErrNotFound)
	}
	var out *store.SyncSchedule
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		var err error
		out, err = scanSync(q.QueryRowContext(ctx, `UPDATE sync_schedules
			SET owner = ?, lease_until = ?, updated_at = ?, run_started_at = coalesce(run_started_at, ?)
			WHERE service_id = (SELECT service_id FROM sync_schedules
				WHERE enabled = 1 AND next_run_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY next_run_at, service_id LIMIT 1)
			RETURNING `+syncCols, p.Owner, micros(s.now().Add(p.Lease)), now, now, now, now))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim sync schedule: %w", mapError(err))
	}
	return out, nil
}

// SaveSyncProgress implements store.SyncStore, fenced by the owner and an unexpired-or-kept
// lease.
func (s *Store) SaveSyncProgress(ctx context.Context, p store.SyncProgress) (*store.SyncSchedule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", p.ServiceID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out *store.SyncSchedule
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		var (
			query string
			args  []any
		)
		switch {
		case p.Done:
			query = `UPDATE sync_schedules SET cursor = '', high_water = run_started_at,
				run_started_at = NULL, last_run_at = ?, last_error = '', records = records + ?,
				next_run_at = ? + interval_ms * 1000, owner = NULL, lease_until = NULL, updated_at = ?
				WHERE service_id = ? AND owner = ? RETURNING ` + syncCols
			args = []any{micros(now), p.Records, micros(now), micros(now), id, p.Owner}
		case p.Error != "":
			query = `UPDATE sync_schedules SET cursor = ?, last_error = ?, records = records + ?,
				next_run_at = ?, owner = NULL, lease_until = NULL, updated_at = ?
				WHERE service_id = ? AND owner = ? RETURNING ` + syncCols
			args = []any{p.Cursor, p.Error, p.Records, micros(p.RetryAt), micros(now), id, p.Owner}
		default:
			query = `UPDATE sync_schedules SET cursor = ?, records = records + ?, lease_until = ?,
				updated_at = ? WHERE service_id = ? AND owner = ? RETURNING ` + syncCols
			args = []any{p.Cursor, p.Records, micros(now.Add(p.Lease)), micros(now), id, p.Owner}
		}
		var err error
		out, err = scanSync(q.QueryRowContext(ctx, query, args...))
		if err == sql.ErrNoRows {
			return fmt.Errorf("%w: sync schedule of service %s is not leased to %q", store.ErrLeaseLost, id, p.Owner)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("save sync progress: %w", mapError(err))
	}
	return out, nil
}

var _ store.SyncStore = (*Store)(nil)
