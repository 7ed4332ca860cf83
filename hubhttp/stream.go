package hubhttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
)

// streamHeartbeat is how often an idle stream sends a comment line, so that proxies and
// clients see the connection alive.
const streamHeartbeat = 15 * time.Second

// clientBuffer is how many stream events one client may be behind before its stream is
// ended (it resumes from the handler's buffer with Last-Event-ID).
const clientBuffer = 256

// broker turns the hub's live feeds (health changes, activity) into numbered stream
// events, keeps the latest ones for clients that resume with Last-Event-ID, and fans them
// out. Its feed starts with the first stream client and runs until Close or the hub closes.
type broker struct {
	hub   *hub.Hub
	log   *slog.Logger
	epoch string // distinguishes this handler's numbering from an earlier process's

	startOnce sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu      sync.Mutex
	seq     uint64      // the last number given
	ring    []sequenced // the latest events: event n is at ring[n % len(ring)] while n > seq-len(ring)
	clients map[*client]struct{}
	// sources subscribe to the hub when called (so nothing that happens after start is
	// missed) and return the loop that feeds what they receive to emit.
	sources []source
}

type sequenced struct {
	seq uint64
	ev  apiv1.StreamEvent
}

type client struct {
	ch      chan sequenced
	dropped bool
	filter  func(apiv1.StreamEvent) bool
}

func newBroker(h *hub.Hub, capacity int, log *slog.Logger) *broker {
	var b [6]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithCancel(context.Background())
	br := &broker{hub: h, log: log, epoch: hex.EncodeToString(b[:]), ctx: ctx, cancel: cancel,
		ring: make([]sequenced, capacity), clients: map[*client]struct{}{}}
	br.sources = []source{br.healthSource, br.activitySource}
	return br
}

// addSource adds a feed; it must be called before the first client.
func (b *broker) addSource(f source) {
	b.sources = append(b.sources, f)
}

// start starts the feeds on the first client's request: they read the hub as that
// client's principal (each later client is checked by the hub before it joins).
func (b *broker) start(first context.Context) {
	b.startOnce.Do(func() {
		feed := b.ctx
		if p, ok := hub.PrincipalFrom(first); ok {
			feed = hub.WithPrincipal(feed, p)
		}
		for _, src := range b.sources {
			run := src(feed) // subscribed before the first client is answered
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				run(b.emit)
				// a feed ends when the hub closes: end the others and the streams
				b.cancel()
			}()
		}
	})
}

func (b *broker) close() {
	b.cancel()
	b.wg.Wait()
}

// source subscribes to a feed of the hub and returns the loop that emits what it receives
// until the feed ends.
type source func(ctx context.Context) func(emit func(apiv1.StreamEvent))

func (b *broker) healthSource(ctx context.Context) func(func(apiv1.StreamEvent)) {
	changes := b.hub.Subscribe(ctx)
	return func(emit func(apiv1.StreamEvent)) { emitHealth(changes, emit) }
}

func emitHealth(changes <-chan hub.HealthChange, emit func(apiv1.StreamEvent)) {
	for c := range changes {
		emit(apiv1.StreamEvent{Type: "health", At: c.At, ServiceID: c.ServiceID, ServiceName: c.ServiceName,
			From: string(c.From), To: string(c.To), Reason: c.Reason})
	}
}

func (b *broker) activitySource(ctx context.Context) func(func(apiv1.StreamEvent)) {
	acts := b.hub.WatchActivity(ctx)
	return func(emit func(apiv1.StreamEvent)) { emitActivity(acts, emit) }
}

func emitActivity(acts <-chan hub.Activity, emit func(apiv1.StreamEvent)) {
	for a := range acts {
		switch a.Kind {
		case hub.ActivityBreaker:
			emit(apiv1.StreamEvent{Type: "breaker", At: a.At, ServiceID: a.ServiceID, ServiceName: a.ServiceName, From: a.From, To: a.To})
		case hub.ActivityEventOutcome:
			emit(apiv1.StreamEvent{Type: "event", At: a.At, ServiceID: a.ServiceID, ServiceName: a.ServiceName, EventID: a.EventID,
				Status: string(a.Status), RetryCount: a.RetryCount, ResponseCode: a.ResponseCode, LatencyMS: ms(a.Latency), Error: a.Error})
		case hub.ActivityApproval:
			emit(apiv1.StreamEvent{Type: "approval", At: a.At, ServiceName: a.ServiceName, ApprovalID: a.ApprovalID,
				Action: a.Action, Actor: a.Actor})
		}
	}
}

func (b *broker) emit(ev apiv1.StreamEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	s := sequenced{seq: b.seq, ev: ev}
	b.ring[b.seq%uint64(len(b.ring))] = s
	for c := range b.clients {
		if c.filter != nil && !c.filter(ev) {
			continue
		}
		select {
		case c.ch <- s:
		default:
			// too far behind: end this stream; the client resumes from the ring
			c.dropped = true
			delete(b.clients, c)
			close(c.ch)
		}
	}
}

// join registers a client and returns the buffered events after lastID, or reset true when
// they are no longer all kept (or lastID is from another process).
func (b *broker) join(c *client, lastID string) (replay []sequenced, reset bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients[c] = struct{}{}
	if lastID == "" {
		return nil, false
	}
	epoch, n, ok := strings.Cut(lastID, "-")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !ok || err != nil || epoch != b.epoch || seq > b.seq {
		return nil, true
	}
	if seq == b.seq {
		return nil, false
	}
	if b.seq-seq > uint64(len(b.ring)) {
		return nil, true // some of the missed events are no longer kept
	}
	for n := seq + 1; n <= b.seq; n++ {
		s := b.ring[n%uint64(len(b.ring))]
		if s.seq != n {
			return nil, true
		}
		if c.filter == nil || c.filter(s.ev) {
			replay = append(replay, s)
		}
	}
	return replay, false
}

func (b *broker) leave(c *client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.clients[c]; ok {
		delete(b.clients, c)
		close(c.ch)
	}
}

func (b *broker) id(seq uint64) string { return b.epoch + "-" + strconv.FormatUint(seq, 10) }

type streamParams struct {
	Types       []string `query:"types" enum:"health,breaker,event,approval" doc:"event types to receive (default all)"`
	Service     string   `query:"service" doc:"only this service's changes (name or ID)"`
	LastEventID string   `header:"Last-Event-ID" doc:"the id of the last message received, to resume"`
}

// serveStream streams live changes as Server-Sent Events until the client leaves, the
// handler closes or the hub closes.
func (x *Handler) serveStream(w http.ResponseWriter, r *http.Request, ctx context.Context) {
	if err := x.hub.Authorize(ctx, hub.PermRead); err != nil {
		apiendpoint.WriteError(x.env, w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	q := r.URL.Query()
	var types []string
	for _, t := range q["types"] {
		for p := range strings.SplitSeq(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				types = append(types, p)
			}
		}
	}
	service := q.Get("service")
	if service != "" {
		si, err := x.hub.GetService(ctx, service)
		if err != nil {
			apiendpoint.WriteError(x.env, w, r, err)
			return
		}
		service = si.Service.ID
	}
	c := &client{ch: make(chan sequenced, clientBuffer)}
	if len(types) > 0 || service != "" {
		c.filter = func(ev apiv1.StreamEvent) bool {
			if len(types) > 0 && !slices.Contains(types, ev.Type) && ev.Type != "reset" {
				return false
			}
			return service == "" || ev.ServiceID == service || ev.ServiceID == ""
		}
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = q.Get("last_event_id")
	}
	x.stream.start(ctx)
	replay, reset := x.stream.join(c, lastID)
	defer x.stream.leave(c)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(id string, ev apiv1.StreamEvent) error {
		data, _ := json.Marshal(ev)
		if id != "" {
			if _, err := fmt.Fprintf(w, "id: %s\n", id); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, data); err != nil {
			return err
		}
		return nil
	}
	// retry: how long EventSource clients wait before reconnecting
	_, _ = fmt.Fprintf(w, "retry: 1000\n: hub stream\n\n")
	if reset {
		b := x.stream
		b.mu.Lock()
		cur := b.id(b.seq)
		b.mu.Unlock()
		_ = write(cur, apiv1.StreamEvent{Type: "reset", At: time.Now().UTC(), Reason: "the changes since Last-Event-ID are no longer kept; reload the state"})
	}
	for _, s := range replay {
		if write(x.stream.id(s.seq), s.ev) != nil {
			return
		}
	}
	_ = rc.Flush()
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.stream.ctx.Done():
			return
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case s, ok := <-c.ch:
			if !ok {
				return // dropped for lagging: the client resumes with Last-Event-ID
			}
			if write(x.stream.id(s.seq), s.ev) != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}
