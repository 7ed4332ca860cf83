package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ehg/hub/store"
)

// This file holds the optional capabilities of the data lifecycle: retention deletes, the
// subject index and erasure, subject requests, bulk cancellation and purging the WAL.

// scope adds the service scope of retention parameters to w, after validating them.
func scope(w *where, p store.DeleteParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.ServiceID != "" {
		id, err := canonicalID("service", p.ServiceID)
		if err != nil {
			return err
		}
		w.add("service_id = ?", id)
	}
	if len(p.ExcludeServiceIDs) > 0 {
		ids := make([]string, len(p.ExcludeServiceIDs))
		for i, raw := range p.ExcludeServiceIDs {
			var err error
			if ids[i], err = canonicalID("excluded service", raw); err != nil {
				return err
			}
		}
		b, err := json.Marshal(ids)
		if err != nil {
			return fmt.Errorf("sqlite: encode excluded services: %w", err)
		}
		w.add("service_id NOT IN (SELECT value FROM json_each(?))", string(b))
	}
	return nil
}

// deleteBatch deletes up to limit rows of table matching w, ordered by order, in one write
// transaction, and returns how many.
func (s *Store) deleteBatch(ctx context.Context, op, table string, w *where, order string, limit int) (int, error) {
	args := append(w.args, limit)
	var n int64
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		res, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE rowid IN (SELECT rowid FROM `+table+
			w.String()+` ORDER BY `+order+` LIMIT ?)`, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return int(n), nil
}

// DeleteEvents implements store.RetentionStore through integration_events_retention_idx,
// one batch per IMMEDIATE transaction.
func (s *Store) DeleteEvents(ctx context.Context, p store.DeleteEventsParams) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, err
	}
	w := &where{}
	sts, err := statusStrings(p.Statuses)
	if err != nil {
		return 0, err
	}
	w.in("status", sts)
	w.add("updated_at < ?", micros(p.Before))
	if err := scope(w, p.DeleteParams); err != nil {
		return 0, err
	}
	return s.deleteBatch(ctx, "delete events", "integration_events", w, "updated_at, id", p.Limit)
}

// DeleteHealthMetrics implements store.RetentionStore.
func (s *Store) DeleteHealthMetrics(ctx context.Context, p store.DeleteParams) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	w := &where{}
	if err := scope(w, p); err != nil {
		return 0, err
	}
	w.add("recorded_at < ?", micros(p.Before))
	return s.deleteBatch(ctx, "delete health metrics", "integration_health_metrics", w, "recorded_at, id", p.Limit)
}

// DeleteAnalytics implements store.RetentionStore.
func (s *Store) DeleteAnalytics(ctx context.Context, p store.DeleteParams) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	w := &where{}
	if err := scope(w, p); err != nil {
		return 0, err
	}
	w.add("period_start < ?", micros(p.Before))
	return s.deleteBatch(ctx, "delete analytics", "integration_analytics", w, "period_start, id", p.Limit)
}

// ListSubjectEvents implements store.SubjectStore through integration_events_subject_idx.
func (s *Store) ListSubjectEvents(ctx context.Context, p store.SubjectEventsParams) ([]*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	after, err := optionalID("event", p.AfterID)
	if err != nil {
		return nil, err
	}
	page, err := (store.Page{Limit: p.Limit}).Normalize()
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	es, err := collectEvents(db.QueryContext(ctx, `SELECT `+eventCols+` FROM integration_events
		WHERE subject_key = ? AND id > ? ORDER BY id LIMIT ?`, p.SubjectKey, after, page.Limit))
	if err != nil {
		return nil, fmt.Errorf("list subject events: %w", mapError(err))
	}
	return es, nil
}

// eraseSQL replaces an event's documents and drops its subject key, fenced by updated_at
// and never on an event in flight; a queued event is cancelled as well.
const eraseSQL = `UPDATE integration_events
	SET payload_out = ?, error_details = ?,
		subject_key = NULL,
		status = CASE WHEN status IN ('pending', 'retrying') THEN 'cancelled' ELSE status END,
		updated_at = CASE WHEN status IN ('pending', 'retrying') THEN ? ELSE updated_at END
	WHERE id = ? AND updated_at = ? AND status <> 'processing'`

// erasePayloadsSQL replaces the documents of an event eraseSQL changed.
const erasePayloadsSQL = `INSERT INTO integration_event_payloads (event_id, payload_in, canonical_mapping)
	VALUES (?1, ?2, ?3)
	ON CONFLICT (event_id) DO UPDATE SET payload_in = ?2, canonical_mapping = ?3`

// EraseEvents implements store.SubjectStore in one IMMEDIATE transaction. Copies of the
// replaced bytes may remain in the file and the WAL until Purge rebuilds the one and
// truncates the other.
func (s *Store) EraseEvents(ctx context.Context, b store.EraseBatch) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	ps := b.Events
	ids := make([]string, len(ps))
	for i := range ps {
		var err error
		if ids[i], err = canonicalID("event", ps[i].ID); err != nil {
			return nil, err
		}
	}
	rid, err := optionalID("subject request", b.RequestID)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 && rid == "" {
		return nil, nil
	}
	now := micros(s.now())
	var skipped []string
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		skipped = skipped[:0]
		if rid != "" {
			var owner sql.NullString
			if err := q.QueryRowContext(ctx, `SELECT owner FROM subject_requests WHERE id = ?`, rid).Scan(&owner); err != nil {
				return fmt.Errorf("subject request %s: %w", rid, mapError(err))
			}
			if owner.String != b.Owner {
				return fmt.Errorf("%w: subject request %s is held by another owner", store.ErrLeaseLost, rid)
			}
		}
		changed := 0
		seen := make(map[string]bool, len(ps))
		for i, p := range ps {
			if seen[ids[i]] {
				continue
			}
			seen[ids[i]] = true
			res, err := q.ExecContext(ctx, eraseSQL, jsonArg(p.PayloadOut), jsonArg(p.ErrorDetails),
				now, ids[i], micros(p.UpdatedAt))
			if err != nil {
				return fmt.Errorf("erase event %s: %w", p.ID, mapError(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				if _, err := q.ExecContext(ctx, erasePayloadsSQL, ids[i], jsonArg(p.PayloadIn),
					jsonArg(p.CanonicalMapping)); err != nil {
					return fmt.Errorf("erase event %s: documents: %w", p.ID, mapError(err))
				}
				changed++
				continue
			}
			var one int
			switch err := q.QueryRowContext(ctx, `SELECT 1 FROM integration_events WHERE id = ?`, ids[i]).Scan(&one); err {
			case nil:
				skipped = append(skipped, p.ID)
			case sql.ErrNoRows:
			default:
				return err
			}
		}
		if rid != "" {
			if _, err := q.ExecContext(ctx, `UPDATE subject_requests SET records = records + ?, lease_until = ?,
				updated_at = ? WHERE id = ?`, changed, micros(b.LeaseUntil), now, rid); err != nil {
				return fmt.Errorf("subject request %s: %w", rid, mapError(err))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("erase events: %w", err)
	}
	return skipped, nil
}

// Purge implements store.Purger: it rebuilds the database file (VACUUM) and then
// checkpoints the WAL and truncates it to zero bytes. secure_delete=FAST overwrites the
// content a change frees inside the pages it writes, but not freed pages, and SQLite copies
// rows between pages when it rebalances its b-trees, leaving old copies in the unused part
// of a page; only a rebuild, which writes every page afresh from the live rows, leaves
// none. VACUUM takes the write lock for as long as it
// runs (its time grows with the database: run erasures, which call Purge, off peak on a
// large file) and needs temporary disk space about the size of the database. The
// checkpoint waits, up to the busy timeout, for readers of other connections and processes
// to move to the latest snapshot; store.ErrBusy when they did not, and Purge may be called
// again.
func (s *Store) Purge(ctx context.Context) error {
	err := s.writeRaw(ctx, func(ctx context.Context, q *txConn) error {
		// The writer keeps its temporary data in memory (temp_store=MEMORY, see dsn), which
		// would put VACUUM's copy of the whole database in memory too: build it in a
		// temporary file, then restore the connection's setting.
		var temp int
		if err := q.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&temp); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		if _, err := q.ExecContext(ctx, `PRAGMA temp_store = FILE`); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		_, err := q.ExecContext(ctx, `VACUUM`)
		if _, rerr := q.ExecContext(ctx, `PRAGMA temp_store = `+strconv.Itoa(temp)); rerr != nil && err == nil {
			err = rerr
		}
		if err != nil {
			return fmt.Errorf("purge: vacuum: %w", err)
		}
		var busy, logFrames, checkpointed int
		s.ckMu.Lock()
		defer s.ckMu.Unlock()
		if err := q.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
			return fmt.Errorf("purge: checkpoint: %w", err)
		}
		if busy != 0 {
			return fmt.Errorf("%w: purge: readers kept the WAL from being truncated", store.ErrBusy)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return nil
}

const subjectRequestCols = `id, kind, subject_key, status, actor, records, error, requested_at,
	updated_at, completed_at, owner, lease_until`

func scanSubjectRequest(sc scanner) (*store.SubjectRequest, error) {
	var (
		r                   store.SubjectRequest
		key, owner          sql.NullString
		requested, updated  int64
		completed, leaseEnd sql.NullInt64
	)
	if err := sc.Scan(&r.ID, &r.Kind, &key, &r.Status, &r.Actor, &r.Records, &r.Error, &requested,
		&updated, &completed, &owner, &leaseEnd); err != nil {
		return nil, err
	}
	r.SubjectKey, r.Owner = key.String, owner.String
	r.RequestedAt, r.UpdatedAt = fromMicros(requested), fromMicros(updated)
	r.CompletedAt, r.LeaseUntil = timePtr(completed), timePtr(leaseEnd)
	return &r, nil
}

// CreateSubjectRequest implements store.SubjectStore.
func (s *Store) CreateSubjectRequest(ctx context.Context, in *store.SubjectRequest) (*store.SubjectRequest, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil subject request")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	r := in.Clone()
	var err error
	if r.ID, err = assignID("subject request", r.ID); err != nil {
		return nil, err
	}
	now := s.nowTS()
	if r.RequestedAt.IsZero() {
		r.RequestedAt = now
	}
	r.RequestedAt, r.UpdatedAt = store.Timestamp(r.RequestedAt), now
	if r.CompletedAt != nil {
		r.CompletedAt = timePtrOf(store.Timestamp(*r.CompletedAt))
	}
	if r.LeaseUntil != nil {
		r.LeaseUntil = timePtrOf(store.Timestamp(*r.LeaseUntil))
	}
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		_, err := q.ExecContext(ctx, `INSERT INTO subject_requests (`+subjectRequestCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, string(r.Kind), textArg(r.SubjectKey), string(r.Status), r.Actor, r.Records, r.Error,
			micros(r.RequestedAt), micros(r.UpdatedAt), microsArg(r.CompletedAt), textArg(r.Owner),
			microsArg(r.LeaseUntil))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create subject request: %w", err)
	}
	return r, nil
}

// GetSubjectRequest implements store.SubjectStore.
func (s *Store) GetSubjectRequest(ctx context.Context, id string) (*store.SubjectRequest, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("subject request", id)
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	r, err := scanSubjectRequest(db.QueryRowContext(ctx, `SELECT `+subjectRequestCols+` FROM subject_requests WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get subject request %s: %w", id, mapError(err))
	}
	return r, nil
}

// UpdateSubjectRequest implements store.SubjectStore, fenced by the owner.
func (s *Store) UpdateSubjectRequest(ctx context.Context, in *store.SubjectRequest) (*store.SubjectRequest, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil subject request")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	id, err := canonicalID("subject request", in.ID)
	if err != nil {
		return nil, err
	}
	now := micros(s.now())
	var out *store.SubjectRequest
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		var owner sql.NullString
		if err := q.QueryRowContext(ctx, `SELECT owner FROM subject_requests WHERE id = ?`, id).Scan(&owner); err != nil {
			return mapError(err)
		}
		if owner.String != in.Owner {
			return fmt.Errorf("%w: subject request %s is held by another owner", store.ErrLeaseLost, id)
		}
		var err error
		out, err = scanSubjectRequest(q.QueryRowContext(ctx, `UPDATE subject_requests
			SET status = ?, subject_key = ?, records = ?, error = ?, completed_at = ?, lease_until = ?,
				updated_at = ?
			WHERE id = ? RETURNING `+subjectRequestCols,
			string(in.Status), textArg(in.SubjectKey), in.Records, in.Error, microsArg(in.CompletedAt),
			microsArg(in.LeaseUntil), now, id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update subject request %s: %w", id, err)
	}
	return out, nil
}

// ClaimSubjectRequest implements store.SubjectStore in one IMMEDIATE transaction.
func (s *Store) ClaimSubjectRequest(ctx context.Context, owner string, lease time.Duration) (*store.SubjectRequest, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if owner == "" || lease <= 0 {
		return nil, invalidf("claim subject request: owner %q and lease %v must be set", owner, lease)
	}
	now := s.nowTS()
	var out *store.SubjectRequest
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		var err error
		out, err = scanSubjectRequest(q.QueryRowContext(ctx, `UPDATE subject_requests
			SET owner = ?, lease_until = ?, updated_at = ?
			WHERE id = (SELECT id FROM subject_requests
				WHERE status = 'running' AND kind = 'erasure' AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY requested_at, id LIMIT 1)
			RETURNING `+subjectRequestCols, owner, micros(now.Add(lease)), micros(now), micros(now)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim subject request: %w", mapError(err))
	}
	return out, nil
}

// ListSubjectRequests implements store.SubjectStore.
func (s *Store) ListSubjectRequests(ctx context.Context, f store.SubjectRequestFilter) ([]*store.SubjectRequest, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w := &where{}
	if f.Kind != "" {
		if !f.Kind.Valid() {
			return nil, invalidf("unknown subject request kind %q", f.Kind)
		}
		w.add("kind = ?", string(f.Kind))
	}
	if f.Status != "" {
		if !f.Status.Valid() {
			return nil, invalidf("unknown subject request status %q", f.Status)
		}
		w.add("status = ?", string(f.Status))
	}
	if !f.From.IsZero() {
		w.add("requested_at >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		w.add("requested_at < ?", micros(f.To))
	}
	page, err := w.page(f.Page)
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+subjectRequestCols+` FROM subject_requests`+w.String()+
		` ORDER BY requested_at, id`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list subject requests: %w", mapError(err))
	}
	defer rows.Close()
	var out []*store.SubjectRequest
	for rows.Next() {
		r, err := scanSubjectRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("list subject requests: %w", mapError(err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list subject requests: %w", mapError(err))
	}
	return out, nil
}

// CancelEvents implements store.EventCanceller.
func (s *Store) CancelEvents(ctx context.Context, p store.CancelEventsParams) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, err
	}
	sid, err := canonicalID("service", p.ServiceID)
	if err != nil {
		return 0, err
	}
	now := micros(s.now())
	var n int64
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		res, err := q.ExecContext(ctx, `UPDATE integration_events SET status = 'cancelled', updated_at = ?
			WHERE id IN (SELECT id FROM integration_events
				WHERE service_id = ? AND status IN ('pending', 'retrying') LIMIT ?)`, now, sid, p.Limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cancel events of service %s: %w", sid, err)
	}
	return int(n), nil
}

// Interface guards.
var (
	_ store.RetentionStore = (*Store)(nil)
	_ store.SubjectStore   = (*Store)(nil)
	_ store.RegionClaimer  = (*Store)(nil)
	_ store.EventCanceller = (*Store)(nil)
	_ store.Purger         = (*Store)(nil)
)
