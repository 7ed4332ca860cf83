package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func serviceCases() []testCase {
	return []testCase{
		{"CreateAndGet", testServiceCreateAndGet},
		{"CreateWithID", testServiceCreateWithID},
		{"Uniqueness", testServiceUniqueness},
		{"CreateInvalid", testServiceCreateInvalid},
		{"GetMissing", testServiceGetMissing},
		{"Update", testServiceUpdate},
		{"UpdateConflictAndMissing", testServiceUpdateConflict},
		{"ListFiltersAndPages", testServiceList},
		{"CopyInCopyOut", testServiceCopies},
		{"HealthRecorded", testServiceHealthRecorded},
	}
}

func fullService(name string) *store.Service {
	sv := newService(name)
	sv.AuthenticationConfig = json.RawMessage(`{"sealed": "c2VjcmV0"}`)
	sv.ConnectorConfig = json.RawMessage(`{"owner":"ehg","repo":"hub"}`)
	sv.RateLimits = json.RawMessage(`{"per_minute": 60}`)
	sv.CircuitBreakerConfig = json.RawMessage(`{"failures":5}`)
	sv.RetryConfig = json.RawMessage(`{"max":3,"backoff_ms":[100,200]}`)
	sv.SchemaMappings = json.RawMessage(`{"in":"github.issue","out":"work_item"}`)
	sv.HealthCheckConfig = json.RawMessage(`{"path":"/health"}`)
	sv.BackupURLs = []string{"https://backup1.example.com", "http://backup2.example.com:8080/x"}
	sv.HealthStatus = store.HealthDegraded
	sv.DataRegion = "eu-west"
	sv.LastHealthCheck = ptr(start.Add(-time.Minute).Truncate(time.Second))
	return sv
}

func testServiceCreateAndGet(t *testing.T, b *bundle) {
	in := fullService("github")
	got, err := b.st.CreateService(b.ctx, in)
	require.NoError(t, err)
	require.NotEmpty(t, got.ID)
	want := in.Clone()
	want.ID = got.ID
	want.CreatedAt, want.UpdatedAt = b.now(), b.now()
	assert.Equal(t, normService(t, want), normService(t, got))

	byID, err := b.st.GetService(b.ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, normService(t, want), normService(t, byID))
	byName, err := b.st.GetServiceByName(b.ctx, "github")
	require.NoError(t, err)
	assert.Equal(t, normService(t, want), normService(t, byName))

	// Health status defaults to unknown.
	plain, err := b.st.CreateService(b.ctx, newService("slack"))
	require.NoError(t, err)
	assert.Equal(t, store.HealthUnknown, plain.HealthStatus)
	assert.NotEqual(t, got.ID, plain.ID)
}

func testServiceCreateWithID(t *testing.T, b *bundle) {
	in := newService("salesforce")
	in.ID = newID()
	got, err := b.st.CreateService(b.ctx, in)
	require.NoError(t, err)
	assert.Equal(t, in.ID, got.ID)
	_, err = b.st.GetService(b.ctx, in.ID)
	require.NoError(t, err)
}

func testServiceUniqueness(t *testing.T, b *bundle) {
	first := b.service(t, "github")
	_, err := b.st.CreateService(b.ctx, newService("github"))
	require.ErrorIs(t, err, store.ErrConflict, "name is unique")
	_, err = b.st.CreateService(b.ctx, newService("GitHub"))
	require.NoError(t, err, "names are case-sensitive")
	dup := newService("other")
	dup.ID = first.ID
	_, err = b.st.CreateService(b.ctx, dup)
	require.ErrorIs(t, err, store.ErrConflict, "id is unique")
	list, err := b.st.ListServices(b.ctx, store.ServiceFilter{})
	require.NoError(t, err)
	assert.Len(t, list, 2)
}

func testServiceCreateInvalid(t *testing.T, b *bundle) {
	cases := map[string]func(s *store.Service){
		"empty name":     func(s *store.Service) { s.Name = "" },
		"bad category":   func(s *store.Service) { s.Category = "toys" },
		"no connector":   func(s *store.Service) { s.ConnectorKind = "" },
		"bad health":     func(s *store.Service) { s.HealthStatus = "fine" },
		"negative retry": func(s *store.Service) { s.MaxRetries = -1 },
		"relative URL":   func(s *store.Service) { s.BaseURL = "/api" },
		"ftp URL":        func(s *store.Service) { s.BaseURL = "ftp://example.com" },
		"bad backup URL": func(s *store.Service) { s.BackupURLs = []string{"nope"} },
		"bad JSON":       func(s *store.Service) { s.RateLimits = json.RawMessage(`{"per_minute":`) },
		"bad id":         func(s *store.Service) { s.ID = "not-a-uuid" },
	}
	for name, mutate := range cases {
		sv := newService("svc")
		mutate(sv)
		_, err := b.st.CreateService(b.ctx, sv)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	_, err := b.st.CreateService(b.ctx, nil)
	assert.ErrorIs(t, err, store.ErrInvalidArgument, "nil service")
	list, err := b.st.ListServices(b.ctx, store.ServiceFilter{})
	require.NoError(t, err)
	assert.Empty(t, list, "nothing stored")
}

func testServiceGetMissing(t *testing.T, b *bundle) {
	b.service(t, "github")
	_, err := b.st.GetService(b.ctx, newID())
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.st.GetServiceByName(b.ctx, "gitlab")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.st.GetService(b.ctx, "not-a-uuid")
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}

func testServiceUpdate(t *testing.T, b *bundle) {
	orig := b.service(t, "github")
	created := b.now()
	b.clock.Advance(time.Hour)
	up := fullService("github-enterprise")
	up.ID = orig.ID
	up.IsActive = false
	up.CreatedAt = start.Add(-48 * time.Hour) // ignored
	got, err := b.st.UpdateService(b.ctx, up)
	require.NoError(t, err)
	want := up.Clone()
	want.CreatedAt, want.UpdatedAt = created, b.now()
	assert.Equal(t, normService(t, want), normService(t, got))
	stored, err := b.st.GetService(b.ctx, orig.ID)
	require.NoError(t, err)
	assert.Equal(t, normService(t, want), normService(t, stored))

	_, err = b.st.GetServiceByName(b.ctx, "github")
	assert.ErrorIs(t, err, store.ErrNotFound, "the old name is free")
	again := b.service(t, "github")
	assert.NotEqual(t, orig.ID, again.ID)
}

func testServiceUpdateConflict(t *testing.T, b *bundle) {
	a := b.service(t, "a")
	b.service(t, "b")
	up := newService("b")
	up.ID = a.ID
	_, err := b.st.UpdateService(b.ctx, up)
	require.ErrorIs(t, err, store.ErrConflict)
	got, err := b.st.GetService(b.ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, "a", got.Name, "unchanged")

	missing := newService("c")
	missing.ID = newID()
	_, err = b.st.UpdateService(b.ctx, missing)
	require.ErrorIs(t, err, store.ErrNotFound)

	bad := newService("")
	bad.ID = a.ID
	_, err = b.st.UpdateService(b.ctx, bad)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = b.st.UpdateService(b.ctx, nil)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
}

func testServiceList(t *testing.T, b *bundle) {
	for _, s := range []struct {
		name   string
		cat    store.ServiceCategory
		active bool
	}{
		{"slack", store.CategoryCommunication, true},
		{"github", store.CategoryDevelopment, true},
		{"teams", store.CategoryCommunication, false},
		{"salesforce", store.CategoryCRM, true},
		{"discord", store.CategoryCommunication, true},
	} {
		sv := newService(s.name)
		sv.Category, sv.IsActive = s.cat, s.active
		_, err := b.st.CreateService(b.ctx, sv)
		require.NoError(t, err)
	}
	names := func(f store.ServiceFilter) []string {
		t.Helper()
		list, err := b.st.ListServices(b.ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, s := range list {
			out = append(out, s.Name)
		}
		return out
	}
	assert.Equal(t, []string{"discord", "github", "salesforce", "slack", "teams"}, names(store.ServiceFilter{}))
	assert.Equal(t, []string{"discord", "slack", "teams"}, names(store.ServiceFilter{Category: store.CategoryCommunication}))
	assert.Equal(t, []string{"discord", "slack"}, names(store.ServiceFilter{Category: store.CategoryCommunication, ActiveOnly: true}))
	assert.Equal(t, []string{"discord", "github", "salesforce", "slack"}, names(store.ServiceFilter{ActiveOnly: true}))
	assert.Equal(t, []string{"discord", "github"}, names(store.ServiceFilter{Page: store.Page{Limit: 2}}))
	assert.Equal(t, []string{"salesforce", "slack"}, names(store.ServiceFilter{Page: store.Page{Limit: 2, Offset: 2}}))
	assert.Equal(t, []string{"teams"}, names(store.ServiceFilter{Page: store.Page{Limit: 2, Offset: 4}}))
	assert.Equal(t, []string{}, names(store.ServiceFilter{Page: store.Page{Offset: 9}}))

	_, err := b.st.ListServices(b.ctx, store.ServiceFilter{Page: store.Page{Limit: -1}})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = b.st.ListServices(b.ctx, store.ServiceFilter{Page: store.Page{Offset: -1}})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = b.st.ListServices(b.ctx, store.ServiceFilter{Category: "toys"})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}

func testServiceCopies(t *testing.T, b *bundle) {
	in := fullService("github")
	got, err := b.st.CreateService(b.ctx, in)
	require.NoError(t, err)
	want := normService(t, got)

	// Mutating what was passed in or what came back must not reach the store.
	in.Name = "changed"
	in.BackupURLs[0] = "https://evil.example.com"
	in.RateLimits[2] = 'X'
	got.Name = "changed"
	got.BackupURLs[0] = "https://evil.example.com"
	got.RetryConfig[2] = 'X'
	stored, err := b.st.GetService(b.ctx, want.ID)
	require.NoError(t, err)
	assert.Equal(t, want, normService(t, stored))

	stored.BackupURLs[1] = "https://evil.example.com"
	list, err := b.st.ListServices(b.ctx, store.ServiceFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, want, normService(t, list[0]))
	list[0].HealthCheckConfig[2] = 'X'
	again, err := b.st.GetServiceByName(b.ctx, "github")
	require.NoError(t, err)
	assert.Equal(t, want, normService(t, again))
}
