package memory

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/google/uuid"

	"github.com/ehg/hub/store"
)

// dataKeyTable holds the wrapped data keys, by id, and each owner's live key.
type dataKeyTable struct {
	mu   sync.Mutex
	byID map[string]*store.DataKey
	live map[string]string // owner -> id
}

func (t *dataKeyTable) init() {
	if t.byID == nil {
		t.byID, t.live = map[string]*store.DataKey{}, map[string]string{}
	}
}

// CreateDataKey implements [store.DataKeyStore].
func (s *Store) CreateDataKey(ctx context.Context, k *store.DataKey) (*store.DataKey, error) {
	if err := begin(ctx, "create data key"); err != nil {
		return nil, err
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	id := k.ID
	if id == "" {
		id = uuid.NewString()
	}
	id, err := canonicalID("data key", id)
	if err != nil {
		return nil, err
	}
	t := &s.dataKeys
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	if cur, ok := t.live[k.Owner]; ok {
		return t.byID[cur].Clone(), nil
	}
	if _, dup := t.byID[id]; dup {
		return nil, fmt.Errorf("%w: memory: data key %s exists", store.ErrConflict, id)
	}
	now := s.clock()
	c := k.Clone()
	c.ID, c.CreatedAt, c.UpdatedAt, c.DestroyedAt = id, now, now, nil
	t.byID[id], t.live[k.Owner] = c, id
	return c.Clone(), nil
}

// GetDataKey implements [store.DataKeyStore].
func (s *Store) GetDataKey(ctx context.Context, id string) (*store.DataKey, error) {
	if err := begin(ctx, "get data key"); err != nil {
		return nil, err
	}
	id, err := canonicalID("data key", id)
	if err != nil {
		return nil, err
	}
	t := &s.dataKeys
	t.mu.Lock()
	defer t.mu.Unlock()
	if k, ok := t.byID[id]; ok {
		return k.Clone(), nil
	}
	return nil, fmt.Errorf("%w: memory: data key %s", store.ErrNotFound, id)
}

// LiveDataKey implements [store.DataKeyStore].
func (s *Store) LiveDataKey(ctx context.Context, owner string) (*store.DataKey, error) {
	if err := begin(ctx, "live data key"); err != nil {
		return nil, err
	}
	t := &s.dataKeys
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.live[owner]; ok {
		return t.byID[id].Clone(), nil
	}
	return nil, fmt.Errorf("%w: memory: no data key for %s", store.ErrNotFound, owner)
}

// ListDataKeys implements [store.DataKeyStore].
func (s *Store) ListDataKeys(ctx context.Context, after string, page store.Page) ([]*store.DataKey, error) {
	if err := begin(ctx, "list data keys"); err != nil {
		return nil, err
	}
	if after != "" {
		var err error
		if after, err = canonicalID("data key", after); err != nil {
			return nil, err
		}
	}
	page, err := normPage("list data keys", page)
	if err != nil {
		return nil, err
	}
	t := &s.dataKeys
	t.mu.Lock()
	ids := make([]string, 0, len(t.live))
	for _, id := range t.live {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	lo, hi := window(page, len(ids))
	out := make([]*store.DataKey, 0, hi-lo)
	for _, id := range ids[lo:hi] {
		out = append(out, t.byID[id].Clone())
	}
	t.mu.Unlock()
	return out, nil
}

// RewrapDataKey implements [store.DataKeyStore].
func (s *Store) RewrapDataKey(ctx context.Context, id, oldKeyID, newKeyID string, wrapped []byte) error {
	if err := begin(ctx, "rewrap data key"); err != nil {
		return err
	}
	id, err := canonicalID("data key", id)
	if err != nil {
		return err
	}
	if newKeyID == "" || len(wrapped) == 0 {
		return fmt.Errorf("%w: memory: a re-wrapped data key needs its key id and wrapped key", store.ErrInvalidArgument)
	}
	t := &s.dataKeys
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.byID[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: memory: data key %s", store.ErrNotFound, id)
	case k.DestroyedAt != nil || k.KeyID != oldKeyID:
		return fmt.Errorf("%w: memory: data key %s was destroyed or re-wrapped", store.ErrConflict, id)
	}
	c := k.Clone()
	c.KeyID, c.Wrapped, c.UpdatedAt = newKeyID, append([]byte(nil), wrapped...), s.clock()
	t.byID[id] = c
	return nil
}

// DestroyDataKey implements [store.DataKeyStore].
func (s *Store) DestroyDataKey(ctx context.Context, owner string) (*store.DataKey, error) {
	if err := begin(ctx, "destroy data key"); err != nil {
		return nil, err
	}
	t := &s.dataKeys
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.live[owner]
	if !ok {
		return nil, fmt.Errorf("%w: memory: no data key for %s", store.ErrNotFound, owner)
	}
	now := s.clock()
	c := t.byID[id].Clone()
	clear(c.Wrapped)
	c.Wrapped, c.UpdatedAt, c.DestroyedAt = nil, now, &now
	t.byID[id] = c
	delete(t.live, owner)
	return c.Clone(), nil
}

var _ store.DataKeyStore = (*Store)(nil)
