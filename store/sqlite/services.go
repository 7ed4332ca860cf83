package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/ehg/hub/store"
)

const serviceCols = `id, name, category, connector_kind, base_url, authentication_config,
	connector_config, rate_limits, circuit_breaker_config, retry_config, max_retries,
	schema_mappings, health_check_config, backup_urls, is_active, health_status, created_at,
	updated_at, data_region, last_health_check`

func scanService(sc scanner) (*store.Service, error) {
	var (
		v                store.Service
		backup           sql.NullString
		active           int
		created, updated int64
		checked          sql.NullInt64
	)
	err := sc.Scan(&v.ID, &v.Name, &v.Category, &v.ConnectorKind, &v.BaseURL,
		rawDest(&v.AuthenticationConfig), rawDest(&v.ConnectorConfig), rawDest(&v.RateLimits),
		rawDest(&v.CircuitBreakerConfig), rawDest(&v.RetryConfig), &v.MaxRetries,
		rawDest(&v.SchemaMappings), rawDest(&v.HealthCheckConfig), &backup, &active,
		&v.HealthStatus, &created, &updated, &v.DataRegion, &checked)
	if err != nil {
		return nil, err
	}
	if backup.Valid {
		if err := json.Unmarshal([]byte(backup.String), &v.BackupURLs); err != nil {
			return nil, fmt.Errorf("sqlite: service %s: decode backup_urls: %w", v.ID, err)
		}
	}
	v.IsActive = active != 0
	v.CreatedAt = fromMicros(created)
	v.UpdatedAt = fromMicros(updated)
	v.LastHealthCheck = timePtr(checked)
	return &v, nil
}

// backupArg stores nil backup URLs as NULL and others as a JSON array.
func backupArg(urls []string) (any, error) {
	if urls == nil {
		return nil, nil
	}
	b, err := json.Marshal(urls)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode backup_urls: %w", err)
	}
	return string(b), nil
}

// CreateService implements store.ServiceStore.
func (s *Store) CreateService(ctx context.Context, in *store.Service) (*store.Service, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil service")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	v := in.Clone()
	var err error
	if v.ID, err = assignID("service", v.ID); err != nil {
		return nil, err
	}
	if v.HealthStatus == "" {
		v.HealthStatus = store.HealthUnknown
	}
	now := s.nowTS()
	v.CreatedAt, v.UpdatedAt = now, now
	if v.LastHealthCheck != nil {
		v.LastHealthCheck = timePtrOf(store.Timestamp(*v.LastHealthCheck))
	}
	backup, err := backupArg(v.BackupURLs)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		_, err := q.ExecContext(ctx, `INSERT INTO integration_services (`+serviceCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, v.Name, string(v.Category), v.ConnectorKind, v.BaseURL,
			jsonArg(v.AuthenticationConfig), jsonArg(v.ConnectorConfig), jsonArg(v.RateLimits),
			jsonArg(v.CircuitBreakerConfig), jsonArg(v.RetryConfig), v.MaxRetries,
			jsonArg(v.SchemaMappings), jsonArg(v.HealthCheckConfig), backup, boolInt(v.IsActive),
			string(v.HealthStatus), micros(now), micros(now), v.DataRegion, microsArg(v.LastHealthCheck))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create service %q: %w", v.Name, err)
	}
	return v, nil
}

// GetService implements store.ServiceStore.
func (s *Store) GetService(ctx context.Context, id string) (*store.Service, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", id)
	if err != nil {
		return nil, err
	}
	return s.getService(ctx, "id", id)
}

// GetServiceByName implements store.ServiceStore.
func (s *Store) GetServiceByName(ctx context.Context, name string) (*store.Service, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return s.getService(ctx, "name", name)
}

func (s *Store) getService(ctx context.Context, col, key string) (*store.Service, error) {
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	v, err := scanService(db.QueryRowContext(ctx, `SELECT `+serviceCols+` FROM integration_services WHERE `+col+` = ?`, key))
	if err != nil {
		return nil, fmt.Errorf("get service by %s %q: %w", col, key, mapError(err))
	}
	return v, nil
}

// UpdateService implements store.ServiceStore.
func (s *Store) UpdateService(ctx context.Context, in *store.Service) (*store.Service, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil service")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	v := in.Clone()
	var err error
	if v.ID, err = canonicalID("service", v.ID); err != nil {
		return nil, err
	}
	if v.HealthStatus == "" {
		v.HealthStatus = store.HealthUnknown
	}
	backup, err := backupArg(v.BackupURLs)
	if err != nil {
		return nil, err
	}
	now := s.nowTS()
	var out *store.Service
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		var err error
		out, err = scanService(q.QueryRowContext(ctx, `UPDATE integration_services SET
			name = ?, category = ?, connector_kind = ?, base_url = ?, authentication_config = ?,
			connector_config = ?, rate_limits = ?, circuit_breaker_config = ?, retry_config = ?,
			max_retries = ?, schema_mappings = ?, health_check_config = ?, backup_urls = ?,
			is_active = ?, health_status = ?, updated_at = ?, data_region = ?, last_health_check = ?
			WHERE id = ? RETURNING `+serviceCols,
			v.Name, string(v.Category), v.ConnectorKind, v.BaseURL,
			jsonArg(v.AuthenticationConfig), jsonArg(v.ConnectorConfig), jsonArg(v.RateLimits),
			jsonArg(v.CircuitBreakerConfig), jsonArg(v.RetryConfig), v.MaxRetries,
			jsonArg(v.SchemaMappings), jsonArg(v.HealthCheckConfig), backup, boolInt(v.IsActive),
			string(v.HealthStatus), micros(now), v.DataRegion, microsArg(v.LastHealthCheck), v.ID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update service %s: %w", v.ID, err)
	}
	return out, nil
}

// ListServices implements store.ServiceStore.
func (s *Store) ListServices(ctx context.Context, f store.ServiceFilter) ([]*store.Service, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w := &where{}
	if f.Category != "" {
		if !f.Category.Valid() {
			return nil, invalidf("unknown service category %q", f.Category)
		}
		w.add("category = ?", string(f.Category))
	}
	if f.ActiveOnly {
		w.add("is_active = 1")
	}
	page, err := w.page(f.Page)
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+serviceCols+` FROM integration_services`+w.String()+
		` ORDER BY name`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", mapError(err))
	}
	defer rows.Close()
	var out []*store.Service
	for rows.Next() {
		v, err := scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list services: %w", mapError(err))
	}
	return out, nil
}

// RecordServiceHealth implements store.ServiceHealthRecorder: one UPDATE that applies only
// when the observation is not older than the stored one, then the service as it stands.
func (s *Store) RecordServiceHealth(ctx context.Context, p store.ServiceHealthParams) (*store.Service, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", p.ServiceID)
	if err != nil {
		return nil, err
	}
	var out *store.Service
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		if _, err := q.ExecContext(ctx, `UPDATE integration_services SET
			last_health_check = ?1, health_status = coalesce(nullif(?2, ''), health_status)
			WHERE id = ?3 AND (last_health_check IS NULL OR last_health_check <= ?1)`,
			micros(p.At), string(p.Status), id); err != nil {
			return err
		}
		var err error
		out, err = scanService(q.QueryRowContext(ctx, `SELECT `+serviceCols+` FROM integration_services WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record health of service %s: %w", id, mapError(err))
	}
	return out, nil
}
