// Package fakeclock is a settable clock for connector tests: rate-limit resets and
// webhook replay windows are checked against it instead of the wall clock.
package fakeclock

import (
	"sync"
	"time"
)

// Start is the time every new Clock starts at: 2025-11-25T12:00:00Z.
var Start = time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)

// Clock is a clock that moves only when told. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock at [Start].
func New() *Clock { return &Clock{t: Start} }

// Now returns the clock's time; pass it as connectors.Config.Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
