package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ehg/hub/store"
)

// CreateRule implements [store.RuleStore].
func (s *Store) CreateRule(ctx context.Context, in *store.TransformationRule) (*store.TransformationRule, error) {
	if err := begin(ctx, "create rule"); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: create rule: nil rule", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: create rule: %w", err)
	}
	r := in.Clone()
	var err error
	if r.ID, err = assignID("rule", r.ID); err != nil {
		return nil, err
	}
	if r.ServiceID != "" {
		if r.ServiceID, err = canonicalID("service", r.ServiceID); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, versions := range s.rules {
		for _, o := range versions {
			if o.ID == r.ID {
				return nil, fmt.Errorf("%w: memory: rule id %s exists", store.ErrConflict, r.ID)
			}
		}
	}
	for _, o := range s.rules[r.Name] {
		if o.Version == r.Version {
			return nil, fmt.Errorf("%w: memory: rule %q version %d exists", store.ErrConflict, r.Name, r.Version)
		}
		if r.IsActive && o.IsActive {
			return nil, fmt.Errorf("%w: memory: rule %q: version %d is already active", store.ErrConflict, r.Name, o.Version)
		}
	}
	now := s.clock()
	r.CreatedAt, r.UpdatedAt = now, now
	s.rules[r.Name] = append(s.rules[r.Name], r)
	return r.Clone(), nil
}

// GetRule implements [store.RuleStore].
func (s *Store) GetRule(ctx context.Context, name string, version int) (*store.TransformationRule, error) {
	if err := begin(ctx, "get rule"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.rules[name] {
		if r.Version == version {
			return r.Clone(), nil
		}
	}
	return nil, fmt.Errorf("%w: memory: rule %q version %d", store.ErrNotFound, name, version)
}

// GetActiveRule implements [store.RuleStore].
func (s *Store) GetActiveRule(ctx context.Context, name string) (*store.TransformationRule, error) {
	if err := begin(ctx, "get active rule"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.rules[name] {
		if r.IsActive {
			return r.Clone(), nil
		}
	}
	return nil, fmt.Errorf("%w: memory: no active version of rule %q", store.ErrNotFound, name)
}

// ListRules implements [store.RuleStore].
func (s *Store) ListRules(ctx context.Context, f store.RuleFilter) ([]*store.TransformationRule, error) {
	if err := begin(ctx, "list rules"); err != nil {
		return nil, err
	}
	page, err := normPage("list rules", f.Page)
	if err != nil {
		return nil, err
	}
	var sid string
	if f.ServiceID != "" {
		if sid, err = canonicalID("service", f.ServiceID); err != nil {
			return nil, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.TransformationRule
	for name, versions := range s.rules {
		if f.Name != "" && name != f.Name {
			continue
		}
		for _, r := range versions {
			if (sid != "" && r.ServiceID != sid) || (f.ActiveOnly && !r.IsActive) {
				continue
			}
			match = append(match, r)
		}
	}
	slices.SortFunc(match, func(a, b *store.TransformationRule) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	lo, hi := window(page, len(match))
	out := make([]*store.TransformationRule, 0, hi-lo)
	for _, r := range match[lo:hi] {
		out = append(out, r.Clone())
	}
	return out, nil
}

// ActivateRule implements [store.RuleStore].
func (s *Store) ActivateRule(ctx context.Context, name string, version int) (*store.TransformationRule, error) {
	if err := begin(ctx, "activate rule"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var target *store.TransformationRule
	for _, r := range s.rules[name] {
		if r.Version == version {
			target = r
		}
	}
	if target == nil {
		return nil, fmt.Errorf("%w: memory: activate rule %q version %d", store.ErrNotFound, name, version)
	}
	now := s.clock()
	for _, r := range s.rules[name] {
		if r != target && r.IsActive {
			r.IsActive = false
			r.UpdatedAt = now
		}
	}
	target.IsActive = true
	target.UpdatedAt = now
	return target.Clone(), nil
}

// CreateContract implements [store.ContractStore].
func (s *Store) CreateContract(ctx context.Context, in *store.Contract) (*store.Contract, error) {
	if err := begin(ctx, "create contract"); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: create contract: nil contract", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: create contract: %w", err)
	}
	c := in.Clone()
	var err error
	if c.ID, err = assignID("contract", c.ID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := contractKey{c.Name, c.Version}
	if _, ok := s.contracts[k]; ok {
		return nil, fmt.Errorf("%w: memory: contract %q version %q exists", store.ErrConflict, c.Name, c.Version)
	}
	for _, o := range s.contracts {
		if o.ID == c.ID {
			return nil, fmt.Errorf("%w: memory: contract id %s exists", store.ErrConflict, c.ID)
		}
	}
	c.CreatedAt = s.clock()
	s.contracts[k] = c
	return c.Clone(), nil
}

// GetContract implements [store.ContractStore].
func (s *Store) GetContract(ctx context.Context, name, version string) (*store.Contract, error) {
	if err := begin(ctx, "get contract"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.contracts[contractKey{name, version}]
	if !ok {
		return nil, fmt.Errorf("%w: memory: contract %q version %q", store.ErrNotFound, name, version)
	}
	return c.Clone(), nil
}

// ListContracts implements [store.ContractStore].
func (s *Store) ListContracts(ctx context.Context, name string, p store.Page) ([]*store.Contract, error) {
	if err := begin(ctx, "list contracts"); err != nil {
		return nil, err
	}
	page, err := normPage("list contracts", p)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.Contract
	for _, c := range s.contracts {
		if name == "" || c.Name == name {
			match = append(match, c)
		}
	}
	slices.SortFunc(match, func(a, b *store.Contract) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	lo, hi := window(page, len(match))
	out := make([]*store.Contract, 0, hi-lo)
	for _, c := range match[lo:hi] {
		out = append(out, c.Clone())
	}
	return out, nil
}

// InsertHealthMetric implements [store.HealthMetricStore].
func (s *Store) InsertHealthMetric(ctx context.Context, in *store.HealthMetric) (*store.HealthMetric, error) {
	if err := begin(ctx, "insert health metric"); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: insert health metric: nil metric", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: insert health metric: %w", err)
	}
	m := in.Clone()
	var err error
	if m.ID, err = assignID("health metric", m.ID); err != nil {
		return nil, err
	}
	if m.ServiceID, err = canonicalID("service", m.ServiceID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metricIDs[m.ID] {
		return nil, fmt.Errorf("%w: memory: health metric id %s exists", store.ErrConflict, m.ID)
	}
	if m.RecordedAt.IsZero() {
		m.RecordedAt = s.clock()
	} else {
		m.RecordedAt = store.Timestamp(m.RecordedAt)
	}
	s.metrics = append(s.metrics, m)
	s.metricIDs[m.ID] = true
	return m.Clone(), nil
}

// ListHealthMetrics implements [store.HealthMetricStore].
func (s *Store) ListHealthMetrics(ctx context.Context, f store.HealthMetricFilter) ([]*store.HealthMetric, error) {
	if err := begin(ctx, "list health metrics"); err != nil {
		return nil, err
	}
	page, err := normPage("list health metrics", f.Page)
	if err != nil {
		return nil, err
	}
	if f.MetricType != "" && !f.MetricType.Valid() {
		return nil, fmt.Errorf("%w: memory: list health metrics: unknown metric type %q", store.ErrInvalidArgument, f.MetricType)
	}
	var sid string
	if f.ServiceID != "" {
		if sid, err = canonicalID("service", f.ServiceID); err != nil {
			return nil, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.HealthMetric
	for _, m := range s.metrics {
		if (sid != "" && m.ServiceID != sid) || (f.MetricType != "" && m.MetricType != f.MetricType) ||
			!inRange(m.RecordedAt, f.From, f.To) {
			continue
		}
		match = append(match, m)
	}
	slices.SortFunc(match, func(a, b *store.HealthMetric) int {
		if c := b.RecordedAt.Compare(a.RecordedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	lo, hi := window(page, len(match))
	out := make([]*store.HealthMetric, 0, hi-lo)
	for _, m := range match[lo:hi] {
		out = append(out, m.Clone())
	}
	return out, nil
}

// UpsertAnalytics implements [store.AnalyticsStore]. The batch is validated whole first
// and applies in order, so a key repeated in it ends with its last rollup.
func (s *Store) UpsertAnalytics(ctx context.Context, rs []*store.AnalyticsRollup) error {
	if err := begin(ctx, "upsert analytics"); err != nil {
		return err
	}
	prepared := make([]*store.AnalyticsRollup, len(rs))
	for i, in := range rs {
		if in == nil {
			return fmt.Errorf("%w: memory: upsert analytics: rollup %d is nil", store.ErrInvalidArgument, i)
		}
		if err := in.Validate(); err != nil {
			return fmt.Errorf("memory: upsert analytics: rollup %d: %w", i, err)
		}
		r := in.Clone()
		var err error
		if r.ID, err = assignID("analytics", r.ID); err != nil {
			return err
		}
		if r.ServiceID, err = canonicalID("service", r.ServiceID); err != nil {
			return err
		}
		r.PeriodStart = store.Timestamp(r.PeriodStart)
		prepared[i] = r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A new row may not take an id another row holds.
	ids := make(map[string]analyticsKey, len(s.analytics))
	for k, r := range s.analytics {
		ids[r.ID] = k
	}
	for _, r := range prepared {
		k := rollupKey(r)
		if _, exists := s.analytics[k]; exists {
			continue
		}
		if other, ok := ids[r.ID]; ok && other != k {
			return fmt.Errorf("%w: memory: upsert analytics: id %s exists", store.ErrConflict, r.ID)
		}
		ids[r.ID] = k
	}
	now := s.clock()
	for _, r := range prepared {
		k := rollupKey(r)
		if old, ok := s.analytics[k]; ok {
			r.ID, r.CreatedAt = old.ID, old.CreatedAt
		} else {
			r.CreatedAt = now
		}
		r.UpdatedAt = now
		s.analytics[k] = r
	}
	return nil
}

func rollupKey(r *store.AnalyticsRollup) analyticsKey {
	return analyticsKey{r.ServiceID, r.Period, r.PeriodStart.UnixMicro()}
}

// ListAnalytics implements [store.AnalyticsStore].
func (s *Store) ListAnalytics(ctx context.Context, f store.AnalyticsFilter) ([]*store.AnalyticsRollup, error) {
	if err := begin(ctx, "list analytics"); err != nil {
		return nil, err
	}
	page, err := normPage("list analytics", f.Page)
	if err != nil {
		return nil, err
	}
	if f.Period != "" && !f.Period.Valid() {
		return nil, fmt.Errorf("%w: memory: list analytics: unknown period %q", store.ErrInvalidArgument, f.Period)
	}
	var sid string
	if f.ServiceID != "" {
		if sid, err = canonicalID("service", f.ServiceID); err != nil {
			return nil, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.AnalyticsRollup
	for _, r := range s.analytics {
		if (sid != "" && r.ServiceID != sid) || (f.Period != "" && r.Period != f.Period) ||
			!inRange(r.PeriodStart, f.From, f.To) {
			continue
		}
		match = append(match, r)
	}
	slices.SortFunc(match, func(a, b *store.AnalyticsRollup) int {
		if c := strings.Compare(a.ServiceName, b.ServiceName); c != 0 {
			return c
		}
		if c := a.PeriodStart.Compare(b.PeriodStart); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Period), string(b.Period)); c != 0 {
			return c
		}
		return strings.Compare(a.ServiceID, b.ServiceID)
	})
	lo, hi := window(page, len(match))
	out := make([]*store.AnalyticsRollup, 0, hi-lo)
	for _, r := range match[lo:hi] {
		out = append(out, r.Clone())
	}
	return out, nil
}

// AppendAudit implements [store.AuditStore].
func (s *Store) AppendAudit(ctx context.Context, in *store.AuditEntry) (*store.AuditEntry, error) {
	if err := begin(ctx, "append audit"); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: append audit: nil entry", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: append audit: %w", err)
	}
	a := in.Clone()
	var err error
	if a.ID, err = assignID("audit", a.ID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auditIDs[a.ID] {
		return nil, fmt.Errorf("%w: memory: audit entry %s exists and cannot be replaced", store.ErrConflict, a.ID)
	}
	a.CreatedAt = s.clock()
	var headSeq int64
	headHash := ""
	if n := len(s.audit); n > 0 {
		headSeq, headHash = s.audit[n-1].Seq, s.audit[n-1].Hash
	}
	if err := store.ChainAudit(a, headSeq, headHash); err != nil {
		return nil, fmt.Errorf("memory: append audit: %w", err)
	}
	s.audit = append(s.audit, a)
	s.auditIDs[a.ID] = true
	return a.Clone(), nil
}

// ListAudit implements [store.AuditStore].
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	if err := begin(ctx, "list audit"); err != nil {
		return nil, err
	}
	page, err := normPage("list audit", f.Page)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.AuditEntry
	for _, a := range s.audit {
		if (f.EntityType != "" && a.EntityType != f.EntityType) || (f.EntityID != "" && a.EntityID != f.EntityID) ||
			(f.Actor != "" && a.Actor != f.Actor) || !inRange(a.CreatedAt, f.From, f.To) ||
			(f.FromSeq > 0 && a.Seq < f.FromSeq) || (f.ToSeq > 0 && a.Seq > f.ToSeq) {
			continue
		}
		match = append(match, a)
	}
	// chain order; entries are appended in it, and a stable sort keeps the slice's order
	// for equal sequence numbers
	slices.SortStableFunc(match, func(a, b *store.AuditEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	lo, hi := window(page, len(match))
	out := make([]*store.AuditEntry, 0, hi-lo)
	for _, a := range match[lo:hi] {
		out = append(out, a.Clone())
	}
	return out, nil
}
