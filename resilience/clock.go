package resilience

import "time"

// Clock is the time source of the adaptive rate limiter (remote windows, pauses, Retry-After
// dates). Tests inject a fake; nil means the wall clock. Implementations must be safe for
// concurrent use.
//
// The failsafe-go policies underneath (breaker recovery timeout, ceiling rate limiter,
// timeouts, inline retry delays) always run on the wall clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

var _ Clock = wallClock{}
