package store

import (
	"math"
	"time"
)

// Precision is the resolution at which stores keep times.
const Precision = time.Microsecond

// Timestamp returns t as stores keep it: in UTC, truncated to [Precision]. Implementations
// apply it to every time they write, so a record read back equals the record written.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(Precision) }

// Percentile returns the continuous percentile p (0..1) of sorted values, as SQL
// percentile_cont does: linear interpolation between the values at ranks floor and ceil of
// p*(n-1). It returns 0 for no values. Stores computing percentiles in the database must
// agree with it.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	pos := p * float64(n-1)
	lo := math.Floor(pos)
	hi := math.Ceil(pos)
	if lo == hi {
		return sorted[int(lo)]
	}
	return sorted[int(lo)] + (pos-lo)*(sorted[int(hi)]-sorted[int(lo)])
}
