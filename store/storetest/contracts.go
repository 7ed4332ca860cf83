package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func contractCases() []testCase {
	return []testCase{
		{"CreateAndGet", testContractCreateAndGet},
		{"NameVersionUnique", testContractUnique},
		{"ListOrderAndPages", testContractList},
		{"Invalid", testContractInvalid},
		{"CopyInCopyOut", testContractCopies},
	}
}

func newContract(name, version string) *store.Contract {
	return &store.Contract{Name: name, Version: version,
		Schema: json.RawMessage(`{"type":"object","required":["title"]}`)}
}

func (b *bundle) contract(t *testing.T, c *store.Contract) *store.Contract {
	t.Helper()
	got, err := b.st.CreateContract(b.ctx, c)
	require.NoError(t, err)
	return got
}

func testContractCreateAndGet(t *testing.T, b *bundle) {
	in := newContract("work_item", "1.2.0")
	in.Description = "canonical work item"
	got := b.contract(t, in)
	require.NotEmpty(t, got.ID)
	want := in.Clone()
	want.ID, want.CreatedAt = got.ID, b.now()
	assert.Equal(t, normContract(t, want), normContract(t, got))
	c, err := b.st.GetContract(b.ctx, "work_item", "1.2.0")
	require.NoError(t, err)
	assert.Equal(t, normContract(t, want), normContract(t, c))
	_, err = b.st.GetContract(b.ctx, "work_item", "1.2.1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.st.GetContract(b.ctx, "other", "1.2.0")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testContractUnique(t *testing.T, b *bundle) {
	first := b.contract(t, newContract("c", "1.0.0"))
	_, err := b.st.CreateContract(b.ctx, newContract("c", "1.0.0"))
	require.ErrorIs(t, err, store.ErrConflict)
	b.contract(t, newContract("c", "1.0.1"))
	b.contract(t, newContract("d", "1.0.0"))
	dup := newContract("e", "1.0.0")
	dup.ID = first.ID
	_, err = b.st.CreateContract(b.ctx, dup)
	require.ErrorIs(t, err, store.ErrConflict, "id is unique")
	list, err := b.st.ListContracts(b.ctx, "", store.Page{})
	require.NoError(t, err)
	assert.Len(t, list, 3)
}

func testContractList(t *testing.T, b *bundle) {
	// Order is name, then created_at, then version: 1.10.0 created before 1.9.0 lists first.
	for _, c := range []struct {
		name, version string
		at            time.Duration
	}{
		{"b", "1.10.0", 0}, {"a", "2.0.0", time.Second}, {"b", "1.9.0", 2 * time.Second},
		{"a", "1.0.0", 3 * time.Second}, {"b", "1.0.0", 2 * time.Second},
	} {
		b.clock.Set(start.Add(c.at))
		b.contract(t, newContract(c.name, c.version))
	}
	keys := func(name string, p store.Page) []string {
		t.Helper()
		list, err := b.st.ListContracts(b.ctx, name, p)
		require.NoError(t, err)
		out := []string{}
		for _, c := range list {
			out = append(out, c.Name+"@"+c.Version)
		}
		return out
	}
	assert.Equal(t, []string{"a@2.0.0", "a@1.0.0", "b@1.10.0", "b@1.0.0", "b@1.9.0"}, keys("", store.Page{}))
	assert.Equal(t, []string{"b@1.10.0", "b@1.0.0", "b@1.9.0"}, keys("b", store.Page{}))
	assert.Equal(t, []string{"b@1.0.0", "b@1.9.0"}, keys("b", store.Page{Limit: 5, Offset: 1}))
	assert.Equal(t, []string{"a@1.0.0", "b@1.10.0"}, keys("", store.Page{Limit: 2, Offset: 1}))
	assert.Equal(t, []string{}, keys("z", store.Page{}))
	_, err := b.st.ListContracts(b.ctx, "", store.Page{Limit: -1})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}

func testContractInvalid(t *testing.T, b *bundle) {
	for name, c := range map[string]*store.Contract{
		"empty name": {Version: "1", Schema: json.RawMessage(`{}`)},
		"no version": {Name: "c", Schema: json.RawMessage(`{}`)},
		"no schema":  {Name: "c", Version: "1"},
		"bad schema": {Name: "c", Version: "1", Schema: json.RawMessage(`{"type":`)},
		"bad id":     {ID: "c1", Name: "c", Version: "1", Schema: json.RawMessage(`{}`)},
		"nil":        nil,
	} {
		_, err := b.st.CreateContract(b.ctx, c)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	list, err := b.st.ListContracts(b.ctx, "", store.Page{})
	require.NoError(t, err)
	assert.Empty(t, list)
}

func testContractCopies(t *testing.T, b *bundle) {
	in := newContract("c", "1.0.0")
	got := b.contract(t, in)
	want := normContract(t, got)
	in.Schema[2] = 'X'
	got.Schema[2] = 'Y'
	got.Version = "9"
	c, err := b.st.GetContract(b.ctx, "c", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, want, normContract(t, c))
	c.Schema[2] = 'Z'
	list, err := b.st.ListContracts(b.ctx, "c", store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, want, normContract(t, list[0]))
}
