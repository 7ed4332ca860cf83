package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ehg/hub/store"
)

// ReplaceCredentials implements [store.CredentialStore].
func (s *Store) ReplaceCredentials(ctx context.Context, id string, old, next json.RawMessage) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	id, err := canonicalID("service", id)
	if err != nil {
		return err
	}
	if len(next) > 0 && !json.Valid(next) {
		return invalidf("replace credentials: not well-formed JSON")
	}
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		res, err := q.ExecContext(ctx, `UPDATE integration_services SET authentication_config = ?
			WHERE id = ? AND json(authentication_config) IS json(?)`, jsonArg(next), id, jsonArg(old))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		if err := q.QueryRowContext(ctx, `SELECT 1 FROM integration_services WHERE id = ?`, id).Scan(&one); err != nil {
			return fmt.Errorf("%w: service %s", store.ErrNotFound, id)
		}
		return fmt.Errorf("%w: the credentials of service %s changed", store.ErrConflict, id)
	})
	if err != nil {
		return fmt.Errorf("replace credentials: %w", err)
	}
	return nil
}

var _ store.CredentialStore = (*Store)(nil)
