package benchmarks

import (
	"context"
	"syscall"
	"time"
)

// Result is what one run measured.
type Result struct {
	// System is "hub", "River", or a pipeline peer's name; Store the store kind ("" for the
	// pipeline alone); Variant the accept path or settings.
	System, Store, Variant string
	// Events is the number of events timed; Elapsed the wall-clock time from the first
	// accept until the last completion was recorded; CPU the user+system CPU time this
	// process used meanwhile (a database server's own CPU is not included).
	Events  int
	Elapsed time.Duration
	CPU     time.Duration
	// ServerCPU is the CPU time the PostgreSQL server used meanwhile, all its processes
	// together; zero when the run used no PostgreSQL or the server is not on this machine
	// (see serverCPU).
	ServerCPU time.Duration
	// WAL is the WAL the round wrote (PostgreSQL runs only).
	WAL *WALUse
}

// Rate returns events per second.
func (r *Result) Rate() float64 {
	if r == nil || r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// ServerCPUPerEvent returns the database server's CPU time per event (zero when unknown).
func (r *Result) ServerCPUPerEvent() time.Duration {
	if r == nil || r.Events == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Events)
}

// CPUPerEvent returns this process's CPU time per event.
func (r *Result) CPUPerEvent() time.Duration {
	if r == nil || r.Events == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Events)
}

// WALUse is the WAL written during a round, per event. PostgreSQL's WAL counters are
// server-wide: anything else writing to the same server meanwhile is counted too, so the
// figures are upper bounds on a shared server.
type WALUse struct {
	// StatBytes is the growth of pg_stat_wal.wal_bytes; LSNBytes the distance the WAL
	// position moved (the same quantity read another way, never behind).
	StatBytes, LSNBytes int64
	// FPI is the number of full page images written (pg_stat_wal.wal_fpi).
	FPI int64
	// PerEvent is StatBytes divided by the events of the round.
	PerEvent float64
}

// walSince reads the WAL statistics again and returns the use since before.
func walSince(ctx context.Context, url string, before WALSnapshot, events int) (*WALUse, error) {
	// Backends report WAL statistics when they end or go idle; give the exits a moment.
	time.Sleep(200 * time.Millisecond)
	after, err := ReadWAL(ctx, url)
	if err != nil {
		return nil, err
	}
	u := &WALUse{StatBytes: after.Bytes - before.Bytes, LSNBytes: after.LSN - before.LSN, FPI: after.FPI - before.FPI}
	if events > 0 {
		u.PerEvent = float64(u.StatBytes) / float64(events)
	}
	return u, nil
}

// readWALAfterReset closes the idle connections of a pool (reset) so that their backends
// report the WAL they wrote so far (a busy backend reports at most once a second, an idle
// one after ten), then reads the WAL statistics.
func readWALAfterReset(ctx context.Context, url string, reset func()) (WALSnapshot, error) {
	if reset != nil {
		reset()
		time.Sleep(200 * time.Millisecond)
	}
	return ReadWAL(ctx, url)
}

// measure times a round: wall clock, this process's CPU and, for a PostgreSQL server on
// this machine, the server's CPU.
type measure struct {
	start       time.Time
	cpu0        time.Duration
	dbURL       string
	server0     time.Duration
	serverKnown bool
}

// startMeasure starts timing; dbURL is the PostgreSQL server the round uses ("" for none).
func startMeasure(dbURL string) measure {
	m := measure{dbURL: dbURL}
	if dbURL != "" {
		m.server0, m.serverKnown = serverCPU(dbURL)
	}
	m.start, m.cpu0 = time.Now(), processCPU()
	return m
}

// stop returns the wall-clock time, this process's CPU and the server's CPU (zero when
// unknown) since startMeasure.
func (m measure) stop() (elapsed, cpu, server time.Duration) {
	elapsed, cpu = time.Since(m.start), processCPU()-m.cpu0
	if m.serverKnown {
		if s, ok := serverCPU(m.dbURL); ok && s >= m.server0 {
			server = s - m.server0
		}
	}
	return elapsed, cpu, server
}

// processCPU returns the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
