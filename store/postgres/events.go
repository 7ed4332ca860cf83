package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ehg/hub/store"
)

const eventCols = `id, venture_id, service_id, service_name, service_type, operation,
	endpoint_url, request_method, payload_in, payload_out, transformation_applied,
	canonical_mapping, status, response_code, response_time_ms, error_details, retry_count,
	max_retries, priority_level, chairman_override, created_at, updated_at, completed_at,
	expires_at, idempotency_key, next_attempt_at, lease_owner, lease_until, subject_key,
	direction, source_event_id`

// eventColsE is eventCols qualified by the alias e, for UPDATE … FROM … RETURNING.
const eventColsE = `e.id, e.venture_id, e.service_id, e.service_name, e.service_type, e.operation,
	e.endpoint_url, e.request_method, e.payload_in, e.payload_out, e.transformation_applied,
	e.canonical_mapping, e.status, e.response_code, e.response_time_ms, e.error_details,
	e.retry_count, e.max_retries, e.priority_level, e.chairman_override, e.created_at,
	e.updated_at, e.completed_at, e.expires_at, e.idempotency_key, e.next_attempt_at,
	e.lease_owner, e.lease_until, e.subject_key, e.direction, e.source_event_id`

const (
	// sqlInsertEvents inserts a batch given as parallel arrays; $20 is now. Rows whose
	// (service_id, idempotency_key) exists already are skipped and not returned.
	sqlInsertEvents = `INSERT INTO {s}.integration_events (id, venture_id, service_id,
		service_name, service_type, operation, endpoint_url, request_method, payload_in,
		payload_in_bytes, payload_out, transformation_applied, canonical_mapping, status,
		response_code, response_time_ms, error_details, retry_count, max_retries,
		priority_level, chairman_override, created_at, updated_at, completed_at, expires_at,
		idempotency_key, next_attempt_at, subject_key, direction, source_event_id)
	SELECT u.id, NULLIF(u.venture_id, '')::uuid, u.service_id, u.service_name, u.service_type,
		u.operation, u.endpoint_url, u.request_method, u.payload_in, u.payload_in_bytes,
		u.payload_out, u.transformation_applied, u.canonical_mapping, 'pending',
		u.response_code, u.response_time_ms, u.error_details, u.retry_count, u.max_retries,
		u.priority_level, u.chairman_override, $20, $20, u.completed_at, u.expires_at,
		NULLIF(u.idempotency_key, ''), u.next_attempt_at, NULLIF(u.subject_key, ''),
		u.direction, NULLIF(u.source_event_id, '')::uuid
	FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],
		$7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::jsonb[],
		$13::text[], $14::integer[], $15::bigint[], $16::jsonb[], $17::integer[],
		$18::integer[], $19::text[], $21::boolean[], $22::timestamptz[], $23::timestamptz[],
		$24::text[], $25::timestamptz[], $26::text[], $27::text[], $28::text[])
		AS u(id, venture_id, service_id, service_name, service_type, operation, endpoint_url,
			request_method, payload_in, payload_in_bytes, payload_out, transformation_applied,
			canonical_mapping, response_code, response_time_ms, error_details, retry_count,
			max_retries, priority_level, chairman_override, completed_at, expires_at,
			idempotency_key, next_attempt_at, subject_key, direction, source_event_id)
	` + sqlInsertEventsConflict + `
	RETURNING id`
	// sqlInsertEventsConflict skips the rows whose key exists. A batch without idempotency
	// keys goes without it (sqlInsertEventsPlain): ON CONFLICT makes every row a
	// speculative insertion (an extra WAL record and a check of the key index per row) even
	// when no row has a key.
	sqlInsertEventsConflict = `ON CONFLICT (service_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`
	sqlSelectEventsByKeys   = `SELECT ` + eventColsE + ` FROM {s}.integration_events e
	JOIN unnest($1::uuid[], $2::text[]) AS k(service_id, idempotency_key)
		ON e.service_id = k.service_id AND e.idempotency_key = k.idempotency_key`
	sqlGetEvent      = `SELECT ` + eventCols + ` FROM {s}.integration_events WHERE id = $1`
	sqlGetEventByKey = `SELECT ` + eventCols + ` FROM {s}.integration_events
	WHERE service_id = $1 AND idempotency_key = $2`
	sqlListEvents  = `SELECT ` + eventCols + ` FROM {s}.integration_events`
	sqlEventStatus = `SELECT status FROM {s}.integration_events WHERE id = $1`
	sqlCancelEvent = `UPDATE {s}.integration_events SET status = 'cancelled', updated_at = $2
	WHERE id = $1 AND status IN ('pending', 'retrying') RETURNING ` + eventCols
	sqlRequeueEvent = `UPDATE {s}.integration_events SET status = 'pending', next_attempt_at = $2,
		updated_at = $2, completed_at = NULL, lease_owner = NULL, lease_until = NULL,
		retry_count = CASE WHEN $3 THEN 0 ELSE retry_count END
	WHERE id = $1 AND status IN ('failed', 'dead') RETURNING ` + eventCols
	// sqlRequeueEvents is completed by a WHERE clause whose first argument is now.
	sqlRequeueEvents = `UPDATE {s}.integration_events SET status = 'pending', next_attempt_at = $1,
		updated_at = $1, completed_at = NULL, lease_owner = NULL, lease_until = NULL,
		retry_count = 0`
)

// insertBatch is the parallel-array form of the events InsertEvents writes.
type insertBatch struct {
	id, ventureID, serviceID, serviceName, serviceType, operation, endpointURL []string
	method, priority, key, subjectKey, direction, sourceID                     []string
	payloadIn, payloadOut, transformation, canonical, errorDetails             []json.RawMessage
	payloadBytes, responseTimeMS                                               []int64
	responseCode, retryCount, maxRetries                                       []int32
	override                                                                   []bool
	completedAt, expiresAt, nextAttemptAt                                      []pgtype.Timestamptz
}

// newStored returns the record InsertEvents writes for e: a copy with canonical ids, the
// defaults applied, times at store precision and the lease cleared. Every value is decided
// here, so the inserted events need not be read back.
func newStored(e *store.Event, id string, now time.Time) *store.Event {
	ev := e.Clone()
	ev.ID = id
	ev.ServiceID = canonical(ev.ServiceID)
	if ev.VentureID != "" {
		ev.VentureID = canonical(ev.VentureID)
	}
	ev.Status = store.StatusPending
	if ev.RequestMethod == "" {
		ev.RequestMethod = store.MethodPost
	}
	if ev.PriorityLevel == "" {
		ev.PriorityLevel = store.PriorityNormal
	}
	if ev.Direction == "" {
		ev.Direction = store.DirectionOutbound
	}
	if ev.SourceEventID != "" {
		ev.SourceEventID = canonical(ev.SourceEventID)
	}
	ev.CreatedAt, ev.UpdatedAt = now, now
	if ev.NextAttemptAt.IsZero() {
		ev.NextAttemptAt = now
	} else {
		ev.NextAttemptAt = store.Timestamp(ev.NextAttemptAt)
	}
	if ev.CompletedAt != nil {
		t := store.Timestamp(*ev.CompletedAt)
		ev.CompletedAt = &t
	}
	if ev.ExpiresAt != nil {
		t := store.Timestamp(*ev.ExpiresAt)
		ev.ExpiresAt = &t
	}
	ev.LeaseOwner, ev.LeaseUntil = "", nil
	ev.PayloadIn = jsonBytes(ev.PayloadIn)
	ev.PayloadOut = jsonBytes(ev.PayloadOut)
	ev.TransformationApplied = jsonBytes(ev.TransformationApplied)
	ev.CanonicalMapping = jsonBytes(ev.CanonicalMapping)
	ev.ErrorDetails = jsonBytes(ev.ErrorDetails)
	return ev
}

// add appends a record built by newStored.
func (b *insertBatch) add(e *store.Event) {
	b.id = append(b.id, e.ID)
	b.ventureID = append(b.ventureID, e.VentureID)
	b.serviceID = append(b.serviceID, e.ServiceID)
	b.serviceName = append(b.serviceName, e.ServiceName)
	b.serviceType = append(b.serviceType, e.ServiceType)
	b.operation = append(b.operation, e.Operation)
	b.endpointURL = append(b.endpointURL, e.EndpointURL)
	b.method = append(b.method, string(e.RequestMethod))
	b.priority = append(b.priority, string(e.PriorityLevel))
	b.key = append(b.key, e.IdempotencyKey)
	b.subjectKey = append(b.subjectKey, e.SubjectKey)
	b.direction = append(b.direction, string(e.Direction))
	b.sourceID = append(b.sourceID, e.SourceEventID)
	b.payloadIn = append(b.payloadIn, e.PayloadIn)
	b.payloadOut = append(b.payloadOut, e.PayloadOut)
	b.transformation = append(b.transformation, e.TransformationApplied)
	b.canonical = append(b.canonical, e.CanonicalMapping)
	b.errorDetails = append(b.errorDetails, e.ErrorDetails)
	b.payloadBytes = append(b.payloadBytes, int64(len(e.PayloadIn)))
	b.responseTimeMS = append(b.responseTimeMS, e.ResponseTimeMS)
	b.responseCode = append(b.responseCode, int32(e.ResponseCode)) //nolint:gosec // HTTP codes fit
	b.retryCount = append(b.retryCount, int32(e.RetryCount))       //nolint:gosec // validated non-negative
	b.maxRetries = append(b.maxRetries, int32(e.MaxRetries))       //nolint:gosec // validated non-negative
	b.override = append(b.override, e.ChairmanOverride)
	b.completedAt = append(b.completedAt, timeArg(e.CompletedAt))
	b.expiresAt = append(b.expiresAt, timeArg(e.ExpiresAt))
	b.nextAttemptAt = append(b.nextAttemptAt, pgtype.Timestamptz{Time: e.NextAttemptAt, Valid: true})
}

func (b *insertBatch) args(now time.Time) []any {
	return []any{b.id, b.ventureID, b.serviceID, b.serviceName, b.serviceType, b.operation,
		b.endpointURL, b.method, b.payloadIn, b.payloadBytes, b.payloadOut,
		b.transformation, b.canonical, b.responseCode, b.responseTimeMS,
		b.errorDetails, b.retryCount, b.maxRetries, b.priority, now, b.override,
		b.completedAt, b.expiresAt, b.key, b.nextAttemptAt, b.subjectKey, b.direction, b.sourceID}
}

// jsonBytes returns v as an array element (text[] for the event documents, jsonb[] for the
// others): nil (SQL NULL) when empty.
func jsonBytes(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return nil
	}
	return v
}

// prepared is one event of an InsertEvents call after validation.
type prepared struct {
	// ev is the record to store (nil for a repeated key).
	ev  *store.Event
	svc string // canonical service id
	key string
	// first is the index of the earlier event with the same key, or -1.
	first int
}

// InsertEvent implements [store.EventStore].
func (s *Store) InsertEvent(ctx context.Context, e *store.Event) (*store.Event, bool, error) {
	res, err := s.InsertEvents(ctx, []*store.Event{e})
	if err != nil {
		return nil, false, err
	}
	return res[0].Event, res[0].Created, nil
}

// InsertEvents implements [store.EventStore] with one multi-row INSERT … ON CONFLICT DO
// NOTHING (a single statement, so all or nothing) and, only when some keys existed, one
// SELECT of the existing events.
func (s *Store) InsertEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return []store.InsertResult{}, nil
	}
	now := s.now()
	ps := make([]prepared, len(es))
	firstByKey := map[[2]string]int{}
	var batch insertBatch
	checked := store.DocumentsChecked(ctx) // the writer produced the documents: JSON already
	for i, e := range es {
		if e == nil {
			return nil, fmt.Errorf("%w: event %d is nil", store.ErrInvalidArgument, i)
		}
		validate := e.Validate
		if checked {
			validate = e.ValidateFields
		}
		if err := validate(); err != nil {
			return nil, fmt.Errorf("postgres: insert event %d: %w", i, err)
		}
		if e.Status != "" && e.Status != store.StatusPending {
			return nil, fmt.Errorf("%w: event %d: a new event must be pending, not %q", store.ErrInvalidArgument, i, e.Status)
		}
		ps[i] = prepared{svc: canonical(e.ServiceID), key: e.IdempotencyKey, first: -1}
		if e.IdempotencyKey != "" {
			k := [2]string{ps[i].svc, e.IdempotencyKey}
			if j, ok := firstByKey[k]; ok {
				ps[i].first = j
				continue
			}
			firstByKey[k] = i
		}
		id := canonical(e.ID)
		if id == "" {
			var err error
			if id, err = newID(); err != nil {
				return nil, err
			}
		}
		ps[i].ev = newStored(e, id, now)
		batch.add(ps[i].ev)
	}

	insert := s.q.insertEventsPlain
	if len(firstByKey) > 0 {
		insert = s.q.insertEvents
	}
	created, err := s.fencedUpdate(ctx, "insert events", insert, batch.args(now)...)
	if err != nil {
		return nil, err
	}
	if len(created) > 0 {
		s.wake()
	}

	// Events whose key existed already: fetch what is stored.
	var existing map[[2]string]*store.Event
	if len(created) < len(batch.id) {
		var svc, keys []string
		for _, p := range ps {
			if p.ev != nil && !created[p.ev.ID] {
				svc = append(svc, p.svc)
				keys = append(keys, p.key)
			}
		}
		rows, err := s.pool.Query(ctx, s.q.selectEventsByKeys, svc, keys)
		if err != nil {
			return nil, mapError(fmt.Errorf("postgres: insert events: fetch existing: %w", err))
		}
		found, err := collect(rows, scanEvent)
		if err != nil {
			return nil, mapError(fmt.Errorf("postgres: insert events: fetch existing: %w", err))
		}
		existing = make(map[[2]string]*store.Event, len(found))
		for _, e := range found {
			existing[[2]string{e.ServiceID, e.IdempotencyKey}] = e
		}
	}

	out := make([]store.InsertResult, len(es))
	for i, p := range ps {
		switch {
		case p.first >= 0:
			out[i] = store.InsertResult{Event: out[p.first].Event.Clone()}
		case created[p.ev.ID]:
			out[i] = store.InsertResult{Event: p.ev, Created: true}
		default:
			e := existing[[2]string{p.svc, p.key}]
			if e == nil {
				// The conflicting row vanished between the statements (a concurrent
				// rollback, or retention deleted it); the caller may retry.
				return nil, fmt.Errorf("%w: postgres: insert events: event with idempotency key %q of service %s changed concurrently",
					store.ErrBusy, p.key, p.svc)
			}
			out[i] = store.InsertResult{Event: e}
		}
	}
	return out, nil
}

// GetEvent implements [store.EventStore].
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("event", id); err != nil {
		return nil, err
	}
	e, err := scanEvent(s.pool.QueryRow(ctx, s.q.getEvent, id))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get event %s: %w", id, err))
	}
	return e, nil
}

// GetEventByIdempotencyKey implements [store.EventStore].
func (s *Store) GetEventByIdempotencyKey(ctx context.Context, serviceID, key string) (*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("service", serviceID); err != nil {
		return nil, err
	}
	e, err := scanEvent(s.pool.QueryRow(ctx, s.q.getEventByKey, serviceID, key))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get event of service %s with key %q: %w", serviceID, key, err))
	}
	return e, nil
}

// eventWhere translates an EventFilter (Page aside) into conditions.
func eventWhere(w *where, f store.EventFilter) error {
	if f.ServiceID != "" {
		if err := checkID("service", f.ServiceID); err != nil {
			return err
		}
		w.add("service_id = " + w.arg(f.ServiceID))
	}
	if len(f.Statuses) > 0 {
		sts := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			if !st.Valid() {
				return fmt.Errorf("%w: unknown event status %q", store.ErrInvalidArgument, st)
			}
			sts[i] = string(st)
		}
		w.add("status = ANY(" + w.arg(sts) + "::text[])")
	}
	if !f.CreatedFrom.IsZero() {
		w.add("created_at >= " + w.arg(store.Timestamp(f.CreatedFrom)))
	}
	if !f.CreatedTo.IsZero() {
		w.add("created_at < " + w.arg(store.Timestamp(f.CreatedTo)))
	}
	return nil
}

// ListEvents implements [store.EventStore].
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("events", f.Page)
	if err != nil {
		return nil, err
	}
	var w where
	if err := eventWhere(&w, f); err != nil {
		return nil, err
	}
	sql := s.q.listEvents + w.sql() + " ORDER BY created_at, id" + w.page(page)
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list events: %w", err))
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list events: %w", err))
	}
	return out, nil
}

// CancelEvent implements [store.EventStore].
func (s *Store) CancelEvent(ctx context.Context, id string) (*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("event", id); err != nil {
		return nil, err
	}
	e, err := scanEvent(s.pool.QueryRow(ctx, s.q.cancelEvent, id, s.now()))
	if err == nil {
		return e, nil
	}
	return nil, s.transitionError(ctx, "cancel", id, store.StatusCancelled, err)
}

// RequeueEvent implements [store.EventStore].
func (s *Store) RequeueEvent(ctx context.Context, id string, resetRetries bool) (*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("event", id); err != nil {
		return nil, err
	}
	e, err := scanEvent(s.pool.QueryRow(ctx, s.q.requeueEvent, id, s.now(), resetRetries))
	if err == nil {
		s.wake()
		return e, nil
	}
	return nil, s.transitionError(ctx, "requeue", id, store.StatusPending, err)
}

// transitionError explains why a conditional status update of id matched no row: the
// event does not exist (ErrNotFound) or its status forbids the change (*TransitionError).
func (s *Store) transitionError(ctx context.Context, op, id string, to store.EventStatus, err error) error {
	if !notFound(mapError(err)) {
		return mapError(fmt.Errorf("postgres: %s event %s: %w", op, id, err))
	}
	var from string
	if err := s.pool.QueryRow(ctx, s.q.eventStatus, id).Scan(&from); err != nil {
		return mapError(fmt.Errorf("postgres: %s event %s: %w", op, id, err))
	}
	te := &store.TransitionError{EventID: id, From: store.EventStatus(from), To: to}
	return fmt.Errorf("postgres: %s event: %w", op, te)
}

// RequeueEvents implements [store.EventStore].
func (s *Store) RequeueEvents(ctx context.Context, f store.RequeueFilter) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	w := where{args: []any{s.now()}}
	sts := []string{string(store.StatusFailed), string(store.StatusDead)}
	if len(f.Statuses) > 0 {
		sts = sts[:0]
		for _, st := range f.Statuses {
			if st != store.StatusFailed && st != store.StatusDead {
				return 0, fmt.Errorf("%w: requeue: status %q is not failed or dead", store.ErrInvalidArgument, st)
			}
			sts = append(sts, string(st))
		}
	}
	w.add("status = ANY(" + w.arg(sts) + "::text[])")
	if f.ServiceID != "" {
		if err := checkID("service", f.ServiceID); err != nil {
			return 0, err
		}
		w.add("service_id = " + w.arg(f.ServiceID))
	}
	if !f.Since.IsZero() {
		w.add("created_at >= " + w.arg(store.Timestamp(f.Since)))
	}
	tag, err := s.pool.Exec(ctx, s.q.requeueEvents+w.sql(), w.args...)
	if err != nil {
		return 0, mapError(fmt.Errorf("postgres: requeue events: %w", err))
	}
	if tag.RowsAffected() > 0 {
		s.wake()
	}
	return int(tag.RowsAffected()), nil
}

// scanEvent reads one row of eventCols.
func scanEvent(row pgx.Row) (*store.Event, error) {
	var (
		e                                          store.Event
		venture, key, leaseOwner, subject          pgtype.Text
		direction, source                          pgtype.Text
		method, status, priority                   string
		in, out, transformation, canonical, errDet []byte
		completed, expires, leaseUntil             pgtype.Timestamptz
		code                                       int32
		retries, maxRetries                        int32
	)
	if err := row.Scan(&e.ID, &venture, &e.ServiceID, &e.ServiceName, &e.ServiceType,
		&e.Operation, &e.EndpointURL, &method, &in, &out, &transformation, &canonical, &status,
		&code, &e.ResponseTimeMS, &errDet, &retries, &maxRetries, &priority,
		&e.ChairmanOverride, &e.CreatedAt, &e.UpdatedAt, &completed, &expires, &key,
		&e.NextAttemptAt, &leaseOwner, &leaseUntil, &subject, &direction, &source); err != nil {
		return nil, err
	}
	e.VentureID = strOut(venture)
	e.RequestMethod = store.HTTPMethod(method)
	e.PayloadIn = jsonOut(in)
	e.PayloadOut = jsonOut(out)
	e.TransformationApplied = jsonOut(transformation)
	e.CanonicalMapping = jsonOut(canonical)
	e.Status = store.EventStatus(status)
	e.ResponseCode = int(code)
	e.ErrorDetails = jsonOut(errDet)
	e.RetryCount = int(retries)
	e.MaxRetries = int(maxRetries)
	e.PriorityLevel = store.Priority(priority)
	e.CreatedAt = e.CreatedAt.UTC()
	e.UpdatedAt = e.UpdatedAt.UTC()
	e.CompletedAt = timeOut(completed)
	e.ExpiresAt = timeOut(expires)
	e.IdempotencyKey = strOut(key)
	e.NextAttemptAt = e.NextAttemptAt.UTC()
	e.LeaseOwner = strOut(leaseOwner)
	e.LeaseUntil = timeOut(leaseUntil)
	e.SubjectKey = strOut(subject)
	e.Direction = store.EventDirection(strOut(direction))
	e.SourceEventID = strOut(source)
	return &e, nil
}
