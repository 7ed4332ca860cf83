package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehg/hub/connectors"
)

// SinkKind is the connector kind under which the hub runs register the Sink.
const SinkKind = "bench-sink"

// ErrUnexpectedBody reports deliveries whose body was not the expected canonical document.
var ErrUnexpectedBody = errors.New("benchmarks: delivered body differs from the expected work item")

// Sink is the in-process destination every system delivers to: the hub through its
// connector interface, River workers by calling Invoke themselves. It counts deliveries,
// checks each body against the expected work item, and reports accept-to-delivery latency
// to a Tracker. Safe for concurrent use.
type Sink struct {
	delivered atomic.Int64
	bytes     atomic.Int64
	want      []byte       // expected body; nil: not checked
	wantDoc   any          // want decoded
	other     atomic.Int64 // deliveries whose bytes differ from want
	wrong     atomic.Int64 // deliveries whose JSON value differs from want
	firstBad  atomic.Pointer[[]byte]
	tracker   atomic.Pointer[Tracker]

	target atomic.Int64
	mu     sync.Mutex // orders Expect against closing done
	done   chan struct{}
}

// NewSink returns a sink; when want is not nil every delivered body is compared with it
// (see Err). A body with other bytes (a store may re-serialise JSON, as PostgreSQL's jsonb
// does) is compared as a JSON value: the first 100 such bodies and every 64th after them,
// to keep the check's cost out of the figures.
func NewSink(want []byte) *Sink {
	s := &Sink{want: want, done: make(chan struct{})}
	if want != nil {
		_ = json.Unmarshal(want, &s.wantDoc)
	}
	return s
}

// Reformatted returns how many delivered bodies had other bytes than expected (the same
// JSON value unless Err says otherwise).
func (s *Sink) Reformatted() int64 { return s.other.Load() }

// Expect arms the sink: the returned channel closes once n deliveries in all have arrived.
func (s *Sink) Expect(n int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target.Store(n)
	s.done = make(chan struct{})
	if s.delivered.Load() >= n {
		close(s.done)
	}
	return s.done
}

// Track sends the latency of every later delivery to t (nil stops tracking).
func (s *Sink) Track(t *Tracker) { s.tracker.Store(t) }

// Delivered returns the number of deliveries so far.
func (s *Sink) Delivered() int64 { return s.delivered.Load() }

// Err returns an error wrapping ErrUnexpectedBody when a delivered body differed from the
// expected one (such a delivery still counts: the run finishes and then fails).
func (s *Sink) Err() error {
	if n := s.wrong.Load(); n > 0 {
		return fmt.Errorf("%w: %d deliveries, the first: %.300s", ErrUnexpectedBody, n, *s.firstBad.Load())
	}
	return nil
}

// Info implements connectors.Connector.
func (s *Sink) Info() connectors.Info {
	return connectors.Info{Kind: SinkKind, Name: "bench", Operations: []string{"deliver"}, DefaultOperation: "deliver"}
}

// Invoke records one delivery. The request's IdempotencyKey identifies the event to the
// Tracker (the hub sends the event ID when the event has no key of its own).
func (s *Sink) Invoke(_ context.Context, req *connectors.Request) (*connectors.Response, error) {
	if s.want != nil && !bytes.Equal(req.Body, s.want) {
		if n := s.other.Add(1); n <= 100 || n%64 == 0 {
			var got any
			if err := json.Unmarshal(req.Body, &got); err != nil || !reflect.DeepEqual(got, s.wantDoc) {
				if s.wrong.Add(1) == 1 {
					b := bytes.Clone(req.Body)
					s.firstBad.Store(&b)
				}
			}
		}
	}
	if t := s.tracker.Load(); t != nil {
		t.Delivered(req.IdempotencyKey, time.Now())
	}
	s.bytes.Add(int64(len(req.Body)))
	if n := s.delivered.Add(1); n >= s.target.Load() {
		s.mu.Lock()
		if n >= s.target.Load() {
			select {
			case <-s.done:
			default:
				close(s.done)
			}
		}
		s.mu.Unlock()
	}
	return &connectors.Response{StatusCode: http.StatusOK}, nil
}

// Check implements connectors.Connector: the sink is always up.
func (s *Sink) Check(context.Context) error { return nil }

var _ connectors.Connector = (*Sink)(nil)

// Tracker pairs each event's accept time with its first delivery, whichever is reported
// first, and records the difference in a Histogram. Memory is bounded by the events in
// flight. Safe for concurrent use.
type Tracker struct {
	seed   maphash.Seed
	shards [64]trackerShard
	Hist   Histogram
}

type trackerShard struct {
	mu sync.Mutex
	// m holds the accept time (UnixNano > 0) of events not yet delivered, or the negated
	// delivery time of events delivered before their accept was reported.
	m map[string]int64
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	t := &Tracker{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[string]int64)
	}
	return t
}

func (t *Tracker) shard(id string) *trackerShard {
	return &t.shards[maphash.String(t.seed, id)%uint64(len(t.shards))]
}

// Accepted reports that the event id was offered at at (for a paced producer: its
// scheduled time, so a slow accept counts against latency).
func (t *Tracker) Accepted(id string, at time.Time) {
	sh := t.shard(id)
	ns := at.UnixNano()
	sh.mu.Lock()
	d, ok := sh.m[id]
	if ok && d < 0 {
		delete(sh.m, id)
		sh.mu.Unlock()
		t.Hist.Record(time.Duration(-d - ns))
		return
	}
	sh.m[id] = ns
	sh.mu.Unlock()
}

// Delivered reports a delivery of id at at. Only the first delivery of an event counts.
func (t *Tracker) Delivered(id string, at time.Time) {
	sh := t.shard(id)
	ns := at.UnixNano()
	sh.mu.Lock()
	a, ok := sh.m[id]
	switch {
	case ok && a > 0:
		delete(sh.m, id)
		sh.mu.Unlock()
		t.Hist.Record(time.Duration(ns - a))
		return
	case !ok:
		sh.m[id] = -ns
	}
	sh.mu.Unlock()
}

// Histogram counts durations in log-linear buckets (64 per power of two: every quantile
// is within 1.6% of the true value). The zero value is ready; safe for concurrent use.
type Histogram struct {
	counts [histBuckets]atomic.Int64
	n      atomic.Int64
	max    atomic.Int64
}

const (
	histSub     = 64 // buckets per power of two
	histShift   = 6  // log2(histSub)
	histBuckets = (64-histShift)*histSub + 2*histSub
)

func histIndex(v int64) int {
	if v < 2*histSub {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - histShift - 1 // v>>e is in [histSub, 2*histSub)
	return e*histSub + int(v>>e)
}

// histLow is the smallest value of bucket i.
func histLow(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	e := i/histSub - 1
	return int64(i-e*histSub) << e
}

// Record adds one duration (negative counts as zero).
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns the number of durations recorded.
func (h *Histogram) Count() int64 { return h.n.Load() }

// Max returns the largest duration recorded.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the q-quantile (0 < q <= 1) of the recorded durations: the middle of
// the bucket holding it, or 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := histLow(i), histLow(i+1)
			return min(time.Duration(lo+(hi-lo)/2), h.Max())
		}
	}
	return h.Max()
}
