package storetest

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func approvalCases() []testCase {
	return []testCase{
		{"CreateGet", testApprovalCreateGet},
		{"List", testApprovalList},
		{"Transitions", testApprovalTransitions},
		{"Invalid", testApprovalInvalid},
		{"ConcurrentApply", testApprovalConcurrentApply},
	}
}

// approvals returns the store's ApprovalStore, skipping the case when it has none.
func (b *bundle) approvals(t *testing.T) store.ApprovalStore {
	t.Helper()
	as, ok := b.st.(store.ApprovalStore)
	if !ok {
		t.Skip("the store does not implement store.ApprovalStore (optional)")
	}
	return as
}

// newApproval is a valid pending request by requester, expiring in an hour.
func (b *bundle) newApproval(requester, action string) *store.Approval {
	return &store.Approval{
		Requester: requester, Action: action, Method: "RegisterIntegration", Target: "crm",
		Change: json.RawMessage(`{"name":"crm","auth":{"token":"[REDACTED]"}}`),
		Sealed: json.RawMessage(`{"sealed":"v1.abc"}`), Reason: "new CRM",
		Status: store.ApprovalPending, ExpiresAt: b.now().Add(time.Hour),
	}
}

func (b *bundle) createApproval(t *testing.T, a *store.Approval) *store.Approval {
	t.Helper()
	got, err := b.approvals(t).CreateApproval(b.ctx, a)
	require.NoError(t, err)
	return got
}

func testApprovalCreateGet(t *testing.T, b *bundle) {
	as := b.approvals(t)
	in := b.newApproval("alice", "service.register")
	got := b.createApproval(t, in)
	require.NotEmpty(t, got.ID)
	assert.Empty(t, in.ID, "the input is not changed")
	assert.Equal(t, b.now(), got.CreatedAt)
	assert.Equal(t, b.now(), got.UpdatedAt)
	read, err := as.GetApproval(b.ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, got.ID, read.ID)
	assert.Equal(t, "alice", read.Requester)
	assert.Equal(t, "service.register", read.Action)
	assert.Equal(t, "RegisterIntegration", read.Method)
	assert.Equal(t, "crm", read.Target)
	assert.JSONEq(t, string(in.Change), string(read.Change))
	assert.JSONEq(t, string(in.Sealed), string(read.Sealed))
	assert.Equal(t, "new CRM", read.Reason)
	assert.Equal(t, store.ApprovalPending, read.Status)
	assert.Empty(t, read.DecidedBy)
	assert.Nil(t, read.DecidedAt)
	assert.Equal(t, b.now().Add(time.Hour), read.ExpiresAt)
	assert.Equal(t, got.CreatedAt, read.CreatedAt)

	_, err = as.GetApproval(b.ctx, newID())
	require.ErrorIs(t, err, store.ErrNotFound)
	dup := b.newApproval("bob", "service.register")
	dup.ID = got.ID
	_, err = as.CreateApproval(b.ctx, dup)
	require.ErrorIs(t, err, store.ErrConflict)
}

func testApprovalList(t *testing.T, b *bundle) {
	as := b.approvals(t)
	first := b.createApproval(t, b.newApproval("alice", "service.register"))
	b.clock.Advance(time.Second)
	soon := b.newApproval("bob", "service.credentials")
	soon.ExpiresAt = b.now().Add(time.Minute)
	second := b.createApproval(t, soon)
	b.clock.Advance(time.Second)
	third := b.createApproval(t, b.newApproval("alice", "data.delete"))
	_, err := as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: third.ID, From: store.ApprovalPending,
		To: store.ApprovalRejected, DecidedBy: "carol"})
	require.NoError(t, err)

	ids := func(f store.ApprovalFilter) []string {
		t.Helper()
		list, err := as.ListApprovals(b.ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, a := range list {
			out = append(out, a.ID)
		}
		return out
	}
	assert.Equal(t, []string{first.ID, second.ID, third.ID}, ids(store.ApprovalFilter{}), "oldest first")
	assert.Equal(t, []string{first.ID, second.ID}, ids(store.ApprovalFilter{Status: store.ApprovalPending}))
	assert.Equal(t, []string{first.ID, third.ID}, ids(store.ApprovalFilter{Requester: "alice"}))
	assert.Equal(t, []string{second.ID}, ids(store.ApprovalFilter{Status: store.ApprovalPending,
		ExpiresBefore: b.now().Add(2 * time.Minute)}))
	assert.Equal(t, []string{second.ID}, ids(store.ApprovalFilter{Page: store.Page{Limit: 1, Offset: 1}}))
}

func testApprovalTransitions(t *testing.T, b *bundle) {
	as := b.approvals(t)
	a := b.createApproval(t, b.newApproval("alice", "service.register"))
	b.clock.Advance(time.Second)
	got, err := as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: a.ID, From: store.ApprovalPending,
		To: store.ApprovalApplying, DecidedBy: "bob", Decision: "looks right"})
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalApplying, got.Status)
	assert.Equal(t, "bob", got.DecidedBy)
	assert.Equal(t, "looks right", got.Decision)
	require.NotNil(t, got.DecidedAt)
	assert.Equal(t, b.now(), *got.DecidedAt)
	assert.Equal(t, b.now(), got.UpdatedAt)
	assert.JSONEq(t, `{"sealed":"v1.abc"}`, string(got.Sealed), "kept while the change may be applied")

	// A second decision finds the request no longer pending.
	_, err = as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: a.ID, From: store.ApprovalPending,
		To: store.ApprovalRejected, DecidedBy: "carol"})
	require.ErrorIs(t, err, store.ErrInvalidTransition)

	b.clock.Advance(time.Second)
	done, err := as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: a.ID, From: store.ApprovalApplying,
		To: store.ApprovalApplied, Result: "applied"})
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalApplied, done.Status)
	assert.Equal(t, "bob", done.DecidedBy, "the decision stays")
	assert.Equal(t, "applied", done.Result)
	assert.Nil(t, done.Sealed, "a final status drops the sealed change")
	read, err := as.GetApproval(b.ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalApplied, read.Status)
	assert.Nil(t, read.Sealed)
	assert.JSONEq(t, `{"name":"crm","auth":{"token":"[REDACTED]"}}`, string(read.Change), "the redacted change stays")
	require.NotNil(t, read.DecidedAt)
	assert.Equal(t, b.now().Add(-time.Second), *read.DecidedAt)

	failing := b.createApproval(t, b.newApproval("alice", "service.endpoints"))
	_, err = as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: failing.ID, From: store.ApprovalPending, To: store.ApprovalApplying, DecidedBy: "bob"})
	require.NoError(t, err)
	failed, err := as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: failing.ID, From: store.ApprovalApplying,
		To: store.ApprovalFailed, Result: "service gone"})
	require.NoError(t, err)
	assert.Equal(t, "service gone", failed.Result)

	expiring := b.createApproval(t, b.newApproval("alice", "data.delete"))
	exp, err := as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: expiring.ID, From: store.ApprovalPending, To: store.ApprovalExpired})
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalExpired, exp.Status)
	assert.Nil(t, exp.Sealed)
	assert.Empty(t, exp.DecidedBy)
	assert.Nil(t, exp.DecidedAt)

	_, err = as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: newID(), From: store.ApprovalPending, To: store.ApprovalRejected})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testApprovalInvalid(t *testing.T, b *bundle) {
	as := b.approvals(t)
	a := b.createApproval(t, b.newApproval("alice", "service.register"))
	bad := map[string]func(*store.Approval){
		"bad id":        func(x *store.Approval) { x.ID = "nope" },
		"no requester":  func(x *store.Approval) { x.Requester = "" },
		"no action":     func(x *store.Approval) { x.Action = "" },
		"no method":     func(x *store.Approval) { x.Method = "" },
		"bad status":    func(x *store.Approval) { x.Status = "maybe" },
		"no expiry":     func(x *store.Approval) { x.ExpiresAt = time.Time{} },
		"change not JS": func(x *store.Approval) { x.Change = json.RawMessage(`{`) },
	}
	for name, mutate := range bad {
		x := b.newApproval("alice", "service.register")
		mutate(x)
		_, err := as.CreateApproval(b.ctx, x)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	_, err := as.CreateApproval(b.ctx, nil)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	for name, tr := range map[string]store.ApprovalTransition{
		"applied to pending":  {ID: a.ID, From: store.ApprovalApplied, To: store.ApprovalPending},
		"pending to applied":  {ID: a.ID, From: store.ApprovalPending, To: store.ApprovalApplied},
		"unknown status":      {ID: a.ID, From: "x", To: store.ApprovalRejected},
		"bad id":              {ID: "x", From: store.ApprovalPending, To: store.ApprovalRejected},
		"rejected to applied": {ID: a.ID, From: store.ApprovalRejected, To: store.ApprovalApplied},
	} {
		_, err := as.TransitionApproval(b.ctx, tr)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	_, err = as.GetApproval(b.ctx, "x")
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = as.ListApprovals(b.ctx, store.ApprovalFilter{Status: "maybe"})
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	read, err := as.GetApproval(b.ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalPending, read.Status, "nothing changed")
}

// testApprovalConcurrentApply: many deciders race to take one request to applying; exactly
// one wins.
func testApprovalConcurrentApply(t *testing.T, b *bundle) {
	as := b.approvals(t)
	a := b.createApproval(t, b.newApproval("alice", "service.register"))
	const n = 8
	var (
		wins, lost atomic.Int32
		wg         sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := store.ApprovalApplying
			if i%2 == 1 {
				to = store.ApprovalRejected
			}
			_, err := as.TransitionApproval(b.ctx, store.ApprovalTransition{ID: a.ID, From: store.ApprovalPending, To: to, DecidedBy: "bob"})
			switch {
			case err == nil:
				wins.Add(1)
			case assert.ErrorIs(t, err, store.ErrInvalidTransition):
				lost.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
	assert.Equal(t, int32(n-1), lost.Load())
}
