package memory

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/storetest"
)

// tamperer edits the store's audit slice directly: the memory store has no database an
// attacker could reach, so this is the test hook that plays one.
type tamperer struct{ s *Store }

func (tt tamperer) at(seq int64) (int, error) {
	for i, a := range tt.s.audit {
		if a.Seq == seq {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no audit entry at seq %d", seq)
}

func (tt tamperer) SetAuditActor(_ context.Context, seq int64, actor string) error {
	tt.s.mu.Lock()
	defer tt.s.mu.Unlock()
	i, err := tt.at(seq)
	if err != nil {
		return err
	}
	tt.s.audit[i].Actor = actor
	return nil
}

func (tt tamperer) DeleteAudit(_ context.Context, from, to int64) error {
	tt.s.mu.Lock()
	defer tt.s.mu.Unlock()
	tt.s.audit = slices.DeleteFunc(tt.s.audit, func(a *store.AuditEntry) bool { return a.Seq >= from && a.Seq <= to })
	return nil
}

func (tt tamperer) InsertAudit(_ context.Context, e *store.AuditEntry) error {
	tt.s.mu.Lock()
	defer tt.s.mu.Unlock()
	i, err := tt.at(e.Seq)
	if err != nil {
		return err
	}
	for _, a := range tt.s.audit[i:] {
		a.Seq++
	}
	tt.s.audit = slices.Insert(tt.s.audit, i, e.Clone())
	return nil
}

func (tt tamperer) SwapAudit(_ context.Context, a, b int64) error {
	tt.s.mu.Lock()
	defer tt.s.mu.Unlock()
	i, err := tt.at(a)
	if err != nil {
		return err
	}
	j, err := tt.at(b)
	if err != nil {
		return err
	}
	tt.s.audit[i], tt.s.audit[j] = tt.s.audit[j], tt.s.audit[i]
	tt.s.audit[i].Seq, tt.s.audit[j].Seq = a, b
	return nil
}

func TestAuditTamper(t *testing.T) {
	t.Parallel()
	storetest.RunAuditTamper(t, func(t *testing.T) (store.Store, storetest.AuditTamperer) {
		s := New(Options{})
		return s, tamperer{s}
	})
}
