package engine

import (
	"context"
	"sync"

	"github.com/ehg/hub/store"
)

// CallRecorder collects the request a delivery attempt actually makes. The engine puts one
// in the context of each attempt; whatever sends the attempt's HTTP requests (the hub's
// transport) records each request there, and the engine stores the last one with the
// outcome (request_method, endpoint_url). Safe for concurrent use.
type CallRecorder struct {
	mu   sync.Mutex
	call store.Call
}

// Record notes a request: its method (ignored unless it is one the store knows) and its
// URL as it may be stored (no credentials, no query). The last request recorded wins.
func (r *CallRecorder) Record(method store.HTTPMethod, endpointURL string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if method.Valid() {
		r.call.Method = method
	}
	if endpointURL != "" {
		r.call.EndpointURL = endpointURL
	}
}

// Call returns what was recorded (zero when nothing was: the attempt made no HTTP request).
func (r *CallRecorder) Call() store.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.call
}

type callKey struct{}

// withCallRecorder returns ctx carrying a new recorder (one allocation for both).
func withCallRecorder(ctx context.Context) (context.Context, *CallRecorder) {
	c := &callCtx{Context: ctx}
	return c, &c.rec
}

// callCtx is a context carrying a CallRecorder: context.WithValue and the recorder in one
// value.
type callCtx struct {
	context.Context
	rec CallRecorder
}

func (c *callCtx) Value(key any) any {
	if key == (callKey{}) {
		return &c.rec
	}
	return c.Context.Value(key)
}

// CallRecorderFrom returns the recorder of the attempt ctx belongs to, or nil.
func CallRecorderFrom(ctx context.Context) *CallRecorder {
	r, _ := ctx.Value(callKey{}).(*CallRecorder)
	return r
}
