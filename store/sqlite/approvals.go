package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ehg/hub/store"
)

const approvalCols = `id, requester, action, method, target, change, sealed, reason, status, decided_by,
	decided_at, decision, result, expires_at, created_at, updated_at`

func scanApproval(sc scanner) (*store.Approval, error) {
	var (
		a                         store.Approval
		decided                   sql.NullInt64
		expires, created, updated int64
	)
	if err := sc.Scan(&a.ID, &a.Requester, &a.Action, &a.Method, &a.Target, rawDest(&a.Change), rawDest(&a.Sealed),
		&a.Reason, &a.Status, &a.DecidedBy, &decided, &a.Decision, &a.Result, &expires, &created, &updated); err != nil {
		return nil, err
	}
	a.DecidedAt = timePtr(decided)
	a.ExpiresAt, a.CreatedAt, a.UpdatedAt = fromMicros(expires), fromMicros(created), fromMicros(updated)
	return &a, nil
}

// CreateApproval implements store.ApprovalStore.
func (s *Store) CreateApproval(ctx context.Context, in *store.Approval) (*store.Approval, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, invalidf("nil approval")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	a := in.Clone()
	var err error
	if a.ID, err = assignID("approval", a.ID); err != nil {
		return nil, err
	}
	now := s.nowTS()
	a.CreatedAt, a.UpdatedAt, a.ExpiresAt = now, now, store.Timestamp(a.ExpiresAt)
	if a.DecidedAt != nil {
		a.DecidedAt = timePtrOf(store.Timestamp(*a.DecidedAt))
	}
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		_, err := q.ExecContext(ctx, `INSERT INTO integration_approvals (`+approvalCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Requester, a.Action, a.Method, a.Target, jsonArg(a.Change), jsonArg(a.Sealed), a.Reason,
			string(a.Status), a.DecidedBy, microsArg(a.DecidedAt), a.Decision, a.Result, micros(a.ExpiresAt),
			micros(a.CreatedAt), micros(a.UpdatedAt))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create approval: %w", err)
	}
	return a, nil
}

// GetApproval implements store.ApprovalStore.
func (s *Store) GetApproval(ctx context.Context, id string) (*store.Approval, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("approval", id)
	if err != nil {
		return nil, err
	}
	a, err := get(ctx, s, scanApproval, `SELECT `+approvalCols+` FROM integration_approvals WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get approval %s: %w", id, err)
	}
	return a, nil
}

// ListApprovals implements store.ApprovalStore.
func (s *Store) ListApprovals(ctx context.Context, f store.ApprovalFilter) ([]*store.Approval, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	w := &where{}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.Requester != "" {
		w.add("requester = ?", f.Requester)
	}
	if !f.ExpiresBefore.IsZero() {
		w.add("expires_at <= ?", micros(f.ExpiresBefore))
	}
	page, err := w.page(f.Page)
	if err != nil {
		return nil, err
	}
	out, err := list(ctx, s, scanApproval, `SELECT `+approvalCols+` FROM integration_approvals`+w.String()+
		` ORDER BY created_at, id`+page, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return out, nil
}

// TransitionApproval implements store.ApprovalStore with one conditional UPDATE.
func (s *Store) TransitionApproval(ctx context.Context, t store.ApprovalTransition) (*store.Approval, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	id, err := canonicalID("approval", t.ID)
	if err != nil {
		return nil, err
	}
	now := micros(s.now())
	var out *store.Approval
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		var err error
		out, err = scanApproval(q.QueryRowContext(ctx, `UPDATE integration_approvals
			SET status = ?, updated_at = ?,
				decided_by = CASE WHEN ? <> '' THEN ? ELSE decided_by END,
				decided_at = CASE WHEN ? <> '' THEN ? ELSE decided_at END,
				decision = CASE WHEN ? <> '' THEN ? ELSE decision END,
				result = CASE WHEN ? <> '' THEN ? ELSE result END,
				sealed = CASE WHEN ? THEN NULL ELSE sealed END
			WHERE id = ? AND status = ? RETURNING `+approvalCols,
			string(t.To), now, t.DecidedBy, t.DecidedBy, t.DecidedBy, now, t.DecidedBy, t.Decision,
			t.Result, t.Result, t.To.Final(), id, string(t.From)))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var status string
		if err := q.QueryRowContext(ctx, `SELECT status FROM integration_approvals WHERE id = ?`, id).Scan(&status); err != nil {
			return mapError(err)
		}
		return fmt.Errorf("%w: approval %s is %s, not %s", store.ErrInvalidTransition, id, status, t.From)
	})
	if err != nil {
		return nil, fmt.Errorf("transition approval %s: %w", id, mapError(err))
	}
	return out, nil
}

var _ store.ApprovalStore = (*Store)(nil)
