package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ehg/hub/store"
)

const ruleCols = `id, name, version, service_id, source_schema, target_schema,
	transformation_logic, validation_rules, is_bidirectional, is_active, created_at, updated_at`

const (
	sqlInsertRule = `INSERT INTO {s}.data_transformation_rules (` + ruleCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING ` + ruleCols
	sqlGetRule = `SELECT ` + ruleCols + ` FROM {s}.data_transformation_rules
	WHERE name = $1 AND version = $2`
	sqlGetActiveRule = `SELECT ` + ruleCols + ` FROM {s}.data_transformation_rules
	WHERE name = $1 AND is_active`
	sqlListRules = `SELECT ` + ruleCols + ` FROM {s}.data_transformation_rules`
	sqlLockRules = `SELECT version FROM {s}.data_transformation_rules WHERE name = $1
	ORDER BY version FOR UPDATE`
	sqlDeactivateRules = `UPDATE {s}.data_transformation_rules SET is_active = false, updated_at = $3
	WHERE name = $1 AND version <> $2 AND is_active`
	sqlActivateRule = `UPDATE {s}.data_transformation_rules
	SET is_active = true, updated_at = CASE WHEN is_active THEN updated_at ELSE $3 END
	WHERE name = $1 AND version = $2 RETURNING ` + ruleCols
)

// CreateRule implements [store.RuleStore].
func (s *Store) CreateRule(ctx context.Context, r *store.TransformationRule) (*store.TransformationRule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%w: nil rule", store.ErrInvalidArgument)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: create rule: %w", err)
	}
	id := r.ID
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return nil, err
		}
	}
	out, err := scanRule(s.pool.QueryRow(ctx, s.q.insertRule, id, r.Name, r.Version,
		textArg(r.ServiceID), jsonArg(r.SourceSchema), jsonArg(r.TargetSchema),
		jsonArg(r.TransformationLogic), jsonArg(r.ValidationRules), r.IsBidirectional,
		r.IsActive, s.now()))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: create rule %q version %d: %w", r.Name, r.Version, err))
	}
	return out, nil
}

// GetRule implements [store.RuleStore].
func (s *Store) GetRule(ctx context.Context, name string, version int) (*store.TransformationRule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	out, err := scanRule(s.pool.QueryRow(ctx, s.q.getRule, name, version))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get rule %q version %d: %w", name, version, err))
	}
	return out, nil
}

// GetActiveRule implements [store.RuleStore].
func (s *Store) GetActiveRule(ctx context.Context, name string) (*store.TransformationRule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	out, err := scanRule(s.pool.QueryRow(ctx, s.q.getActiveRule, name))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get active rule %q: %w", name, err))
	}
	return out, nil
}

// ListRules implements [store.RuleStore].
func (s *Store) ListRules(ctx context.Context, f store.RuleFilter) ([]*store.TransformationRule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("rules", f.Page)
	if err != nil {
		return nil, err
	}
	var w where
	if f.Name != "" {
		w.add("name = " + w.arg(f.Name))
	}
	if f.ServiceID != "" {
		if err := checkID("service", f.ServiceID); err != nil {
			return nil, err
		}
		w.add("service_id = " + w.arg(f.ServiceID))
	}
	if f.ActiveOnly {
		w.add("is_active")
	}
	rows, err := s.pool.Query(ctx, s.q.listRules+w.sql()+" ORDER BY name, version"+w.page(page), w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list rules: %w", err))
	}
	out, err := collect(rows, scanRule)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list rules: %w", err))
	}
	return out, nil
}

// ActivateRule implements [store.RuleStore] in one transaction that locks every version of
// the name first, so concurrent activations serialise.
func (s *Store) ActivateRule(ctx context.Context, name string, version int) (*store.TransformationRule, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var out *store.TransformationRule
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, s.q.lockRules, name)
		if err != nil {
			return err
		}
		found := false
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			found = found || v == version
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !found {
			return pgx.ErrNoRows
		}
		now := s.now()
		if _, err := tx.Exec(ctx, s.q.deactivateRules, name, version, now); err != nil {
			return err
		}
		out, err = scanRule(tx.QueryRow(ctx, s.q.activateRule, name, version, now))
		return err
	})
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: activate rule %q version %d: %w", name, version, err))
	}
	return out, nil
}

// scanRule reads one row of ruleCols.
func scanRule(row pgx.Row) (*store.TransformationRule, error) {
	var (
		r                         store.TransformationRule
		svc                       pgtype.Text
		src, dst, logic, validate []byte
	)
	if err := row.Scan(&r.ID, &r.Name, &r.Version, &svc, &src, &dst, &logic, &validate,
		&r.IsBidirectional, &r.IsActive, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	r.ServiceID = strOut(svc)
	r.SourceSchema = jsonOut(src)
	r.TargetSchema = jsonOut(dst)
	r.TransformationLogic = jsonOut(logic)
	r.ValidationRules = jsonOut(validate)
	r.CreatedAt = r.CreatedAt.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	return &r, nil
}

const contractCols = `id, name, version, description, schema, created_at`

const (
	sqlInsertContract = `INSERT INTO {s}.data_contracts (` + contractCols + `)
	VALUES ($1, $2, $3, $4, $5, $6) RETURNING ` + contractCols
	sqlGetContract = `SELECT ` + contractCols + ` FROM {s}.data_contracts
	WHERE name = $1 AND version = $2`
	sqlListContracts = `SELECT ` + contractCols + ` FROM {s}.data_contracts`
)

// CreateContract implements [store.ContractStore].
func (s *Store) CreateContract(ctx context.Context, c *store.Contract) (*store.Contract, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("%w: nil contract", store.ErrInvalidArgument)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: create contract: %w", err)
	}
	id := c.ID
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return nil, err
		}
	}
	out, err := scanContract(s.pool.QueryRow(ctx, s.q.insertContract, id, c.Name, c.Version,
		c.Description, jsonArg(c.Schema), s.now()))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: create contract %q version %q: %w", c.Name, c.Version, err))
	}
	return out, nil
}

// GetContract implements [store.ContractStore].
func (s *Store) GetContract(ctx context.Context, name, version string) (*store.Contract, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	out, err := scanContract(s.pool.QueryRow(ctx, s.q.getContract, name, version))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get contract %q version %q: %w", name, version, err))
	}
	return out, nil
}

// ListContracts implements [store.ContractStore].
func (s *Store) ListContracts(ctx context.Context, name string, p store.Page) ([]*store.Contract, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("contracts", p)
	if err != nil {
		return nil, err
	}
	var w where
	if name != "" {
		w.add("name = " + w.arg(name))
	}
	rows, err := s.pool.Query(ctx, s.q.listContracts+w.sql()+" ORDER BY name, created_at, version"+w.page(page), w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list contracts: %w", err))
	}
	out, err := collect(rows, scanContract)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list contracts: %w", err))
	}
	return out, nil
}

// scanContract reads one row of contractCols.
func scanContract(row pgx.Row) (*store.Contract, error) {
	var (
		c      store.Contract
		schema []byte
	)
	if err := row.Scan(&c.ID, &c.Name, &c.Version, &c.Description, &schema, &c.CreatedAt); err != nil {
		return nil, err
	}
	c.Schema = jsonOut(schema)
	c.CreatedAt = c.CreatedAt.UTC()
	return &c, nil
}

const metricCols = `id, service_id, metric_type, value, warning_threshold, critical_threshold,
	status, incident_triggered, recovery_actions, recorded_at`

const (
	sqlInsertMetric = `INSERT INTO {s}.integration_health_metrics (` + metricCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ` + metricCols
	sqlListMetrics = `SELECT ` + metricCols + ` FROM {s}.integration_health_metrics`
)

// InsertHealthMetric implements [store.HealthMetricStore].
func (s *Store) InsertHealthMetric(ctx context.Context, m *store.HealthMetric) (*store.HealthMetric, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%w: nil health metric", store.ErrInvalidArgument)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: insert health metric: %w", err)
	}
	id := m.ID
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return nil, err
		}
	}
	at := s.now()
	if !m.RecordedAt.IsZero() {
		at = store.Timestamp(m.RecordedAt)
	}
	out, err := scanMetric(s.pool.QueryRow(ctx, s.q.insertMetric, id, m.ServiceID,
		string(m.MetricType), m.Value, m.WarningThreshold, m.CriticalThreshold, string(m.Status),
		m.IncidentTriggered, jsonArg(m.RecoveryActions), at))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: insert health metric: %w", err))
	}
	return out, nil
}

// ListHealthMetrics implements [store.HealthMetricStore].
func (s *Store) ListHealthMetrics(ctx context.Context, f store.HealthMetricFilter) ([]*store.HealthMetric, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("health metrics", f.Page)
	if err != nil {
		return nil, err
	}
	var w where
	if f.ServiceID != "" {
		if err := checkID("service", f.ServiceID); err != nil {
			return nil, err
		}
		w.add("service_id = " + w.arg(f.ServiceID))
	}
	if f.MetricType != "" {
		if !f.MetricType.Valid() {
			return nil, fmt.Errorf("%w: unknown metric type %q", store.ErrInvalidArgument, f.MetricType)
		}
		w.add("metric_type = " + w.arg(string(f.MetricType)))
	}
	if !f.From.IsZero() {
		w.add("recorded_at >= " + w.arg(store.Timestamp(f.From)))
	}
	if !f.To.IsZero() {
		w.add("recorded_at < " + w.arg(store.Timestamp(f.To)))
	}
	rows, err := s.pool.Query(ctx, s.q.listMetrics+w.sql()+" ORDER BY recorded_at DESC, id"+w.page(page), w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list health metrics: %w", err))
	}
	out, err := collect(rows, scanMetric)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list health metrics: %w", err))
	}
	return out, nil
}

// scanMetric reads one row of metricCols.
func scanMetric(row pgx.Row) (*store.HealthMetric, error) {
	var (
		m           store.HealthMetric
		typ, status string
		warn, crit  pgtype.Float8
		actions     []byte
	)
	if err := row.Scan(&m.ID, &m.ServiceID, &typ, &m.Value, &warn, &crit, &status,
		&m.IncidentTriggered, &actions, &m.RecordedAt); err != nil {
		return nil, err
	}
	m.MetricType = store.MetricType(typ)
	m.Status = store.MetricStatus(status)
	if warn.Valid {
		m.WarningThreshold = &warn.Float64
	}
	if crit.Valid {
		m.CriticalThreshold = &crit.Float64
	}
	m.RecoveryActions = jsonOut(actions)
	m.RecordedAt = m.RecordedAt.UTC()
	return &m, nil
}

const analyticsCols = `id, service_id, service_name, period, period_start, total_events,
	successes, failures, avg_response_time_ms, error_rate, uptime_percent, data_volume_bytes,
	chairman_interventions, cost, created_at, updated_at, performance_trends`

const (
	sqlUpsertAnalytics = `INSERT INTO {s}.integration_analytics (` + analyticsCols + `)
	SELECT u.id, u.service_id, u.service_name, u.period, u.period_start, u.total_events,
		u.successes, u.failures, u.avg_response_time_ms, u.error_rate, u.uptime_percent,
		u.data_volume_bytes, u.chairman_interventions, u.cost, $14, $14, u.performance_trends
	FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[],
		$5::timestamptz[], $6::bigint[], $7::bigint[], $8::bigint[], $9::float8[], $10::float8[],
		$11::float8[], $12::bigint[], $13::bigint[], $15::float8[], $16::jsonb[])
		AS u(id, service_id, service_name, period, period_start, total_events, successes,
			failures, avg_response_time_ms, error_rate, uptime_percent, data_volume_bytes,
			chairman_interventions, cost, performance_trends)
	ON CONFLICT (service_id, period, period_start) DO UPDATE SET
		service_name = EXCLUDED.service_name, total_events = EXCLUDED.total_events,
		successes = EXCLUDED.successes, failures = EXCLUDED.failures,
		avg_response_time_ms = EXCLUDED.avg_response_time_ms, error_rate = EXCLUDED.error_rate,
		uptime_percent = EXCLUDED.uptime_percent, data_volume_bytes = EXCLUDED.data_volume_bytes,
		chairman_interventions = EXCLUDED.chairman_interventions, cost = EXCLUDED.cost,
		performance_trends = EXCLUDED.performance_trends, updated_at = EXCLUDED.updated_at`
	sqlListAnalytics = `SELECT ` + analyticsCols + ` FROM {s}.integration_analytics`
)

// UpsertAnalytics implements [store.AnalyticsStore] with one INSERT … ON CONFLICT DO
// UPDATE. When rs repeats a key, the last rollup wins, as if applied in sequence.
func (s *Store) UpsertAnalytics(ctx context.Context, rs []*store.AnalyticsRollup) error {
	if err := s.check(); err != nil {
		return err
	}
	type key struct {
		svc, period string
		start       int64
	}
	last := map[key]int{}
	for i, r := range rs {
		if r == nil {
			return fmt.Errorf("%w: analytics rollup %d is nil", store.ErrInvalidArgument, i)
		}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("postgres: upsert analytics: %w", err)
		}
		last[key{canonical(r.ServiceID), string(r.Period), store.Timestamp(r.PeriodStart).UnixMicro()}] = i
	}
	if len(last) == 0 {
		return nil
	}
	var (
		ids, svcs, names, periods           []string
		starts                              []pgtype.Timestamptz
		totals, succ, fails, volume, interv []int64
		avg, errRate, cost                  []float64
		uptime                              []pgtype.Float8
		trends                              []json.RawMessage
	)
	for i, r := range rs {
		if last[key{canonical(r.ServiceID), string(r.Period), store.Timestamp(r.PeriodStart).UnixMicro()}] != i {
			continue
		}
		id := r.ID
		if id == "" {
			var err error
			if id, err = newID(); err != nil {
				return err
			}
		}
		ids = append(ids, id)
		svcs = append(svcs, r.ServiceID)
		names = append(names, r.ServiceName)
		periods = append(periods, string(r.Period))
		starts = append(starts, pgtype.Timestamptz{Time: store.Timestamp(r.PeriodStart), Valid: true})
		totals = append(totals, r.TotalEvents)
		succ = append(succ, r.Successes)
		fails = append(fails, r.Failures)
		avg = append(avg, r.AvgResponseTimeMS)
		errRate = append(errRate, r.ErrorRate)
		up := pgtype.Float8{}
		if r.UptimePercent != nil {
			up = pgtype.Float8{Float64: *r.UptimePercent, Valid: true}
		}
		uptime = append(uptime, up)
		trends = append(trends, jsonBytes(r.PerformanceTrends))
		volume = append(volume, r.DataVolumeBytes)
		interv = append(interv, r.ChairmanInterventions)
		cost = append(cost, r.Cost)
	}
	if _, err := s.pool.Exec(ctx, s.q.upsertAnalytics, ids, svcs, names, periods, starts, totals,
		succ, fails, avg, errRate, uptime, volume, interv, s.now(), cost, trends); err != nil {
		return mapError(fmt.Errorf("postgres: upsert analytics: %w", err))
	}
	return nil
}

// ListAnalytics implements [store.AnalyticsStore].
func (s *Store) ListAnalytics(ctx context.Context, f store.AnalyticsFilter) ([]*store.AnalyticsRollup, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("analytics", f.Page)
	if err != nil {
		return nil, err
	}
	var w where
	if f.ServiceID != "" {
		if err := checkID("service", f.ServiceID); err != nil {
			return nil, err
		}
		w.add("service_id = " + w.arg(f.ServiceID))
	}
	if f.Period != "" {
		if !f.Period.Valid() {
			return nil, fmt.Errorf("%w: unknown analytics period %q", store.ErrInvalidArgument, f.Period)
		}
		w.add("period = " + w.arg(string(f.Period)))
	}
	if !f.From.IsZero() {
		w.add("period_start >= " + w.arg(store.Timestamp(f.From)))
	}
	if !f.To.IsZero() {
		w.add("period_start < " + w.arg(store.Timestamp(f.To)))
	}
	sql := s.q.listAnalytics + w.sql() + " ORDER BY service_name, period_start, period, service_id" + w.page(page)
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list analytics: %w", err))
	}
	out, err := collect(rows, scanAnalytics)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list analytics: %w", err))
	}
	return out, nil
}

// scanAnalytics reads one row of analyticsCols.
func scanAnalytics(row pgx.Row) (*store.AnalyticsRollup, error) {
	var (
		a      store.AnalyticsRollup
		period string
		uptime pgtype.Float8
		trends []byte
	)
	if err := row.Scan(&a.ID, &a.ServiceID, &a.ServiceName, &period, &a.PeriodStart,
		&a.TotalEvents, &a.Successes, &a.Failures, &a.AvgResponseTimeMS, &a.ErrorRate,
		&uptime, &a.DataVolumeBytes, &a.ChairmanInterventions, &a.Cost, &a.CreatedAt,
		&a.UpdatedAt, &trends); err != nil {
		return nil, err
	}
	if uptime.Valid {
		a.UptimePercent = &uptime.Float64
	}
	a.PerformanceTrends = jsonOut(trends)
	a.Period = store.Period(period)
	a.PeriodStart = a.PeriodStart.UTC()
	a.CreatedAt = a.CreatedAt.UTC()
	a.UpdatedAt = a.UpdatedAt.UTC()
	return &a, nil
}

const auditCols = `id, actor, action, entity_type, entity_id, before, after, created_at, seq, prev_hash, hash`

const (
	sqlInsertAudit = `INSERT INTO {s}.audit_log (` + auditCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ` + auditCols
	sqlListAudit = `SELECT ` + auditCols + ` FROM {s}.audit_log`
)

// AppendAudit implements [store.AuditStore]. The append holds a transaction-scoped advisory
// lock of the schema's audit chain while it reads the head and inserts after it, so hubs
// sharing the schema append one after another to one chain.
func (s *Store) AppendAudit(ctx context.Context, a *store.AuditEntry) (*store.AuditEntry, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if a == nil {
		return nil, fmt.Errorf("%w: nil audit entry", store.ErrInvalidArgument)
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: append audit: %w", err)
	}
	e := a.Clone()
	// An entry handed in with an id keeps it, so replaying one is a conflict, not a copy.
	if e.ID == "" {
		var err error
		if e.ID, err = newID(); err != nil {
			return nil, err
		}
	}
	var out *store.AuditEntry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", auditLockKey(s.opts.Schema)); err != nil {
			return err
		}
		var headSeq int64
		var headHash string
		err := tx.QueryRow(ctx, s.schemaSQL(`SELECT seq, hash FROM {s}.audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`)).
			Scan(&headSeq, &headHash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		e.CreatedAt = s.now()
		if err := store.ChainAudit(e, headSeq, headHash); err != nil {
			return err
		}
		out, err = scanAudit(tx.QueryRow(ctx, s.q.insertAudit, e.ID, e.Actor, e.Action,
			e.EntityType, e.EntityID, jsonArg(e.Before), jsonArg(e.After), e.CreatedAt, e.Seq, e.PrevHash, e.Hash))
		return err
	})
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: append audit: %w", err))
	}
	return out, nil
}

// ListAudit implements [store.AuditStore].
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("audit entries", f.Page)
	if err != nil {
		return nil, err
	}
	var w where
	if f.EntityType != "" {
		w.add("entity_type = " + w.arg(f.EntityType))
	}
	if f.EntityID != "" {
		w.add("entity_id = " + w.arg(f.EntityID))
	}
	if f.Actor != "" {
		w.add("actor = " + w.arg(f.Actor))
	}
	if !f.From.IsZero() {
		w.add("created_at >= " + w.arg(store.Timestamp(f.From)))
	}
	if !f.To.IsZero() {
		w.add("created_at < " + w.arg(store.Timestamp(f.To)))
	}
	if f.FromSeq > 0 {
		w.add("seq >= " + w.arg(f.FromSeq))
	}
	if f.ToSeq > 0 {
		w.add("seq <= " + w.arg(f.ToSeq))
	}
	rows, err := s.pool.Query(ctx, s.q.listAudit+w.sql()+" ORDER BY seq"+w.page(page), w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list audit: %w", err))
	}
	out, err := collect(rows, scanAudit)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list audit: %w", err))
	}
	return out, nil
}

// scanAudit reads one row of auditCols.
func scanAudit(row pgx.Row) (*store.AuditEntry, error) {
	var (
		a              store.AuditEntry
		before, after  []byte
		seq            *int64
		prevHash, hash *string
	)
	if err := row.Scan(&a.ID, &a.Actor, &a.Action, &a.EntityType, &a.EntityID, &before, &after,
		&a.CreatedAt, &seq, &prevHash, &hash); err != nil {
		return nil, err
	}
	if seq != nil {
		a.Seq = *seq
	}
	if prevHash != nil {
		a.PrevHash = *prevHash
	}
	if hash != nil {
		a.Hash = *hash
	}
	a.Before = jsonOut(before)
	a.After = jsonOut(after)
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}

// Interface guards.
var (
	_ store.Store                 = (*Store)(nil)
	_ store.Notifier              = (*Store)(nil)
	_ store.ServiceHealthRecorder = (*Store)(nil)
)
