package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ehg/hub/store"
)

// ReplaceCredentials implements [store.CredentialStore].
func (s *Store) ReplaceCredentials(ctx context.Context, id string, old, next json.RawMessage) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := checkID("service", id); err != nil {
		return err
	}
	if err := checkJSON("credentials", next); err != nil {
		return err
	}
	var state string
	err := s.pool.QueryRow(ctx, s.schemaSQL(`WITH upd AS (
		UPDATE {s}.integration_services SET authentication_config = $3
		WHERE id = $1 AND authentication_config IS NOT DISTINCT FROM $2::jsonb RETURNING 1)
	SELECT CASE WHEN EXISTS (SELECT 1 FROM upd) THEN 'replaced'
		WHEN EXISTS (SELECT 1 FROM {s}.integration_services WHERE id = $1) THEN 'changed'
		ELSE 'missing' END`), id, jsonArg(old), jsonArg(next)).Scan(&state)
	if err != nil {
		return mapError(fmt.Errorf("postgres: replace credentials: %w", err))
	}
	switch state {
	case "missing":
		return fmt.Errorf("%w: postgres: service %s", store.ErrNotFound, id)
	case "changed":
		return fmt.Errorf("%w: postgres: the credentials of service %s changed", store.ErrConflict, id)
	}
	return nil
}

var _ store.CredentialStore = (*Store)(nil)
