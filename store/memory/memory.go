package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ehg/hub/store"
)

// Options configure a [Store]. The zero value is valid.
type Options struct {
	// Now is the clock used for every time the store writes or compares (created_at, claims,
	// leases, expiry). Nil means time.Now. It must be safe for concurrent use.
	Now func() time.Time
}

// Store is the in-memory [store.Store]. Create it with [New]; the zero value is not usable.
// It is safe for concurrent use by many goroutines.
type Store struct {
	now func() time.Time

	mu sync.RWMutex

	services       map[string]*store.Service
	servicesByName map[string]string

	events eventTable
	// queues holds, per service id, the pending and retrying events and the idempotency
	// keys.
	queues map[string]*serviceQueue
	// leased links the processing events.
	leased leaseList

	rules     map[string][]*store.TransformationRule // by name, any version order
	contracts map[contractKey]*store.Contract
	metrics   []*store.HealthMetric
	metricIDs map[string]bool
	analytics map[analyticsKey]*store.AnalyticsRollup
	audit     []*store.AuditEntry
	auditIDs  map[string]bool
	// checkpoints holds the signed audit checkpoints by size.
	checkpoints map[int64]*store.AuditCheckpoint
	// horizons holds the audit retention horizons by size.
	horizons map[int64]*store.AuditCheckpoint
	// oauth holds the OAuth tokens, with its own locks (held while a refresh runs).
	oauth tokenTable
	// dataKeys holds the wrapped data keys of envelope encryption.
	dataKeys dataKeyTable
	// subjects indexes the events by subject key; requests holds the subject requests.
	subjects map[string]map[*entry]struct{}
	requests map[string]*store.SubjectRequest
	// approvals holds the approval requests (created on first use).
	approvals map[string]*store.Approval
	// config is the configuration state (nil before the first swap).
	config *store.ConfigState
	// syncs holds the sync schedules by service id (created on first use).
	syncs map[string]*store.SyncSchedule

	notify notifier
}

// eventKey identifies an event by service and idempotency key within an insert batch.
type eventKey struct{ serviceID, key string }

type contractKey struct{ name, version string }

type analyticsKey struct {
	serviceID string
	period    store.Period
	start     int64 // UnixMicro
}

// New returns an empty store using opts.
func New(opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{
		now:            now,
		services:       map[string]*store.Service{},
		servicesByName: map[string]string{},
		events:         newEventTable(),
		queues:         map[string]*serviceQueue{},
		rules:          map[string][]*store.TransformationRule{},
		contracts:      map[contractKey]*store.Contract{},
		metricIDs:      map[string]bool{},
		analytics:      map[analyticsKey]*store.AnalyticsRollup{},
		auditIDs:       map[string]bool{},
		checkpoints:    map[int64]*store.AuditCheckpoint{},
		horizons:       map[int64]*store.AuditCheckpoint{},
		subjects:       map[string]map[*entry]struct{}{},
		requests:       map[string]*store.SubjectRequest{},
	}
	s.leased.init()
	return s
}

// clock returns the store's current time as stores keep it.
func (s *Store) clock() time.Time { return store.Timestamp(s.now()) }

// begin returns the context's error, wrapped with the operation, when ctx has ended.
func begin(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	return nil
}

// canonicalID returns id in canonical lowercase UUID form, or ErrInvalidArgument.
func canonicalID(kind, id string) (string, error) {
	if isCanonical(id) {
		return id, nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", fmt.Errorf("%w: %s id %q is not a UUID", store.ErrInvalidArgument, kind, id)
	}
	return u.String(), nil
}

// isCanonical reports whether id is already a lowercase hyphenated UUID, the common case,
// without allocating.
func isCanonical(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// assignID returns the canonical form of id, or a new random UUID when id is empty.
func assignID(kind, id string) (string, error) {
	if id == "" {
		return uuid.NewString(), nil // records other than events are few: no need for ids.Random
	}
	return canonicalID(kind, id)
}

// window applies a normalised page to n ordered items and returns the slice bounds.
func window(p store.Page, n int) (lo, hi int) {
	lo = min(p.Offset, n)
	hi = min(lo+p.Limit, n)
	return lo, hi
}

func normPage(op string, p store.Page) (store.Page, error) {
	n, err := p.Normalize()
	if err != nil {
		return n, fmt.Errorf("memory: %s: %w", op, err)
	}
	return n, nil
}

// inRange reports whether t is in [from, to), zero bounds being open.
func inRange(t, from, to time.Time) bool {
	if !from.IsZero() && t.Before(store.Timestamp(from)) {
		return false
	}
	if !to.IsZero() && !t.Before(store.Timestamp(to)) {
		return false
	}
	return true
}

// Interface guards.
var (
	_ store.Store                 = (*Store)(nil)
	_ store.Notifier              = (*Store)(nil)
	_ store.ServiceHealthRecorder = (*Store)(nil)
)
