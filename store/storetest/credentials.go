package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func credentialCases() []testCase {
	return []testCase{
		{"ReplaceCredentials", testReplaceCredentials},
	}
}

func testReplaceCredentials(t *testing.T, b *bundle) {
	cs, ok := b.st.(store.CredentialStore)
	if !ok {
		t.Skip("the store cannot replace credentials alone (store.CredentialStore)")
	}
	sv := newService("crm")
	sv.AuthenticationConfig = json.RawMessage(`{"sealed": "v2.aaaa.b2xk"}`)
	created, err := b.st.CreateService(b.ctx, sv)
	require.NoError(t, err)
	read, err := b.st.GetService(b.ctx, created.ID)
	require.NoError(t, err)
	b.clock.Advance(time.Minute)

	next := json.RawMessage(`{"sealed":"v2.bbbb.bmV3"}`)
	require.NoError(t, cs.ReplaceCredentials(b.ctx, created.ID, read.AuthenticationConfig, next))
	got, err := b.st.GetService(b.ctx, created.ID)
	require.NoError(t, err)
	assert.JSONEq(t, string(next), string(got.AuthenticationConfig))
	assert.Equal(t, read.UpdatedAt, got.UpdatedAt, "no other column changes")
	assert.Equal(t, read.Name, got.Name)

	// a second rotation from the same read finds the credentials changed
	err = cs.ReplaceCredentials(b.ctx, created.ID, read.AuthenticationConfig, json.RawMessage(`{"sealed":"v2.cccc.eA"}`))
	require.ErrorIs(t, err, store.ErrConflict)
	got, err = b.st.GetService(b.ctx, created.ID)
	require.NoError(t, err)
	assert.JSONEq(t, string(next), string(got.AuthenticationConfig), "a refused replacement changes nothing")

	require.ErrorIs(t, cs.ReplaceCredentials(b.ctx, newID(), next, next), store.ErrNotFound)
	require.ErrorIs(t, cs.ReplaceCredentials(b.ctx, "nope", next, next), store.ErrInvalidArgument)
	require.ErrorIs(t, cs.ReplaceCredentials(b.ctx, created.ID, got.AuthenticationConfig, json.RawMessage(`{`)), store.ErrInvalidArgument)
}
