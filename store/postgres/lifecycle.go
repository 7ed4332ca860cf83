package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ehg/hub/store"
)

// This file holds the optional capabilities of the data lifecycle: retention deletes, the
// subject index and erasure, subject requests, bulk cancellation and purging dead rows.

const (
	// sqlDeleteEvents, sqlDeleteMetrics and sqlDeleteAnalytics are completed by a WHERE
	// clause, an ORDER BY and a LIMIT; the inner SELECT locks its rows SKIP LOCKED, so
	// concurrent deleters share a backlog without waiting or double counting.
	sqlDeleteEvents    = `DELETE FROM {s}.integration_events WHERE id IN (SELECT id FROM {s}.integration_events`
	sqlDeleteMetrics   = `DELETE FROM {s}.integration_health_metrics WHERE id IN (SELECT id FROM {s}.integration_health_metrics`
	sqlDeleteAnalytics = `DELETE FROM {s}.integration_analytics WHERE id IN (SELECT id FROM {s}.integration_analytics`

	sqlSubjectEvents = `SELECT ` + eventCols + ` FROM {s}.integration_events
	WHERE subject_key = $1 AND id > $2 ORDER BY id LIMIT $3`
	// sqlErase replaces the documents of a batch of events and drops their subject key,
	// fenced by updated_at and never on an event in flight; queued events are cancelled.
	sqlErase = `UPDATE {s}.integration_events e
	SET payload_in = u.payload_in, payload_out = u.payload_out,
		canonical_mapping = u.canonical_mapping, error_details = u.error_details,
		subject_key = NULL,
		status = CASE WHEN e.status IN ('pending', 'retrying') THEN 'cancelled' ELSE e.status END,
		updated_at = CASE WHEN e.status IN ('pending', 'retrying') THEN $7 ELSE e.updated_at END
	FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
		AS u(id, updated_at, payload_in, payload_out, canonical_mapping, error_details)
	WHERE e.id = u.id AND e.updated_at = u.updated_at AND e.status <> 'processing'
	RETURNING e.id`
	sqlCancelEvents = `UPDATE {s}.integration_events SET status = 'cancelled', updated_at = $3
	WHERE id IN (SELECT id FROM {s}.integration_events
		WHERE service_id = $1 AND status IN ('pending', 'retrying')
		LIMIT $2 FOR UPDATE SKIP LOCKED)`

	subjectRequestCols = `id, kind, subject_key, status, actor, records, error, requested_at,
	updated_at, completed_at, owner, lease_until`
	sqlInsertRequest = `INSERT INTO {s}.subject_requests (` + subjectRequestCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ` + subjectRequestCols
	sqlGetRequest   = `SELECT ` + subjectRequestCols + ` FROM {s}.subject_requests WHERE id = $1`
	sqlRequestOwner = `SELECT owner FROM {s}.subject_requests WHERE id = $1`
	// sqlCountRequest adds an erasure batch's count to its request and renews the lease.
	sqlCountRequest = `UPDATE {s}.subject_requests
	SET records = records + $2, lease_until = $3, updated_at = $4 WHERE id = $1`
	// sqlUpdateRequest is fenced by the owner: $8 must hold the lease.
	sqlUpdateRequest = `UPDATE {s}.subject_requests
	SET status = $2, subject_key = $3, records = $4, error = $5, completed_at = $6,
		lease_until = $7, updated_at = $9
	WHERE id = $1 AND owner IS NOT DISTINCT FROM $8
	RETURNING ` + subjectRequestCols
	sqlClaimRequest = `UPDATE {s}.subject_requests SET owner = $1, lease_until = $2, updated_at = $3
	WHERE id = (SELECT id FROM {s}.subject_requests
		WHERE status = 'running' AND kind = 'erasure' AND (lease_until IS NULL OR lease_until <= $3)
		ORDER BY requested_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING ` + subjectRequestCols
	sqlListRequests = `SELECT ` + subjectRequestCols + ` FROM {s}.subject_requests`
)

// scope adds the service scope of retention parameters to w, after validating them.
func scope(w *where, p store.DeleteParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.ServiceID != "" {
		w.add("service_id = " + w.arg(p.ServiceID) + "::uuid")
	}
	if len(p.ExcludeServiceIDs) > 0 {
		w.add("service_id <> ALL(" + w.arg(p.ExcludeServiceIDs) + "::uuid[])")
	}
	return nil
}

// deleteBatch runs one retention DELETE: prefix (a sqlDelete… text) completed by w, order
// and the limit.
func (s *Store) deleteBatch(ctx context.Context, op, prefix string, w *where, order string, limit int) (int, error) {
	q := prefix + w.sql() + " ORDER BY " + order + " LIMIT " + w.arg(limit) + " FOR UPDATE SKIP LOCKED)"
	tag, err := s.pool.Exec(ctx, q, w.args...)
	if err != nil {
		return 0, mapError(fmt.Errorf("postgres: %s: %w", op, err))
	}
	return int(tag.RowsAffected()), nil
}

// DeleteEvents implements [store.RetentionStore] through integration_events_retention_idx.
// The statuses are written into the statement as literals (they are validated enumeration
// values), so the planner can prove the index's predicate in a generic plan too.
func (s *Store) DeleteEvents(ctx context.Context, p store.DeleteEventsParams) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, fmt.Errorf("postgres: delete events: %w", err)
	}
	lits := make([]string, len(p.Statuses))
	for i, st := range p.Statuses {
		lits[i] = "'" + string(st) + "'" // a validated terminal status: no quoting needed
	}
	var w where
	w.add("status IN (" + strings.Join(lits, ", ") + ")")
	w.add("updated_at < " + w.arg(store.Timestamp(p.Before)))
	if err := scope(&w, p.DeleteParams); err != nil {
		return 0, err
	}
	return s.deleteBatch(ctx, "delete events", s.q.deleteEvents, &w, "updated_at, id", p.Limit)
}

// DeleteHealthMetrics implements [store.RetentionStore].
func (s *Store) DeleteHealthMetrics(ctx context.Context, p store.DeleteParams) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var w where
	if err := scope(&w, p); err != nil {
		return 0, fmt.Errorf("postgres: delete health metrics: %w", err)
	}
	w.add("recorded_at < " + w.arg(store.Timestamp(p.Before)))
	return s.deleteBatch(ctx, "delete health metrics", s.q.deleteMetrics, &w, "recorded_at, id", p.Limit)
}

// DeleteAnalytics implements [store.RetentionStore].
func (s *Store) DeleteAnalytics(ctx context.Context, p store.DeleteParams) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var w where
	if err := scope(&w, p); err != nil {
		return 0, fmt.Errorf("postgres: delete analytics: %w", err)
	}
	w.add("period_start < " + w.arg(store.Timestamp(p.Before)))
	return s.deleteBatch(ctx, "delete analytics", s.q.deleteAnalytics, &w, "period_start, id", p.Limit)
}

// nilUUID sorts before every other UUID: the cursor of a first page.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// ListSubjectEvents implements [store.SubjectStore] through integration_events_subject_idx.
func (s *Store) ListSubjectEvents(ctx context.Context, p store.SubjectEventsParams) ([]*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: list subject events: %w", err)
	}
	page, err := normPage("subject events", store.Page{Limit: p.Limit})
	if err != nil {
		return nil, err
	}
	after := p.AfterID
	if after == "" {
		after = nilUUID
	}
	rows, err := s.pool.Query(ctx, s.q.subjectEvents, p.SubjectKey, after, page.Limit)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list subject events: %w", err))
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list subject events: %w", err))
	}
	return out, nil
}

// EraseEvents implements [store.SubjectStore] with one UPDATE … FROM unnest, in a
// transaction that, for a batch of a request, first locks the request's row (checking its
// owner) and last adds the count to it. An id given twice is erased once. The old row
// versions stay in the table's files as dead tuples until VACUUM (see Purge).
func (s *Store) EraseEvents(ctx context.Context, b store.EraseBatch) (skipped []string, err error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: erase events: %w", err)
	}
	ps := b.Events
	var (
		ids                     []string
		fences                  []time.Time
		ins, outs, maps, errDet []json.RawMessage
	)
	seen := map[string]bool{}
	canon := make([]string, len(ps))
	for i := range ps {
		p := &ps[i]
		canon[i] = canonical(p.ID)
		if seen[canon[i]] {
			continue
		}
		seen[canon[i]] = true
		ids = append(ids, canon[i])
		fences = append(fences, store.Timestamp(p.UpdatedAt))
		ins = append(ins, jsonBytes(p.PayloadIn))
		outs = append(outs, jsonBytes(p.PayloadOut))
		maps = append(maps, jsonBytes(p.CanonicalMapping))
		errDet = append(errDet, jsonBytes(p.ErrorDetails))
	}
	if len(ids) == 0 && b.RequestID == "" {
		return nil, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: erase events: %w", err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if b.RequestID != "" {
		var owner pgtype.Text
		if err = tx.QueryRow(ctx, s.q.requestOwner+" FOR UPDATE", b.RequestID).Scan(&owner); err != nil {
			return nil, mapError(fmt.Errorf("postgres: erase events: subject request %s: %w", b.RequestID, err))
		}
		if strOut(owner) != b.Owner {
			err = fmt.Errorf("%w: postgres: subject request %s is held by another owner", store.ErrLeaseLost, b.RequestID)
			return nil, err
		}
	}
	changed := map[string]bool{}
	if len(ids) > 0 {
		rows, qerr := tx.Query(ctx, s.q.erase, ids, fences, ins, outs, maps, errDet, s.now())
		if qerr != nil {
			err = mapError(fmt.Errorf("postgres: erase events: %w", qerr))
			return nil, err
		}
		var got []string
		if got, err = collect(rows, scanID); err != nil {
			err = mapError(fmt.Errorf("postgres: erase events: %w", err))
			return nil, err
		}
		for _, id := range got {
			changed[id] = true
		}
	}
	var left []string
	for _, id := range ids {
		if !changed[id] {
			left = append(left, id)
		}
	}
	present := map[string]bool{}
	if len(left) > 0 {
		rows, qerr := tx.Query(ctx, "SELECT id FROM "+pgx.Identifier{s.opts.Schema}.Sanitize()+
			".integration_events WHERE id = ANY($1::uuid[])", left)
		if qerr != nil {
			err = mapError(fmt.Errorf("postgres: erase events: %w", qerr))
			return nil, err
		}
		var exists []string
		if exists, err = collect(rows, scanID); err != nil {
			err = mapError(fmt.Errorf("postgres: erase events: %w", err))
			return nil, err
		}
		for _, id := range exists {
			present[id] = true
		}
	}
	if b.RequestID != "" {
		if _, err = tx.Exec(ctx, s.q.countRequest, b.RequestID, len(changed), store.Timestamp(b.LeaseUntil), s.now()); err != nil {
			err = mapError(fmt.Errorf("postgres: erase events: subject request %s: %w", b.RequestID, err))
			return nil, err
		}
	}
	if err = tx.Commit(ctx); err != nil {
		err = mapError(fmt.Errorf("postgres: erase events: commit: %w", err))
		return nil, err
	}
	reported := map[string]bool{}
	for i, p := range ps {
		if present[canon[i]] && !reported[canon[i]] {
			reported[canon[i]] = true
			skipped = append(skipped, p.ID)
		}
	}
	return skipped, nil
}

// scanID reads a single id column.
func scanID(r pgx.Row) (string, error) {
	var id string
	return id, r.Scan(&id)
}

// Purge implements [store.Purger] with a plain VACUUM of the events table (and its TOAST
// table): the dead row versions an erasure or retention left behind are removed from the
// table and its indexes, and their space is marked for reuse. VACUUM does not lock out
// readers or writers. What it cannot do is overwrite the bytes: they stay in the files'
// free space until new rows reuse it, and in the write-ahead log and its archives until
// those are recycled; VACUUM FULL (which rewrites the table under an exclusive lock) or
// pg_repack rebuild the files when that matters. A dump (pg_dump) shows only live rows.
// The database role needs to own the table.
func (s *Store) Purge(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, "VACUUM "+pgx.Identifier{s.opts.Schema}.Sanitize()+".integration_events"); err != nil {
		return mapError(fmt.Errorf("postgres: purge: %w", err))
	}
	return nil
}

// CancelEvents implements [store.EventCanceller], skipping rows other transactions hold.
func (s *Store) CancelEvents(ctx context.Context, p store.CancelEventsParams) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, fmt.Errorf("postgres: cancel events: %w", err)
	}
	tag, err := s.pool.Exec(ctx, s.q.cancelEvents, p.ServiceID, p.Limit, s.now())
	if err != nil {
		return 0, mapError(fmt.Errorf("postgres: cancel events of service %s: %w", p.ServiceID, err))
	}
	return int(tag.RowsAffected()), nil
}

func scanSubjectRequest(row pgx.Row) (*store.SubjectRequest, error) {
	var (
		r                   store.SubjectRequest
		kind, status        string
		key, owner          pgtype.Text
		completed, leaseEnd pgtype.Timestamptz
	)
	if err := row.Scan(&r.ID, &kind, &key, &status, &r.Actor, &r.Records, &r.Error, &r.RequestedAt,
		&r.UpdatedAt, &completed, &owner, &leaseEnd); err != nil {
		return nil, err
	}
	r.Kind, r.Status = store.SubjectRequestKind(kind), store.SubjectRequestStatus(status)
	r.SubjectKey, r.Owner = strOut(key), strOut(owner)
	r.RequestedAt, r.UpdatedAt = r.RequestedAt.UTC(), r.UpdatedAt.UTC()
	r.CompletedAt, r.LeaseUntil = timeOut(completed), timeOut(leaseEnd)
	return &r, nil
}

// CreateSubjectRequest implements [store.SubjectStore].
func (s *Store) CreateSubjectRequest(ctx context.Context, in *store.SubjectRequest) (*store.SubjectRequest, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: nil subject request", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: create subject request: %w", err)
	}
	id := in.ID
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return nil, err
		}
	}
	now := s.now()
	requested := now
	if !in.RequestedAt.IsZero() {
		requested = store.Timestamp(in.RequestedAt)
	}
	out, err := scanSubjectRequest(s.pool.QueryRow(ctx, s.q.insertRequest, id, string(in.Kind), textArg(in.SubjectKey),
		string(in.Status), in.Actor, in.Records, in.Error, requested, now, timeArg(in.CompletedAt),
		textArg(in.Owner), timeArg(in.LeaseUntil)))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: create subject request: %w", err))
	}
	return out, nil
}

// GetSubjectRequest implements [store.SubjectStore].
func (s *Store) GetSubjectRequest(ctx context.Context, id string) (*store.SubjectRequest, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("subject request", id); err != nil {
		return nil, err
	}
	r, err := scanSubjectRequest(s.pool.QueryRow(ctx, s.q.getRequest, id))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get subject request %s: %w", id, err))
	}
	return r, nil
}

// UpdateSubjectRequest implements [store.SubjectStore] with one UPDATE fenced by the owner.
func (s *Store) UpdateSubjectRequest(ctx context.Context, in *store.SubjectRequest) (*store.SubjectRequest, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: nil subject request", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: update subject request: %w", err)
	}
	if err := checkID("subject request", in.ID); err != nil {
		return nil, err
	}
	r, err := scanSubjectRequest(s.pool.QueryRow(ctx, s.q.updateRequest, in.ID, string(in.Status), textArg(in.SubjectKey),
		in.Records, in.Error, timeArg(in.CompletedAt), timeArg(in.LeaseUntil), textArg(in.Owner), s.now()))
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, mapError(fmt.Errorf("postgres: update subject request %s: %w", in.ID, err))
	}
	var owner pgtype.Text
	if err := s.pool.QueryRow(ctx, s.q.requestOwner, in.ID).Scan(&owner); err != nil {
		return nil, mapError(fmt.Errorf("postgres: update subject request %s: %w", in.ID, err))
	}
	return nil, fmt.Errorf("%w: postgres: subject request %s is held by another owner", store.ErrLeaseLost, in.ID)
}

// ClaimSubjectRequest implements [store.SubjectStore], skipping a request another claimer
// is taking at the same moment.
func (s *Store) ClaimSubjectRequest(ctx context.Context, owner string, lease time.Duration) (*store.SubjectRequest, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if owner == "" || lease <= 0 {
		return nil, fmt.Errorf("%w: claim subject request: owner %q and lease %v must be set", store.ErrInvalidArgument, owner, lease)
	}
	now := s.now()
	r, err := scanSubjectRequest(s.pool.QueryRow(ctx, s.q.claimRequest, owner, store.Timestamp(now.Add(lease)), now))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: claim subject request: %w", err))
	}
	return r, nil
}

// ListSubjectRequests implements [store.SubjectStore].
func (s *Store) ListSubjectRequests(ctx context.Context, f store.SubjectRequestFilter) ([]*store.SubjectRequest, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("subject requests", f.Page)
	if err != nil {
		return nil, err
	}
	var w where
	if f.Kind != "" {
		if !f.Kind.Valid() {
			return nil, fmt.Errorf("%w: unknown subject request kind %q", store.ErrInvalidArgument, f.Kind)
		}
		w.add("kind = " + w.arg(string(f.Kind)))
	}
	if f.Status != "" {
		if !f.Status.Valid() {
			return nil, fmt.Errorf("%w: unknown subject request status %q", store.ErrInvalidArgument, f.Status)
		}
		w.add("status = " + w.arg(string(f.Status)))
	}
	if !f.From.IsZero() {
		w.add("requested_at >= " + w.arg(store.Timestamp(f.From)))
	}
	if !f.To.IsZero() {
		w.add("requested_at < " + w.arg(store.Timestamp(f.To)))
	}
	rows, err := s.pool.Query(ctx, s.q.listRequests+w.sql()+" ORDER BY requested_at, id"+w.page(page), w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list subject requests: %w", err))
	}
	out, err := collect(rows, scanSubjectRequest)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list subject requests: %w", err))
	}
	return out, nil
}

// Interface guards.
var (
	_ store.RetentionStore = (*Store)(nil)
	_ store.SubjectStore   = (*Store)(nil)
	_ store.RegionClaimer  = (*Store)(nil)
	_ store.EventCanceller = (*Store)(nil)
	_ store.Purger         = (*Store)(nil)
)
