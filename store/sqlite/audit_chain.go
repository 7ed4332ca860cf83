package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ehg/hub/store"
)

// chainLegacyAudit chains the entries written before migration 0007 (numbered by it, with
// no hashes yet), in seq order, inside the migration's transaction. It does nothing once
// every entry is chained.
func chainLegacyAudit(ctx context.Context, q *txConn) error {
	rows, err := q.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_log WHERE hash IS NULL ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("sqlite: chain audit log: %w", err)
	}
	var legacy []*store.AuditEntry
	for rows.Next() {
		a, err := scanAudit(rows)
		if err != nil {
			_ = rows.Close()
			return fmt.Errorf("sqlite: chain audit log: %w", err)
		}
		legacy = append(legacy, a)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("sqlite: chain audit log: %w", err)
	}
	if len(legacy) == 0 {
		return nil
	}
	var headSeq int64
	var headHash string
	err = q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log WHERE hash IS NOT NULL AND seq < ? ORDER BY seq DESC LIMIT 1`,
		legacy[0].Seq).Scan(&headSeq, &headHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: chain audit log: %w", err)
	}
	for _, a := range legacy {
		seq := a.Seq
		if err := store.ChainAudit(a, headSeq, headHash); err != nil {
			return fmt.Errorf("sqlite: chain audit log: %w", err)
		}
		if a.Seq != seq {
			return fmt.Errorf("sqlite: chain audit log: entry %s has seq %d after %d", a.ID, seq, headSeq)
		}
		if _, err := q.ExecContext(ctx, `UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ? AND hash IS NULL`,
			a.PrevHash, a.Hash, a.ID); err != nil {
			return fmt.Errorf("sqlite: chain audit log: %w", err)
		}
		headSeq, headHash = a.Seq, a.Hash
	}
	return nil
}

// AddAuditCheckpoint implements [store.AuditCheckpointStore].
func (s *Store) AddAuditCheckpoint(ctx context.Context, in *store.AuditCheckpoint) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if in == nil {
		return invalidf("nil audit checkpoint")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		var hash string
		err := q.QueryRowContext(ctx, `SELECT hash FROM audit_checkpoints WHERE size = ?`, in.Size).Scan(&hash)
		switch {
		case err == nil && hash == in.Hash:
			return nil
		case err == nil:
			return fmt.Errorf("%w: an audit checkpoint of size %d with another hash exists", store.ErrConflict, in.Size)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = q.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, hash, note, created_at) VALUES (?, ?, ?, ?)`,
			in.Size, in.Hash, in.Note, micros(s.nowTS()))
		return err
	})
	if err != nil {
		return fmt.Errorf("add audit checkpoint: %w", err)
	}
	return nil
}

func scanCheckpoint(sc scanner) (*store.AuditCheckpoint, error) {
	var (
		c       store.AuditCheckpoint
		created int64
	)
	if err := sc.Scan(&c.Size, &c.Hash, &c.Note, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = fromMicros(created)
	return &c, nil
}

// ListAuditCheckpoints implements [store.AuditCheckpointStore].
func (s *Store) ListAuditCheckpoints(ctx context.Context, fromSize, toSize int64, p store.Page) ([]*store.AuditCheckpoint, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	w := &where{}
	w.add("size >= ?", fromSize)
	if toSize > 0 {
		w.add("size <= ?", toSize)
	}
	page, err := w.page(p)
	if err != nil {
		return nil, err
	}
	cs, err := list(ctx, s, scanCheckpoint, `SELECT size, hash, note, created_at FROM audit_checkpoints`+w.String()+
		` ORDER BY size`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	return cs, nil
}

// LatestAuditCheckpoint implements [store.AuditCheckpointStore].
func (s *Store) LatestAuditCheckpoint(ctx context.Context) (*store.AuditCheckpoint, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	cs, err := list(ctx, s, scanCheckpoint, `SELECT size, hash, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("latest audit checkpoint: %w", err)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: no audit checkpoint", store.ErrNotFound)
	}
	return cs[0], nil
}

// AuditHead implements [store.AuditCheckpointStore].
func (s *Store) AuditHead(ctx context.Context) (*store.AuditEntry, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	as, err := list(ctx, s, scanAudit, `SELECT `+auditCols+` FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("%w: the audit log is empty", store.ErrNotFound)
	}
	return as[0], nil
}

var _ store.AuditCheckpointStore = (*Store)(nil)

// AddAuditHorizon implements [store.AuditRetentionStore].
func (s *Store) AddAuditHorizon(ctx context.Context, in *store.AuditCheckpoint) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if in == nil {
		return invalidf("nil audit horizon")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		var hash string
		err := q.QueryRowContext(ctx, `SELECT hash FROM audit_horizons WHERE size = ?`, in.Size).Scan(&hash)
		switch {
		case err == nil && hash == in.Hash:
			return nil
		case err == nil:
			return fmt.Errorf("%w: an audit horizon of size %d with another hash exists", store.ErrConflict, in.Size)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var n int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE seq = ? AND hash = ?`, in.Size, in.Hash).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return invalidf("audit horizon: no entry at seq %d with that hash", in.Size)
		}
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE seq > ?`, in.Size).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return invalidf("audit horizon: the entry at seq %d is the head", in.Size)
		}
		_, err = q.ExecContext(ctx, `INSERT INTO audit_horizons (size, hash, note, created_at) VALUES (?, ?, ?, ?)`,
			in.Size, in.Hash, in.Note, micros(s.nowTS()))
		return err
	})
	if err != nil {
		return fmt.Errorf("add audit horizon: %w", err)
	}
	return nil
}

// LatestAuditHorizon implements [store.AuditRetentionStore].
func (s *Store) LatestAuditHorizon(ctx context.Context) (*store.AuditCheckpoint, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	cs, err := list(ctx, s, scanCheckpoint, `SELECT size, hash, note, created_at FROM audit_horizons ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("latest audit horizon: %w", err)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: no audit horizon", store.ErrNotFound)
	}
	return cs[0], nil
}

// DeleteAuditToHorizon implements [store.AuditRetentionStore]; the delete trigger of
// migration 0017 refuses any entry above the horizon.
func (s *Store) DeleteAuditToHorizon(ctx context.Context, limit int) (int64, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, invalidf("delete audit to horizon: limit %d must be positive", limit)
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		res, err := q.ExecContext(ctx, `DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log
			WHERE seq <= (SELECT coalesce(max(size), 0) FROM audit_horizons) ORDER BY seq LIMIT ?)`, limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete audit to horizon: %w", err)
	}
	return n, nil
}

var _ store.AuditRetentionStore = (*Store)(nil)
