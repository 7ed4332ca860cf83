package transform_test

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/transform"
)

// heapObjects reads the bytes of live and not yet swept heap objects.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakHeap runs fn while sampling the heap every 200µs and returns the peak growth over the
// heap measured just before (after a collection).
func peakHeap(fn func()) uint64 {
	runtime.GC()
	base := heapObjects()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(200 * time.Microsecond)
		defer tk.Stop()
		for {
			if h := heapObjects(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	fn()
	if h := heapObjects(); h > peak.Load() {
		peak.Store(h)
	}
	close(stop)
	wg.Wait()
	if peak.Load() < base {
		return 0
	}
	return peak.Load() - base
}

// TestHostileMappings runs mappings written to exhaust memory or time under a 50 ms
// deadline (and one cancelled as Close cancels): each stops with a typed error, grows the
// heap by less than 64 MiB, and stops within 100 ms of the deadline. It runs alone (not
// in parallel) so the heap figures are its own.
func TestHostileMappings(t *testing.T) {
	xs := make([]any, 20000)
	for i := range xs {
		xs[i] = i
	}
	in := map[string]any{"s": "xxxxxxxxxx", "xs": xs, "n": 1000000}
	const deadline = 50 * time.Millisecond
	// The CPU loops compare the inner count with len(xs), not with a constant: expr's
	// optimizer rewrites count(...) > 0 into any(...), which stops at the first match and
	// would let the "runaway" finish in milliseconds.
	cases := []struct {
		name, expr string
		want       error
		cancel     bool // cancelled (as the hub's Close does) instead of a deadline
	}{
		{"nested repeat", "len(repeat(repeat('x', 4000), 1000000))", transform.ErrMemoryLimit, false},
		{"quadratic reduce", "reduce(1..100000, #acc + 'xxxxxxxxxx', '')", errLimitOrDeadline, false},
		{"repeat of input", "len(repeat(s, n * 1000))", transform.ErrMemoryLimit, false},
		{"join of ranges", "len(join(map(1..n, s), ','))", errLimitOrDeadline, false},
		{"replace empty", "len(replace(repeat(s, 50000), '', repeat(s, 100)))", transform.ErrMemoryLimit, false},
		{"split runes", "len(split(repeat('ab', 500000) + repeat('ab', 500000), ''))", errLimitOrDeadline, false},
		{"concat doubling", "len(reduce(1..40, concat(#acc, #acc), [1, 2, 3]))", errLimitOrDeadline, false},
		{"flatten nest", "len(flatten(map(1..1000, map(1..1000, #))))", errLimitOrDeadline, false},
		{"map of big strings", "let b = repeat(s, 100000); len(map(1..1000, b + b))", errLimitOrDeadline, false},
		{"range from input", "len(map(1..(n * n), #))", errLimitOrDeadline, false},
		{"cpu loop", "count(xs, count(xs, # >= 0) == len(xs))", context.DeadlineExceeded, false},
		{"cpu sort loop", "count(xs, len(sortBy(xs, -#)) > 0)", context.DeadlineExceeded, false},
		{"cpu loop cancelled", "count(xs, count(xs, # >= 0) == len(xs))", context.Canceled, true},
	}
	for _, c := range cases {
		p, err := transform.Compile(transform.Rules{Name: "hostile", Fields: fields("x", c.expr)})
		require.NoError(t, err, c.name)
		var (
			aerr    error
			elapsed time.Duration
		)
		grew := peakHeap(func() {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			if c.cancel {
				ctx, cancel = context.WithCancel(t.Context())
				time.AfterFunc(deadline, cancel)
			}
			defer cancel()
			start := time.Now()
			_, _, aerr = p.Apply(ctx, in)
			elapsed = time.Since(start)
		})
		overrun := max(elapsed-deadline, 0)
		t.Logf("%-20s %-55q stopped after %7.2f ms (%6.2f ms past the deadline), heap growth %6.2f MiB: %v",
			c.name, c.expr, float64(elapsed)/1e6, float64(overrun)/1e6, float64(grew)/(1<<20), aerr)
		if c.want == errLimitOrDeadline {
			// the loop budget or the deadline, whichever comes first on this machine
			require.True(t, errors.Is(aerr, transform.ErrMemoryLimit) || errors.Is(aerr, context.DeadlineExceeded), "%s: %v", c.name, aerr)
		} else {
			require.ErrorIs(t, aerr, c.want, c.name)
		}
		require.ErrorIs(t, aerr, transform.ErrEval, c.name)
		var fe *transform.FieldError
		require.ErrorAs(t, aerr, &fe, c.name)
		if errors.Is(c.want, context.Canceled) || errors.Is(c.want, context.DeadlineExceeded) {
			require.ErrorIs(t, aerr, transform.ErrInterrupted, c.name)
		}
		require.Less(t, grew, uint64(64<<20), "%s: heap growth", c.name)
		if !raceEnabled {
			require.Less(t, overrun, 100*time.Millisecond, "%s: stopped too late", c.name)
		}
	}
}

// errLimitOrDeadline marks a case that may stop on either bound.
var errLimitOrDeadline = errors.New("memory limit or deadline")

func TestConstantSizesRejectedAtCompile(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"len(map(1..100000000, #))", "repeat('xxxx', 1000000)", "map(0..2000000, 1)"} {
		_, err := transform.Compile(transform.Rules{Name: "r", Fields: fields("x", src)})
		require.ErrorIs(t, err, transform.ErrTooComplex, src)
		var ce *transform.CompileError
		require.ErrorAs(t, err, &ce, src)
	}
}

// TestMemoryBudgetHoldsToSmallFactor: with limits four times smaller than the defaults (a
// 4 MiB loop budget, 250,000 elements, 256 KiB strings), mappings written to build far
// more stop on a memory limit — not on the generous deadline — and the heap grows by at
// most a small factor (3x) of the loop budget, the largest of the three limits in bytes.
// It runs alone (not in parallel) so the heap figures are its own.
func TestMemoryBudgetHoldsToSmallFactor(t *testing.T) {
	const (
		loopBytes = 4 << 20
		elements  = 250_000
		strBytes  = 256 << 10
		factor    = 3
	)
	in := map[string]any{"s": "xxxxxxxxxx", "n": 1000000}
	for _, c := range []struct{ name, expr string }{
		{"quadratic reduce", "reduce(1..100000, #acc + 'xxxxxxxxxx', '')"},
		{"concat doubling", "len(reduce(1..40, concat(#acc, #acc), [1, 2, 3]))"},
		{"flatten nest", "len(flatten(map(1..1000, map(1..1000, #))))"},
		{"map of big strings", "let b = repeat(s, 10000); len(map(1..1000, b + b))"},
		{"split runes", "len(split(repeat('ab', 100000) + repeat('ab', 100000), ''))"},
		{"join of ranges", "len(join(map(1..n, s), ','))"},
		{"range from input", "len(map(1..(n * n), #))"},
		{"nested maps", "len(map(1..200000, [#, {a: #, b: [#, #]}]))"},
		{"repeat of input", "len(repeat(s, n))"},
	} {
		p, err := transform.Compile(transform.Rules{Name: "budget", Fields: fields("x", c.expr)},
			transform.WithMaxLoopBytes(loopBytes), transform.WithMemoryBudget(elements), transform.WithMaxStringBytes(strBytes))
		require.NoError(t, err, c.name)
		var aerr error
		grew := peakHeap(func() {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			_, _, aerr = p.Apply(ctx, in)
		})
		t.Logf("%-20s %-60q heap growth %6.2f MiB = %.2fx the %d MiB loop budget: %v",
			c.name, c.expr, float64(grew)/(1<<20), float64(grew)/loopBytes, loopBytes>>20, aerr)
		require.ErrorIs(t, aerr, transform.ErrMemoryLimit, c.name)
		require.Less(t, grew, uint64(factor*loopBytes), "%s: heap growth beyond %dx the loop budget", c.name, factor)
	}
}
