package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ehg/hub/store"
)

const approvalCols = `id, requester, action, method, target, change, sealed, reason, status, decided_by,
	decided_at, decision, result, expires_at, created_at, updated_at`

const (
	sqlInsertApproval = `INSERT INTO {s}.integration_approvals (` + approvalCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING ` + approvalCols
	sqlGetApproval   = `SELECT ` + approvalCols + ` FROM {s}.integration_approvals WHERE id = $1`
	sqlListApprovals = `SELECT ` + approvalCols + ` FROM {s}.integration_approvals`
	// sqlTransitionApproval changes the status only from the expected one ($3).
	sqlTransitionApproval = `UPDATE {s}.integration_approvals
	SET status = $2, updated_at = $4,
		decided_by = CASE WHEN $5 <> '' THEN $5 ELSE decided_by END,
		decided_at = CASE WHEN $5 <> '' THEN $4 ELSE decided_at END,
		decision = CASE WHEN $5 <> '' THEN $6 ELSE decision END,
		result = CASE WHEN $7 <> '' THEN $7 ELSE result END,
		sealed = CASE WHEN $8 THEN NULL ELSE sealed END
	WHERE id = $1 AND status = $3 RETURNING ` + approvalCols
	sqlApprovalStatus = `SELECT status FROM {s}.integration_approvals WHERE id = $1`
)

// approvalSQL substitutes the store's schema into one of the approval queries.
func (s *Store) approvalSQL(q string) string {
	return strings.ReplaceAll(q, "{s}", pgx.Identifier{s.opts.Schema}.Sanitize())
}

func scanApproval(row pgx.Row) (*store.Approval, error) {
	var (
		a              store.Approval
		status         string
		change, sealed []byte
		decided        pgtype.Timestamptz
	)
	if err := row.Scan(&a.ID, &a.Requester, &a.Action, &a.Method, &a.Target, &change, &sealed, &a.Reason, &status,
		&a.DecidedBy, &decided, &a.Decision, &a.Result, &a.ExpiresAt, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.Status = store.ApprovalStatus(status)
	a.Change, a.Sealed = jsonOut(change), jsonOut(sealed)
	a.DecidedAt = timeOut(decided)
	a.ExpiresAt, a.CreatedAt, a.UpdatedAt = a.ExpiresAt.UTC(), a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

// CreateApproval implements [store.ApprovalStore].
func (s *Store) CreateApproval(ctx context.Context, in *store.Approval) (*store.Approval, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: nil approval", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: create approval: %w", err)
	}
	id := in.ID
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return nil, err
		}
	}
	out, err := scanApproval(s.pool.QueryRow(ctx, s.approvalSQL(sqlInsertApproval), id, in.Requester, in.Action,
		in.Method, in.Target, jsonArg(in.Change), jsonArg(in.Sealed), in.Reason, string(in.Status), in.DecidedBy,
		timeArg(in.DecidedAt), in.Decision, in.Result, store.Timestamp(in.ExpiresAt), s.now()))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: create approval: %w", err))
	}
	return out, nil
}

// GetApproval implements [store.ApprovalStore].
func (s *Store) GetApproval(ctx context.Context, id string) (*store.Approval, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("approval", id); err != nil {
		return nil, err
	}
	a, err := scanApproval(s.pool.QueryRow(ctx, s.approvalSQL(sqlGetApproval), id))
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get approval %s: %w", id, err))
	}
	return a, nil
}

// ListApprovals implements [store.ApprovalStore].
func (s *Store) ListApprovals(ctx context.Context, f store.ApprovalFilter) ([]*store.Approval, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: list approvals: %w", err)
	}
	page, err := normPage("approvals", f.Page)
	if err != nil {
		return nil, err
	}
	var w where
	if f.Status != "" {
		w.add("status = " + w.arg(string(f.Status)))
	}
	if f.Requester != "" {
		w.add("requester = " + w.arg(f.Requester))
	}
	if !f.ExpiresBefore.IsZero() {
		w.add("expires_at <= " + w.arg(store.Timestamp(f.ExpiresBefore)))
	}
	rows, err := s.pool.Query(ctx, s.approvalSQL(sqlListApprovals)+w.sql()+" ORDER BY created_at, id"+w.page(page), w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list approvals: %w", err))
	}
	out, err := collect(rows, scanApproval)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list approvals: %w", err))
	}
	return out, nil
}

// TransitionApproval implements [store.ApprovalStore] with one conditional UPDATE: of
// concurrent transitions from the same status, exactly one matches the row.
func (s *Store) TransitionApproval(ctx context.Context, t store.ApprovalTransition) (*store.Approval, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: transition approval: %w", err)
	}
	a, err := scanApproval(s.pool.QueryRow(ctx, s.approvalSQL(sqlTransitionApproval), t.ID, string(t.To), string(t.From),
		s.now(), t.DecidedBy, t.Decision, t.Result, t.To.Final()))
	if err == nil {
		return a, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, mapError(fmt.Errorf("postgres: transition approval %s: %w", t.ID, err))
	}
	var status string
	if err := s.pool.QueryRow(ctx, s.approvalSQL(sqlApprovalStatus), t.ID).Scan(&status); err != nil {
		return nil, mapError(fmt.Errorf("postgres: transition approval %s: %w", t.ID, err))
	}
	return nil, fmt.Errorf("%w: postgres: approval %s is %s, not %s", store.ErrInvalidTransition, t.ID, status, t.From)
}

var _ store.ApprovalStore = (*Store)(nil)
