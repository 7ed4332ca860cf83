package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func ruleCases() []testCase {
	return []testCase{
		{"CreateAndGet", testRuleCreateAndGet},
		{"NameVersionUnique", testRuleUnique},
		{"OneActivePerName", testRuleOneActive},
		{"Activate", testRuleActivate},
		{"ListFiltersAndPages", testRuleList},
		{"Invalid", testRuleInvalid},
		{"CopyInCopyOut", testRuleCopies},
	}
}

func newRule(name string, version int, active bool) *store.TransformationRule {
	return &store.TransformationRule{
		Name:                name,
		Version:             version,
		TransformationLogic: json.RawMessage(`{"title":"issue.title"}`),
		IsActive:            active,
	}
}

func (b *bundle) rule(t *testing.T, r *store.TransformationRule) *store.TransformationRule {
	t.Helper()
	got, err := b.st.CreateRule(b.ctx, r)
	require.NoError(t, err)
	return got
}

func testRuleCreateAndGet(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := &store.TransformationRule{
		Name: "gh-issue", Version: 2, ServiceID: sv.ID,
		SourceSchema:        json.RawMessage(`{"type":"object"}`),
		TargetSchema:        json.RawMessage(`{"$ref":"work_item"}`),
		TransformationLogic: json.RawMessage(`{"title": "issue.title", "n": 1}`),
		ValidationRules:     json.RawMessage(`["title != nil"]`),
		IsBidirectional:     true,
		IsActive:            true,
	}
	got := b.rule(t, in)
	require.NotEmpty(t, got.ID)
	want := in.Clone()
	want.ID = got.ID
	want.CreatedAt, want.UpdatedAt = b.now(), b.now()
	assert.Equal(t, normRule(t, want), normRule(t, got))
	r, err := b.st.GetRule(b.ctx, "gh-issue", 2)
	require.NoError(t, err)
	assert.Equal(t, normRule(t, want), normRule(t, r))
	r, err = b.st.GetActiveRule(b.ctx, "gh-issue")
	require.NoError(t, err)
	assert.Equal(t, normRule(t, want), normRule(t, r))

	_, err = b.st.GetRule(b.ctx, "gh-issue", 1)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.st.GetRule(b.ctx, "other", 2)
	assert.ErrorIs(t, err, store.ErrNotFound)
	b.rule(t, newRule("inactive", 1, false))
	_, err = b.st.GetActiveRule(b.ctx, "inactive")
	assert.ErrorIs(t, err, store.ErrNotFound, "no active version")
	_, err = b.st.GetActiveRule(b.ctx, "missing")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testRuleUnique(t *testing.T, b *bundle) {
	first := b.rule(t, newRule("r", 1, false))
	_, err := b.st.CreateRule(b.ctx, newRule("r", 1, false))
	require.ErrorIs(t, err, store.ErrConflict)
	b.rule(t, newRule("r", 2, false))
	b.rule(t, newRule("s", 1, false))
	dup := newRule("t", 1, false)
	dup.ID = first.ID
	_, err = b.st.CreateRule(b.ctx, dup)
	require.ErrorIs(t, err, store.ErrConflict, "id is unique")
	list, err := b.st.ListRules(b.ctx, store.RuleFilter{})
	require.NoError(t, err)
	assert.Len(t, list, 3)
}

func testRuleOneActive(t *testing.T, b *bundle) {
	b.rule(t, newRule("r", 1, true))
	_, err := b.st.CreateRule(b.ctx, newRule("r", 2, true))
	require.ErrorIs(t, err, store.ErrConflict, "a second active version")
	b.rule(t, newRule("r", 2, false))
	b.rule(t, newRule("other", 1, true)) // names are independent
	active, err := b.st.ListRules(b.ctx, store.RuleFilter{Name: "r", ActiveOnly: true})
	require.NoError(t, err)
	require.Len(t, active, 1)
	assert.Equal(t, 1, active[0].Version)
}

func testRuleActivate(t *testing.T, b *bundle) {
	b.rule(t, newRule("r", 1, true))
	b.rule(t, newRule("r", 2, false))
	b.rule(t, newRule("r", 3, false))
	b.rule(t, newRule("q", 1, true))
	b.clock.Advance(time.Minute)
	got, err := b.st.ActivateRule(b.ctx, "r", 3)
	require.NoError(t, err)
	assert.True(t, got.IsActive)
	assert.Equal(t, 3, got.Version)
	assert.Equal(t, b.now(), got.UpdatedAt)
	assert.Equal(t, store.Timestamp(start), got.CreatedAt)

	act, err := b.st.GetActiveRule(b.ctx, "r")
	require.NoError(t, err)
	assert.Equal(t, 3, act.Version)
	v1, err := b.st.GetRule(b.ctx, "r", 1)
	require.NoError(t, err)
	assert.False(t, v1.IsActive, "the previous active version is deactivated")
	q, err := b.st.GetActiveRule(b.ctx, "q")
	require.NoError(t, err)
	assert.Equal(t, 1, q.Version, "other names are untouched")

	// Activating the active version again keeps exactly one.
	_, err = b.st.ActivateRule(b.ctx, "r", 3)
	require.NoError(t, err)
	active, err := b.st.ListRules(b.ctx, store.RuleFilter{Name: "r", ActiveOnly: true})
	require.NoError(t, err)
	require.Len(t, active, 1)
	assert.Equal(t, 3, active[0].Version)

	_, err = b.st.ActivateRule(b.ctx, "r", 9)
	require.ErrorIs(t, err, store.ErrNotFound)
	act, err = b.st.GetActiveRule(b.ctx, "r")
	require.NoError(t, err)
	assert.Equal(t, 3, act.Version, "a failed activation changes nothing")
}

func testRuleList(t *testing.T, b *bundle) {
	gh := b.service(t, "github")
	for _, r := range []*store.TransformationRule{
		newRule("b", 2, true), newRule("a", 1, false), newRule("b", 1, false), newRule("c", 1, true), newRule("a", 10, true),
	} {
		if r.Name == "b" {
			r.ServiceID = gh.ID
		}
		b.rule(t, r)
	}
	keys := func(f store.RuleFilter) []string {
		t.Helper()
		list, err := b.st.ListRules(b.ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, r := range list {
			out = append(out, fmt.Sprintf("%s/%d", r.Name, r.Version))
		}
		return out
	}
	assert.Equal(t, []string{"a/1", "a/10", "b/1", "b/2", "c/1"}, keys(store.RuleFilter{}))
	assert.Equal(t, []string{"b/1", "b/2"}, keys(store.RuleFilter{Name: "b"}))
	assert.Equal(t, []string{"b/1", "b/2"}, keys(store.RuleFilter{ServiceID: gh.ID}))
	assert.Equal(t, []string{"a/10", "b/2", "c/1"}, keys(store.RuleFilter{ActiveOnly: true}))
	assert.Equal(t, []string{"b/2"}, keys(store.RuleFilter{ServiceID: gh.ID, ActiveOnly: true}))
	assert.Equal(t, []string{"a/10", "b/1"}, keys(store.RuleFilter{Page: store.Page{Limit: 2, Offset: 1}}))
	assert.Equal(t, []string{}, keys(store.RuleFilter{Name: "zzz"}))
	_, err := b.st.ListRules(b.ctx, store.RuleFilter{Page: store.Page{Offset: -1}})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}

func testRuleInvalid(t *testing.T, b *bundle) {
	for name, mutate := range map[string]func(r *store.TransformationRule){
		"empty name":     func(r *store.TransformationRule) { r.Name = "" },
		"version 0":      func(r *store.TransformationRule) { r.Version = 0 },
		"bad service":    func(r *store.TransformationRule) { r.ServiceID = "github" },
		"no logic":       func(r *store.TransformationRule) { r.TransformationLogic = nil },
		"bad logic JSON": func(r *store.TransformationRule) { r.TransformationLogic = json.RawMessage(`{`) },
		"bad schema":     func(r *store.TransformationRule) { r.SourceSchema = json.RawMessage(`x`) },
	} {
		r := newRule("r", 1, true)
		mutate(r)
		_, err := b.st.CreateRule(b.ctx, r)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	_, err := b.st.CreateRule(b.ctx, nil)
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	list, err := b.st.ListRules(b.ctx, store.RuleFilter{})
	require.NoError(t, err)
	assert.Empty(t, list)
}

func testRuleCopies(t *testing.T, b *bundle) {
	in := newRule("r", 1, true)
	got := b.rule(t, in)
	want := normRule(t, got)
	in.TransformationLogic[2] = 'X'
	got.TransformationLogic[2] = 'Y'
	got.IsActive = false
	r, err := b.st.GetRule(b.ctx, "r", 1)
	require.NoError(t, err)
	assert.Equal(t, want, normRule(t, r))
	r.Name = "changed"
	list, err := b.st.ListRules(b.ctx, store.RuleFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, want, normRule(t, list[0]))
}
