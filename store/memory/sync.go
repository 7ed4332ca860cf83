package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/store"
)

// PutSyncSchedule implements [store.SyncStore].
func (s *Store) PutSyncSchedule(ctx context.Context, in *store.SyncSchedule) (*store.SyncSchedule, error) {
	if err := begin(ctx, "put sync schedule"); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: put sync schedule: %w", err)
	}
	sid, err := canonicalID("service", in.ServiceID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.syncs == nil {
		s.syncs = map[string]*store.SyncSchedule{}
	}
	cur := s.syncs[sid]
	if cur == nil {
		cur = &store.SyncSchedule{ServiceID: sid, CreatedAt: now, NextRunAt: now}
		s.syncs[sid] = cur
	}
	cur.Interval = in.Interval.Truncate(time.Millisecond)
	cur.Operation, cur.Params, cur.PageSize = in.Operation, append([]byte(nil), in.Params...), in.PageSize
	if len(cur.Params) == 0 {
		cur.Params = nil
	}
	cur.IDField, cur.VersionField, cur.Enabled = in.IDField, in.VersionField, in.Enabled
	if !in.NextRunAt.IsZero() {
		cur.NextRunAt = store.Timestamp(in.NextRunAt)
	}
	cur.UpdatedAt = now
	return cur.Clone(), nil
}

// GetSyncSchedule implements [store.SyncStore].
func (s *Store) GetSyncSchedule(ctx context.Context, serviceID string) (*store.SyncSchedule, error) {
	if err := begin(ctx, "get sync schedule"); err != nil {
		return nil, err
	}
	sid, err := canonicalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	cur := s.syncs[sid]
	if cur == nil {
		return nil, fmt.Errorf("%w: memory: sync schedule of service %s", store.ErrNotFound, serviceID)
	}
	return cur.Clone(), nil
}

// ListSyncSchedules implements [store.SyncStore].
func (s *Store) ListSyncSchedules(ctx context.Context, p store.Page) ([]*store.SyncSchedule, error) {
	if err := begin(ctx, "list sync schedules"); err != nil {
		return nil, err
	}
	page, err := normPage("list sync schedules", p)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := make([]*store.SyncSchedule, 0, len(s.syncs))
	for _, v := range s.syncs {
		all = append(all, v)
	}
	slices.SortFunc(all, func(a, b *store.SyncSchedule) int { return strings.Compare(a.ServiceID, b.ServiceID) })
	lo, hi := window(page, len(all))
	out := make([]*store.SyncSchedule, 0, hi-lo)
	for _, v := range all[lo:hi] {
		out = append(out, v.Clone())
	}
	return out, nil
}

// DeleteSyncSchedule implements [store.SyncStore].
func (s *Store) DeleteSyncSchedule(ctx context.Context, serviceID string) error {
	if err := begin(ctx, "delete sync schedule"); err != nil {
		return err
	}
	sid, err := canonicalID("service", serviceID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.syncs[sid] == nil {
		return fmt.Errorf("%w: memory: sync schedule of service %s", store.ErrNotFound, serviceID)
	}
	delete(s.syncs, sid)
	return nil
}

// ClaimSyncSchedule implements [store.SyncStore].
func (s *Store) ClaimSyncSchedule(ctx context.Context, p store.ClaimSyncParams) (*store.SyncSchedule, error) {
	if err := begin(ctx, "claim sync schedule"); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("memory: claim sync schedule: %w", err)
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *store.SyncSchedule
	for _, v := range s.syncs {
		if !syncClaimable(v, now) {
			continue
		}
		if best == nil || v.NextRunAt.Before(best.NextRunAt) ||
			(v.NextRunAt.Equal(best.NextRunAt) && v.ServiceID < best.ServiceID) {
			best = v
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: memory: no sync schedule is due", store.ErrNotFound)
	}
	until := store.Timestamp(now.Add(p.Lease))
	best.Owner, best.LeaseUntil = p.Owner, &until
	if best.RunStartedAt == nil {
		t := now
		best.RunStartedAt = &t
	}
	best.UpdatedAt = now
	return best.Clone(), nil
}

// syncClaimable is the claim's condition: enabled, due, and the lease free or expired. A
// run interrupted by a crash is still due (its next_run_at passed when it was claimed).
func syncClaimable(v *store.SyncSchedule, now time.Time) bool {
	return v.Enabled && !v.NextRunAt.After(now) && (v.LeaseUntil == nil || !v.LeaseUntil.After(now))
}

// SaveSyncProgress implements [store.SyncStore].
func (s *Store) SaveSyncProgress(ctx context.Context, p store.SyncProgress) (*store.SyncSchedule, error) {
	if err := begin(ctx, "save sync progress"); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("memory: save sync progress: %w", err)
	}
	sid, err := canonicalID("service", p.ServiceID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.syncs[sid]
	if cur == nil || cur.Owner != p.Owner || cur.LeaseUntil == nil {
		return nil, fmt.Errorf("%w: memory: sync schedule of service %s is not leased to %q", store.ErrLeaseLost, p.ServiceID, p.Owner)
	}
	cur.Records += p.Records
	cur.UpdatedAt = now
	switch {
	case p.Done:
		cur.Cursor = ""
		cur.HighWater = cur.RunStartedAt
		cur.RunStartedAt = nil
		t := now
		cur.LastRunAt = &t
		cur.LastError = ""
		cur.NextRunAt = store.Timestamp(now.Add(cur.Interval))
		cur.Owner, cur.LeaseUntil = "", nil
	case p.Error != "":
		cur.Cursor = p.Cursor
		cur.LastError = p.Error
		cur.NextRunAt = store.Timestamp(p.RetryAt)
		cur.Owner, cur.LeaseUntil = "", nil
	default:
		cur.Cursor = p.Cursor
		until := store.Timestamp(now.Add(p.Lease))
		cur.LeaseUntil = &until
	}
	return cur.Clone(), nil
}

var _ store.SyncStore = (*Store)(nil)
