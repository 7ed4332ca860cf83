package health

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// CheckFunc probes a service once (typically the connector's Check); nil means the service
// answered as expected. It must honour ctx.
type CheckFunc func(ctx context.Context) error

// ProbeTargetsFunc returns the check of each service to probe now, keyed by service ID.
// Services absent from the map, or not monitored, are not probed.
type ProbeTargetsFunc func() map[string]CheckFunc

// ProbeTimeoutDefault bounds one probe when ProberConfig.Timeout is zero.
const ProbeTimeoutDefault = 10 * time.Second

// ProberConfig configures a Prober.
type ProberConfig struct {
	// Monitor receives every probe result. Required.
	Monitor *Monitor
	// Targets lists the checks to run. Required.
	Targets ProbeTargetsFunc
	// Tick is how often the prober looks for due probes. Default 1 s.
	Tick time.Duration
	// Timeout bounds one probe; it is also capped at the service's interval.
	// Default ProbeTimeoutDefault.
	Timeout time.Duration
	// OnProbe, optional, is called after each result is recorded (for persistence). It runs
	// on the probing goroutine.
	OnProbe func(ctx context.Context, serviceID string, p ProbeResult)
	// Logger receives probe failures at debug level. Default: discard.
	Logger *slog.Logger
}

// Prober runs each monitored service's check every Config.Interval (health_check_config
// interval_seconds) and records the results on the monitor. A service is first probed one
// interval after the prober first sees it. Probes of different services run concurrently; a service is
// never probed twice at once. Create it with NewProber; Run is safe to call once.
type Prober struct {
	cfg ProberConfig

	mu      sync.Mutex
	next    map[string]time.Time
	running map[string]bool
	wg      sync.WaitGroup
}

// NewProber returns a prober; a nil Monitor or Targets makes it probe nothing.
func NewProber(cfg ProberConfig) *Prober {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = ProbeTimeoutDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Prober{cfg: cfg, next: map[string]time.Time{}, running: map[string]bool{}}
}

// Run probes due services every tick until ctx ends, then waits for probes in flight.
func (p *Prober) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Tick)
	defer t.Stop()
	defer p.wg.Wait()
	for {
		p.Start(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Start launches the probes that are due now, in their own goroutines, and returns how many
// it launched. Wait waits for them.
func (p *Prober) Start(ctx context.Context) int {
	if p.cfg.Monitor == nil || p.cfg.Targets == nil {
		return 0
	}
	now := p.cfg.Monitor.now()
	targets := p.cfg.Targets()
	n := 0
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.next {
		if _, ok := targets[id]; !ok {
			delete(p.next, id)
		}
	}
	for id, check := range targets {
		c, ok := p.cfg.Monitor.Config(id)
		if !ok || check == nil || c.Interval() <= 0 || p.running[id] {
			continue
		}
		due, seen := p.next[id]
		if !seen {
			// First seen now: traffic speaks for a new service; probe it an interval later.
			p.next[id] = now.Add(c.Interval())
			continue
		}
		if now.Before(due) {
			continue
		}
		p.next[id] = now.Add(c.Interval())
		p.running[id] = true
		n++
		p.wg.Add(1)
		go p.probe(ctx, id, check, min(p.cfg.Timeout, c.Interval()))
	}
	return n
}

// Wait waits for the probes Start launched.
func (p *Prober) Wait() { p.wg.Wait() }

func (p *Prober) probe(ctx context.Context, id string, check CheckFunc, timeout time.Duration) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.running, id)
		p.mu.Unlock()
	}()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	err := check(pctx)
	lat := time.Since(start)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: a cancelled probe says nothing about the service
	}
	r := ProbeResult{At: p.cfg.Monitor.now(), OK: err == nil, Latency: lat}
	if err != nil {
		r.Err = err.Error()
		p.cfg.Logger.Debug("health: probe failed", slog.String("service_id", id), slog.Any("error", err))
	}
	p.cfg.Monitor.RecordProbe(id, r)
	if p.cfg.OnProbe != nil {
		p.cfg.OnProbe(ctx, id, r)
	}
}
