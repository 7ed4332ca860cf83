package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/ehg/hub/store"
)

// AddAuditCheckpoint implements [store.AuditCheckpointStore].
func (s *Store) AddAuditCheckpoint(ctx context.Context, in *store.AuditCheckpoint) error {
	if err := begin(ctx, "add audit checkpoint"); err != nil {
		return err
	}
	if in == nil {
		return fmt.Errorf("%w: memory: add audit checkpoint: nil checkpoint", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return fmt.Errorf("memory: add audit checkpoint: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.checkpoints[in.Size]; ok {
		if cur.Hash != in.Hash {
			return fmt.Errorf("%w: memory: an audit checkpoint of size %d with another hash exists", store.ErrConflict, in.Size)
		}
		return nil
	}
	c := *in
	c.CreatedAt = s.clock()
	s.checkpoints[c.Size] = &c
	return nil
}

// ListAuditCheckpoints implements [store.AuditCheckpointStore].
func (s *Store) ListAuditCheckpoints(ctx context.Context, fromSize, toSize int64, p store.Page) ([]*store.AuditCheckpoint, error) {
	if err := begin(ctx, "list audit checkpoints"); err != nil {
		return nil, err
	}
	page, err := normPage("list audit checkpoints", p)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	var match []*store.AuditCheckpoint
	for _, c := range s.checkpoints {
		if c.Size >= fromSize && (toSize <= 0 || c.Size <= toSize) {
			cp := *c
			match = append(match, &cp)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(match, func(a, b *store.AuditCheckpoint) int { return cmp.Compare(a.Size, b.Size) })
	lo, hi := window(page, len(match))
	return match[lo:hi], nil
}

// LatestAuditCheckpoint implements [store.AuditCheckpointStore].
func (s *Store) LatestAuditCheckpoint(ctx context.Context) (*store.AuditCheckpoint, error) {
	if err := begin(ctx, "latest audit checkpoint"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *store.AuditCheckpoint
	for _, c := range s.checkpoints {
		if best == nil || c.Size > best.Size {
			best = c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: memory: no audit checkpoint", store.ErrNotFound)
	}
	cp := *best
	return &cp, nil
}

// AuditHead implements [store.AuditCheckpointStore].
func (s *Store) AuditHead(ctx context.Context) (*store.AuditEntry, error) {
	if err := begin(ctx, "audit head"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var head *store.AuditEntry
	for _, a := range s.audit {
		if head == nil || a.Seq > head.Seq {
			head = a
		}
	}
	if head == nil {
		return nil, fmt.Errorf("%w: memory: the audit log is empty", store.ErrNotFound)
	}
	return head.Clone(), nil
}

var _ store.AuditCheckpointStore = (*Store)(nil)

// AddAuditHorizon implements [store.AuditRetentionStore].
func (s *Store) AddAuditHorizon(ctx context.Context, in *store.AuditCheckpoint) error {
	if err := begin(ctx, "add audit horizon"); err != nil {
		return err
	}
	if in == nil {
		return fmt.Errorf("%w: memory: add audit horizon: nil horizon", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return fmt.Errorf("memory: add audit horizon: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.horizons[in.Size]; ok {
		if cur.Hash != in.Hash {
			return fmt.Errorf("%w: memory: an audit horizon of size %d with another hash exists", store.ErrConflict, in.Size)
		}
		return nil
	}
	i := slices.IndexFunc(s.audit, func(a *store.AuditEntry) bool { return a.Seq == in.Size })
	switch {
	case i < 0 || s.audit[i].Hash != in.Hash:
		return fmt.Errorf("%w: memory: add audit horizon: no entry at seq %d with that hash", store.ErrInvalidArgument, in.Size)
	case i == len(s.audit)-1:
		return fmt.Errorf("%w: memory: add audit horizon: the entry at seq %d is the head", store.ErrInvalidArgument, in.Size)
	}
	c := *in
	c.CreatedAt = s.clock()
	s.horizons[c.Size] = &c
	return nil
}

// LatestAuditHorizon implements [store.AuditRetentionStore].
func (s *Store) LatestAuditHorizon(ctx context.Context) (*store.AuditCheckpoint, error) {
	if err := begin(ctx, "latest audit horizon"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.latestHorizon()
	if h == nil {
		return nil, fmt.Errorf("%w: memory: no audit horizon", store.ErrNotFound)
	}
	cp := *h
	return &cp, nil
}

// latestHorizon returns the horizon of the largest size, nil when none; s.mu is held.
func (s *Store) latestHorizon() *store.AuditCheckpoint {
	var best *store.AuditCheckpoint
	for _, c := range s.horizons {
		if best == nil || c.Size > best.Size {
			best = c
		}
	}
	return best
}

// DeleteAuditToHorizon implements [store.AuditRetentionStore].
func (s *Store) DeleteAuditToHorizon(ctx context.Context, limit int) (int64, error) {
	if err := begin(ctx, "delete audit to horizon"); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, fmt.Errorf("%w: memory: delete audit to horizon: limit %d must be positive", store.ErrInvalidArgument, limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.latestHorizon()
	if h == nil {
		return 0, nil
	}
	n := 0
	for n < len(s.audit) && n < limit && s.audit[n].Seq <= h.Size {
		delete(s.auditIDs, s.audit[n].ID)
		n++
	}
	s.audit = slices.Delete(s.audit, 0, n)
	return int64(n), nil
}

var _ store.AuditRetentionStore = (*Store)(nil)
