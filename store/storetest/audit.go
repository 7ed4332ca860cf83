package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func auditCases() []testCase {
	return []testCase{
		{"AppendAndList", testAuditAppend},
		{"AppendOnly", testAuditAppendOnly},
		{"ListOrderFiltersAndPages", testAuditList},
		{"Invalid", testAuditInvalid},
		{"Chain", testAuditChain},
		{"ConcurrentAppendsFormOneChain", testAuditConcurrentChain},
		{"Checkpoints", testAuditCheckpoints},
		{"RetentionHorizon", testAuditRetention},
	}
}

func newAudit(actor, action, entityType, entityID string) *store.AuditEntry {
	return &store.AuditEntry{Actor: actor, Action: action, EntityType: entityType, EntityID: entityID}
}

func (b *bundle) audit(t *testing.T, a *store.AuditEntry) *store.AuditEntry {
	t.Helper()
	got, err := b.st.AppendAudit(b.ctx, a)
	require.NoError(t, err)
	return got
}

func (b *bundle) auditIDs(t *testing.T, f store.AuditFilter) []string {
	t.Helper()
	es, err := b.st.ListAudit(b.ctx, f)
	require.NoError(t, err)
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testAuditAppend(t *testing.T, b *bundle) {
	in := newAudit("alice", "service.update", "service", newID())
	in.Before = json.RawMessage(`{"name":"gh"}`)
	in.After = json.RawMessage(`{"name":"github","auth":"[redacted]"}`)
	in.CreatedAt = start.Add(-time.Hour) // ignored: the store stamps now
	got := b.audit(t, in)
	require.NotEmpty(t, got.ID)
	want := in.Clone()
	want.ID, want.CreatedAt = got.ID, b.now()
	want.Seq, want.PrevHash = 1, store.AuditGenesisHash
	var err error
	want.Hash, err = store.AuditEntryHash(want)
	require.NoError(t, err)
	assert.Equal(t, normAudit(t, want), normAudit(t, got))
	es, err := b.st.ListAudit(b.ctx, store.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, normAudit(t, want), normAudit(t, es[0]))
}

func testAuditAppendOnly(t *testing.T, b *bundle) {
	in := newAudit("alice", "rule.activate", "rule", "gh-issue")
	in.After = json.RawMessage(`{"version":2}`)
	got := b.audit(t, in)
	want := normAudit(t, got)

	// An entry cannot be replaced by appending one with its id.
	again := newAudit("mallory", "rule.activate", "rule", "gh-issue")
	again.ID = got.ID
	_, err := b.st.AppendAudit(b.ctx, again)
	require.ErrorIs(t, err, store.ErrConflict)

	// Nor through the records handed in or out.
	in.Actor = "mallory"
	in.After[2] = 'X'
	got.Actor = "mallory"
	got.After[2] = 'Y'
	es, err := b.st.ListAudit(b.ctx, store.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, want, normAudit(t, es[0]))
	es[0].Action = "changed"
	es, err = b.st.ListAudit(b.ctx, store.AuditFilter{})
	require.NoError(t, err)
	assert.Equal(t, want, normAudit(t, es[0]))

	// Entries accumulate: the log only grows.
	b.audit(t, newAudit("alice", "rule.activate", "rule", "gh-issue"))
	assert.Len(t, b.auditIDs(t, store.AuditFilter{}), 2)
}

func testAuditList(t *testing.T, b *bundle) {
	mk := func(d time.Duration, id int, actor, typ, entity string) string {
		b.clock.Set(start.Add(d))
		a := newAudit(actor, "x", typ, entity)
		a.ID = fixedID(id)
		return b.audit(t, a).ID
	}
	a1 := mk(0, 5, "alice", "service", "s1")
	a2 := mk(time.Minute, 4, "bob", "rule", "r1")
	a3 := mk(time.Minute, 3, "alice", "service", "s2") // same time as a2: id order
	a4 := mk(2*time.Minute, 2, "bob", "service", "s1")
	a5 := mk(3*time.Minute, 1, "carol", "contract", "")
	assert.Equal(t, []string{a1, a2, a3, a4, a5}, b.auditIDs(t, store.AuditFilter{}), "chain order")
	assert.Equal(t, []string{a1, a3, a4}, b.auditIDs(t, store.AuditFilter{EntityType: "service"}))
	assert.Equal(t, []string{a1, a4}, b.auditIDs(t, store.AuditFilter{EntityType: "service", EntityID: "s1"}))
	assert.Equal(t, []string{a2, a4}, b.auditIDs(t, store.AuditFilter{Actor: "bob"}))
	assert.Equal(t, []string{a2, a3, a4}, b.auditIDs(t, store.AuditFilter{From: start.Add(time.Minute), To: start.Add(3 * time.Minute)}))
	assert.Equal(t, []string{a3, a4}, b.auditIDs(t, store.AuditFilter{Page: store.Page{Limit: 2, Offset: 2}}))
	assert.Equal(t, []string{a2, a3, a4}, b.auditIDs(t, store.AuditFilter{FromSeq: 2, ToSeq: 4}))
	assert.Equal(t, []string{a4, a5}, b.auditIDs(t, store.AuditFilter{FromSeq: 4}))
	assert.Equal(t, []string{}, b.auditIDs(t, store.AuditFilter{Actor: "dave"}))
	_, err := b.st.ListAudit(b.ctx, store.AuditFilter{Page: store.Page{Offset: -3}})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}

func testAuditInvalid(t *testing.T, b *bundle) {
	for name, a := range map[string]*store.AuditEntry{
		"no actor":   {Action: "x", EntityType: "service"},
		"no action":  {Actor: "alice", EntityType: "service"},
		"no type":    {Actor: "alice", Action: "x"},
		"bad before": {Actor: "alice", Action: "x", EntityType: "service", Before: json.RawMessage(`{`)},
		"bad after":  {Actor: "alice", Action: "x", EntityType: "service", After: json.RawMessage(`]`)},
		"bad id":     {ID: "a1", Actor: "alice", Action: "x", EntityType: "service"},
		"nil entry":  nil,
	} {
		_, err := b.st.AppendAudit(b.ctx, a)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	assert.Empty(t, b.auditIDs(t, store.AuditFilter{}))
}
