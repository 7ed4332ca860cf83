package hub

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ehg/hub/internal/privacy"
	"github.com/ehg/hub/store"
)

// Defaults of the data lifecycle settings of [Config].
const (
	// CleanupIntervalDefault is how often the background cleaner runs.
	CleanupIntervalDefault = time.Minute
	// CleanupBatchDefault is the most rows one cleaner or erasure batch handles.
	CleanupBatchDefault = 1000
	// ErasureLeaseDefault is how long a hub holds an erasure it works on before another
	// hub may take it over (the holder renews it after every batch).
	ErasureLeaseDefault = 30 * time.Second
)

// RetainForever, as a retention age, keeps the records for good. In a ServiceRetention it
// overrides a limit of the RetentionPolicy; at the policy's top level it is the same as 0.
const RetainForever time.Duration = -1

// RetentionPolicy says how long the hub keeps what it stores. The background cleaner (see
// Config.CleanupInterval) and RunRetention apply it: records older than their age are
// deleted in batches of Config.CleanupBatch rows, each its own short transaction, so no
// long transaction or table lock is ever held, and several hubs may clean one store at
// once. A zero age keeps the records forever.
//
// Events are deleted only in a terminal status (succeeded, failed, dead, expired,
// cancelled), by the time they reached it: a queued or in-flight event is never deleted,
// and an event that waited a long time before it was delivered is kept for its full age
// after delivery. Expired events are first finalised (pending past expires_at becomes
// expired), then follow the age of StatusExpired. A deleted event's idempotency key may be
// accepted again.
//
// The audit log is not touched: it is append-only and tamper-evident.
type RetentionPolicy struct {
	// Events maps terminal statuses to how long events in them are kept, e.g.
	// {succeeded: 7 days, dead: 30 days}.
	Events map[store.EventStatus]time.Duration
	// HealthMetrics is how long health measurements are kept (by recorded_at).
	HealthMetrics time.Duration
	// Analytics is how long analytics rollups are kept (by the start of their period).
	Analytics time.Duration
	// Audit is how long audit entries are kept (by created_at); 0 (the default) keeps them
	// forever. Removing audit entries needs the hub's audit key (Config.AuditKey or
	// Config.SecretKey) and a store.AuditRetentionStore: a retention run first verifies the
	// chain up to the cut-off, stores a retention horizon (a checkpoint of the newest entry
	// older than the age, signed with the audit key) and only then deletes the entries up
	// to it, so VerifyAudit still holds from the horizon on. Without the key or the store
	// capability the audit part of a run is skipped and reported (RetentionReport.AuditSkipped).
	Audit time.Duration
	// Services overrides the policy for some services, by service name or ID: each age set
	// there (non-zero) replaces the policy's for that service; RetainForever keeps.
	Services map[string]ServiceRetention
}

// ServiceRetention overrides a RetentionPolicy for one service. Zero ages inherit the
// policy's.
type ServiceRetention struct {
	Events        map[store.EventStatus]time.Duration
	HealthMetrics time.Duration
	Analytics     time.Duration
}

// IsZero reports whether the policy deletes nothing.
func (p RetentionPolicy) IsZero() bool {
	if p.HealthMetrics > 0 || p.Analytics > 0 || p.Audit > 0 {
		return false
	}
	for _, d := range p.Events {
		if d > 0 {
			return false
		}
	}
	for _, s := range p.Services {
		if s.HealthMetrics > 0 || s.Analytics > 0 {
			return false
		}
		for _, d := range s.Events {
			if d > 0 {
				return false
			}
		}
	}
	return true
}

// validate checks statuses and ages; field prefixes the field names of errors.
func (p RetentionPolicy) validate() error {
	check := func(field string, events map[store.EventStatus]time.Duration, metrics, analytics time.Duration) error {
		for st, d := range events {
			if !st.Terminal() {
				return configErr(fmt.Sprintf("%s.Events[%s]", field, st), "only terminal statuses (succeeded, failed, dead, expired, cancelled) have a retention age", nil)
			}
			if d < 0 && d != RetainForever {
				return configErr(fmt.Sprintf("%s.Events[%s]", field, st), "a retention age must be positive, 0 or RetainForever", nil)
			}
		}
		for name, d := range map[string]time.Duration{"HealthMetrics": metrics, "Analytics": analytics} {
			if d < 0 && d != RetainForever {
				return configErr(field+"."+name, "a retention age must be positive, 0 or RetainForever", nil)
			}
		}
		return nil
	}
	if err := check("Config.Retention", p.Events, p.HealthMetrics, p.Analytics); err != nil {
		return err
	}
	if p.Audit < 0 && p.Audit != RetainForever {
		return configErr("Config.Retention.Audit", "a retention age must be positive, 0 or RetainForever", nil)
	}
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if n == "" {
			return configErr("Config.Retention.Services", "a service name is empty", nil)
		}
		s := p.Services[n]
		if err := check(fmt.Sprintf("Config.Retention.Services[%q]", n), s.Events, s.HealthMetrics, s.Analytics); err != nil {
			return err
		}
	}
	return nil
}

// lifecycleDefaults validates the data lifecycle settings and fills their defaults.
func (c *Config) lifecycleDefaults() error {
	if err := c.Retention.validate(); err != nil {
		return err
	}
	if c.CleanupBatch < 0 || c.CleanupBatch > store.MaxPageLimit {
		return configErr("Config.CleanupBatch", fmt.Sprintf("%d is outside [0, %d]", c.CleanupBatch, store.MaxPageLimit), nil)
	}
	if c.CleanupBatch == 0 {
		c.CleanupBatch = CleanupBatchDefault
	}
	if c.CleanupInterval == 0 {
		c.CleanupInterval = CleanupIntervalDefault
	}
	if c.SubjectKey != nil && len(c.SubjectKey) < 16 {
		return configErr("Config.SubjectKey", fmt.Sprintf("must be at least 16 bytes, got %d", len(c.SubjectKey)), nil)
	}
	for i, r := range c.Regions {
		if r != "" && !store.ValidRegion(r) {
			return configErr(fmt.Sprintf("Config.Regions[%d]", i), fmt.Sprintf("%q is not a region name (lowercase letters, digits, '-', '_')", r), nil)
		}
	}
	return nil
}

// WithRetention sets the retention policy the background cleaner applies.
func WithRetention(p RetentionPolicy) Option {
	return func(c *Config) error { c.Retention = p; return nil }
}

// WithCleanup sets how often the background cleaner runs (negative: never) and the most
// rows one of its batches handles (0: the default).
func WithCleanup(interval time.Duration, batch int) Option {
	return func(c *Config) error { c.CleanupInterval, c.CleanupBatch = interval, batch; return nil }
}

// WithRegions pins the hub to data regions: it claims and delivers only events of services
// whose DataRegion is one of regions ("" for services without a region). Other hubs
// sharing the store deliver the rest.
func WithRegions(regions ...string) Option {
	return func(c *Config) error {
		if len(regions) == 0 {
			return configErr("Config.Regions", "WithRegions needs at least one region", nil)
		}
		c.Regions = slices.Clone(regions)
		return nil
	}
}

// WithMaskDelivered stores delivered events with their personal fields masked.
func WithMaskDelivered() Option {
	return func(c *Config) error { c.MaskDelivered = true; return nil }
}

// WithSubjectKey sets the key of the subject index (at least 16 bytes).
func WithSubjectKey(key []byte) Option {
	return func(c *Config) error { c.SubjectKey = slices.Clone(key); return nil }
}

// initLifecycle derives the subject key and checks that the store has the capabilities the
// configuration needs.
func (h *Hub) initLifecycle() error {
	switch {
	case h.cfg.SubjectKey != nil:
		h.subjectKey = slices.Clone(h.cfg.SubjectKey)
	case h.cfg.SecretKey != nil:
		k, err := privacy.DeriveSubjectKey(h.cfg.SecretKey)
		if err != nil {
			return configErr("Config.SecretKey", "the subject key cannot be derived", err)
		}
		h.subjectKey = k
	}
	if len(h.cfg.Regions) > 0 {
		if _, ok := h.st.(store.RegionClaimer); !ok {
			return configErr("Config.Regions", "the store cannot claim by region (store.RegionClaimer)", ErrNotSupported)
		}
	}
	if !h.cfg.Retention.IsZero() {
		if _, ok := h.st.(store.RetentionStore); !ok {
			return configErr("Config.Retention", "the store cannot delete old records (store.RetentionStore)", ErrNotSupported)
		}
	}
	return nil
}

// claimFunc returns the engine's claim for a hub pinned to regions, nil otherwise.
func (h *Hub) claimFunc() func(context.Context, store.ClaimParams) ([]*store.Event, error) {
	if len(h.cfg.Regions) == 0 {
		return nil
	}
	rc := h.st.(store.RegionClaimer)
	regions := slices.Clone(h.cfg.Regions)
	return func(ctx context.Context, p store.ClaimParams) ([]*store.Event, error) {
		return rc.ClaimEventsInRegions(ctx, store.RegionClaimParams{ClaimParams: p, Regions: regions})
	}
}
