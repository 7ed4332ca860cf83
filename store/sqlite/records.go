package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ehg/hub/store"
)

// list runs a query on the read pool and scans every row.
func list[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, mapError(rows.Err())
}

// get runs a one-row query on the read pool; no row is store.ErrNotFound.
func get[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	var zero T
	db, err := s.readDB()
	if err != nil {
		return zero, err
	}
	v, err := scan(db.QueryRowContext(ctx, query, args...))
	if err != nil {
		return zero, mapError(err)
	}
	return v, nil
}

// Transformation rules.

const ruleCols = `id, name, version, service_id, source_schema, target_schema,
	transformation_logic, validation_rules, is_bidirectional, is_active, created_at, updated_at`

func scanRule(sc scanner) (*store.TransformationRule, error) {
	var (
		r                store.TransformationRule
		service          sql.NullString
		bidi, active     int
		created, updated int64
	)
	if err := sc.Scan(&r.ID, &r.Name, &r.Version, &service, rawDest(&r.SourceSchema),
		rawDest(&r.TargetSchema), rawDest(&r.TransformationLogic), rawDest(&r.ValidationRules),
		&bidi, &active, &created, &updated); err != nil {
		return nil, err
	}
	r.ServiceID = service.String
	r.IsBidirectional = bidi != 0
	r.IsActive = active != 0
	r.CreatedAt = fromMicros(created)
	r.UpdatedAt = fromMicros(updated)
	return &r, nil
}

// CreateRule implements store.RuleStore. A second active version of a name violates a
// unique partial index and is store.ErrConflict.
func (s *Store) CreateRule(ctx context.Context, in *store.TransformationRule) (*store.TransformationRule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil rule")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	r := in.Clone()
	var err error
	if r.ID, err = assignID("rule", r.ID); err != nil {
		return nil, err
	}
	if r.ServiceID, err = optionalID("service", r.ServiceID); err != nil {
		return nil, err
	}
	now := s.nowTS()
	r.CreatedAt, r.UpdatedAt = now, now
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		_, err := q.ExecContext(ctx, `INSERT INTO data_transformation_rules (`+ruleCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Name, r.Version, textArg(r.ServiceID), jsonArg(r.SourceSchema),
			jsonArg(r.TargetSchema), jsonArg(r.TransformationLogic), jsonArg(r.ValidationRules),
			boolInt(r.IsBidirectional), boolInt(r.IsActive), micros(now), micros(now))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create rule %q version %d: %w", r.Name, r.Version, err)
	}
	return r, nil
}

// GetRule implements store.RuleStore.
func (s *Store) GetRule(ctx context.Context, name string, version int) (*store.TransformationRule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	r, err := get(ctx, s, scanRule, `SELECT `+ruleCols+` FROM data_transformation_rules
		WHERE name = ? AND version = ?`, name, version)
	if err != nil {
		return nil, fmt.Errorf("get rule %q version %d: %w", name, version, err)
	}
	return r, nil
}

// GetActiveRule implements store.RuleStore.
func (s *Store) GetActiveRule(ctx context.Context, name string) (*store.TransformationRule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	r, err := get(ctx, s, scanRule, `SELECT `+ruleCols+` FROM data_transformation_rules
		WHERE name = ? AND is_active = 1`, name)
	if err != nil {
		return nil, fmt.Errorf("get active rule %q: %w", name, err)
	}
	return r, nil
}

// ListRules implements store.RuleStore.
func (s *Store) ListRules(ctx context.Context, f store.RuleFilter) ([]*store.TransformationRule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w := &where{}
	if f.Name != "" {
		w.add("name = ?", f.Name)
	}
	sid, err := optionalID("service", f.ServiceID)
	if err != nil {
		return nil, err
	}
	if sid != "" {
		w.add("service_id = ?", sid)
	}
	if f.ActiveOnly {
		w.add("is_active = 1")
	}
	page, err := w.page(f.Page)
	if err != nil {
		return nil, err
	}
	rs, err := list(ctx, s, scanRule, `SELECT `+ruleCols+` FROM data_transformation_rules`+
		w.String()+` ORDER BY name, version`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return rs, nil
}

// ActivateRule implements store.RuleStore in one IMMEDIATE transaction.
func (s *Store) ActivateRule(ctx context.Context, name string, version int) (*store.TransformationRule, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	now := micros(s.now())
	var out *store.TransformationRule
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		var active int
		if err := q.QueryRowContext(ctx, `SELECT is_active FROM data_transformation_rules
			WHERE name = ? AND version = ?`, name, version).Scan(&active); err != nil {
			return err
		}
		if active == 0 {
			if _, err := q.ExecContext(ctx, `UPDATE data_transformation_rules
				SET is_active = 0, updated_at = ? WHERE name = ? AND is_active = 1`, now, name); err != nil {
				return err
			}
			if _, err := q.ExecContext(ctx, `UPDATE data_transformation_rules
				SET is_active = 1, updated_at = ? WHERE name = ? AND version = ?`, now, name, version); err != nil {
				return err
			}
		}
		var err error
		out, err = scanRule(q.QueryRowContext(ctx, `SELECT `+ruleCols+` FROM data_transformation_rules
			WHERE name = ? AND version = ?`, name, version))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("activate rule %q version %d: %w", name, version, err)
	}
	return out, nil
}

// Data contracts.

const contractCols = `id, name, version, description, schema, created_at`

func scanContract(sc scanner) (*store.Contract, error) {
	var (
		c       store.Contract
		created int64
	)
	if err := sc.Scan(&c.ID, &c.Name, &c.Version, &c.Description, rawDest(&c.Schema), &created); err != nil {
		return nil, err
	}
	c.CreatedAt = fromMicros(created)
	return &c, nil
}

// CreateContract implements store.ContractStore.
func (s *Store) CreateContract(ctx context.Context, in *store.Contract) (*store.Contract, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil contract")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c := in.Clone()
	var err error
	if c.ID, err = assignID("contract", c.ID); err != nil {
		return nil, err
	}
	c.CreatedAt = s.nowTS()
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		_, err := q.ExecContext(ctx, `INSERT INTO data_contracts (`+contractCols+`)
			VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Version, c.Description, string(c.Schema), micros(c.CreatedAt))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create contract %q version %q: %w", c.Name, c.Version, err)
	}
	return c, nil
}

// GetContract implements store.ContractStore.
func (s *Store) GetContract(ctx context.Context, name, version string) (*store.Contract, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	c, err := get(ctx, s, scanContract, `SELECT `+contractCols+` FROM data_contracts
		WHERE name = ? AND version = ?`, name, version)
	if err != nil {
		return nil, fmt.Errorf("get contract %q version %q: %w", name, version, err)
	}
	return c, nil
}

// ListContracts implements store.ContractStore.
func (s *Store) ListContracts(ctx context.Context, name string, p store.Page) ([]*store.Contract, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w := &where{}
	if name != "" {
		w.add("name = ?", name)
	}
	page, err := w.page(p)
	if err != nil {
		return nil, err
	}
	cs, err := list(ctx, s, scanContract, `SELECT `+contractCols+` FROM data_contracts`+w.String()+
		` ORDER BY name, created_at, version`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list contracts: %w", err)
	}
	return cs, nil
}

// Health metrics.

const healthCols = `id, service_id, metric_type, value, warning_threshold, critical_threshold,
	status, incident_triggered, recovery_actions, recorded_at`

func scanHealth(sc scanner) (*store.HealthMetric, error) {
	var (
		m          store.HealthMetric
		warn, crit sql.NullFloat64
		incident   int
		recorded   int64
	)
	if err := sc.Scan(&m.ID, &m.ServiceID, &m.MetricType, &m.Value, &warn, &crit, &m.Status,
		&incident, rawDest(&m.RecoveryActions), &recorded); err != nil {
		return nil, err
	}
	if warn.Valid {
		m.WarningThreshold = &warn.Float64
	}
	if crit.Valid {
		m.CriticalThreshold = &crit.Float64
	}
	m.IncidentTriggered = incident != 0
	m.RecordedAt = fromMicros(recorded)
	return &m, nil
}

func floatArg(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// InsertHealthMetric implements store.HealthMetricStore.
func (s *Store) InsertHealthMetric(ctx context.Context, in *store.HealthMetric) (*store.HealthMetric, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil health metric")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	m := in.Clone()
	var err error
	if m.ID, err = assignID("health metric", m.ID); err != nil {
		return nil, err
	}
	if m.ServiceID, err = canonicalID("service", m.ServiceID); err != nil {
		return nil, err
	}
	if m.RecordedAt.IsZero() {
		m.RecordedAt = s.nowTS()
	} else {
		m.RecordedAt = store.Timestamp(m.RecordedAt)
	}
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		_, err := q.ExecContext(ctx, `INSERT INTO integration_health_metrics (`+healthCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.ServiceID, string(m.MetricType), m.Value, floatArg(m.WarningThreshold),
			floatArg(m.CriticalThreshold), string(m.Status), boolInt(m.IncidentTriggered),
			jsonArg(m.RecoveryActions), micros(m.RecordedAt))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("insert health metric: %w", err)
	}
	return m, nil
}

// ListHealthMetrics implements store.HealthMetricStore.
func (s *Store) ListHealthMetrics(ctx context.Context, f store.HealthMetricFilter) ([]*store.HealthMetric, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w := &where{}
	sid, err := optionalID("service", f.ServiceID)
	if err != nil {
		return nil, err
	}
	if sid != "" {
		w.add("service_id = ?", sid)
	}
	if f.MetricType != "" {
		if !f.MetricType.Valid() {
			return nil, invalidf("unknown metric type %q", f.MetricType)
		}
		w.add("metric_type = ?", string(f.MetricType))
	}
	if !f.From.IsZero() {
		w.add("recorded_at >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		w.add("recorded_at < ?", micros(f.To))
	}
	page, err := w.page(f.Page)
	if err != nil {
		return nil, err
	}
	ms, err := list(ctx, s, scanHealth, `SELECT `+healthCols+` FROM integration_health_metrics`+
		w.String()+` ORDER BY recorded_at DESC, id`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list health metrics: %w", err)
	}
	return ms, nil
}

// Analytics rollups.

const analyticsCols = `id, service_id, service_name, period, period_start, total_events,
	successes, failures, avg_response_time_ms, error_rate, uptime_percent, data_volume_bytes,
	chairman_interventions, cost, created_at, updated_at, performance_trends`

func scanAnalytics(sc scanner) (*store.AnalyticsRollup, error) {
	var (
		a                       store.AnalyticsRollup
		start, created, updated int64
	)
	if err := sc.Scan(&a.ID, &a.ServiceID, &a.ServiceName, &a.Period, &start, &a.TotalEvents,
		&a.Successes, &a.Failures, &a.AvgResponseTimeMS, &a.ErrorRate, &a.UptimePercent,
		&a.DataVolumeBytes, &a.ChairmanInterventions, &a.Cost, &created, &updated,
		rawDest(&a.PerformanceTrends)); err != nil {
		return nil, err
	}
	a.PeriodStart = fromMicros(start)
	a.CreatedAt = fromMicros(created)
	a.UpdatedAt = fromMicros(updated)
	return &a, nil
}

// UpsertAnalytics implements store.AnalyticsStore: all rollups in one IMMEDIATE
// transaction, each an INSERT … ON CONFLICT DO UPDATE that keeps the row's id and
// created_at.
func (s *Store) UpsertAnalytics(ctx context.Context, rs []*store.AnalyticsRollup) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	prepared := make([]*store.AnalyticsRollup, len(rs))
	for i, in := range rs {
		if in == nil {
			return invalidf("analytics rollup %d is nil", i)
		}
		if err := in.Validate(); err != nil {
			return fmt.Errorf("analytics rollup %d: %w", i, err)
		}
		r := in.Clone()
		var err error
		if r.ID, err = assignID("analytics", r.ID); err != nil {
			return err
		}
		if r.ServiceID, err = canonicalID("service", r.ServiceID); err != nil {
			return err
		}
		prepared[i] = r
	}
	if len(rs) == 0 {
		return nil
	}
	now := micros(s.now())
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		stmt, err := q.stmt(ctx, `INSERT INTO integration_analytics (`+analyticsCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (service_id, period, period_start) DO UPDATE SET
				service_name = excluded.service_name, total_events = excluded.total_events,
				successes = excluded.successes, failures = excluded.failures,
				avg_response_time_ms = excluded.avg_response_time_ms,
				error_rate = excluded.error_rate, uptime_percent = excluded.uptime_percent,
				data_volume_bytes = excluded.data_volume_bytes,
				chairman_interventions = excluded.chairman_interventions, cost = excluded.cost,
				performance_trends = excluded.performance_trends, updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		for _, r := range prepared {
			if _, err := stmt.ExecContext(ctx, r.ID, r.ServiceID, r.ServiceName, string(r.Period),
				micros(r.PeriodStart), r.TotalEvents, r.Successes, r.Failures, r.AvgResponseTimeMS,
				r.ErrorRate, r.UptimePercent, r.DataVolumeBytes, r.ChairmanInterventions, r.Cost,
				now, now, jsonArg(r.PerformanceTrends)); err != nil {
				return fmt.Errorf("rollup of service %s at %s: %w", r.ServiceID, r.PeriodStart, mapError(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upsert analytics: %w", err)
	}
	return nil
}

// ListAnalytics implements store.AnalyticsStore.
func (s *Store) ListAnalytics(ctx context.Context, f store.AnalyticsFilter) ([]*store.AnalyticsRollup, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w := &where{}
	sid, err := optionalID("service", f.ServiceID)
	if err != nil {
		return nil, err
	}
	if sid != "" {
		w.add("service_id = ?", sid)
	}
	if f.Period != "" {
		if !f.Period.Valid() {
			return nil, invalidf("unknown period %q", f.Period)
		}
		w.add("period = ?", string(f.Period))
	}
	if !f.From.IsZero() {
		w.add("period_start >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		w.add("period_start < ?", micros(f.To))
	}
	page, err := w.page(f.Page)
	if err != nil {
		return nil, err
	}
	as, err := list(ctx, s, scanAnalytics, `SELECT `+analyticsCols+` FROM integration_analytics`+
		w.String()+` ORDER BY service_name, period_start, period, service_id`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list analytics: %w", err)
	}
	return as, nil
}

// Audit log.

const auditCols = `id, actor, action, entity_type, entity_id, before, after, created_at, seq, prev_hash, hash`

func scanAudit(sc scanner) (*store.AuditEntry, error) {
	var (
		a              store.AuditEntry
		created        int64
		seq            sql.NullInt64
		prevHash, hash sql.NullString
	)
	if err := sc.Scan(&a.ID, &a.Actor, &a.Action, &a.EntityType, &a.EntityID,
		rawDest(&a.Before), rawDest(&a.After), &created, &seq, &prevHash, &hash); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicros(created)
	a.Seq, a.PrevHash, a.Hash = seq.Int64, prevHash.String, hash.String
	return &a, nil
}

// AppendAudit implements store.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, in *store.AuditEntry) (*store.AuditEntry, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil audit entry")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	a := in.Clone()
	var err error
	if a.ID, err = assignID("audit", a.ID); err != nil {
		return nil, err
	}
	a.CreatedAt = s.nowTS()
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		// The write transaction holds SQLite's write lock, so reading the head and appending
		// after it is serialised with every other writer, in this process and others.
		var headSeq int64
		var headHash string
		err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`).
			Scan(&headSeq, &headHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := store.ChainAudit(a, headSeq, headHash); err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Actor, a.Action, a.EntityType, a.EntityID, jsonArg(a.Before), jsonArg(a.After),
			micros(a.CreatedAt), a.Seq, a.PrevHash, a.Hash)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	return a, nil
}

// ListAudit implements store.AuditStore.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w := &where{}
	if f.EntityType != "" {
		w.add("entity_type = ?", f.EntityType)
	}
	if f.EntityID != "" {
		w.add("entity_id = ?", f.EntityID)
	}
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if !f.From.IsZero() {
		w.add("created_at >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		w.add("created_at < ?", micros(f.To))
	}
	if f.FromSeq > 0 {
		w.add("seq >= ?", f.FromSeq)
	}
	if f.ToSeq > 0 {
		w.add("seq <= ?", f.ToSeq)
	}
	page, err := w.page(f.Page)
	if err != nil {
		return nil, err
	}
	as, err := list(ctx, s, scanAudit, `SELECT `+auditCols+` FROM audit_log`+w.String()+
		` ORDER BY seq`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return as, nil
}
