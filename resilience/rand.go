package resilience

import "math/rand/v2"

// randFloat is the jitter source: math/rand/v2's global generator, safe for concurrent use.
func randFloat() float64 { return rand.Float64() }
