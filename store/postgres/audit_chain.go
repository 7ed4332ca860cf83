package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ehg/hub/store"
)

// schemaSQL returns query with {s} replaced by the store's quoted schema.
func (s *Store) schemaSQL(query string) string {
	return strings.ReplaceAll(query, "{s}", pgx.Identifier{s.opts.Schema}.Sanitize())
}

// auditLockKey derives the advisory lock key that serialises appends to a schema's audit
// chain.
func auditLockKey(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("github.com/ehg/hub/store/postgres:audit:"))
	_, _ = h.Write([]byte(schema))
	return int64(h.Sum64()) //nolint:gosec // any 64-bit value is a valid key
}

// auditChainVersion is the migration that adds the audit chain's columns.
const auditChainVersion = 7

// chainLegacyAudit chains the entries written before migration 0007 (numbered by it, with
// no hashes yet), in seq order, inside the migration's transaction, which holds the
// migration lock; it takes the append lock too. It does nothing once every entry is chained.
func chainLegacyAudit(ctx context.Context, tx pgx.Tx, schema, quoted string) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", auditLockKey(schema)); err != nil {
		return fmt.Errorf("postgres: chain audit log: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT `+auditCols+` FROM `+quoted+`.audit_log WHERE hash IS NULL ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("postgres: chain audit log: %w", err)
	}
	legacy, err := collect(rows, scanAudit)
	if err != nil {
		return fmt.Errorf("postgres: chain audit log: %w", err)
	}
	if len(legacy) == 0 {
		return nil
	}
	var headSeq int64
	var headHash string
	err = tx.QueryRow(ctx, `SELECT seq, hash FROM `+quoted+`.audit_log WHERE hash IS NOT NULL AND seq < $1 ORDER BY seq DESC LIMIT 1`,
		legacy[0].Seq).Scan(&headSeq, &headHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: chain audit log: %w", err)
	}
	for _, a := range legacy {
		seq := a.Seq
		if err := store.ChainAudit(a, headSeq, headHash); err != nil {
			return fmt.Errorf("postgres: chain audit log: %w", err)
		}
		if a.Seq != seq {
			return fmt.Errorf("postgres: chain audit log: entry %s has seq %d after %d", a.ID, seq, headSeq)
		}
		if _, err := tx.Exec(ctx, `UPDATE `+quoted+`.audit_log SET prev_hash = $1, hash = $2 WHERE id = $3 AND hash IS NULL`,
			a.PrevHash, a.Hash, a.ID); err != nil {
			return fmt.Errorf("postgres: chain audit log: %w", err)
		}
		headSeq, headHash = a.Seq, a.Hash
	}
	return nil
}

// AddAuditCheckpoint implements [store.AuditCheckpointStore].
func (s *Store) AddAuditCheckpoint(ctx context.Context, in *store.AuditCheckpoint) error {
	if err := s.check(); err != nil {
		return err
	}
	if in == nil {
		return fmt.Errorf("%w: nil audit checkpoint", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return fmt.Errorf("postgres: add audit checkpoint: %w", err)
	}
	var hash string
	err := s.pool.QueryRow(ctx, s.schemaSQL(`WITH ins AS (
		INSERT INTO {s}.audit_checkpoints (size, hash, note, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (size) DO NOTHING RETURNING hash)
	SELECT hash FROM ins UNION ALL SELECT hash FROM {s}.audit_checkpoints WHERE size = $1 LIMIT 1`),
		in.Size, in.Hash, in.Note, s.now()).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		// a concurrent insert of the same size committed after this statement's snapshot
		err = s.pool.QueryRow(ctx, s.schemaSQL(`SELECT hash FROM {s}.audit_checkpoints WHERE size = $1`), in.Size).Scan(&hash)
	}
	if err != nil {
		return mapError(fmt.Errorf("postgres: add audit checkpoint: %w", err))
	}
	if hash != in.Hash {
		return fmt.Errorf("%w: postgres: an audit checkpoint of size %d with another hash exists", store.ErrConflict, in.Size)
	}
	return nil
}

func scanCheckpoint(row pgx.Row) (*store.AuditCheckpoint, error) {
	var c store.AuditCheckpoint
	if err := row.Scan(&c.Size, &c.Hash, &c.Note, &c.CreatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return &c, nil
}

// ListAuditCheckpoints implements [store.AuditCheckpointStore].
func (s *Store) ListAuditCheckpoints(ctx context.Context, fromSize, toSize int64, p store.Page) ([]*store.AuditCheckpoint, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	page, err := normPage("audit checkpoints", p)
	if err != nil {
		return nil, err
	}
	var w where
	w.add("size >= " + w.arg(fromSize))
	if toSize > 0 {
		w.add("size <= " + w.arg(toSize))
	}
	rows, err := s.pool.Query(ctx, s.schemaSQL(`SELECT size, hash, note, created_at FROM {s}.audit_checkpoints`)+w.sql()+
		" ORDER BY size"+w.page(page), w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list audit checkpoints: %w", err))
	}
	out, err := collect(rows, scanCheckpoint)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list audit checkpoints: %w", err))
	}
	return out, nil
}

// LatestAuditCheckpoint implements [store.AuditCheckpointStore].
func (s *Store) LatestAuditCheckpoint(ctx context.Context) (*store.AuditCheckpoint, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	c, err := scanCheckpoint(s.pool.QueryRow(ctx, s.schemaSQL(`SELECT size, hash, note, created_at FROM {s}.audit_checkpoints ORDER BY size DESC LIMIT 1`)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: postgres: no audit checkpoint", store.ErrNotFound)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: latest audit checkpoint: %w", err))
	}
	return c, nil
}

// AuditHead implements [store.AuditCheckpointStore].
func (s *Store) AuditHead(ctx context.Context) (*store.AuditEntry, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	a, err := scanAudit(s.pool.QueryRow(ctx, s.schemaSQL(`SELECT `+auditCols+` FROM {s}.audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: postgres: the audit log is empty", store.ErrNotFound)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: audit head: %w", err))
	}
	return a, nil
}

var _ store.AuditCheckpointStore = (*Store)(nil)

// AddAuditHorizon implements [store.AuditRetentionStore].
func (s *Store) AddAuditHorizon(ctx context.Context, in *store.AuditCheckpoint) error {
	if err := s.check(); err != nil {
		return err
	}
	if in == nil {
		return fmt.Errorf("%w: nil audit horizon", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return fmt.Errorf("postgres: add audit horizon: %w", err)
	}
	var hash string
	err := s.pool.QueryRow(ctx, s.schemaSQL(`SELECT hash FROM {s}.audit_horizons WHERE size = $1`), in.Size).Scan(&hash)
	switch {
	case err == nil && hash == in.Hash:
		return nil
	case err == nil:
		return fmt.Errorf("%w: postgres: an audit horizon of size %d with another hash exists", store.ErrConflict, in.Size)
	case !errors.Is(err, pgx.ErrNoRows):
		return mapError(fmt.Errorf("postgres: add audit horizon: %w", err))
	}
	var entry, later bool
	err = s.pool.QueryRow(ctx, s.schemaSQL(`SELECT
		EXISTS (SELECT 1 FROM {s}.audit_log WHERE seq = $1 AND hash = $2),
		EXISTS (SELECT 1 FROM {s}.audit_log WHERE seq > $1)`), in.Size, in.Hash).Scan(&entry, &later)
	switch {
	case err != nil:
		return mapError(fmt.Errorf("postgres: add audit horizon: %w", err))
	case !entry:
		return fmt.Errorf("%w: postgres: add audit horizon: no entry at seq %d with that hash", store.ErrInvalidArgument, in.Size)
	case !later:
		return fmt.Errorf("%w: postgres: add audit horizon: the entry at seq %d is the head", store.ErrInvalidArgument, in.Size)
	}
	err = s.pool.QueryRow(ctx, s.schemaSQL(`WITH ins AS (
		INSERT INTO {s}.audit_horizons (size, hash, note, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (size) DO NOTHING RETURNING hash)
	SELECT hash FROM ins UNION ALL SELECT hash FROM {s}.audit_horizons WHERE size = $1 LIMIT 1`),
		in.Size, in.Hash, in.Note, s.now()).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		// a concurrent insert of the same size committed after this statement's snapshot
		err = s.pool.QueryRow(ctx, s.schemaSQL(`SELECT hash FROM {s}.audit_horizons WHERE size = $1`), in.Size).Scan(&hash)
	}
	if err != nil {
		return mapError(fmt.Errorf("postgres: add audit horizon: %w", err))
	}
	if hash != in.Hash {
		return fmt.Errorf("%w: postgres: an audit horizon of size %d with another hash exists", store.ErrConflict, in.Size)
	}
	return nil
}

// LatestAuditHorizon implements [store.AuditRetentionStore].
func (s *Store) LatestAuditHorizon(ctx context.Context) (*store.AuditCheckpoint, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	c, err := scanCheckpoint(s.pool.QueryRow(ctx, s.schemaSQL(`SELECT size, hash, note, created_at FROM {s}.audit_horizons ORDER BY size DESC LIMIT 1`)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: postgres: no audit horizon", store.ErrNotFound)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: latest audit horizon: %w", err))
	}
	return c, nil
}

// DeleteAuditToHorizon implements [store.AuditRetentionStore]; the append-only trigger of
// migration 0018 refuses any entry above the horizon.
func (s *Store) DeleteAuditToHorizon(ctx context.Context, limit int) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, fmt.Errorf("%w: postgres: delete audit to horizon: limit %d must be positive", store.ErrInvalidArgument, limit)
	}
	tag, err := s.pool.Exec(ctx, s.schemaSQL(`DELETE FROM {s}.audit_log WHERE seq IN (SELECT seq FROM {s}.audit_log
		WHERE seq <= (SELECT coalesce(max(size), 0) FROM {s}.audit_horizons) ORDER BY seq LIMIT $1)`), limit)
	if err != nil {
		return 0, mapError(fmt.Errorf("postgres: delete audit to horizon: %w", err))
	}
	return tag.RowsAffected(), nil
}

var _ store.AuditRetentionStore = (*Store)(nil)
