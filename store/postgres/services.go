package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ehg/hub/store"
)

const serviceCols = `id, name, category, connector_kind, base_url, authentication_config,
	connector_config, rate_limits, circuit_breaker_config, retry_config, max_retries,
	schema_mappings, health_check_config, backup_urls, is_active, health_status, created_at,
	updated_at, data_region, last_health_check`

const (
	sqlInsertService = `INSERT INTO {s}.integration_services (` + serviceCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19)
	RETURNING ` + serviceCols
	sqlGetServiceByID   = `SELECT ` + serviceCols + ` FROM {s}.integration_services WHERE id = $1`
	sqlGetServiceByName = `SELECT ` + serviceCols + ` FROM {s}.integration_services WHERE name = $1`
	sqlUpdateService    = `UPDATE {s}.integration_services SET name = $2, category = $3,
	connector_kind = $4, base_url = $5, authentication_config = $6, connector_config = $7,
	rate_limits = $8, circuit_breaker_config = $9, retry_config = $10, max_retries = $11,
	schema_mappings = $12, health_check_config = $13, backup_urls = $14, is_active = $15,
	health_status = $16, updated_at = $17, data_region = $18, last_health_check = $19
	WHERE id = $1 RETURNING ` + serviceCols
	// sqlRecordServiceHealth applies an observation unless it is older than the stored one;
	// the select returns the service as it stands either way.
	sqlRecordServiceHealth = `WITH u AS (
		UPDATE {s}.integration_services SET last_health_check = $2,
			health_status = coalesce(nullif($3, ''), health_status)
		WHERE id = $1 AND (last_health_check IS NULL OR last_health_check <= $2)
		RETURNING ` + serviceCols + `)
	SELECT * FROM u UNION ALL
	SELECT ` + serviceCols + ` FROM {s}.integration_services WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM u)`
	sqlListServices = `SELECT ` + serviceCols + ` FROM {s}.integration_services`
)

// serviceArgs returns the arguments $1..$19 of the insert and update statements.
func serviceArgs(sv *store.Service, id string, health store.HealthStatus, now any) []any {
	urls := sv.BackupURLs
	if urls == nil {
		urls = []string{}
	}
	return []any{id, sv.Name, string(sv.Category), sv.ConnectorKind, sv.BaseURL,
		jsonArg(sv.AuthenticationConfig), jsonArg(sv.ConnectorConfig), jsonArg(sv.RateLimits),
		jsonArg(sv.CircuitBreakerConfig), jsonArg(sv.RetryConfig), sv.MaxRetries,
		jsonArg(sv.SchemaMappings), jsonArg(sv.HealthCheckConfig), urls, sv.IsActive,
		string(health), now, sv.DataRegion, timeArg(sv.LastHealthCheck)}
}

// CreateService implements [store.ServiceStore].
func (s *Store) CreateService(ctx context.Context, sv *store.Service) (*store.Service, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if sv == nil {
		return nil, fmt.Errorf("%w: nil service", store.ErrInvalidArgument)
	}
	if err := sv.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: create service: %w", err)
	}
	id := sv.ID
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return nil, err
		}
	}
	health := sv.HealthStatus
	if health == "" {
		health = store.HealthUnknown
	}
	out, err := scanService(s.pool.QueryRow(ctx, s.q.insertService, serviceArgs(sv, id, health, s.now())...))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: create service %q: %w", sv.Name, err))
	}
	return out, nil
}

// GetService implements [store.ServiceStore].
func (s *Store) GetService(ctx context.Context, id string) (*store.Service, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("service", id); err != nil {
		return nil, err
	}
	out, err := scanService(s.pool.QueryRow(ctx, s.q.getServiceByID, id))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get service %s: %w", id, err))
	}
	return out, nil
}

// GetServiceByName implements [store.ServiceStore].
func (s *Store) GetServiceByName(ctx context.Context, name string) (*store.Service, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	out, err := scanService(s.pool.QueryRow(ctx, s.q.getServiceByName, name))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get service named %q: %w", name, err))
	}
	return out, nil
}

// UpdateService implements [store.ServiceStore].
func (s *Store) UpdateService(ctx context.Context, sv *store.Service) (*store.Service, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if sv == nil {
		return nil, fmt.Errorf("%w: nil service", store.ErrInvalidArgument)
	}
	if err := sv.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: update service: %w", err)
	}
	if err := checkID("service", sv.ID); err != nil {
		return nil, err
	}
	health := sv.HealthStatus
	if health == "" {
		health = store.HealthUnknown
	}
	out, err := scanService(s.pool.QueryRow(ctx, s.q.updateService, serviceArgs(sv, sv.ID, health, s.now())...))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: update service %s: %w", sv.ID, err))
	}
	return out, nil
}

// ListServices implements [store.ServiceStore].
func (s *Store) ListServices(ctx context.Context, f store.ServiceFilter) ([]*store.Service, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("services", f.Page)
	if err != nil {
		return nil, err
	}
	var w where
	if f.Category != "" {
		if !f.Category.Valid() {
			return nil, fmt.Errorf("%w: unknown service category %q", store.ErrInvalidArgument, f.Category)
		}
		w.add("category = " + w.arg(string(f.Category)))
	}
	if f.ActiveOnly {
		w.add("is_active")
	}
	sql := s.q.listServices + w.sql() + " ORDER BY name" + w.page(page)
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list services: %w", err))
	}
	out, err := collect(rows, scanService)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list services: %w", err))
	}
	return out, nil
}

// scanService reads one row of serviceCols.
func scanService(row pgx.Row) (*store.Service, error) {
	var (
		sv                                     store.Service
		category, health                       string
		auth, conn, rate, breaker, retry, maps []byte
		check                                  []byte
		urls                                   []string
		checked                                pgtype.Timestamptz
	)
	if err := row.Scan(&sv.ID, &sv.Name, &category, &sv.ConnectorKind, &sv.BaseURL, &auth,
		&conn, &rate, &breaker, &retry, &sv.MaxRetries, &maps, &check, &urls, &sv.IsActive,
		&health, &sv.CreatedAt, &sv.UpdatedAt, &sv.DataRegion, &checked); err != nil {
		return nil, err
	}
	sv.Category = store.ServiceCategory(category)
	sv.HealthStatus = store.HealthStatus(health)
	sv.AuthenticationConfig = jsonOut(auth)
	sv.ConnectorConfig = jsonOut(conn)
	sv.RateLimits = jsonOut(rate)
	sv.CircuitBreakerConfig = jsonOut(breaker)
	sv.RetryConfig = jsonOut(retry)
	sv.SchemaMappings = jsonOut(maps)
	sv.HealthCheckConfig = jsonOut(check)
	if len(urls) > 0 {
		sv.BackupURLs = urls
	}
	sv.CreatedAt = sv.CreatedAt.UTC()
	sv.UpdatedAt = sv.UpdatedAt.UTC()
	if checked.Valid {
		t := checked.Time.UTC()
		sv.LastHealthCheck = &t
	}
	return &sv, nil
}

// collect scans every row with scan, closing rows.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// notFound reports whether err is the store's not-found sentinel.
func notFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// RecordServiceHealth implements [store.ServiceHealthRecorder] with one statement: the
// update when the observation is not older than the stored one, and the service as it
// stands.
func (s *Store) RecordServiceHealth(ctx context.Context, p store.ServiceHealthParams) (*store.Service, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: record service health: %w", err)
	}
	out, err := scanService(s.pool.QueryRow(ctx, s.q.recordServiceHealth, p.ServiceID,
		pgtype.Timestamptz{Time: store.Timestamp(p.At), Valid: true}, string(p.Status)))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: record health of service %s: %w", p.ServiceID, err))
	}
	return out, nil
}
