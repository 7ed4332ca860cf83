package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/builtin"
	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/internal/health"
	"github.com/ehg/hub/internal/redact"
	"github.com/ehg/hub/internal/telemetry"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/transform"
)

// Hub is the Integration Hub: it registers services, accepts events, delivers them durably
// through its workers, and reports health. Build it with New, call Start to run the workers,
// and Close to stop. All methods are safe for concurrent use.
type Hub struct {
	cfg       Config
	st        store.Store
	ownsStore bool
	log       *slog.Logger
	vault     *vault // seals and opens credentials (envelope.go)
	reg       *connectors.Registry
	contracts *contract.Registry
	eng       *engine.Engine
	egress    *egressClient    // guarded outbound HTTP
	red       *redact.Redactor // every credential form of every service (redaction.go)

	mu    sync.RWMutex
	byID  map[string]*runtime
	names map[string]string
	gen   uint64 // counts the runtimes cached; each runtime records its number (runtime.gen)
	// dropped holds the generation at which a service's runtime was dropped (removed).
	dropped map[string]uint64

	activity activityFeed // event outcomes and breaker transitions for WatchActivity

	mon       *health.Monitor      // live health of every service
	tel       *telemetry.Telemetry // spans and metrics
	spans     parentSpans          // hub.process_event spans of sync events awaiting delivery
	gaugesOff func() error

	started   atomic.Bool
	closed    atomic.Bool
	done      chan struct{}   // closed by Close
	closing   context.Context // cancelled by Close (cause ErrClosed): stops running mappings (untilClose)
	closeRuns context.CancelFunc
	closeOnce sync.Once
	bgCancel  context.CancelFunc
	bgWG      sync.WaitGroup

	depthMu     sync.Mutex
	depth       int64 // queued events at the last count plus those accepted since
	depthAt     time.Time
	escalatedMu sync.Mutex
	escalated   map[string]time.Time // service id -> last automatic escalation

	// subjectKey keys the subject index; nil when neither SubjectKey nor SecretKey is set.
	subjectKey []byte
	// removalMu serialises this hub's service removals (a call and the cleaner).
	removalMu sync.Mutex
	// unloadable holds, by service id, an unloadableUntil: the passing error that kept the
	// service from loading for delivery, given again until then rather than asking a key
	// service that is down once per queued event (runtime.go, targets.Target).
	unloadable sync.Map
	// appliedRetention is the retention policy a configuration document applied (nil:
	// Config.Retention); see retentionPolicy.
	appliedRetention atomic.Pointer[RetentionPolicy]
	// gov caches the approval policy and roles kept in the store (declarative_governance.go).
	gov atomic.Pointer[governanceState]
	// routes caches the compiled routes of each source service (routes.go).
	routes routeCache
	// chain signs the audit chain's checkpoints.
	chain *auditChain
	// progs holds the programs TransformData compiled, by the content of their rules.
	progs *transform.Cache
	// accepts commits concurrent single-event accepts together (accept.go).
	accepts *acceptGroup
}

// New builds a hub on st (a new in-memory store when st is nil) with the given options,
// validated: a bad value returns a *ConfigError naming the field. The hub does not deliver
// until Start.
func New(st store.Store, opts ...Option) (*Hub, error) {
	var cfg Config
	for i, o := range opts {
		if o == nil {
			return nil, configErr(fmt.Sprintf("options[%d]", i), "option is nil", nil)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	red := newRedaction(&cfg)
	h := &Hub{
		cfg:       cfg,
		st:        st,
		log:       cfg.Logger,
		red:       red,
		reg:       cfg.Connectors,
		contracts: contract.NewRegistry(contract.WithLogger(cfg.Logger), contract.WithLimits(contract.Limits{MaxBytes: cfg.MaxPayloadBytes, MaxDepth: cfg.MaxPayloadDepth})),
		byID:      make(map[string]*runtime),
		dropped:   make(map[string]uint64),
		names:     make(map[string]string),
		escalated: make(map[string]time.Time),
		done:      make(chan struct{}),
		progs:     transform.NewCache(transformCacheSize),
	}
	closing, cancelRuns := context.WithCancelCause(context.Background())
	h.closing, h.closeRuns = closing, func() { cancelRuns(ErrClosed) }
	if h.egress, err = newEgress(cfg); err != nil {
		return nil, err
	}
	if h.st == nil {
		h.st = memory.New(memory.Options{Now: cfg.Clock})
		h.ownsStore = true
	}
	if h.vault, err = newVault(cfg, h.st); err != nil {
		return nil, err
	}
	h.accepts = newAcceptGroup(h.st)
	if err := h.initLifecycle(); err != nil {
		return nil, err
	}
	if err := h.initGovernance(); err != nil {
		return nil, err
	}
	if err := h.initAuditChain(); err != nil {
		return nil, err
	}
	if h.reg == nil {
		h.reg = builtin.NewRegistry()
	}
	if err := h.initMonitoring(); err != nil {
		return nil, err
	}
	if cfg.InstanceID == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		h.cfg.InstanceID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	h.eng, err = engine.New(engine.Config{
		Store:               h.st,
		Targets:             (*targets)(h),
		Owner:               h.cfg.InstanceID,
		Workers:             cfg.Workers,
		BatchSize:           cfg.BatchSize,
		Lease:               cfg.Lease,
		PollInterval:        cfg.PollInterval,
		MaintenanceInterval: cfg.MaintenanceInterval,
		Clock:               cfg.Clock,
		Logger:              cfg.Logger,
		Observers:           []engine.Observer{engine.ObserverFunc(h.observe)},
		OnDead:              h.onDead,
		Claim:               h.claimFunc(),
	})
	if err != nil {
		return nil, configErr("Config", "engine", err)
	}
	return h, nil
}

// Store returns the hub's store (the in-memory one New created when given none).
func (h *Hub) Store() store.Store { return h.st }

// InstanceID returns the lease owner name of this hub.
func (h *Hub) InstanceID() string { return h.cfg.InstanceID }

// Start runs the delivery workers and background jobs (lease release, expiry, service
// refresh, analytics rollup). It returns ErrClosed after Close and an error when already
// started. ctx bounds start-up only.
func (h *Hub) Start(ctx context.Context) error {
	if err := h.guard(ctx, call{method: "Start", perms: perms(PermLifecycle)}); err != nil {
		return err
	}
	if h.closed.Load() {
		return ErrClosed
	}
	if !h.started.CompareAndSwap(false, true) {
		return fmt.Errorf("hub: already started")
	}
	if err := h.refreshServices(ctx); err != nil {
		h.log.Warn("hub: loading services at start failed", slog.Any("error", err))
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.bgCancel = cancel
	if err := h.eng.Start(ctx); err != nil {
		cancel()
		return err
	}
	h.startMonitoring(bg)
	h.startLifecycle(bg)
	h.startGovernance(bg)
	h.startSync(bg)
	h.startAuditChain(bg)
	h.bgWG.Add(1)
	go h.refreshLoop(bg)
	if h.cfg.RollupInterval > 0 {
		h.bgWG.Add(1)
		go h.rollupLoop(bg)
	}
	return nil
}

// Close stops taking work, lets in-flight deliveries finish within Config.ShutdownTimeout
// (or ctx, whichever ends first), cancels the rest (their events return to the queue), and
// stops the background jobs. Later calls return ErrClosed from every method that would
// store or deliver. It closes the idle connections of the hub's HTTP transport. Close is
// idempotent; it closes the store only when New created it.
func (h *Hub) Close(ctx context.Context) error {
	if err := h.guard(ctx, call{method: "Close", perms: perms(PermLifecycle)}); err != nil {
		return err
	}
	var err error
	h.closeOnce.Do(func() {
		h.closed.Store(true)
		close(h.done)
		h.closeRuns()
		if h.started.Load() {
			sctx, cancel := context.WithTimeout(ctx, h.cfg.ShutdownTimeout)
			err = h.eng.Stop(sctx)
			cancel()
			h.bgCancel()
			h.bgWG.Wait()
		}
		h.mu.Lock()
		for _, rt := range h.byID {
			rt.close(ctx)
		}
		h.byID = map[string]*runtime{}
		h.names = map[string]string{}
		h.mu.Unlock()
		h.egress.close()
		if h.gaugesOff != nil {
			err = errors.Join(err, h.gaugesOff())
		}
		h.closeAuditChain(ctx)
		if h.ownsStore {
			if c, ok := h.st.(interface{ Close() error }); ok {
				err = errors.Join(err, c.Close())
			}
		}
	})
	return err
}

// EngineStats reports this hub's delivery counters since Start: claimed, succeeded,
// retried, failed, dead, expired, deferred (waits that were not attempts) and lost (outcomes
// the store refused because the lease was gone).
func (h *Hub) EngineStats() map[string]int64 {
	s := h.eng.Stats()
	return map[string]int64{
		"claimed": s.Claimed.Load(), "succeeded": s.Succeeded.Load(), "retried": s.Retried.Load(),
		"failed": s.Failed.Load(), "dead": s.Dead.Load(), "expired": s.Expired.Load(),
		"deferred": s.Deferred.Load(), "lost": s.Lost.Load(),
	}
}

// serviceRefreshMin is the shortest period at which a hub reloads the service list to see
// changes made by other hubs.
const serviceRefreshMin = time.Second

func (h *Hub) refreshLoop(ctx context.Context) {
	defer h.bgWG.Done()
	t := time.NewTicker(max(h.cfg.MaintenanceInterval, serviceRefreshMin))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := h.refreshServices(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("hub: refreshing services failed", slog.Any("error", err))
		}
	}
}

func (h *Hub) rollupLoop(ctx context.Context) {
	defer h.bgWG.Done()
	t := time.NewTicker(h.cfg.RollupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := h.cfg.Clock()
		h.recordLoadMetrics(ctx, now)
		for _, p := range []store.Period{store.PeriodHour, store.PeriodDay} {
			from := p.Truncate(now).Add(-p.Duration())
			if _, err := h.rollup(ctx, "", p, from, now); err != nil && ctx.Err() == nil {
				h.log.Warn("hub: analytics rollup failed", slog.String("period", string(p)), slog.Any("error", err))
			}
		}
	}
}

func actor(a string) string {
	if a == "" {
		return "hub"
	}
	return a
}

var _ API = (*Hub)(nil)
