package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ehg/hub/store"
)

const syncCols = `service_id, interval_ms, operation, params, page_size, id_field, version_field,
	enabled, cursor, high_water, run_started_at, next_run_at, last_run_at, last_error, records,
	owner, lease_until, created_at, updated_at`

const (
	sqlPutSync = `INSERT INTO {s}.sync_schedules (service_id, interval_ms, operation, params,
		page_size, id_field, version_field, enabled, next_run_at, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9::timestamptz, $10::timestamptz), $10, $10)
	ON CONFLICT (service_id) DO UPDATE SET interval_ms = excluded.interval_ms,
		operation = excluded.operation, params = excluded.params, page_size = excluded.page_size,
		id_field = excluded.id_field, version_field = excluded.version_field,
		enabled = excluded.enabled, next_run_at = coalesce($9::timestamptz, {s}.sync_schedules.next_run_at),
		updated_at = excluded.updated_at
	RETURNING ` + syncCols
	sqlGetSync    = `SELECT ` + syncCols + ` FROM {s}.sync_schedules WHERE service_id = $1`
	sqlListSync   = `SELECT ` + syncCols + ` FROM {s}.sync_schedules ORDER BY service_id LIMIT $1 OFFSET $2`
	sqlDeleteSync = `DELETE FROM {s}.sync_schedules WHERE service_id = $1`
	// sqlClaimSync takes one due schedule; SKIP LOCKED lets concurrent claimers pass over a
	// row another is taking instead of waiting for it.
	sqlClaimSync = `UPDATE {s}.sync_schedules
	SET owner = $1, lease_until = $2, updated_at = $3::timestamptz, run_started_at = coalesce(run_started_at, $3::timestamptz)
	WHERE service_id = (SELECT service_id FROM {s}.sync_schedules
		WHERE enabled AND next_run_at <= $3::timestamptz AND (lease_until IS NULL OR lease_until <= $3::timestamptz)
		ORDER BY next_run_at, service_id LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING ` + syncCols
	sqlSyncDone = `UPDATE {s}.sync_schedules SET cursor = '', high_water = run_started_at,
		run_started_at = NULL, last_run_at = $3::timestamptz, last_error = '', records = records + $4,
		next_run_at = $3::timestamptz + interval_ms * interval '1 millisecond', owner = NULL, lease_until = NULL,
		updated_at = $3
	WHERE service_id = $1 AND owner = $2 RETURNING ` + syncCols
	sqlSyncFailed = `UPDATE {s}.sync_schedules SET cursor = $5, last_error = $6, records = records + $4,
		next_run_at = $7, owner = NULL, lease_until = NULL, updated_at = $3
	WHERE service_id = $1 AND owner = $2 RETURNING ` + syncCols
	sqlSyncPage = `UPDATE {s}.sync_schedules SET cursor = $5, records = records + $4, lease_until = $6,
		updated_at = $3
	WHERE service_id = $1 AND owner = $2 RETURNING ` + syncCols
)

func scanSync(row pgx.Row) (*store.SyncSchedule, error) {
	var (
		v                             store.SyncSchedule
		intervalMS                    int64
		pageSize                      int32
		params                        []byte
		high, started, last, leaseEnd pgtype.Timestamptz
		owner                         pgtype.Text
	)
	if err := row.Scan(&v.ServiceID, &intervalMS, &v.Operation, &params, &pageSize, &v.IDField,
		&v.VersionField, &v.Enabled, &v.Cursor, &high, &started, &v.NextRunAt, &last, &v.LastError,
		&v.Records, &owner, &leaseEnd, &v.CreatedAt, &v.UpdatedAt); err != nil {
		return nil, err
	}
	v.Interval = time.Duration(intervalMS) * time.Millisecond
	v.PageSize = int(pageSize)
	v.Params = jsonOut(params)
	v.HighWater, v.RunStartedAt, v.LastRunAt, v.LeaseUntil = timeOut(high), timeOut(started), timeOut(last), timeOut(leaseEnd)
	v.NextRunAt, v.CreatedAt, v.UpdatedAt = v.NextRunAt.UTC(), v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	v.Owner = strOut(owner)
	return &v, nil
}

// PutSyncSchedule implements store.SyncStore with one upsert that keeps the progress.
func (s *Store) PutSyncSchedule(ctx context.Context, in *store.SyncSchedule) (*store.SyncSchedule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var next pgtype.Timestamptz
	if !in.NextRunAt.IsZero() {
		next = pgtype.Timestamptz{Time: store.Timestamp(in.NextRunAt), Valid: true}
	}
	v, err := scanSync(s.pool.QueryRow(ctx, s.inSchema(sqlPutSync), canonical(in.ServiceID),
		in.Interval.Milliseconds(), in.Operation, jsonBytes(in.Params), int32(in.PageSize), //nolint:gosec // page sizes are small
		in.IDField, in.VersionField, in.Enabled, next, store.Timestamp(s.now())))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: put sync schedule: %w", err))
	}
	return v, nil
}

// GetSyncSchedule implements store.SyncStore.
func (s *Store) GetSyncSchedule(ctx context.Context, serviceID string) (*store.SyncSchedule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("service", serviceID); err != nil {
		return nil, err
	}
	v, err := scanSync(s.pool.QueryRow(ctx, s.inSchema(sqlGetSync), canonical(serviceID)))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get sync schedule of service %s: %w", serviceID, err))
	}
	return v, nil
}

// ListSyncSchedules implements store.SyncStore.
func (s *Store) ListSyncSchedules(ctx context.Context, p store.Page) ([]*store.SyncSchedule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("sync schedules", p)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.inSchema(sqlListSync), page.Limit, page.Offset)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list sync schedules: %w", err))
	}
	defer rows.Close()
	var out []*store.SyncSchedule
	for rows.Next() {
		v, err := scanSync(rows)
		if err != nil {
			return nil, mapError(fmt.Errorf("postgres: list sync schedules: %w", err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(fmt.Errorf("postgres: list sync schedules: %w", err))
	}
	return out, nil
}

// DeleteSyncSchedule implements store.SyncStore.
func (s *Store) DeleteSyncSchedule(ctx context.Context, serviceID string) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := checkID("service", serviceID); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, s.inSchema(sqlDeleteSync), canonical(serviceID))
	if err != nil {
		return mapError(fmt.Errorf("postgres: delete sync schedule: %w", err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: postgres: sync schedule of service %s", store.ErrNotFound, serviceID)
	}
	return nil
}

// ClaimSyncSchedule implements store.SyncStore with one UPDATE … FOR UPDATE SKIP LOCKED.
func (s *Store) ClaimSyncSchedule(ctx context.Context, p store.ClaimSyncParams) (*store.SyncSchedule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := store.Timestamp(s.now())
	v, err := scanSync(s.pool.QueryRow(ctx, s.inSchema(sqlClaimSync), p.Owner, store.Timestamp(now.Add(p.Lease)), now))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: claim sync schedule: %w", err))
	}
	return v, nil
}

// SaveSyncProgress implements store.SyncStore, fenced by the owner.
func (s *Store) SaveSyncProgress(ctx context.Context, p store.SyncProgress) (*store.SyncSchedule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := store.Timestamp(s.now())
	id := canonical(p.ServiceID)
	var row pgx.Row
	switch {
	case p.Done:
		row = s.pool.QueryRow(ctx, s.inSchema(sqlSyncDone), id, p.Owner, now, p.Records)
	case p.Error != "":
		row = s.pool.QueryRow(ctx, s.inSchema(sqlSyncFailed), id, p.Owner, now, p.Records, p.Cursor, p.Error, store.Timestamp(p.RetryAt))
	default:
		row = s.pool.QueryRow(ctx, s.inSchema(sqlSyncPage), id, p.Owner, now, p.Records, p.Cursor, store.Timestamp(now.Add(p.Lease)))
	}
	v, err := scanSync(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: postgres: sync schedule of service %s is not leased to %q", store.ErrLeaseLost, id, p.Owner)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: save sync progress: %w", err))
	}
	return v, nil
}

var _ store.SyncStore = (*Store)(nil)
