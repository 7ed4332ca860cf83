package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ehg/hub/store"
)

// eventCols are the columns of a store.Event read from integration_events (no alias). The
// documents that never change with the event's state live in integration_event_payloads
// (migration 0016), read here by primary key, so updates of the queue state do not rewrite
// them.
const eventCols = `id, venture_id, service_id, service_name, service_type, operation,
	endpoint_url, request_method,
	(SELECT p.payload_in FROM integration_event_payloads p WHERE p.event_id = integration_events.id),
	payload_out,
	(SELECT p.transformation_applied FROM integration_event_payloads p WHERE p.event_id = integration_events.id),
	(SELECT p.canonical_mapping FROM integration_event_payloads p WHERE p.event_id = integration_events.id),
	status, response_code, response_time_ms, error_details, retry_count,
	max_retries, priority_level, chairman_override, created_at, updated_at, completed_at,
	expires_at, idempotency_key, next_attempt_at, lease_owner, lease_until, subject_key,
	direction, source_event_id`

// eventStateCols are eventCols without the documents of integration_event_payloads (NULL in
// their place, so scanEvent reads both): what a statement that changes many events returns,
// before it reads their documents at once (see readDocuments).
const eventStateCols = `id, venture_id, service_id, service_name, service_type, operation,
	endpoint_url, request_method, NULL, payload_out, NULL, NULL,
	status, response_code, response_time_ms, error_details, retry_count,
	max_retries, priority_level, chairman_override, created_at, updated_at, completed_at,
	expires_at, idempotency_key, next_attempt_at, lease_owner, lease_until, subject_key,
	direction, source_event_id`

// documentsSQL reads the documents of the events whose IDs ?1 lists (a JSON array), one
// primary-key lookup each.
const documentsSQL = `SELECT event_id, payload_in, transformation_applied, canonical_mapping
	FROM integration_event_payloads WHERE event_id IN (SELECT value FROM json_each(?1))`

// readDocuments fills in the documents of es (read without them) inside the write
// transaction of q.
func readDocuments(ctx context.Context, q *txConn, es []*store.Event) error {
	if len(es) == 0 {
		return nil
	}
	byID := make(map[string]*store.Event, len(es))
	ids := make([]byte, 0, len(es)*39+2)
	ids = append(ids, '[')
	for i, e := range es {
		if i > 0 {
			ids = append(ids, ',')
		}
		// IDs are canonical UUIDs: nothing to escape.
		ids = append(ids, '"')
		ids = append(ids, e.ID...)
		ids = append(ids, '"')
		byID[e.ID] = e
	}
	ids = append(ids, ']')
	stmt, err := q.stmt(ctx, documentsSQL)
	if err != nil {
		return err
	}
	rows, err := stmt.QueryContext(ctx, string(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id       string
			in, t, c json.RawMessage
		)
		if err := rows.Scan(&id, rawDest(&in), rawDest(&t), rawDest(&c)); err != nil {
			return err
		}
		if e := byID[id]; e != nil {
			e.PayloadIn, e.TransformationApplied, e.CanonicalMapping = in, t, c
		}
	}
	return rows.Err()
}

const insertEventSQL = `INSERT INTO integration_events (id, venture_id, service_id,
	service_name, service_type, operation, endpoint_url, request_method,
	payload_in_bytes, payload_out, status,
	response_code, response_time_ms, error_details, retry_count, max_retries, priority_level,
	priority_rank, chairman_override, created_at, updated_at, completed_at, expires_at, idempotency_key,
	next_attempt_at, lease_owner, lease_until, subject_key, direction, source_event_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)`

// insertPayloadsSQL stores an event's unchanging documents beside its row.
const insertPayloadsSQL = `INSERT INTO integration_event_payloads (event_id, payload_in,
	transformation_applied, canonical_mapping) VALUES (?, ?, ?, ?)`

const eventByKeySQL = `SELECT ` + eventCols + ` FROM integration_events
	WHERE service_id = ? AND idempotency_key = ?`

func scanEvent(sc scanner) (*store.Event, error) {
	var (
		e                               store.Event
		venture, key, owner, subject    sql.NullString
		source                          sql.NullString
		completed, expires, leaseUntil  sql.NullInt64
		created, updated, nextAttemptAt int64
		override                        int
	)
	err := sc.Scan(&e.ID, &venture, &e.ServiceID, &e.ServiceName, &e.ServiceType, &e.Operation,
		&e.EndpointURL, &e.RequestMethod, rawDest(&e.PayloadIn), rawDest(&e.PayloadOut),
		rawDest(&e.TransformationApplied), rawDest(&e.CanonicalMapping), &e.Status,
		&e.ResponseCode, &e.ResponseTimeMS, rawDest(&e.ErrorDetails), &e.RetryCount,
		&e.MaxRetries, &e.PriorityLevel, &override, &created, &updated, &completed, &expires,
		&key, &nextAttemptAt, &owner, &leaseUntil, &subject, &e.Direction, &source)
	if err != nil {
		return nil, err
	}
	e.VentureID = venture.String
	e.IdempotencyKey = key.String
	e.LeaseOwner = owner.String
	e.SubjectKey = subject.String
	e.SourceEventID = source.String
	e.ChairmanOverride = override != 0
	e.CreatedAt = fromMicros(created)
	e.UpdatedAt = fromMicros(updated)
	e.NextAttemptAt = fromMicros(nextAttemptAt)
	e.CompletedAt = timePtr(completed)
	e.ExpiresAt = timePtr(expires)
	e.LeaseUntil = timePtr(leaseUntil)
	return &e, nil
}

func collectEvents(rows *sql.Rows, err error) ([]*store.Event, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// prepareEvent validates e and returns the copy InsertEvent stores, with the defaults of a
// new event applied. checked skips the JSON check of documents the writer produced (see
// store.CheckedDocuments).
func prepareEvent(e *store.Event, now time.Time, checked bool) (*store.Event, error) {
	if e == nil {
		return nil, invalidf("nil event")
	}
	validate := e.Validate
	if checked {
		validate = e.ValidateFields
	}
	if err := validate(); err != nil {
		return nil, err
	}
	if e.Status != "" && e.Status != store.StatusPending {
		return nil, invalidf("a new event must be pending, not %q", e.Status)
	}
	c := e.Clone()
	var err error
	if c.ID, err = assignID("event", c.ID); err != nil {
		return nil, err
	}
	if c.ServiceID, err = canonicalID("service", c.ServiceID); err != nil {
		return nil, err
	}
	if c.VentureID, err = optionalID("venture", c.VentureID); err != nil {
		return nil, err
	}
	c.Status = store.StatusPending
	c.CreatedAt = now
	c.UpdatedAt = now
	if c.NextAttemptAt.IsZero() {
		c.NextAttemptAt = now
	} else {
		c.NextAttemptAt = store.Timestamp(c.NextAttemptAt)
	}
	if c.PriorityLevel == "" {
		c.PriorityLevel = store.PriorityNormal
	}
	if c.RequestMethod == "" {
		c.RequestMethod = store.MethodPost
	}
	if c.Direction == "" {
		c.Direction = store.DirectionOutbound
	}
	if c.SourceEventID, err = optionalID("source event", c.SourceEventID); err != nil {
		return nil, err
	}
	if c.CompletedAt != nil {
		c.CompletedAt = timePtrOf(store.Timestamp(*c.CompletedAt))
	}
	if c.ExpiresAt != nil {
		c.ExpiresAt = timePtrOf(store.Timestamp(*c.ExpiresAt))
	}
	c.LeaseOwner = ""
	c.LeaseUntil = nil
	return c, nil
}

// eventInserter inserts events inside one write transaction with statements prepared once.
type eventInserter struct {
	byKey, insert, payloads *sql.Stmt
}

func newEventInserter(ctx context.Context, q *txConn) (*eventInserter, error) {
	byKey, err := q.stmt(ctx, eventByKeySQL)
	if err != nil {
		return nil, err
	}
	insert, err := q.stmt(ctx, insertEventSQL)
	if err != nil {
		return nil, err
	}
	payloads, err := q.stmt(ctx, insertPayloadsSQL)
	if err != nil {
		return nil, err
	}
	return &eventInserter{byKey: byKey, insert: insert, payloads: payloads}, nil
}

// add inserts c (already prepared) unless its idempotency key exists, in which case it
// returns the existing event.
func (ins *eventInserter) add(ctx context.Context, c *store.Event) (store.InsertResult, error) {
	if c.IdempotencyKey != "" {
		existing, err := scanEvent(ins.byKey.QueryRowContext(ctx, c.ServiceID, c.IdempotencyKey))
		switch {
		case err == nil:
			return store.InsertResult{Event: existing}, nil
		case err != sql.ErrNoRows:
			return store.InsertResult{}, err
		}
	}
	_, err := ins.insert.ExecContext(ctx, c.ID, textArg(c.VentureID), c.ServiceID, c.ServiceName,
		c.ServiceType, c.Operation, c.EndpointURL, string(c.RequestMethod),
		len(c.PayloadIn), jsonArg(c.PayloadOut), string(c.Status), c.ResponseCode, c.ResponseTimeMS,
		jsonArg(c.ErrorDetails), c.RetryCount, c.MaxRetries, string(c.PriorityLevel),
		c.PriorityLevel.Rank(), boolInt(c.ChairmanOverride), micros(c.CreatedAt), micros(c.UpdatedAt),
		microsArg(c.CompletedAt), microsArg(c.ExpiresAt), textArg(c.IdempotencyKey),
		micros(c.NextAttemptAt), textArg(c.SubjectKey), string(c.Direction), textArg(c.SourceEventID))
	if err != nil {
		return store.InsertResult{}, fmt.Errorf("insert event %s: %w", c.ID, mapError(err))
	}
	if len(c.PayloadIn) > 0 || len(c.TransformationApplied) > 0 || len(c.CanonicalMapping) > 0 {
		if _, err := ins.payloads.ExecContext(ctx, c.ID, jsonArg(c.PayloadIn),
			jsonArg(c.TransformationApplied), jsonArg(c.CanonicalMapping)); err != nil {
			return store.InsertResult{}, fmt.Errorf("insert event %s: documents: %w", c.ID, mapError(err))
		}
	}
	// c is this insert's own copy (prepareEvent): handed out as it is, not copied again.
	return store.InsertResult{Event: c, Created: true}, nil
}

// InsertEvent implements store.EventStore. It is one IMMEDIATE transaction, so two
// concurrent inserts of the same idempotency key store one event.
func (s *Store) InsertEvent(ctx context.Context, e *store.Event) (*store.Event, bool, error) {
	if err := s.begin(ctx); err != nil {
		return nil, false, err
	}
	res, err := s.InsertEvents(ctx, []*store.Event{e})
	if err != nil {
		return nil, false, err
	}
	return res[0].Event, res[0].Created, nil
}

// InsertEvents implements store.EventStore: every event is validated first, then all are
// inserted in one IMMEDIATE transaction with prepared statements; on any error nothing is
// stored.
func (s *Store) InsertEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, nil
	}
	now := s.nowTS()
	checked := store.DocumentsChecked(ctx)
	prepared := make([]*store.Event, len(es))
	for i, e := range es {
		c, err := prepareEvent(e, now, checked)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		prepared[i] = c
	}
	out := make([]store.InsertResult, len(es))
	created := false
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		ins, err := newEventInserter(ctx, q)
		if err != nil {
			return err
		}
		for i, c := range prepared {
			r, err := ins.add(ctx, c)
			if err != nil {
				return err
			}
			out[i] = r
			created = created || r.Created
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if created {
		s.notify.wake()
	}
	return out, nil
}

// GetEvent implements store.EventStore.
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("event", id)
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	e, err := scanEvent(db.QueryRowContext(ctx, `SELECT `+eventCols+` FROM integration_events WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, mapError(err))
	}
	return e, nil
}

// GetEventByIdempotencyKey implements store.EventStore.
func (s *Store) GetEventByIdempotencyKey(ctx context.Context, serviceID, key string) (*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	serviceID, err := canonicalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	e, err := scanEvent(db.QueryRowContext(ctx, eventByKeySQL, serviceID, key))
	if err != nil {
		return nil, fmt.Errorf("get event of service %s by idempotency key %q: %w", serviceID, key, mapError(err))
	}
	return e, nil
}

// eventWhere builds the conditions of an EventFilter (its Page aside).
func eventWhere(f store.EventFilter) (*where, error) {
	w := &where{}
	sid, err := optionalID("service", f.ServiceID)
	if err != nil {
		return nil, err
	}
	if sid != "" {
		w.add("service_id = ?", sid)
	}
	sts, err := statusStrings(f.Statuses)
	if err != nil {
		return nil, err
	}
	w.in("status", sts)
	if !f.CreatedFrom.IsZero() {
		w.add("created_at >= ?", micros(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		w.add("created_at < ?", micros(f.CreatedTo))
	}
	return w, nil
}

// ListEvents implements store.EventStore.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w, err := eventWhere(f)
	if err != nil {
		return nil, err
	}
	page, err := w.page(f.Page)
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	es, err := collectEvents(db.QueryContext(ctx,
		`SELECT `+eventCols+` FROM integration_events`+w.String()+` ORDER BY created_at, id`+page, w.args...))
	if err != nil {
		return nil, fmt.Errorf("list events: %w", mapError(err))
	}
	return es, nil
}

// changeStatus moves event id to status to, when its current status is one of from, inside
// a write transaction; set is the rest of the SET clause. Another current status is a
// *store.TransitionError.
func (s *Store) changeStatus(ctx context.Context, id string, from []store.EventStatus, to store.EventStatus,
	set string, args ...any) (*store.Event, error) {
	id, err := canonicalID("event", id)
	if err != nil {
		return nil, err
	}
	var out *store.Event
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		var cur store.EventStatus
		if err := q.QueryRowContext(ctx, `SELECT status FROM integration_events WHERE id = ?`, id).Scan(&cur); err != nil {
			return fmt.Errorf("event %s: %w", id, mapError(err))
		}
		if !slices.Contains(from, cur) {
			return &store.TransitionError{EventID: id, From: cur, To: to}
		}
		e, err := scanEvent(q.QueryRowContext(ctx, `UPDATE integration_events SET status = ?, `+set+
			` WHERE id = ? RETURNING `+eventCols, append(append([]any{string(to)}, args...), id)...))
		if err != nil {
			return fmt.Errorf("event %s: %w", id, mapError(err))
		}
		out = e
		return nil
	})
	return out, err
}

// CancelEvent implements store.EventStore.
func (s *Store) CancelEvent(ctx context.Context, id string) (*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return s.changeStatus(ctx, id, []store.EventStatus{store.StatusPending, store.StatusRetrying},
		store.StatusCancelled, `updated_at = ?`, micros(s.now()))
}

// RequeueEvent implements store.EventStore.
func (s *Store) RequeueEvent(ctx context.Context, id string, resetRetries bool) (*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	now := micros(s.now())
	e, err := s.changeStatus(ctx, id, []store.EventStatus{store.StatusFailed, store.StatusDead}, store.StatusPending,
		`updated_at = ?, next_attempt_at = ?, completed_at = NULL, lease_owner = NULL, lease_until = NULL,
		retry_count = CASE WHEN ? THEN 0 ELSE retry_count END`, now, now, boolInt(resetRetries))
	if err != nil {
		return nil, err
	}
	s.notify.wake()
	return e, nil
}

// RequeueEvents implements store.EventStore in one statement.
func (s *Store) RequeueEvents(ctx context.Context, f store.RequeueFilter) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = []store.EventStatus{store.StatusFailed, store.StatusDead}
	}
	for _, st := range statuses {
		if st != store.StatusFailed && st != store.StatusDead {
			return 0, invalidf("requeue selects failed or dead events, not %q", st)
		}
	}
	sts, _ := statusStrings(statuses)
	sid, err := optionalID("service", f.ServiceID)
	if err != nil {
		return 0, err
	}
	now := micros(s.now())
	w := &where{args: []any{now, now}}
	w.in("status", sts)
	if sid != "" {
		w.add("service_id = ?", sid)
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", micros(f.Since))
	}
	var n int64
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		res, err := q.ExecContext(ctx, `UPDATE integration_events SET status = 'pending',
			updated_at = ?, next_attempt_at = ?, completed_at = NULL, lease_owner = NULL,
			lease_until = NULL, retry_count = 0`+w.String(), w.args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("requeue events: %w", err)
	}
	if n > 0 {
		s.notify.wake()
	}
	return int(n), nil
}
