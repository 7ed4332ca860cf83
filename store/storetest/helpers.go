package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// service creates a valid, active service named name.
func (b *bundle) service(t *testing.T, name string) *store.Service {
	t.Helper()
	sv, err := b.st.CreateService(b.ctx, newService(name))
	require.NoError(t, err)
	return sv
}

func newService(name string) *store.Service {
	return &store.Service{
		Name:          name,
		Category:      store.CategoryDevelopment,
		ConnectorKind: "http",
		BaseURL:       "https://api.example.com/v1",
		MaxRetries:    3,
		IsActive:      true,
	}
}

// newEvent returns a valid event of sv.
func newEvent(sv *store.Service) *store.Event {
	return &store.Event{
		ServiceID:   sv.ID,
		ServiceName: sv.Name,
		PayloadIn:   json.RawMessage(`{"i":0}`),
		MaxRetries:  3,
	}
}

// insert stores ev, which must be new, and returns the stored event.
func (b *bundle) insert(t *testing.T, ev *store.Event) *store.Event {
	t.Helper()
	got, created, err := b.st.InsertEvent(b.ctx, ev)
	require.NoError(t, err)
	require.True(t, created, "event was not created")
	return got
}

// claim claims up to n events for owner with lease.
func (b *bundle) claim(t *testing.T, owner string, n int, lease time.Duration) []*store.Event {
	t.Helper()
	evs, err := b.st.ClaimEvents(b.ctx, store.ClaimParams{Owner: owner, Limit: n, Lease: lease})
	require.NoError(t, err)
	return evs
}

// claimOne claims exactly one event for owner; it must be want.
func (b *bundle) claimOne(t *testing.T, owner string, want *store.Event) *store.Event {
	t.Helper()
	evs := b.claim(t, owner, 1, time.Minute)
	require.Len(t, evs, 1)
	require.Equal(t, want.ID, evs[0].ID)
	return evs[0]
}

// get returns the stored event id.
func (b *bundle) get(t *testing.T, id string) *store.Event {
	t.Helper()
	ev, err := b.st.GetEvent(b.ctx, id)
	require.NoError(t, err)
	return ev
}

// complete completes one event held by owner; it must not be lost.
func (b *bundle) complete(t *testing.T, id, owner string, ms int64) {
	t.Helper()
	lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: id, Owner: owner, ResponseCode: 200, ResponseTimeMS: ms}})
	require.NoError(t, err)
	require.Empty(t, lost)
}

// fail records one failed attempt of an event held by owner; it must not be lost.
func (b *bundle) fail(t *testing.T, p store.FailParams) {
	t.Helper()
	lost, err := b.st.FailEvents(b.ctx, []store.FailParams{p})
	require.NoError(t, err)
	require.Empty(t, lost)
}

func ids(evs []*store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// fixedID returns a UUID whose text sorts by n.
func fixedID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func newID() string { return uuid.NewString() }

func ptr[T any](v T) *T { return &v }

// at returns start moved by d, as stores keep it.
func at(d time.Duration) time.Time { return store.Timestamp(start.Add(d)) }

// canonJSON re-encodes v so that equal JSON values compare equal whatever their spacing or
// key order; nil and empty stay nil.
func canonJSON(t *testing.T, v json.RawMessage) json.RawMessage {
	t.Helper()
	if len(v) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	require.NoError(t, dec.Decode(&x), "stored JSON %q", v)
	out, err := json.Marshal(x)
	require.NoError(t, err)
	return out
}

// normEvent returns a copy of e with canonical JSON columns.
func normEvent(t *testing.T, e *store.Event) *store.Event {
	t.Helper()
	c := e.Clone()
	c.PayloadIn = canonJSON(t, c.PayloadIn)
	c.PayloadOut = canonJSON(t, c.PayloadOut)
	c.TransformationApplied = canonJSON(t, c.TransformationApplied)
	c.CanonicalMapping = canonJSON(t, c.CanonicalMapping)
	c.ErrorDetails = canonJSON(t, c.ErrorDetails)
	if c.Direction == "" {
		c.Direction = store.DirectionOutbound // what stores return for an event inserted without one
	}
	return c
}

func assertEventEqual(t *testing.T, want, got *store.Event, msgAndArgs ...any) {
	t.Helper()
	assert.Equal(t, normEvent(t, want), normEvent(t, got), msgAndArgs...)
}

func normService(t *testing.T, s *store.Service) *store.Service {
	t.Helper()
	c := s.Clone()
	c.AuthenticationConfig = canonJSON(t, c.AuthenticationConfig)
	c.ConnectorConfig = canonJSON(t, c.ConnectorConfig)
	c.RateLimits = canonJSON(t, c.RateLimits)
	c.CircuitBreakerConfig = canonJSON(t, c.CircuitBreakerConfig)
	c.RetryConfig = canonJSON(t, c.RetryConfig)
	c.SchemaMappings = canonJSON(t, c.SchemaMappings)
	c.HealthCheckConfig = canonJSON(t, c.HealthCheckConfig)
	if len(c.BackupURLs) == 0 {
		c.BackupURLs = nil
	}
	return c
}

func normRule(t *testing.T, r *store.TransformationRule) *store.TransformationRule {
	t.Helper()
	c := r.Clone()
	c.SourceSchema = canonJSON(t, c.SourceSchema)
	c.TargetSchema = canonJSON(t, c.TargetSchema)
	c.TransformationLogic = canonJSON(t, c.TransformationLogic)
	c.ValidationRules = canonJSON(t, c.ValidationRules)
	return c
}

func normContract(t *testing.T, c *store.Contract) *store.Contract {
	t.Helper()
	d := c.Clone()
	d.Schema = canonJSON(t, d.Schema)
	return d
}

func normMetric(t *testing.T, m *store.HealthMetric) *store.HealthMetric {
	t.Helper()
	c := m.Clone()
	c.RecoveryActions = canonJSON(t, c.RecoveryActions)
	return c
}

func normAudit(t *testing.T, a *store.AuditEntry) *store.AuditEntry {
	t.Helper()
	c := a.Clone()
	c.Before = canonJSON(t, c.Before)
	c.After = canonJSON(t, c.After)
	return c
}

// requireTransitionError checks that err is a *store.TransitionError for id from -> to.
func requireTransitionError(t *testing.T, err error, id string, from, to store.EventStatus) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrInvalidTransition)
	var te *store.TransitionError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, from, te.From)
	assert.Equal(t, to, te.To)
	if te.EventID != "" {
		assert.Equal(t, id, te.EventID)
	}
}
