package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/store"
)

// The claim takes the due events in claim order through integration_events_due_idx (a
// partial index over pending and retrying rows in exactly this order) and marks them in the
// same statement. The write transaction is IMMEDIATE, so claimers of every process are
// serialised by SQLite's write lock and never see the same due event. Rows are selected by
// rowid (the due index carries it), which reaches each row directly rather than through
// the index of the random event IDs, and the documents are read afterwards in one
// statement (readDocuments) rather than by three lookups per row.
const claimSQL = `UPDATE integration_events
	SET status = 'processing', lease_owner = ?1, lease_until = ?2, updated_at = ?3
	WHERE rowid IN (
		SELECT rowid FROM integration_events
		WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ?3
			AND (expires_at IS NULL OR expires_at > ?3)%s
		ORDER BY chairman_override DESC, priority_rank DESC, created_at, id
		LIMIT ?4)
	RETURNING ` + eventStateCols

var (
	claimAllSQL     = fmt.Sprintf(claimSQL, "")
	claimExcludeSQL = fmt.Sprintf(claimSQL, "\n\t\t\tAND service_id NOT IN (SELECT value FROM json_each(?5))")
	// claimRegionsSQL reads the services' regions in the claiming statement, so a service
	// created or moved a moment ago is claimed by its own region only. ?5 is the exclusion
	// list ("[]" for none), ?6 the regions. The unary + keeps the planner from driving the
	// claim by service (which would visit every event of the region and sort them): the due
	// index gives the order, the region is a filter.
	claimRegionsSQL = fmt.Sprintf(claimSQL, "\n\t\t\tAND service_id NOT IN (SELECT value FROM json_each(?5))"+
		"\n\t\t\tAND +service_id IN (SELECT id FROM integration_services"+
		" WHERE data_region IN (SELECT value FROM json_each(?6)))")
)

// ClaimEvents implements store.QueueStore with one UPDATE … RETURNING in an IMMEDIATE
// transaction.
func (s *Store) ClaimEvents(ctx context.Context, p store.ClaimParams) ([]*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return s.claim(ctx, p, nil)
}

// ClaimEventsInRegions implements store.RegionClaimer: ClaimEvents restricted, in the same
// statement, to the services of the regions.
func (s *Store) ClaimEventsInRegions(ctx context.Context, p store.RegionClaimParams) ([]*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return s.claim(ctx, p.ClaimParams, p.Regions)
}

// claim runs the claim; regions, when not nil, restricts it to those regions.
func (s *Store) claim(ctx context.Context, p store.ClaimParams, regions []string) ([]*store.Event, error) {
	switch {
	case p.Owner == "":
		return nil, invalidf("claim owner is empty")
	case p.Limit <= 0:
		return nil, invalidf("claim limit %d is not positive", p.Limit)
	case p.Lease <= 0:
		return nil, invalidf("claim lease %s is not positive", p.Lease)
	}
	now := s.nowTS()
	args := []any{p.Owner, micros(now.Add(p.Lease)), micros(now), p.Limit}
	query := claimAllSQL
	if len(p.ExcludeServiceIDs) > 0 {
		exclude := make([]string, len(p.ExcludeServiceIDs))
		for i, id := range p.ExcludeServiceIDs {
			var err error
			if exclude[i], err = canonicalID("excluded service", id); err != nil {
				return nil, err
			}
		}
		ids, err := json.Marshal(exclude)
		if err != nil {
			return nil, fmt.Errorf("sqlite: encode excluded services: %w", err)
		}
		args = append(args, string(ids))
		query = claimExcludeSQL
	}
	if regions != nil {
		if len(args) == 4 {
			args = append(args, "[]")
		}
		rs, err := json.Marshal(regions)
		if err != nil {
			return nil, fmt.Errorf("sqlite: encode regions: %w", err)
		}
		args = append(args, string(rs))
		query = claimRegionsSQL
	}
	var out []*store.Event
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		stmt, err := q.stmt(ctx, query)
		if err != nil {
			return err
		}
		if out, err = collectEvents(stmt.QueryContext(ctx, args...)); err != nil {
			return err
		}
		return readDocuments(ctx, q, out)
	})
	if err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	// RETURNING has no order; put the events back in claim order.
	slices.SortFunc(out, func(a, b *store.Event) int {
		if a.ChairmanOverride != b.ChairmanOverride {
			if a.ChairmanOverride {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.PriorityLevel.Rank(), a.PriorityLevel.Rank()); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

const completeSQL = `UPDATE integration_events
	SET status = 'succeeded', response_code = ?, response_time_ms = ?, payload_out = ?,
		completed_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL,
		request_method = coalesce(nullif(?, ''), request_method),
		endpoint_url = coalesce(nullif(?, ''), endpoint_url)
	WHERE id = ? AND status = 'processing' AND lease_owner = ?`

// maskPayloadsSQL replaces an event's documents with their masked forms, after its
// completion (coalesce keeps a document whose masked form is absent).
const maskPayloadsSQL = `INSERT INTO integration_event_payloads (event_id, payload_in, canonical_mapping)
	VALUES (?1, ?2, ?3)
	ON CONFLICT (event_id) DO UPDATE SET payload_in = coalesce(?2, payload_in),
		canonical_mapping = coalesce(?3, canonical_mapping)`

// CompleteEvents implements store.QueueStore: one IMMEDIATE transaction, one prepared
// statement executed per event, fenced by status and lease owner.
func (s *Store) CompleteEvents(ctx context.Context, ps []store.CompleteParams) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		var err error
		if ids[i], err = canonicalID("event", p.ID); err != nil {
			return nil, fmt.Errorf("complete events: %w", err)
		}
		switch {
		case p.Owner == "":
			return nil, invalidf("complete %s: owner is empty", p.ID)
		case len(p.PayloadOut) > 0 && !json.Valid(p.PayloadOut):
			return nil, invalidf("complete %s: payload_out is not well-formed JSON", p.ID)
		case len(p.MaskedPayloadIn) > 0 && !json.Valid(p.MaskedPayloadIn):
			return nil, invalidf("complete %s: masked payload_in is not well-formed JSON", p.ID)
		case len(p.MaskedCanonical) > 0 && !json.Valid(p.MaskedCanonical):
			return nil, invalidf("complete %s: masked canonical_mapping is not well-formed JSON", p.ID)
		}
		if err := p.Call.Validate(); err != nil {
			return nil, fmt.Errorf("complete %s: %w", p.ID, err)
		}
	}
	if len(ps) == 0 {
		return nil, nil
	}
	now := micros(s.now())
	var lost []string
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		lost = lost[:0]
		stmt, err := q.stmt(ctx, completeSQL)
		if err != nil {
			return err
		}
		for i, p := range ps {
			res, err := stmt.ExecContext(ctx, p.ResponseCode, p.ResponseTimeMS, jsonArg(p.PayloadOut), now, now,
				string(p.Call.Method), p.Call.EndpointURL, ids[i], p.Owner)
			if err != nil {
				return fmt.Errorf("complete event %s: %w", p.ID, mapError(err))
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				lost = append(lost, p.ID)
				continue
			}
			if len(p.MaskedPayloadIn) > 0 || len(p.MaskedCanonical) > 0 {
				mask, err := q.stmt(ctx, maskPayloadsSQL)
				if err != nil {
					return err
				}
				if _, err := mask.ExecContext(ctx, ids[i], jsonArg(p.MaskedPayloadIn), jsonArg(p.MaskedCanonical)); err != nil {
					return fmt.Errorf("complete event %s: mask documents: %w", p.ID, mapError(err))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete events: %w", err)
	}
	return lost, nil
}

const failSQL = `UPDATE integration_events
	SET status = ?, next_attempt_at = coalesce(?, next_attempt_at), retry_count = retry_count + ?,
		response_code = ?, response_time_ms = ?, payload_out = ?, error_details = ?,
		completed_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL,
		request_method = coalesce(nullif(?, ''), request_method),
		endpoint_url = coalesce(nullif(?, ''), endpoint_url)
	WHERE id = ? AND status = 'processing' AND lease_owner = ?`

// FailEvents implements store.QueueStore like CompleteEvents.
func (s *Store) FailEvents(ctx context.Context, ps []store.FailParams) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		var err error
		if ids[i], err = canonicalID("event", p.ID); err != nil {
			return nil, fmt.Errorf("fail events: %w", err)
		}
		switch {
		case p.Owner == "":
			return nil, invalidf("fail %s: owner is empty", p.ID)
		case p.Status != store.StatusRetrying && p.Status != store.StatusFailed &&
			p.Status != store.StatusDead && p.Status != store.StatusExpired:
			return nil, invalidf("fail %s: status must be retrying, failed, dead or expired, not %q", p.ID, p.Status)
		case p.Status == store.StatusRetrying && p.NextAttemptAt.IsZero():
			return nil, invalidf("fail %s: a retrying event needs next_attempt_at", p.ID)
		case len(p.PayloadOut) > 0 && !json.Valid(p.PayloadOut):
			return nil, invalidf("fail %s: payload_out is not well-formed JSON", p.ID)
		case len(p.ErrorDetails) > 0 && !json.Valid(p.ErrorDetails):
			return nil, invalidf("fail %s: error_details is not well-formed JSON", p.ID)
		}
		if err := p.Call.Validate(); err != nil {
			return nil, fmt.Errorf("fail %s: %w", p.ID, err)
		}
	}
	if len(ps) == 0 {
		return nil, nil
	}
	now := micros(s.now())
	var lost []string
	retried := false
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		lost, retried = lost[:0], false
		stmt, err := q.stmt(ctx, failSQL)
		if err != nil {
			return err
		}
		for i, p := range ps {
			var next, completed any
			if p.Status == store.StatusRetrying {
				next = micros(p.NextAttemptAt)
			} else {
				completed = now
			}
			inc := 1
			if p.KeepRetryCount {
				inc = 0
			}
			res, err := stmt.ExecContext(ctx, string(p.Status), next, inc, p.ResponseCode,
				p.ResponseTimeMS, jsonArg(p.PayloadOut), jsonArg(p.ErrorDetails), completed, now,
				string(p.Call.Method), p.Call.EndpointURL, ids[i], p.Owner)
			if err != nil {
				return fmt.Errorf("fail event %s: %w", p.ID, mapError(err))
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				lost = append(lost, p.ID)
			} else if p.Status == store.StatusRetrying {
				retried = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fail events: %w", err)
	}
	if retried {
		s.notify.wake()
	}
	return lost, nil
}

const extendSQL = `UPDATE integration_events SET lease_until = ?
	WHERE id = ? AND status = 'processing' AND lease_owner = ?`

// ExtendLease implements store.QueueStore.
func (s *Store) ExtendLease(ctx context.Context, owner string, ids []string, lease time.Duration) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	switch {
	case owner == "":
		return nil, invalidf("extend lease: owner is empty")
	case lease <= 0:
		return nil, invalidf("extend lease: lease %s is not positive", lease)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cids := make([]string, len(ids))
	for i, id := range ids {
		var err error
		if cids[i], err = canonicalID("event", id); err != nil {
			return nil, fmt.Errorf("extend lease: %w", err)
		}
	}
	now := s.nowTS()
	until := micros(now.Add(lease))
	var lost []string
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		lost = lost[:0]
		stmt, err := q.stmt(ctx, extendSQL)
		if err != nil {
			return err
		}
		for i, id := range ids {
			res, err := stmt.ExecContext(ctx, until, cids[i], owner)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				lost = append(lost, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("extend lease: %w", err)
	}
	return lost, nil
}

// ReleaseExpiredLeases implements store.QueueStore in one statement.
func (s *Store) ReleaseExpiredLeases(ctx context.Context) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	now := micros(s.now())
	n, err := s.execCount(ctx, `UPDATE integration_events
		SET status = CASE WHEN retry_count = 0 THEN 'pending' ELSE 'retrying' END,
			next_attempt_at = ?1, updated_at = ?1, lease_owner = NULL, lease_until = NULL
		WHERE status = 'processing' AND lease_until <= ?1`, now)
	if err != nil {
		return 0, fmt.Errorf("release expired leases: %w", err)
	}
	if n > 0 {
		s.notify.wake()
	}
	return n, nil
}

// ExpireEvents implements store.QueueStore in one statement.
func (s *Store) ExpireEvents(ctx context.Context) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	now := micros(s.now())
	n, err := s.execCount(ctx, `UPDATE integration_events
		SET status = 'expired', completed_at = ?1, updated_at = ?1
		WHERE status IN ('pending', 'retrying') AND expires_at IS NOT NULL AND expires_at <= ?1`, now)
	if err != nil {
		return 0, fmt.Errorf("expire events: %w", err)
	}
	return n, nil
}

// execCount runs one statement in a write transaction and returns the rows it changed.
func (s *Store) execCount(ctx context.Context, query string, args ...any) (int, error) {
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		var err error
		res, err = q.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
