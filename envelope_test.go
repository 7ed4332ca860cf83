package hub_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/internal/seal"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// fakeKMS is a key service for tests: AES-GCM key-encryption keys by id, one of them
// current, that records every call and every data key it was given or gave back in the
// clear (so a test can look for them in stored records).
type fakeKMS struct {
	mu       sync.Mutex
	keks     map[string]cipher.AEAD
	current  string
	next     int
	calls    []string // "wrap <kek>" / "unwrap <kek>"
	dataKeys [][]byte // every data key seen in the clear
	fail     error    // returned by every call when set
}

func newFakeKMS(t testing.TB) *fakeKMS {
	k := &fakeKMS{keks: map[string]cipher.AEAD{}}
	k.rotate(t)
	return k
}

// rotate makes a new key-encryption key current and returns its id.
func (k *fakeKMS) rotate(t testing.TB) string {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next++
	k.current = fmt.Sprintf("projects/test/keys/kek-%d", k.next)
	k.keks[k.current] = aead
	return k.current
}

// retire forgets a key-encryption key: what it wrapped no longer unwraps.
func (k *fakeKMS) retire(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.keks, id)
}

func (k *fakeKMS) KeyID() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current
}

func (k *fakeKMS) WrapKey(ctx context.Context, keyID string, dataKey []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, "wrap "+keyID)
	if k.fail != nil {
		return nil, k.fail
	}
	aead, ok := k.keks[keyID]
	if !ok {
		return nil, fmt.Errorf("fake kms: no key %s", keyID)
	}
	k.dataKeys = append(k.dataKeys, append([]byte(nil), dataKey...))
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, dataKey, []byte(keyID)), nil
}

func (k *fakeKMS) UnwrapKey(ctx context.Context, keyID string, wrapped []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, "unwrap "+keyID)
	if k.fail != nil {
		return nil, k.fail
	}
	aead, ok := k.keks[keyID]
	if !ok {
		return nil, fmt.Errorf("fake kms: no key %s", keyID)
	}
	if len(wrapped) < aead.NonceSize() {
		return nil, errors.New("fake kms: malformed")
	}
	dk, err := aead.Open(nil, wrapped[:aead.NonceSize()], wrapped[aead.NonceSize():], []byte(keyID))
	if err != nil {
		return nil, fmt.Errorf("fake kms: %w", err)
	}
	k.dataKeys = append(k.dataKeys, append([]byte(nil), dk...))
	return dk, nil
}

// setFail makes every later call fail with err (nil: succeed again).
func (k *fakeKMS) setFail(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail = err
}

// count returns how many calls of kind ("wrap", "unwrap") were made.
func (k *fakeKMS) count(kind string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, c := range k.calls {
		if strings.HasPrefix(c, kind+" ") {
			n++
		}
	}
	return n
}

// secretForms returns the forms in which the data keys the KMS saw could appear in a
// record: raw, hex, base64 (standard and URL, padded or not).
func (k *fakeKMS) secretForms() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, dk := range k.dataKeys {
		out = append(out, string(dk), hex.EncodeToString(dk), base64.StdEncoding.EncodeToString(dk),
			base64.RawStdEncoding.EncodeToString(dk), base64.URLEncoding.EncodeToString(dk), base64.RawURLEncoding.EncodeToString(dk))
	}
	return out
}

// bearerServer is a delivery target that counts the requests carrying each bearer token.
type bearerServer struct {
	*httptest.Server
	mu     sync.Mutex
	tokens map[string]int
}

func newBearerServer(t *testing.T) *bearerServer {
	b := &bearerServer{tokens: map[string]int{}}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]++
		b.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *bearerServer) seen(token string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens[token]
}

// storedRecords returns what the store holds that could carry a credential or a data key:
// every service record, every data key record, every audit entry and every OAuth token, as
// JSON (byte slices base64-encoded, as json.Marshal does) and, for []byte fields, raw too.
func storedRecords(t *testing.T, st store.Store) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	svcs, err := st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit}})
	require.NoError(t, err)
	for _, s := range svcs {
		b, _ := json.Marshal(s)
		out = append(out, string(b))
		if ts, ok := st.(store.TokenStore); ok {
			if tok, err := ts.GetOAuthToken(ctx, s.ID); err == nil {
				out = append(out, string(tok.Sealed))
			}
		}
	}
	if ds, ok := st.(store.DataKeyStore); ok {
		keys, err := ds.ListDataKeys(ctx, "", store.Page{Limit: store.MaxPageLimit})
		require.NoError(t, err)
		for _, k := range keys {
			b, _ := json.Marshal(k)
			out = append(out, string(b), string(k.Wrapped))
		}
	}
	entries, err := st.ListAudit(ctx, store.AuditFilter{Page: store.Page{Limit: store.MaxPageLimit}})
	require.NoError(t, err)
	for _, e := range entries {
		b, _ := json.Marshal(e)
		out = append(out, string(b))
	}
	return out
}

// TestEnvelopeEncryption runs envelope encryption with a key service on every store: each
// service's credentials sealed with a data key of its own, wrapped by the KMS; deliveries
// use them on this hub and on a new one; a KMS key rotation re-wraps the data key without
// touching the credentials; no credential or data key is stored in the clear; destroying a
// service's data key leaves its credentials unopenable (ErrDataKeyDestroyed) while the other
// service delivers on, and new credentials get a new data key.
func TestEnvelopeEncryption(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			open, dbPath := sk.open, ""
			if sk.name == "sqlite" { // opened here to scan its files
				dbPath = filepath.Join(t.TempDir(), "hub.db")
				open = func(t *testing.T) store.Store { return openSQLite(t, dbPath) }
			}
			kms := newFakeKMS(t)
			srv := newBearerServer(t)
			st := open(t)
			h1 := hubtest.New(t, st, hub.WithSealer(kms), hub.WithAuditCheckpointInterval(-1))
			const crmToken, erpToken = "crm-secret-token-1", "erp-secret-token-1"
			for name, token := range map[string]string{"crm": crmToken, "erp": erpToken} {
				_, err := h1.RegisterIntegration(ctx, hub.IntegrationConfig{Name: name, Connector: "http", BaseURL: srv.URL,
					Auth: json.RawMessage(fmt.Sprintf(`{"type":"bearer","token":%q}`, token)), Retry: json.RawMessage(hubtest.FastRetry)})
				require.NoError(t, err)
			}
			assert.Equal(t, 2, kms.count("wrap"), "one data key per service")

			deliver := func(h *hub.Hub, service string) (*hub.ProcessingResult, error) {
				return h.ProcessIntegrationEvent(ctx, hub.EventData{Service: service, Payload: json.RawMessage(`{"n":1}`)})
			}
			res, err := deliver(h1, "crm")
			require.NoError(t, err)
			assert.Equal(t, store.StatusSucceeded, res.Status)
			assert.Equal(t, 1, srv.seen(crmToken), "the credentials sealed with the data key are used")

			ds := st.(store.DataKeyStore)
			crm, err := st.GetServiceByName(ctx, "crm")
			require.NoError(t, err)
			ref, ok := seal.DataKeyRef(crm.AuthenticationConfig)
			require.True(t, ok, "sealed with a data key: %s", crm.AuthenticationConfig)
			dk, err := ds.LiveDataKey(ctx, "service:crm")
			require.NoError(t, err)
			assert.Equal(t, dk.ID, ref)
			assert.Equal(t, kms.KeyID(), dk.KeyID)
			erpKey, err := ds.LiveDataKey(ctx, "service:erp")
			require.NoError(t, err)
			assert.NotEqual(t, dk.ID, erpKey.ID)

			// another hub on the store opens them through the KMS
			h2 := hubtest.New(t, st, hub.WithSealer(kms), hub.WithAuditCheckpointInterval(-1))
			res, err = deliver(h2, "erp")
			require.NoError(t, err)
			assert.Equal(t, store.StatusSucceeded, res.Status)
			assert.Equal(t, 1, srv.seen(erpToken))

			// the KMS rotates its key: the data keys are re-wrapped, the credentials stay
			oldKEK := kms.KeyID()
			newKEK := kms.rotate(t)
			rep, err := h2.RotateSecretKey(ctx, hub.RotateOptions{Reason: "kms rotation"})
			require.NoError(t, err)
			assert.Equal(t, newKEK, rep.KeyID)
			assert.Equal(t, 2, rep.Services)
			assert.Equal(t, 2, rep.Current, "credentials under data keys are not re-sealed")
			assert.Equal(t, 2, rep.DataKeys)
			assert.Equal(t, 2, rep.Rewrapped)
			assert.Empty(t, rep.Failed)
			after, err := st.GetServiceByName(ctx, "crm")
			require.NoError(t, err)
			assert.JSONEq(t, string(crm.AuthenticationConfig), string(after.AuthenticationConfig), "the credentials are not re-encrypted")
			dk, err = ds.LiveDataKey(ctx, "service:crm")
			require.NoError(t, err)
			assert.Equal(t, newKEK, dk.KeyID)
			again, err := h2.RotateSecretKey(ctx, hub.RotateOptions{})
			require.NoError(t, err)
			assert.Zero(t, again.Rewrapped, "a second rotation has nothing to do")
			kms.retire(oldKEK)
			h3 := hubtest.New(t, st, hub.WithSealer(kms), hub.WithAuditCheckpointInterval(-1))
			res, err = deliver(h3, "crm")
			require.NoError(t, err, "the old key-encryption key is no longer needed")
			assert.Equal(t, store.StatusSucceeded, res.Status)

			// nothing stored holds a credential or a data key in the clear
			secrets := append([]string{crmToken, erpToken}, kms.secretForms()...)
			require.Greater(t, len(secrets), 2)
			for _, rec := range storedRecords(t, st) {
				for _, s := range secrets {
					require.NotContains(t, rec, s, "a stored record holds a secret in the clear")
				}
			}
			if dbPath != "" {
				assertFilesLackSecrets(t, dbPath, secrets)
			}

			// crypto-shredding: crm's data key is destroyed
			dead, err := h3.DestroyDataKey(ctx, "crm", "contract ended")
			require.NoError(t, err)
			assert.Equal(t, dk.ID, dead.DataKeyID)
			tomb, err := ds.GetDataKey(ctx, dk.ID)
			require.NoError(t, err)
			assert.Empty(t, tomb.Wrapped, "the wrapped key is erased from the store")
			require.NotNil(t, tomb.DestroyedAt)
			_, err = h3.DestroyDataKey(ctx, "crm", "twice")
			require.ErrorIs(t, err, hub.ErrNotFound)

			// the other hubs, which opened crm's credentials before, forget them at their next
			// service refresh
			for _, h := range []*hub.Hub{h1, h2} {
				eventually(t, 10*time.Second, func() bool {
					info, err := h.GetService(ctx, "crm")
					return err == nil && info.Breaker == ""
				}, "a hub still holds the shredded credentials")
			}
			h4 := hubtest.New(t, st, hub.WithSealer(kms), hub.WithAuditCheckpointInterval(-1))
			for name, h := range map[string]*hub.Hub{"the destroying hub": h3, "a new hub": h4, "an older hub": h1} {
				_, err = deliver(h, "crm")
				require.ErrorIs(t, err, hub.ErrDataKeyDestroyed, "%s cannot open crm's credentials", name)
				assert.NotContains(t, err.Error(), crmToken)
			}
			assert.Equal(t, 2, srv.seen(crmToken), "no delivery with the shredded credentials")
			res, err = deliver(h4, "erp")
			require.NoError(t, err, "the other service is untouched")
			assert.Equal(t, store.StatusSucceeded, res.Status)
			info, err := h4.GetService(ctx, "crm")
			require.NoError(t, err, "the service can still be looked at")
			assert.Empty(t, info.Service.AuthenticationConfig)

			entries, err := st.ListAudit(ctx, store.AuditFilter{EntityType: "service", EntityID: crm.ID})
			require.NoError(t, err)
			var destroyed *store.AuditEntry
			for _, e := range entries {
				if e.Action == "data_key.destroy" {
					destroyed = e
				}
			}
			require.NotNil(t, destroyed, "the destruction is audited")
			assert.Contains(t, string(destroyed.After), "contract ended")
			assert.Contains(t, string(destroyed.After), dk.ID)

			// new credentials are sealed with a new data key
			_, err = h4.ConfigureService(ctx, "crm", hub.ServiceConfig{Auth: json.RawMessage(fmt.Sprintf(`{"type":"bearer","token":%q}`, "crm-secret-token-2"))})
			require.NoError(t, err)
			fresh, err := ds.LiveDataKey(ctx, "service:crm")
			require.NoError(t, err)
			assert.NotEqual(t, dk.ID, fresh.ID)
			res, err = deliver(h4, "crm")
			require.NoError(t, err)
			assert.Equal(t, store.StatusSucceeded, res.Status)
			assert.Equal(t, 1, srv.seen("crm-secret-token-2"))
		})
	}
}

// assertFilesLackSecrets reads the SQLite database's files (database, WAL, shared
// memory) and fails when any secret appears in them.
func assertFilesLackSecrets(t *testing.T, dbPath string, secrets []string) {
	t.Helper()
	files, err := filepath.Glob(dbPath + "*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, s := range secrets {
			require.NotContains(t, string(b), s, "%s holds a secret in the clear", filepath.Base(f))
		}
	}
}

// TestEnvelopeMigratesKeySealedCredentials: credentials sealed with Config.SecretKey before
// a Sealer was configured still open, and RotateSecretKey moves them under data keys.
func TestEnvelopeMigratesKeySealedCredentials(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	key := testSecretKey(t)
	srv := newBearerServer(t)
	old := hubtest.New(t, st, hub.WithSecretKey(key))
	_, err := old.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: srv.URL,
		Auth: json.RawMessage(`{"type":"bearer","token":"legacy-token"}`)})
	require.NoError(t, err)

	kms := newFakeKMS(t)
	h := hubtest.New(t, st, hub.WithSecretKey(key), hub.WithSealer(kms))
	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{}`)})
	require.NoError(t, err, "key-sealed credentials open on a hub with a Sealer")
	assert.Equal(t, store.StatusSucceeded, res.Status)
	rep, err := h.RotateSecretKey(ctx, hub.RotateOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Resealed)
	svc, err := st.GetServiceByName(ctx, "crm")
	require.NoError(t, err)
	_, ok := seal.DataKeyRef(svc.AuthenticationConfig)
	assert.True(t, ok, "now sealed with a data key")

	// a hub with the Sealer and no SecretKey at all delivers
	kmsOnly, err := hub.New(st, hub.WithSealer(kms), hubtest.AllowLoopback())
	require.NoError(t, err)
	require.NoError(t, kmsOnly.Start(ctx))
	t.Cleanup(func() { _ = kmsOnly.Close(context.Background()) })
	res, err = kmsOnly.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{}`)})
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, res.Status)
	assert.Equal(t, 2, srv.seen("legacy-token"))

	// a hub without the Sealer cannot open them, and says why
	noKMS := hubtest.New(t, st, hub.WithSecretKey(key))
	_, err = noKMS.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, seal.ErrUnknownKey)
}

// TestEnvelopeKeyServiceFailure: when the KMS refuses, registering credentials fails with
// ErrKeyService and stores nothing; a store without data keys is refused at New.
func TestEnvelopeKeyServiceFailure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kms := newFakeKMS(t)
	kms.fail = errors.New("kms: permission denied")
	h := hubtest.New(t, nil, hub.WithSealer(kms))
	_, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com",
		Auth: json.RawMessage(`{"type":"bearer","token":"t"}`)})
	require.ErrorIs(t, err, hub.ErrKeyService)
	assert.ErrorContains(t, err, "permission denied")
	_, err = h.GetService(ctx, "crm")
	require.ErrorIs(t, err, hub.ErrNotFound)

	_, err = hub.New(noDataKeys{memory.New(memory.Options{})}, hub.WithSealer(kms))
	require.ErrorIs(t, err, hub.ErrNotSupported)
	require.ErrorIs(t, err, hub.ErrInvalidConfig)
}

// TestEnvelopeKeyServiceOutageDefers: events queued for a service whose credentials cannot
// be opened because the KMS is down wait, unattempted and uncounted, and are delivered once
// it is back; none fails.
func TestEnvelopeKeyServiceOutageDefers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	kms := newFakeKMS(t)
	srv := newBearerServer(t)
	queue, err := hub.New(st, append(hubtest.Fast(), hub.WithSealer(kms))...) // never started: only queues
	require.NoError(t, err)
	t.Cleanup(func() { _ = queue.Close(context.Background()) })
	_, err = queue.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: srv.URL,
		Auth: json.RawMessage(`{"type":"bearer","token":"outage-token"}`), Retry: json.RawMessage(hubtest.FastRetry)})
	require.NoError(t, err)
	var ids []string
	for range 3 {
		res, err := queue.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Mode: hub.Async, Payload: json.RawMessage(`{}`)})
		require.NoError(t, err)
		ids = append(ids, res.EventID)
	}

	kms.setFail(errors.New("kms: unavailable"))
	before := kms.count("unwrap")
	h := hubtest.New(t, st, hub.WithSealer(kms))
	require.Eventually(t, func() bool {
		for _, id := range ids {
			ev, err := h.GetEvent(ctx, id)
			if err != nil || ev.Status != store.StatusRetrying {
				return false
			}
		}
		return kms.count("unwrap") > before
	}, 10*time.Second, 10*time.Millisecond, "the events wait while the KMS is down")
	for _, id := range ids {
		ev, err := h.GetEvent(ctx, id)
		require.NoError(t, err)
		assert.Zero(t, ev.RetryCount, "no attempt is counted")
		assert.Contains(t, string(ev.ErrorDetails), "rejected")
	}
	assert.Zero(t, srv.seen("outage-token"))

	kms.setFail(nil)
	for _, id := range ids {
		ev := hubtest.WaitForStatus(t, h, id, store.StatusSucceeded)
		assert.Zero(t, ev.RetryCount)
	}
	assert.Equal(t, 3, srv.seen("outage-token"))
}

// noDataKeys hides every optional capability of a store.
type noDataKeys struct{ store.Store }

// TestEnvelopeApprovals: with a Sealer, a held-back change of credentials is stored sealed
// with the approvals' own data key (never in the clear), and once approved the credentials
// are sealed with the service's data key.
func TestEnvelopeApprovals(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	kms := newFakeKMS(t)
	h, err := hub.New(st, append(hubtest.Fast(), hub.WithSealer(kms), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeCredentials}}))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(adminCtx(context.Background())) })
	alice := hub.WithPrincipal(ctx, hub.Principal{ID: "alice", Roles: []hub.Role{hub.RoleAdmin}})
	bob := hub.WithPrincipal(ctx, hub.Principal{ID: "bob", Roles: []hub.Role{hub.RoleAdmin}})
	_, err = h.RegisterIntegration(alice, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"})
	require.NoError(t, err)
	_, err = h.ConfigureService(alice, "crm", hub.ServiceConfig{Auth: json.RawMessage(`{"type":"bearer","token":"held-back-secret"}`)})
	var held *hub.ApprovalRequiredError
	require.ErrorAs(t, err, &held)

	a, err := st.GetApproval(ctx, held.ID)
	require.NoError(t, err)
	ref, ok := seal.DataKeyRef(a.Sealed)
	require.True(t, ok, "the proposed change is sealed with a data key")
	ak, err := st.LiveDataKey(ctx, "hub:approvals")
	require.NoError(t, err)
	assert.Equal(t, ak.ID, ref)
	b, err := json.Marshal(a)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "held-back-secret")

	_, err = h.Approve(bob, held.ID, "ok")
	require.NoError(t, err)
	svc, err := st.GetServiceByName(ctx, "crm")
	require.NoError(t, err)
	ref, ok = seal.DataKeyRef(svc.AuthenticationConfig)
	require.True(t, ok)
	sk, err := st.LiveDataKey(ctx, "service:crm")
	require.NoError(t, err)
	assert.Equal(t, sk.ID, ref, "the applied credentials are under the service's own data key")
	for _, rec := range storedRecords(t, st) {
		assert.NotContains(t, rec, "held-back-secret")
	}
}

// TestEnvelopeApprovalKeyServiceOutage: approving while the KMS is down fails with
// ErrKeyService and leaves the request pending; once it is back the approval applies.
func TestEnvelopeApprovalKeyServiceOutage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	kms := newFakeKMS(t)
	h, err := hub.New(st, append(hubtest.Fast(), hub.WithSealer(kms), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeCredentials}}))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(adminCtx(context.Background())) })
	alice := hub.WithPrincipal(ctx, hub.Principal{ID: "alice", Roles: []hub.Role{hub.RoleAdmin}})
	bob := hub.WithPrincipal(ctx, hub.Principal{ID: "bob", Roles: []hub.Role{hub.RoleAdmin}})
	_, err = h.RegisterIntegration(alice, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"})
	require.NoError(t, err)
	_, err = h.ConfigureService(alice, "crm", hub.ServiceConfig{Auth: json.RawMessage(`{"type":"bearer","token":"held-back-secret"}`)})
	var held *hub.ApprovalRequiredError
	require.ErrorAs(t, err, &held)

	kms.setFail(errors.New("kms: unavailable"))
	_, err = h.Approve(bob, held.ID, "ok")
	require.ErrorIs(t, err, hub.ErrKeyService)
	a, err := st.GetApproval(ctx, held.ID)
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalPending, a.Status, "the request stays pending")
	assert.NotEmpty(t, a.Sealed, "the sealed change is kept")

	kms.setFail(nil)
	res, err := h.Approve(bob, held.ID, "ok")
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalApplied, res.Approval.Status)
}

// TestEnvelopeRemovalShreds: removing a service destroys its data key with its credentials,
// so a copy of the sealed credentials taken before (a backup) cannot be opened.
func TestEnvelopeRemovalShreds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	h := hubtest.New(t, st, hub.WithSealer(newFakeKMS(t)))
	_, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com",
		Auth: json.RawMessage(`{"type":"bearer","token":"removed-secret"}`)})
	require.NoError(t, err)
	dk, err := st.LiveDataKey(ctx, "service:crm")
	require.NoError(t, err)
	res, err := h.RemoveService(ctx, "crm", hub.RemoveOptions{Reason: "contract ended"})
	require.NoError(t, err)
	require.True(t, res.CredentialsDestroyed)
	tomb, err := st.GetDataKey(ctx, dk.ID)
	require.NoError(t, err)
	require.NotNil(t, tomb.DestroyedAt, "the data key is destroyed with the credentials")
	assert.Empty(t, tomb.Wrapped)
}

// destroyFails is the in-memory store with DestroyDataKey failing while fail is set.
type destroyFails struct {
	*memory.Store
	fail atomic.Bool
}

func (s *destroyFails) DestroyDataKey(ctx context.Context, owner string) (*store.DataKey, error) {
	if s.fail.Load() {
		return nil, fmt.Errorf("destroying %s: %w", owner, store.ErrBusy)
	}
	return s.Store.DestroyDataKey(ctx, owner)
}

// TestEnvelopeRemovalRetriesShredding: a removal whose data key cannot be destroyed stays
// unfinished (the name kept, the credentials not reported destroyed) and finishes when
// tried again;
// a service registered afterwards under the same name gets a data key of its own.
func TestEnvelopeRemovalRetriesShredding(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &destroyFails{Store: memory.New(memory.Options{})}
	h := hubtest.New(t, st, hub.WithSealer(newFakeKMS(t)))
	_, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com",
		Auth: json.RawMessage(`{"type":"bearer","token":"removed-secret"}`)})
	require.NoError(t, err)
	old, err := st.LiveDataKey(ctx, "service:crm")
	require.NoError(t, err)

	st.fail.Store(true)
	res, err := h.RemoveService(ctx, "crm", hub.RemoveOptions{Reason: "contract ended"})
	require.ErrorIs(t, err, hub.ErrBusy)
	require.False(t, res.CredentialsDestroyed)
	_, err = st.GetServiceByName(ctx, "crm")
	require.NoError(t, err, "the name is kept until the data key is gone")
	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"})
	require.Error(t, err, "the name is still taken")

	st.fail.Store(false)
	res, err = h.RemoveService(ctx, "crm", hub.RemoveOptions{}) // as the background cleaner does too
	require.NoError(t, err)
	require.True(t, res.CredentialsDestroyed)
	_, err = st.GetServiceByName(ctx, "crm")
	require.ErrorIs(t, err, store.ErrNotFound, "the name is free")
	tomb, err := st.GetDataKey(ctx, old.ID)
	require.NoError(t, err)
	require.NotNil(t, tomb.DestroyedAt)

	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com",
		Auth: json.RawMessage(`{"type":"bearer","token":"new-secret"}`)})
	require.NoError(t, err)
	fresh, err := st.LiveDataKey(ctx, "service:crm")
	require.NoError(t, err)
	assert.NotEqual(t, old.ID, fresh.ID)
}

// destroyWhileListing is the in-memory store that destroys the data key of victim right
// after the first page of data keys is listed, as a removal on another hub would.
type destroyWhileListing struct {
	*memory.Store
	victim atomic.Value // string: an owner
	once   sync.Once
}

func (s *destroyWhileListing) ListDataKeys(ctx context.Context, after string, page store.Page) ([]*store.DataKey, error) {
	keys, err := s.Store.ListDataKeys(ctx, after, page)
	if v, ok := s.victim.Load().(string); ok && err == nil {
		s.once.Do(func() { _, err = s.Store.DestroyDataKey(ctx, v) })
	}
	return keys, err
}

// TestEnvelopeRotationSurvivesDestruction: a data key destroyed while a rotation lists the
// keys does not make the rotation pass over another one.
func TestEnvelopeRotationSurvivesDestruction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &destroyWhileListing{Store: memory.New(memory.Options{})}
	kms := newFakeKMS(t)
	h := hubtest.New(t, st, hub.WithSealer(kms))
	for _, name := range []string{"a", "b", "c", "d"} {
		_, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: name, Connector: "http", BaseURL: "https://" + name + ".example.com",
			Auth: json.RawMessage(`{"type":"bearer","token":"t"}`)})
		require.NoError(t, err)
	}
	keys, err := st.Store.ListDataKeys(ctx, "", store.Page{})
	require.NoError(t, err)
	require.Len(t, keys, 4)
	st.victim.Store(keys[0].Owner) // the first listed: every later key moves back one place
	newKEK := kms.rotate(t)
	rep, err := h.RotateSecretKey(ctx, hub.RotateOptions{BatchSize: 1})
	require.NoError(t, err)
	assert.Empty(t, rep.Failed)
	live, err := st.Store.ListDataKeys(ctx, "", store.Page{})
	require.NoError(t, err)
	require.Len(t, live, 3)
	for _, dk := range live {
		assert.Equal(t, newKEK, dk.KeyID, "data key of %s re-wrapped", dk.Owner)
	}
}

// TestEnvelopeShreddedServiceStaysManageable: after DestroyDataKey the persisted OAuth token
// is gone, the service can still be disabled and enabled without new credentials, and it
// is still never delivered to without them.
func TestEnvelopeShreddedServiceStaysManageable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	srv := newBearerServer(t)
	h := hubtest.New(t, st, hub.WithSealer(newFakeKMS(t)))
	reg, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: srv.URL,
		Auth: json.RawMessage(`{"type":"bearer","token":"shredded-token"}`), Retry: json.RawMessage(hubtest.FastRetry)})
	require.NoError(t, err)
	_, err = st.UpdateOAuthToken(ctx, reg.ServiceID, func(*store.OAuthToken) (json.RawMessage, error) {
		return json.RawMessage(`{"sealed":"stand-in"}`), nil
	})
	require.NoError(t, err)

	_, err = h.DestroyDataKey(ctx, "crm", "contract ended")
	require.NoError(t, err)
	_, err = st.GetOAuthToken(ctx, reg.ServiceID)
	require.ErrorIs(t, err, store.ErrNotFound, "the token sealed with the destroyed key is deleted")

	off, on := false, true
	_, err = h.ConfigureService(ctx, "crm", hub.ServiceConfig{Active: &off})
	require.NoError(t, err, "a shredded service can be disabled")
	svc, err := st.GetServiceByName(ctx, "crm")
	require.NoError(t, err)
	assert.False(t, svc.IsActive)
	_, err = h.ConfigureService(ctx, "crm", hub.ServiceConfig{Active: &on, BaseURL: &srv.URL})
	require.NoError(t, err)
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, hub.ErrDataKeyDestroyed, "still no delivery without credentials")
	assert.Zero(t, srv.seen("shredded-token")+srv.seen(""))

	_, err = h.ConfigureService(ctx, "crm", hub.ServiceConfig{Auth: json.RawMessage(`{"type":"bearer","token":"fresh-token"}`)})
	require.NoError(t, err)
	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{}`)})
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, res.Status)
	assert.Equal(t, 1, srv.seen("fresh-token"))
}

// TestEnvelopeDestroyDataKeyNeedsApproval: with approvals required for data deletion,
// destroying a data key is only proposed; the key is destroyed when another admin approves.
func TestEnvelopeDestroyDataKeyNeedsApproval(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	h, err := hub.New(st, append(hubtest.Fast(), hub.WithSealer(newFakeKMS(t)), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeDataDeletion}}))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(adminCtx(context.Background())) })
	alice := hub.WithPrincipal(ctx, hub.Principal{ID: "alice", Roles: []hub.Role{hub.RoleAdmin}})
	bob := hub.WithPrincipal(ctx, hub.Principal{ID: "bob", Roles: []hub.Role{hub.RoleAdmin}})
	_, err = h.RegisterIntegration(alice, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com",
		Auth: json.RawMessage(`{"type":"bearer","token":"t"}`)})
	require.NoError(t, err)
	dk, err := st.LiveDataKey(ctx, "service:crm")
	require.NoError(t, err)

	_, err = h.DestroyDataKey(alice, "crm", "contract ended")
	var held *hub.ApprovalRequiredError
	require.ErrorAs(t, err, &held)
	require.ErrorIs(t, err, hub.ErrApprovalRequired)
	live, err := st.GetDataKey(ctx, dk.ID)
	require.NoError(t, err)
	assert.Nil(t, live.DestroyedAt, "nothing is destroyed before approval")
	_, err = h.Approve(alice, held.ID, "self")
	require.ErrorIs(t, err, hub.ErrForbidden, "the requester cannot approve")

	res, err := h.Approve(bob, held.ID, "ok")
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalApplied, res.Approval.Status)
	gone, ok := res.Result.(*hub.DataKeyDestruction)
	require.True(t, ok, "result %T", res.Result)
	assert.Equal(t, dk.ID, gone.DataKeyID)
	tomb, err := st.GetDataKey(ctx, dk.ID)
	require.NoError(t, err)
	assert.NotNil(t, tomb.DestroyedAt)
}

// TestEnvelopeApprovalsWithoutSecretKey: a hub sealing through a key service needs no secret
// key for approvals, whose proposed changes it seals with their own data key.
func TestEnvelopeApprovalsWithoutSecretKey(t *testing.T) {
	t.Parallel()
	h, err := hub.New(memory.New(memory.Options{}), hub.WithSealer(newFakeKMS(t)), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeCredentials}}))
	require.NoError(t, err)
	require.NoError(t, h.Close(adminCtx(context.Background())))
}
