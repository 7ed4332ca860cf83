package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/ehg/hub/store"
)

// GetConfigState implements [store.ConfigStateStore].
func (s *Store) GetConfigState(ctx context.Context) (*store.ConfigState, error) {
	if err := begin(ctx, "get config state"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.config == nil {
		return &store.ConfigState{}, nil
	}
	return cloneConfigState(s.config), nil
}

// SwapConfigState implements [store.ConfigStateStore].
func (s *Store) SwapConfigState(ctx context.Context, p store.SwapConfigStateParams) (*store.ConfigState, error) {
	const op = "swap config state"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur int64
	if s.config != nil {
		cur = s.config.Revision
	}
	if cur != p.Revision {
		return nil, fmt.Errorf("memory: %s: revision is %d, not %d: %w", op, cur, p.Revision, store.ErrConflict)
	}
	s.config = &store.ConfigState{Revision: cur + 1, Document: slices.Clone(p.Document), Fingerprint: p.Fingerprint, Actor: p.Actor, UpdatedAt: s.clock()}
	return cloneConfigState(s.config), nil
}

func cloneConfigState(c *store.ConfigState) *store.ConfigState {
	out := *c
	out.Document = slices.Clone(c.Document)
	return &out
}

var _ store.ConfigStateStore = (*Store)(nil)
