package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ehg/hub/store"
)

const (
	// sqlClaim takes up to $5 due events in claim order, skipping rows other claimers hold.
	sqlClaim = `UPDATE {s}.integration_events e
	SET status = 'processing', lease_owner = $1, lease_until = $2, updated_at = $3
	WHERE e.id IN (
		SELECT id FROM {s}.integration_events
		WHERE status IN ('pending', 'retrying') AND next_attempt_at <= $3
			AND (expires_at IS NULL OR expires_at > $3)
			AND service_id <> ALL($4::uuid[])
		ORDER BY chairman_override DESC, priority_rank DESC, created_at, id
		LIMIT $5
		FOR UPDATE SKIP LOCKED)
	RETURNING ` + eventColsE
	// sqlClaimRegions is sqlClaim restricted to the services of the regions $6, read in the
	// same statement, so an event is never claimed by a hub of another region.
	sqlClaimRegions = `UPDATE {s}.integration_events e
	SET status = 'processing', lease_owner = $1, lease_until = $2, updated_at = $3
	WHERE e.id IN (
		SELECT id FROM {s}.integration_events
		WHERE status IN ('pending', 'retrying') AND next_attempt_at <= $3
			AND (expires_at IS NULL OR expires_at > $3)
			AND service_id <> ALL($4::uuid[])
			AND service_id IN (SELECT id FROM {s}.integration_services WHERE data_region = ANY($6::text[]))
		ORDER BY chairman_override DESC, priority_rank DESC, created_at, id
		LIMIT $5
		FOR UPDATE SKIP LOCKED)
	RETURNING ` + eventColsE
	sqlComplete = `UPDATE {s}.integration_events e
	SET status = 'succeeded', response_code = u.response_code,
		response_time_ms = u.response_time_ms, payload_out = u.payload_out, completed_at = $6,
		updated_at = $6, lease_owner = NULL, lease_until = NULL,
		request_method = coalesce(nullif(u.method, ''), e.request_method),
		endpoint_url = coalesce(nullif(u.endpoint, ''), e.endpoint_url)
	FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::bigint[], $5::text[], $7::text[], $8::text[])
		AS u(id, owner, response_code, response_time_ms, payload_out, method, endpoint)
	WHERE e.id = u.id AND e.status = 'processing' AND e.lease_owner = u.owner
	RETURNING e.id`
	// sqlCompleteMasked is sqlComplete that also replaces payload_in and canonical_mapping
	// with their masked forms where given (coalesce keeps the others).
	sqlCompleteMasked = `UPDATE {s}.integration_events e
	SET status = 'succeeded', response_code = u.response_code,
		response_time_ms = u.response_time_ms, payload_out = u.payload_out, completed_at = $6,
		updated_at = $6, lease_owner = NULL, lease_until = NULL,
		payload_in = coalesce(u.payload_in, e.payload_in),
		canonical_mapping = coalesce(u.canonical_mapping, e.canonical_mapping),
		request_method = coalesce(nullif(u.method, ''), e.request_method),
		endpoint_url = coalesce(nullif(u.endpoint, ''), e.endpoint_url)
	FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::bigint[], $5::text[], $7::text[], $8::text[],
		$9::text[], $10::text[])
		AS u(id, owner, response_code, response_time_ms, payload_out, payload_in, canonical_mapping,
			method, endpoint)
	WHERE e.id = u.id AND e.status = 'processing' AND e.lease_owner = u.owner
	RETURNING e.id`
	sqlFail = `UPDATE {s}.integration_events e
	SET status = u.status,
		next_attempt_at = CASE WHEN u.status = 'retrying' THEN u.next_attempt_at ELSE e.next_attempt_at END,
		retry_count = e.retry_count + CASE WHEN u.keep_retry_count THEN 0 ELSE 1 END,
		response_code = u.response_code, response_time_ms = u.response_time_ms,
		payload_out = u.payload_out, error_details = u.error_details,
		completed_at = CASE WHEN u.status = 'retrying' THEN NULL ELSE $10::timestamptz END,
		updated_at = $10, lease_owner = NULL, lease_until = NULL,
		request_method = coalesce(nullif(u.method, ''), e.request_method),
		endpoint_url = coalesce(nullif(u.endpoint, ''), e.endpoint_url)
	FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::boolean[],
		$6::integer[], $7::bigint[], $8::text[], $9::jsonb[], $11::text[], $12::text[])
		AS u(id, owner, status, next_attempt_at, keep_retry_count, response_code,
			response_time_ms, payload_out, error_details, method, endpoint)
	WHERE e.id = u.id AND e.status = 'processing' AND e.lease_owner = u.owner
	RETURNING e.id`
	sqlExtend = `UPDATE {s}.integration_events SET lease_until = $3
	WHERE id = ANY($1::uuid[]) AND status = 'processing' AND lease_owner = $2
	RETURNING id`
	// sqlRelease hands expired leases back to the queue. It locks the rows it releases with
	// SKIP LOCKED, like the claim: a row another transaction holds (its owner completing,
	// failing or extending it, which lock in id order, or another hub's rescuer) is left
	// to that transaction or to the next rescue, so the rescuer never waits for anyone and
	// never deadlocks with them.
	sqlRelease = `UPDATE {s}.integration_events e
	SET status = CASE WHEN e.retry_count = 0 THEN 'pending' ELSE 'retrying' END,
		next_attempt_at = $1, updated_at = $1, lease_owner = NULL, lease_until = NULL
	WHERE e.id IN (
		SELECT id FROM {s}.integration_events
		WHERE status = 'processing' AND lease_until <= $1
		FOR UPDATE SKIP LOCKED)`
	// sqlExpire expires the queued events past their expiry, SKIP LOCKED like the rescuer:
	// an event a claim, a cancellation or an erasure holds at that moment is theirs, and a
	// later sweep expires it if it is still queued, so the sweep never waits or deadlocks.
	sqlExpire = `UPDATE {s}.integration_events SET status = 'expired', completed_at = $1, updated_at = $1
	WHERE id IN (
		SELECT id FROM {s}.integration_events
		WHERE status IN ('pending', 'retrying') AND expires_at <= $1
		FOR UPDATE SKIP LOCKED)`
)

// ClaimEvents implements [store.QueueStore] with one UPDATE over a SELECT … FOR UPDATE
// SKIP LOCKED: concurrent claimers never wait for each other and never share an event.
func (s *Store) ClaimEvents(ctx context.Context, p store.ClaimParams) ([]*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.claim(ctx, p, nil)
}

// ClaimEventsInRegions implements [store.RegionClaimer]: the claim of ClaimEvents with the
// services' regions checked in the same statement.
func (s *Store) ClaimEventsInRegions(ctx context.Context, p store.RegionClaimParams) ([]*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: claim events: %w", err)
	}
	return s.claim(ctx, p.ClaimParams, p.Regions)
}

// claim runs the claim, restricted to regions when they are not nil.
func (s *Store) claim(ctx context.Context, p store.ClaimParams, regions []string) ([]*store.Event, error) {
	switch {
	case p.Owner == "":
		return nil, fmt.Errorf("%w: claim: owner is empty", store.ErrInvalidArgument)
	case p.Limit <= 0:
		return nil, fmt.Errorf("%w: claim: limit %d is not positive", store.ErrInvalidArgument, p.Limit)
	case p.Lease <= 0:
		return nil, fmt.Errorf("%w: claim: lease %v is not positive", store.ErrInvalidArgument, p.Lease)
	}
	exclude := p.ExcludeServiceIDs
	if exclude == nil {
		exclude = []string{}
	}
	if err := checkIDs("excluded service", exclude); err != nil {
		return nil, err
	}
	now := s.now()
	until := store.Timestamp(now.Add(p.Lease))
	query, args := s.q.claim, []any{p.Owner, until, now, exclude, p.Limit}
	if regions != nil {
		query, args = s.q.claimRegions, append(args, regions)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: claim events: %w", err))
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: claim events: %w", err))
	}
	// RETURNING keeps no order; restore the claim order.
	slices.SortFunc(out, claimOrder)
	return out, nil
}

// claimOrder orders events as claims take them: chairman overrides, then higher priority,
// then older, then lower id (UUID text order equals PostgreSQL's uuid order).
func claimOrder(a, b *store.Event) int {
	if a.ChairmanOverride != b.ChairmanOverride {
		if a.ChairmanOverride {
			return -1
		}
		return 1
	}
	if ra, rb := a.PriorityLevel.Rank(), b.PriorityLevel.Rank(); ra != rb {
		return rb - ra
	}
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// fence checks a batch of (id, owner) pairs and returns the canonical form of each id, the
// indexes to send, in id order (so concurrent batches lock rows in one order), and the
// indexes repeating an id seen earlier in the batch: those are reported lost, as if the
// batch applied in sequence.
func fence(ids, owners []string) (canon []string, send []int, dup map[int]bool, err error) {
	canon = make([]string, len(ids))
	seen := make(map[string]bool, len(ids))
	for i, raw := range ids {
		u, err := uuid.Parse(raw)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w: event id %q is not a UUID", store.ErrInvalidArgument, raw)
		}
		if owners[i] == "" {
			return nil, nil, nil, fmt.Errorf("%w: event %s: owner is empty", store.ErrInvalidArgument, raw)
		}
		canon[i] = u.String()
		if seen[canon[i]] {
			if dup == nil {
				dup = map[int]bool{}
			}
			dup[i] = true
			continue
		}
		seen[canon[i]] = true
		send = append(send, i)
	}
	slices.SortFunc(send, func(a, b int) int { return strings.Compare(canon[a], canon[b]) })
	return canon, send, dup, nil
}

// lostIDs returns, in input order and as given, the ids the update did not change.
func lostIDs(raw, canon []string, changed map[string]bool, dup map[int]bool) []string {
	var lost []string
	for i := range raw {
		if dup[i] || !changed[canon[i]] {
			lost = append(lost, raw[i])
		}
	}
	return lost
}

// CompleteEvents implements [store.QueueStore] with one UPDATE … FROM unnest, fenced by
// the lease owner.
func (s *Store) CompleteEvents(ctx context.Context, ps []store.CompleteParams) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, nil
	}
	raw, owners := make([]string, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		raw[i], owners[i] = p.ID, p.Owner
	}
	canon, send, dup, err := fence(raw, owners)
	if err != nil {
		return nil, fmt.Errorf("postgres: complete events: %w", err)
	}
	var (
		ids, sendOwners []string
		codes           []int32
		times           []int64
		outs            []json.RawMessage
		maskedIn        []json.RawMessage
		maskedCanon     []json.RawMessage
		masked          bool
		methods, urls   []string
	)
	for _, i := range send {
		p := ps[i]
		if err := checkJSON("payload_out of event "+p.ID, p.PayloadOut); err != nil {
			return nil, err
		}
		if err := checkJSON("masked payload_in of event "+p.ID, p.MaskedPayloadIn); err != nil {
			return nil, err
		}
		if err := checkJSON("masked canonical_mapping of event "+p.ID, p.MaskedCanonical); err != nil {
			return nil, err
		}
		masked = masked || len(p.MaskedPayloadIn) > 0 || len(p.MaskedCanonical) > 0
		maskedIn = append(maskedIn, jsonBytes(p.MaskedPayloadIn))
		maskedCanon = append(maskedCanon, jsonBytes(p.MaskedCanonical))
		if err := p.Call.Validate(); err != nil {
			return nil, fmt.Errorf("postgres: complete event %s: %w", p.ID, err)
		}
		methods = append(methods, string(p.Call.Method))
		urls = append(urls, p.Call.EndpointURL)
		ids = append(ids, canon[i])
		sendOwners = append(sendOwners, p.Owner)
		codes = append(codes, int32(p.ResponseCode)) //nolint:gosec // HTTP codes fit
		times = append(times, p.ResponseTimeMS)
		outs = append(outs, jsonBytes(p.PayloadOut))
	}
	var changed map[string]bool
	if masked {
		changed, err = s.fencedUpdate(ctx, "complete events", s.q.completeMasked, ids, sendOwners, codes, times, outs,
			s.now(), maskedIn, maskedCanon, methods, urls)
	} else {
		changed, err = s.fencedUpdate(ctx, "complete events", s.q.complete, ids, sendOwners, codes, times, outs, s.now(), methods, urls)
	}
	if err != nil {
		return nil, err
	}
	return lostIDs(raw, canon, changed, dup), nil
}

// FailEvents implements [store.QueueStore] with one UPDATE … FROM unnest, fenced by the
// lease owner.
func (s *Store) FailEvents(ctx context.Context, ps []store.FailParams) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, nil
	}
	raw, owners := make([]string, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		raw[i], owners[i] = p.ID, p.Owner
	}
	canon, send, dup, err := fence(raw, owners)
	if err != nil {
		return nil, fmt.Errorf("postgres: fail events: %w", err)
	}
	var (
		ids, sendOwners, statuses []string
		next                      []pgtype.Timestamptz
		keep                      []bool
		codes                     []int32
		times                     []int64
		outs, details             []json.RawMessage
		methods, urls             []string
	)
	for _, i := range send {
		p := ps[i]
		switch p.Status {
		case store.StatusRetrying:
			if p.NextAttemptAt.IsZero() {
				return nil, fmt.Errorf("%w: fail event %s: retrying needs next_attempt_at", store.ErrInvalidArgument, p.ID)
			}
		case store.StatusFailed, store.StatusDead, store.StatusExpired:
		default:
			return nil, fmt.Errorf("%w: fail event %s: status %q is not retrying, failed, dead or expired",
				store.ErrInvalidArgument, p.ID, p.Status)
		}
		if err := checkJSON("payload_out of event "+p.ID, p.PayloadOut); err != nil {
			return nil, err
		}
		if err := checkJSON("error_details of event "+p.ID, p.ErrorDetails); err != nil {
			return nil, err
		}
		if err := p.Call.Validate(); err != nil {
			return nil, fmt.Errorf("postgres: fail event %s: %w", p.ID, err)
		}
		methods = append(methods, string(p.Call.Method))
		urls = append(urls, p.Call.EndpointURL)
		na := pgtype.Timestamptz{}
		if !p.NextAttemptAt.IsZero() {
			na = pgtype.Timestamptz{Time: store.Timestamp(p.NextAttemptAt), Valid: true}
		}
		ids = append(ids, canon[i])
		sendOwners = append(sendOwners, p.Owner)
		statuses = append(statuses, string(p.Status))
		next = append(next, na)
		keep = append(keep, p.KeepRetryCount)
		codes = append(codes, int32(p.ResponseCode)) //nolint:gosec // HTTP codes fit
		times = append(times, p.ResponseTimeMS)
		outs = append(outs, jsonBytes(p.PayloadOut))
		details = append(details, jsonBytes(p.ErrorDetails))
	}
	now := s.now()
	changed, err := s.fencedUpdate(ctx, "fail events", s.q.fail, ids, sendOwners, statuses, next, keep,
		codes, times, outs, details, now, methods, urls)
	if err != nil {
		return nil, err
	}
	// A retry due already (a zero wait) is claimable at once: tell the listeners.
	for i, id := range ids {
		if changed[id] && statuses[i] == string(store.StatusRetrying) && !next[i].Time.After(now) {
			s.wake()
			break
		}
	}
	return lostIDs(raw, canon, changed, dup), nil
}

// fencedUpdate runs an UPDATE … RETURNING id and returns the set of ids it changed.
func (s *Store) fencedUpdate(ctx context.Context, op, sql string, args ...any) (map[string]bool, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: %s: %w", op, err))
	}
	defer rows.Close()
	changed := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapError(fmt.Errorf("postgres: %s: %w", op, err))
		}
		changed[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(fmt.Errorf("postgres: %s: %w", op, err))
	}
	return changed, nil
}

// ExtendLease implements [store.QueueStore].
func (s *Store) ExtendLease(ctx context.Context, owner string, ids []string, lease time.Duration) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	switch {
	case owner == "":
		return nil, fmt.Errorf("%w: extend lease: owner is empty", store.ErrInvalidArgument)
	case lease <= 0:
		return nil, fmt.Errorf("%w: extend lease: lease %v is not positive", store.ErrInvalidArgument, lease)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	owners := make([]string, len(ids))
	for i := range owners {
		owners[i] = owner
	}
	canon, _, _, err := fence(ids, owners)
	if err != nil {
		return nil, fmt.Errorf("postgres: extend lease: %w", err)
	}
	now := s.now()
	changed, err := s.fencedUpdate(ctx, "extend lease", s.q.extend, canon, owner, store.Timestamp(now.Add(lease)))
	if err != nil {
		return nil, err
	}
	var lost []string
	for i, id := range ids {
		if !changed[canon[i]] {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// ReleaseExpiredLeases implements [store.QueueStore] and notifies listeners when it
// released anything. Expired leases on rows another transaction holds at that moment are
// skipped (the holder may be completing them) and released by a later call.
func (s *Store) ReleaseExpiredLeases(ctx context.Context) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, s.q.release, s.now())
	if err != nil {
		return 0, mapError(fmt.Errorf("postgres: release expired leases: %w", err))
	}
	if tag.RowsAffected() > 0 {
		s.wake()
	}
	return int(tag.RowsAffected()), nil
}

// ExpireEvents implements [store.QueueStore].
func (s *Store) ExpireEvents(ctx context.Context) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, s.q.expire, s.now())
	if err != nil {
		return 0, mapError(fmt.Errorf("postgres: expire events: %w", err))
	}
	return int(tag.RowsAffected()), nil
}
