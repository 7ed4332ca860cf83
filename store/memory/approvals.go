package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ehg/hub/store"
)

// CreateApproval implements [store.ApprovalStore].
func (s *Store) CreateApproval(ctx context.Context, in *store.Approval) (*store.Approval, error) {
	const op = "create approval"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: %s: nil approval", store.ErrInvalidArgument, op)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	a := in.Clone()
	var err error
	if a.ID, err = assignID("approval", a.ID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.approvals == nil {
		s.approvals = map[string]*store.Approval{}
	}
	if _, ok := s.approvals[a.ID]; ok {
		return nil, fmt.Errorf("%w: memory: approval id %s exists", store.ErrConflict, a.ID)
	}
	now := s.clock()
	a.CreatedAt, a.UpdatedAt = now, now
	a.ExpiresAt = store.Timestamp(a.ExpiresAt)
	a.DecidedAt = stamp(a.DecidedAt)
	s.approvals[a.ID] = a
	return a.Clone(), nil
}

// GetApproval implements [store.ApprovalStore].
func (s *Store) GetApproval(ctx context.Context, id string) (*store.Approval, error) {
	if err := begin(ctx, "get approval"); err != nil {
		return nil, err
	}
	cid, err := canonicalID("approval", id)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.approvals[cid]
	if !ok {
		return nil, fmt.Errorf("%w: memory: approval %s", store.ErrNotFound, id)
	}
	return a.Clone(), nil
}

// ListApprovals implements [store.ApprovalStore].
func (s *Store) ListApprovals(ctx context.Context, f store.ApprovalFilter) ([]*store.Approval, error) {
	const op = "list approvals"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	page, err := normPage(op, f.Page)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.Approval
	for _, a := range s.approvals {
		if (f.Status == "" || a.Status == f.Status) && (f.Requester == "" || a.Requester == f.Requester) &&
			(f.ExpiresBefore.IsZero() || !a.ExpiresAt.After(f.ExpiresBefore)) {
			match = append(match, a)
		}
	}
	slices.SortFunc(match, func(a, b *store.Approval) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	lo, hi := window(page, len(match))
	out := make([]*store.Approval, 0, hi-lo)
	for _, a := range match[lo:hi] {
		out = append(out, a.Clone())
	}
	return out, nil
}

// TransitionApproval implements [store.ApprovalStore] under the store's lock.
func (s *Store) TransitionApproval(ctx context.Context, t store.ApprovalTransition) (*store.Approval, error) {
	const op = "transition approval"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	cid, err := canonicalID("approval", t.ID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.approvals[cid]
	if !ok {
		return nil, fmt.Errorf("%w: memory: approval %s", store.ErrNotFound, t.ID)
	}
	if a.Status != t.From {
		return nil, fmt.Errorf("%w: memory: approval %s is %s, not %s", store.ErrInvalidTransition, cid, a.Status, t.From)
	}
	now := s.clock()
	a.Status, a.UpdatedAt = t.To, now
	if t.DecidedBy != "" {
		a.DecidedBy, a.DecidedAt, a.Decision = t.DecidedBy, &now, t.Decision
	}
	if t.Result != "" {
		a.Result = t.Result
	}
	if t.To.Final() {
		a.Sealed = nil
	}
	return a.Clone(), nil
}

var _ store.ApprovalStore = (*Store)(nil)
