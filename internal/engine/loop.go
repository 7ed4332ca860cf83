package engine

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

// recordLinger is the longest the recorder waits, under load, for more outcomes before
// writing them.
const recordLinger = time.Millisecond

// minDeferral is the shortest wait of an event a local policy refused (breaker, rate
// limit, bulkhead).
const minDeferral = 100 * time.Millisecond

// unavailableDeferral is the shortest wait of an event whose service could not be loaded
// for a passing reason (Targets.Target returned a *resilience.RejectedError).
const unavailableDeferral = time.Second

// storeRetries is how often a store write of outcomes is retried when the store is busy.
const storeRetries = 5

// dispatcher claims due events while workers are free and hands them out.
func (e *Engine) dispatcher(ctx context.Context) {
	defer close(e.dispDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	// backlog is true while claims come back full: then the dispatcher waits until half a
	// batch of slots is free, so that one claim (one transaction) serves many events while
	// the prefetched ones keep the workers busy.
	backlog := false
	refill := max(1, e.cfg.BatchSize/2)
	for {
		select {
		case <-e.stopping:
			return
		case <-e.tokens:
		}
		n := 1
	grab:
		for n < e.cfg.BatchSize {
			if backlog && n < refill {
				select {
				case <-e.tokens:
					n++
					continue
				case <-e.stopping:
					break grab
				}
			}
			select {
			case <-e.tokens:
				n++
			default:
				break grab
			}
		}
		e.nextDue.Store(0)
		evs, err := e.cfg.Claim(ctx, store.ClaimParams{
			Owner:             e.cfg.Owner,
			Limit:             n,
			Lease:             e.cfg.Lease,
			ExcludeServiceIDs: e.cfg.Targets.Excluded(),
		})
		for i := len(evs); i < n; i++ {
			e.tokens <- struct{}{}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !errors.Is(err, store.ErrBusy) {
				e.log.Warn("hub: claim failed", slog.Any("error", err))
			}
		}
		if len(evs) > 0 {
			e.stats.Claimed.Add(int64(len(evs)))
			e.mu.Lock()
			for _, ev := range evs {
				e.inflight[ev.ID] = struct{}{}
			}
			e.mu.Unlock()
			for _, ev := range evs {
				e.jobs <- ev
			}
			if len(evs) == n {
				backlog = true
				continue // there may be more due events
			}
		}
		backlog = false
		wait := e.cfg.PollInterval
		if err != nil {
			wait = min(wait, 50*time.Millisecond)
		}
		if due := e.nextDue.Load(); due != 0 {
			if d := time.Until(time.Unix(0, due)); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		timer.Reset(wait)
		select {
		case <-e.stopping:
			return
		case <-e.wake:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// noteDue remembers the earliest time a retrying event of this engine is due, so the
// dispatcher wakes for it without waiting a whole poll interval.
func (e *Engine) noteDue(t time.Time) {
	ns := t.UnixNano()
	for {
		cur := e.nextDue.Load()
		if cur != 0 && cur <= ns {
			return
		}
		if e.nextDue.CompareAndSwap(cur, ns) {
			return
		}
	}
}

func (e *Engine) worker() {
	defer e.workersWG.Done()
	for ev := range e.jobs {
		select {
		case <-e.stopping:
			// prefetched but not started: give it back rather than delay shutdown
			e.results <- e.release(result{ev: ev, outcome: Outcome{EventID: ev.ID, ServiceID: ev.ServiceID, Event: ev, RetryCount: ev.RetryCount}}, e.cfg.Clock(), errStopping)
		default:
			e.results <- e.deliver(ev)
		}
		e.tokens <- struct{}{}
	}
}

// deliver performs one attempt of ev and decides its next state.
func (e *Engine) deliver(ev *store.Event) result {
	now := e.cfg.Clock()
	r := result{ev: ev, outcome: Outcome{EventID: ev.ID, ServiceID: ev.ServiceID, Event: ev, RetryCount: ev.RetryCount}}
	if ev.ExpiresAt != nil && !now.Before(*ev.ExpiresAt) {
		r.outcome.Status = store.StatusExpired
		r.outcome.Err = errExpired
		r.outcome.ErrorText = errExpired.Error()
		r.fail = &store.FailParams{ID: ev.ID, Owner: e.cfg.Owner, Status: store.StatusExpired, KeepRetryCount: true, PayloadOut: ev.PayloadOut,
			ErrorDetails: details("expired", errExpired.Error(), 0, "", 0, ev.RetryCount, now)}
		return r
	}
	t, err := e.cfg.Targets.Target(e.callCtx, ev.ServiceID)
	if err != nil {
		if e.callCtx.Err() != nil {
			return e.release(r, now, err)
		}
		var rej *resilience.RejectedError
		if errors.As(err, &rej) {
			// The service could not be loaded for now (its key service or the store is
			// unavailable): nothing was attempted; the event waits and is not counted.
			return e.deferUnloaded(r, now, err, max(rej.Wait, unavailableDeferral))
		}
		r.outcome.Status = store.StatusFailed
		r.outcome.Class = resilience.ClassPermanent
		r.outcome.Err = err
		r.outcome.ErrorText = err.Error()
		r.fail = &store.FailParams{ID: ev.ID, Owner: e.cfg.Owner, Status: store.StatusFailed, KeepRetryCount: true, PayloadOut: ev.PayloadOut,
			ErrorDetails: details("permanent", err.Error(), 0, "", 0, ev.RetryCount, now)}
		return r
	}
	start := time.Now()
	ctx, rec := withCallRecorder(e.callCtx)
	resp, err := t.Deliver(ctx, ev)
	lat := time.Since(start)
	call := rec.Call()
	now = e.cfg.Clock()
	ms := lat.Milliseconds()
	r.outcome.Latency = lat
	if err == nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		r.outcome.Status = store.StatusSucceeded
		r.outcome.ResponseCode = code
		r.outcome.Attempted = true
		r.ok = true
		r.complete = store.CompleteParams{ID: ev.ID, Owner: e.cfg.Owner, ResponseCode: code, ResponseTimeMS: ms, PayloadOut: ev.PayloadOut, Call: call}
		if m, ok := t.(Masker); ok {
			in, canon, out := m.MaskDelivered(ev)
			r.complete.MaskedPayloadIn, r.complete.MaskedCanonical = in, canon
			if out != nil {
				r.complete.PayloadOut = out
			}
		}
		return r
	}
	class := resilience.Classify(err)
	if e.callCtx.Err() != nil && (class == resilience.ClassCanceled || errors.Is(err, context.Canceled)) {
		return e.release(r, now, err)
	}
	var code int
	var vendor string
	var ce *connectors.Error
	if errors.As(err, &ce) {
		code, vendor = ce.StatusCode, ce.Code
	}
	text := t.Scrub(err.Error())
	r.outcome.Class, r.outcome.Err, r.outcome.ErrorText, r.outcome.ResponseCode = class, err, text, code
	r.outcome.Attempted = class != resilience.ClassRejected
	fp := &store.FailParams{ID: ev.ID, Owner: e.cfg.Owner, ResponseCode: code, ResponseTimeMS: ms, PayloadOut: ev.PayloadOut, Call: call}
	switch class {
	case resilience.ClassRejected:
		// Nothing reached the service (breaker open, rate limit, bulkhead): wait, do not
		// count an attempt.
		// A rejection without a hint (a half-open breaker whose probe is out) waits at least
		// minDeferral, so that waiting events do not churn through claims.
		d := t.Backoff(ev.RetryCount+1, err)
		fp.Status, fp.KeepRetryCount, fp.NextAttemptAt = store.StatusRetrying, true, now.Add(max(d, minDeferral))
	case resilience.ClassPermanent:
		fp.Status = store.StatusFailed
	default:
		next := ev.RetryCount + 1
		if next > ev.MaxRetries {
			fp.Status = store.StatusDead
		} else {
			fp.Status, fp.NextAttemptAt = store.StatusRetrying, now.Add(t.Backoff(next, err))
		}
	}
	retries := ev.RetryCount
	if !fp.KeepRetryCount {
		retries++
	}
	var ra time.Duration
	var rl resilience.RateLimitedError
	if errors.As(err, &rl) {
		ra = rl.RetryAfter()
	}
	fp.ErrorDetails = details(detailClass(class, ce), text, code, vendor, ra, retries, now)
	r.outcome.Status, r.outcome.RetryCount, r.outcome.NextAttemptAt = fp.Status, retries, fp.NextAttemptAt
	r.fail = fp
	return r
}

// deferUnloaded puts back an event whose service could not be loaded for a passing reason, due
// after wait, its attempt not counted.
func (e *Engine) deferUnloaded(r result, now time.Time, err error, wait time.Duration) result {
	text := err.Error()
	next := now.Add(wait)
	r.outcome.Status, r.outcome.Class, r.outcome.Err, r.outcome.ErrorText = store.StatusRetrying, resilience.ClassRejected, err, text
	r.outcome.NextAttemptAt = next
	r.fail = &store.FailParams{ID: r.ev.ID, Owner: e.cfg.Owner, Status: store.StatusRetrying, NextAttemptAt: next,
		KeepRetryCount: true, PayloadOut: r.ev.PayloadOut, ErrorDetails: details(resilience.ClassRejected.String(), text, 0, "", 0, r.ev.RetryCount, now)}
	return r
}

// release returns an event whose call was cancelled by shutdown to the queue, due now.
func (e *Engine) release(r result, now time.Time, err error) result {
	r.outcome.Status = store.StatusRetrying
	r.outcome.Class = resilience.ClassCanceled
	r.outcome.Err = err
	r.outcome.ErrorText = "delivery interrupted by shutdown"
	r.outcome.NextAttemptAt = now
	r.fail = &store.FailParams{ID: r.ev.ID, Owner: e.cfg.Owner, Status: store.StatusRetrying, NextAttemptAt: now,
		KeepRetryCount: true, PayloadOut: r.ev.PayloadOut, ErrorDetails: details("canceled", "delivery interrupted by shutdown", 0, "", 0, r.ev.RetryCount, now)}
	return r
}

// detailClass names the class recorded in error_details: the resilience class, except that
// authentication and authorisation failures (connectors.ClassAuth), which resilience treats as
// permanent, are recorded as "auth" so that an operator can tell bad credentials from a bad
// request.
func detailClass(class resilience.Class, ce *connectors.Error) string {
	if ce != nil && ce.Class == connectors.ClassAuth && class == resilience.ClassPermanent {
		return connectors.ClassAuth.String()
	}
	return class.String()
}

var (
	errExpired  = errors.New("event expired before delivery")
	errStopping = errors.New("hub stopping")
)

func details(class, msg string, code int, vendor string, retryAfter time.Duration, attempt int, at time.Time) json.RawMessage {
	d := struct {
		Class        string    `json:"class"`
		Error        string    `json:"error"`
		StatusCode   int       `json:"status_code,omitempty"`
		Code         string    `json:"code,omitempty"`
		RetryAfterMS int64     `json:"retry_after_ms,omitempty"`
		RetryCount   int       `json:"retry_count"`
		At           time.Time `json:"at"`
	}{class, msg, code, vendor, retryAfter.Milliseconds(), attempt, at.UTC()}
	b, _ := json.Marshal(d)
	return b
}

// recorder writes outcomes to the store in batches and tells waiters and observers.
func (e *Engine) recorder() {
	defer e.recWG.Done()
	batch := make([]result, 0, e.cfg.BatchSize)
	busy := false // the previous write carried several outcomes: linger to gather more
	for r := range e.results {
		batch = append(batch[:0], r)
		var linger <-chan time.Time
		if busy {
			linger = time.After(recordLinger)
		}
	drain:
		for len(batch) < e.cfg.BatchSize {
			select {
			case r, ok := <-e.results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				continue
			default:
			}
			if linger == nil {
				break
			}
			select {
			case r, ok := <-e.results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			case <-linger:
				break drain
			}
		}
		busy = len(batch) > 1
		e.flush(batch)
		clear(batch) // hold on to no event until the next write
	}
}

func (e *Engine) flush(batch []result) {
	cps, fps := e.cps[:0], e.fps[:0]
	for i := range batch {
		if r := &batch[i]; r.ok {
			cps = append(cps, r.complete)
		} else {
			fps = append(fps, *r.fail)
		}
	}
	var lost map[string]bool // lost or not recorded
	mark := func(id string) {
		if lost == nil {
			lost = map[string]bool{}
		}
		lost[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// payload_out is the claimed event's own (or the hub's masking), error_details encoded
	// here: the store need not check them again.
	ctx = store.CheckedDocuments(ctx)
	if len(cps) > 0 {
		ids, err := retryBusy(ctx, func() ([]string, error) { return e.cfg.Store.CompleteEvents(ctx, cps) })
		for _, id := range ids {
			mark(id)
		}
		if err != nil {
			e.noteWrite(err, len(cps))
			for i := range cps {
				mark(cps[i].ID)
			}
		}
	}
	if len(fps) > 0 {
		ids, err := retryBusy(ctx, func() ([]string, error) { return e.cfg.Store.FailEvents(ctx, fps) })
		for _, id := range ids {
			mark(id)
		}
		if err != nil {
			e.noteWrite(err, len(fps))
			for i := range fps {
				mark(fps[i].ID)
			}
		}
	}
	// The store keeps no reference to the params: their buffers serve the next write
	// (cleared, so they hold on to no event's documents).
	clear(cps)
	clear(fps)
	e.cps, e.fps = cps[:0], fps[:0]

	// One lock for the batch: the events are no longer in flight, and their waiters are
	// taken (told below, after the observers).
	told := e.waiting[:0]
	e.mu.Lock()
	for i := range batch {
		id := batch[i].ev.ID
		delete(e.inflight, id)
		if len(e.waiters) == 0 {
			continue
		}
		if ws, ok := e.waiters[id]; ok {
			delete(e.waiters, id)
			told = append(told, waiting{i: i, ws: ws})
		}
	}
	e.mu.Unlock()
	now := e.cfg.Clock()
	for i := range batch {
		r := &batch[i]
		o := &r.outcome
		o.At = now
		if lost[o.EventID] {
			o.Lost = true
			e.stats.Lost.Add(1)
		} else {
			e.count(*o)
			if o.Status == store.StatusRetrying && !o.NextAttemptAt.IsZero() {
				e.noteDue(o.NextAttemptAt)
			}
		}
		// Observers first: a caller woken by its waiter then finds the outcome already in the
		// metrics and health figures the observers keep.
		for _, obs := range e.cfg.Observers {
			obs.Observe(*o)
		}
		if o.Status == store.StatusDead && !o.Lost && e.cfg.OnDead != nil {
			ev, o := r.ev, *o
			e.hookWG.Add(1)
			go func() {
				defer e.hookWG.Done()
				e.cfg.OnDead(ev, o)
			}()
		}
	}
	for _, w := range told {
		for _, ch := range w.ws {
			ch <- batch[w.i].outcome
		}
	}
	clear(told)
	e.waiting = told[:0]
}

// noteWrite logs a failed write of n outcomes.
func (e *Engine) noteWrite(err error, n int) {
	e.log.Error("hub: recording delivery outcomes failed; the events return to the queue when their lease expires",
		slog.Int("events", n), slog.Any("error", err))
}

func (e *Engine) count(o Outcome) {
	switch o.Status {
	case store.StatusSucceeded:
		e.stats.Succeeded.Add(1)
	case store.StatusRetrying:
		if o.Attempted {
			e.stats.Retried.Add(1)
		} else {
			e.stats.Deferred.Add(1)
		}
	case store.StatusFailed:
		e.stats.Failed.Add(1)
	case store.StatusDead:
		e.stats.Dead.Add(1)
	case store.StatusExpired:
		e.stats.Expired.Add(1)
	}
}

func retryBusy(ctx context.Context, f func() ([]string, error)) ([]string, error) {
	var err error
	var ids []string
	for i := range storeRetries {
		ids, err = f()
		if err == nil || !errors.Is(err, store.ErrBusy) {
			return ids, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(i+1) * 10 * time.Millisecond):
		}
	}
	return ids, err
}

// leaseKeeper extends the leases of in-flight events every third of the lease.
func (e *Engine) leaseKeeper(ctx context.Context) {
	defer e.bgWG.Done()
	t := time.NewTicker(max(e.cfg.Lease/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		ids := make([]string, 0, len(e.inflight))
		for id := range e.inflight {
			ids = append(ids, id)
		}
		e.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		if _, err := e.cfg.Store.ExtendLease(ctx, e.cfg.Owner, ids, e.cfg.Lease); err != nil && ctx.Err() == nil {
			e.log.Warn("hub: extending leases failed", slog.Int("events", len(ids)), slog.Any("error", err))
		}
	}
}

// maintenance releases expired leases (crashed workers' events) and expires stale events.
func (e *Engine) maintenance(ctx context.Context) {
	defer e.bgWG.Done()
	t := time.NewTicker(e.cfg.MaintenanceInterval)
	defer t.Stop()
	for {
		e.Maintain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Maintain runs one round of the maintenance job: release expired leases, expire events past
// their expires_at. It is safe to call at any time, from any number of hubs.
func (e *Engine) Maintain(ctx context.Context) {
	n, err := e.cfg.Store.ReleaseExpiredLeases(ctx)
	if err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrBusy) {
		e.log.Warn("hub: releasing expired leases failed", slog.Any("error", err))
	}
	if n > 0 {
		e.log.Info("hub: released events of expired leases", slog.Int("events", n))
		e.Wake()
	}
	x, err := e.cfg.Store.ExpireEvents(ctx)
	if err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrBusy) {
		e.log.Warn("hub: expiring events failed", slog.Any("error", err))
	}
	if x > 0 {
		e.stats.Expired.Add(int64(x))
	}
}
