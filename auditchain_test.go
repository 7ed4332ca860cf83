package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/sqlite"
)

func testSecretKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, hub.SecretKeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

// deleteNewestAudit removes the newest n audit entries behind the store's back, as an
// attacker with the database would (triggers disabled): a *sql.DB on the SQLite file or a
// pool on the PostgreSQL schema.
type auditAttacker func(t *testing.T, n int)

// TestVerifyAuditAndExport registers, configures and retries through a hub on each store,
// then: VerifyAudit finds the log intact, an export verifies offline with the hub's public
// key, and after an attacker deletes the newest entries both name the deletion.
func TestVerifyAuditAndExport(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var (
				st     store.Store
				attack auditAttacker
			)
			switch kind {
			case "memory":
				st = memory.New(memory.Options{})
			case "sqlite":
				path := filepath.Join(t.TempDir(), "hub.db")
				st = openSQLite(t, path)
				attack = func(t *testing.T, n int) {
					db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
					require.NoError(t, err)
					defer db.Close()
					for _, q := range []string{`DROP TRIGGER audit_log_no_delete`,
						fmt.Sprintf(`DELETE FROM audit_log WHERE seq > (SELECT max(seq) FROM audit_log) - %d`, n)} {
						_, err := db.ExecContext(t.Context(), q)
						require.NoError(t, err)
					}
				}
			case "postgres":
				schema := newSchema(t)
				st = openPostgres(t, schema)
				attack = func(t *testing.T, n int) {
					pool, err := pgxpool.New(t.Context(), postgresURL(t))
					require.NoError(t, err)
					defer pool.Close()
					tbl := pgx.Identifier{schema, "audit_log"}.Sanitize()
					for _, q := range []string{`ALTER TABLE ` + tbl + ` DISABLE TRIGGER USER`,
						fmt.Sprintf(`DELETE FROM %s WHERE seq > (SELECT max(seq) FROM %s) - %d`, tbl, tbl, n)} {
						_, err := pool.Exec(t.Context(), q)
						require.NoError(t, err)
					}
				}
			}
			ctx := t.Context()
			h := hubtest.New(t, st, hub.WithSecretKey(testSecretKey(t)), hub.WithAuditCheckpointInterval(-1))
			sink := hubtest.NewSink(t)
			for i := range 3 {
				_, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: fmt.Sprint("svc", i), Connector: "http", BaseURL: sink.URL,
					Auth: json.RawMessage(`{"type":"bearer","token":"audit-secret-token"}`)})
				require.NoError(t, err)
			}
			off := false
			_, err := h.ConfigureService(ctx, "svc1", hub.ServiceConfig{Active: &off, Actor: "alice"})
			require.NoError(t, err)
			cp, err := h.CheckpointAudit(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(4), cp.Size)

			rep, err := h.VerifyAudit(ctx, time.Time{}, time.Time{})
			require.NoError(t, err)
			require.True(t, rep.OK)
			assert.Equal(t, int64(4), rep.Entries)
			assert.Equal(t, 1, rep.Checkpoints)
			assert.Equal(t, int64(4), rep.SignedSize)

			plan, err := h.Command(ctx, "verify the audit chain")
			require.NoError(t, err)
			res, err := h.RunCommand(ctx, plan)
			require.NoError(t, err)
			require.True(t, res.OK, res.Message)
			require.Equal(t, int64(4), res.Audit.Entries)

			key, err := audit.ParseVerifierKey(h.AuditVerifierKey())
			require.NoError(t, err)
			var export bytes.Buffer
			n, err := h.ExportAudit(ctx, &export, time.Time{}, time.Time{})
			require.NoError(t, err)
			require.Equal(t, int64(4), n)
			require.NotContains(t, export.String(), "audit-secret-token", "credentials are redacted in the log")
			rep, err = audit.VerifyExport(bytes.NewReader(export.Bytes()), key)
			require.NoError(t, err)
			require.True(t, rep.OK, "%+v", rep.Problems)

			// A forged key does not verify the checkpoints.
			_, otherV, err := audit.DeriveKey("hub-audit", testSecretKey(t))
			require.NoError(t, err)
			other, err := audit.ParseVerifierKey(otherV)
			require.NoError(t, err)
			rep, err = audit.VerifyExport(bytes.NewReader(export.Bytes()), other)
			require.NoError(t, err)
			require.False(t, rep.OK)
			assert.Equal(t, audit.BadCheckpoint, rep.Problems[0].Kind)

			if attack == nil {
				return
			}
			attack(t, 2)
			rep, err = h.VerifyAudit(ctx, time.Time{}, time.Time{})
			require.ErrorIs(t, err, hub.ErrAuditTampered)
			var p *audit.Problem
			require.ErrorAs(t, err, &p)
			assert.Equal(t, audit.Truncated, p.Kind)
			assert.Equal(t, int64(3), p.Seq)
			assert.Equal(t, int64(4), p.ToSeq)
			assert.False(t, rep.OK)
			t.Logf("VerifyAudit after deleting the newest 2 entries: %v", err)

			export.Reset()
			_, err = h.ExportAudit(ctx, &export, time.Time{}, time.Time{})
			require.NoError(t, err)
			rep, err = audit.VerifyExport(&export, key)
			require.NoError(t, err)
			require.ErrorIs(t, rep.Err(), audit.ErrTampered)
			assert.Equal(t, audit.Truncated, rep.Problems[0].Kind)
		})
	}
}

// failingAudit is a store whose audit log cannot be written.
type failingAudit struct{ store.Store }

func (failingAudit) AppendAudit(context.Context, *store.AuditEntry) (*store.AuditEntry, error) {
	return nil, fmt.Errorf("disk full: %w", store.ErrBusy)
}

// TestAuditFailsClosed: when the audit entry cannot be written, the action does not happen.
func TestAuditFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := memory.New(memory.Options{})
	h := hubtest.New(t, failingAudit{mem}, hub.WithSecretKey(testSecretKey(t)))
	_, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "svc", Connector: "http", BaseURL: "https://example.com"})
	require.ErrorIs(t, err, hub.ErrAuditUnavailable)
	_, err = mem.GetServiceByName(ctx, "svc")
	require.ErrorIs(t, err, store.ErrNotFound, "no service without its audit entry")

	// a service registered while the log worked cannot be reconfigured while it does not
	h2 := hubtest.New(t, mem, hub.WithSecretKey(testSecretKey(t)))
	_, err = h2.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "svc", Connector: "http", BaseURL: "https://example.com"})
	require.NoError(t, err)
	url := "https://example.org"
	_, err = h.ConfigureService(ctx, "svc", hub.ServiceConfig{BaseURL: &url})
	require.ErrorIs(t, err, hub.ErrAuditUnavailable)
	svc, err := mem.GetServiceByName(ctx, "svc")
	require.NoError(t, err)
	assert.Equal(t, "https://example.com", svc.BaseURL)
}

// switchableAudit is the memory store whose audit log stops being writable when fail is set;
// every other capability stays.
type switchableAudit struct {
	*memory.Store
	fail *atomic.Bool
}

func (s switchableAudit) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	if s.fail.Load() {
		return nil, fmt.Errorf("disk full: %w", store.ErrBusy)
	}
	return s.Store.AppendAudit(ctx, e)
}

// TestAuditFailsClosedGovernance: approval steps, removals, retention runs and data-key
// destruction are refused with ErrAuditUnavailable when their entry cannot be written, and
// nothing of them happens.
func TestAuditFailsClosedGovernance(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := memory.New(memory.Options{})
	fail := &atomic.Bool{}
	st := switchableAudit{mem, fail}
	h, err := hub.New(st, append(hubtest.Fast(), hub.WithSealer(newFakeKMS(t)), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeEndpoints}}),
		hub.WithRetention(hub.RetentionPolicy{HealthMetrics: time.Hour}), hub.WithCleanup(-1, 0))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(adminCtx(context.Background())) })
	alice := hub.WithPrincipal(ctx, hub.Principal{ID: "alice", Roles: []hub.Role{hub.RoleAdmin}})
	bob := hub.WithPrincipal(ctx, hub.Principal{ID: "bob", Roles: []hub.Role{hub.RoleAdmin}})
	_, err = h.RegisterIntegration(alice, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com",
		Auth: json.RawMessage(`{"type":"bearer","token":"t"}`)})
	require.NoError(t, err)
	url := "https://crm-v2.example.com"
	var held [2]*hub.ApprovalRequiredError
	for i := range held {
		_, err = h.ConfigureService(alice, "crm", hub.ServiceConfig{BaseURL: &url})
		require.ErrorAs(t, err, &held[i])
	}
	before, err := mem.ListApprovals(ctx, store.ApprovalFilter{})
	require.NoError(t, err)

	fail.Store(true)
	steps := []struct {
		name string
		do   func() error
	}{
		{"request", func() error { _, err := h.ConfigureService(alice, "crm", hub.ServiceConfig{BaseURL: &url}); return err }},
		{"approve", func() error { _, err := h.Approve(bob, held[0].ID, "ok"); return err }},
		{"reject", func() error { _, err := h.Reject(bob, held[1].ID, "no"); return err }},
		{"remove", func() error { _, err := h.RemoveService(alice, "crm", hub.RemoveOptions{}); return err }},
		{"retention", func() error { _, err := h.RunRetention(alice); return err }},
		{"destroy data key", func() error { _, err := h.DestroyDataKey(alice, "crm", "test"); return err }},
	}
	for _, s := range steps {
		require.ErrorIs(t, s.do(), hub.ErrAuditUnavailable, s.name)
	}
	after, err := mem.ListApprovals(ctx, store.ApprovalFilter{})
	require.NoError(t, err)
	require.Len(t, after, len(before), "no request without its entry")
	for _, a := range after {
		assert.Equal(t, store.ApprovalPending, a.Status, "no decision without its entry")
	}
	svc, err := mem.GetServiceByName(ctx, "crm")
	require.NoError(t, err)
	assert.Equal(t, "https://crm.example.com", svc.BaseURL)
	assert.NotContains(t, string(svc.SchemaMappings), `"removed"`, "not removed")
	_, err = mem.LiveDataKey(ctx, "service:crm")
	require.NoError(t, err, "the data key lives")
}

// TestVerifyAudit10k verifies an untouched log of 10,000 entries on each store and reports
// the time. The memory store's entries are appended one by one by 8 writers; the SQL
// stores' are chained by the test and bulk-inserted in one transaction (appending them one
// transaction each would only measure the machine's fsync), which is what the stores write.
func TestVerifyAudit10k(t *testing.T) {
	t.Parallel()
	const entries = 10000
	entry := func(i int) *store.AuditEntry {
		return &store.AuditEntry{Actor: "alice", Action: "service.configure", EntityType: "service",
			EntityID: fmt.Sprint("svc-", i%50), After: json.RawMessage(fmt.Sprintf(`{"n":%d,"base_url":"https://example.com/%d"}`, i, i))}
	}
	chained := func(t *testing.T) []*store.AuditEntry {
		out := make([]*store.AuditEntry, entries)
		var head *store.AuditEntry
		at := time.Now().Add(-time.Hour)
		for i := range out {
			e := entry(i)
			e.ID, e.CreatedAt = uuid.NewString(), store.Timestamp(at.Add(time.Duration(i)*time.Millisecond))
			var err error
			if head == nil {
				err = store.ChainAudit(e, 0, "")
			} else {
				err = store.ChainAudit(e, head.Seq, head.Hash)
			}
			require.NoError(t, err)
			out[i], head = e, e
		}
		return out
	}
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var st store.Store
			t0 := time.Now()
			switch kind {
			case "memory":
				st = memory.New(memory.Options{})
				var wg sync.WaitGroup
				errs := make(chan error, 8)
				for w := range 8 {
					wg.Go(func() {
						for i := w; i < entries; i += 8 {
							if _, err := st.AppendAudit(ctx, entry(i)); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				close(errs)
				require.NoError(t, <-errs)
			case "sqlite":
				path := filepath.Join(t.TempDir(), "hub.db")
				st = openSQLite(t, path)
				db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
				require.NoError(t, err)
				defer db.Close()
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(t, err)
				for _, e := range chained(t) {
					_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, entity_type, entity_id, before, after, created_at, seq, prev_hash, hash)
						VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`, e.ID, e.Actor, e.Action, e.EntityType, e.EntityID, string(e.After),
						e.CreatedAt.UnixMicro(), e.Seq, e.PrevHash, e.Hash)
					require.NoError(t, err)
				}
				require.NoError(t, tx.Commit())
			case "postgres":
				schema := newSchema(t)
				st = openPostgres(t, schema)
				pool, err := pgxpool.New(ctx, postgresURL(t))
				require.NoError(t, err)
				defer pool.Close()
				rows := [][]any{}
				for _, e := range chained(t) {
					rows = append(rows, []any{e.ID, e.Actor, e.Action, e.EntityType, e.EntityID, string(e.After), e.CreatedAt, e.Seq, e.PrevHash, e.Hash})
				}
				_, err = pool.CopyFrom(ctx, pgx.Identifier{schema, "audit_log"},
					[]string{"id", "actor", "action", "entity_type", "entity_id", "after", "created_at", "seq", "prev_hash", "hash"}, pgx.CopyFromRows(rows))
				require.NoError(t, err)
			}
			written := time.Since(t0)
			h := hubtest.New(t, st, hub.WithSecretKey(testSecretKey(t)), hub.WithAuditCheckpointInterval(-1))
			_, err := h.CheckpointAudit(ctx)
			require.NoError(t, err)
			rep, err := h.VerifyAudit(ctx, time.Time{}, time.Time{})
			require.NoError(t, err)
			require.True(t, rep.OK)
			require.Equal(t, int64(entries), rep.Entries)
			require.Equal(t, 1, rep.Checkpoints)
			t.Logf("%s: wrote %d entries in %s; VerifyAudit verified them and 1 checkpoint in %s",
				kind, entries, written.Round(time.Millisecond), rep.Duration.Round(time.Millisecond))
			fmt.Printf("AUDIT-VERIFY %s: entries=%d verify=%s\n", kind, entries, rep.Duration.Round(time.Millisecond))
		})
	}
}

// auditChildEnv makes TestMain run auditChild: a hub doing audited actions until killed.
const auditChildEnv = "HUB_AUDIT_CHILD"

// TestAuditKill kills a hub (SIGKILL) while it registers and reconfigures services; on the
// same store afterwards every service has its register entry, every reconfiguration that
// took effect its configure entry, and the chain verifies.
func TestAuditKill(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			st, key := killAuditChild(t, kind, "services", 20)
			ctx := t.Context()
			entries, err := st.ListAudit(ctx, store.AuditFilter{Page: store.Page{Limit: store.MaxPageLimit}})
			require.NoError(t, err)
			registered, configured := map[string]bool{}, map[string]bool{}
			for _, e := range entries {
				switch e.Action {
				case "service.register":
					registered[e.EntityID] = true
				case "service.configure":
					configured[e.EntityID] = true
				}
			}
			svcs, err := st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit}})
			require.NoError(t, err)
			require.NotEmpty(t, svcs)
			reconfigured := 0
			for _, s := range svcs {
				assert.True(t, registered[s.ID], "service %s has its register entry", s.Name)
				if strings.HasSuffix(s.BaseURL, "/v2") {
					reconfigured++
					assert.True(t, configured[s.ID], "service %s has its configure entry", s.Name)
				}
			}
			rep := verifyAfterKill(t, st, key)
			t.Logf("%s: killed after %d services (%d reconfigured); %d audit entries, chain intact, %d checkpoints", kind, len(svcs), reconfigured, rep.Entries, rep.Checkpoints)
		})
	}
}

// TestAuditKillGovernance kills a hub (SIGKILL) while it requests, approves and rejects
// changes and removes services; on the same store afterwards every approval request has
// its request entry, every decided one the entry of its decision, every removed service its
// removal entry and every service whose credentials are gone the entry saying so: the
// entries are written before the actions, so a kill cannot leave an action without one.
func TestAuditKillGovernance(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			st, key := killAuditChild(t, kind, "governance", 15)
			ctx := t.Context()
			entries, err := st.ListAudit(ctx, store.AuditFilter{Page: store.Page{Limit: store.MaxPageLimit}})
			require.NoError(t, err)
			logged := map[string]map[string]bool{} // action -> entity ids
			for _, e := range entries {
				if logged[e.Action] == nil {
					logged[e.Action] = map[string]bool{}
				}
				logged[e.Action][e.EntityID] = true
			}
			as := st.(store.ApprovalStore)
			approvals, err := as.ListApprovals(ctx, store.ApprovalFilter{Page: store.Page{Limit: store.MaxPageLimit}})
			require.NoError(t, err)
			require.NotEmpty(t, approvals)
			byStatus := map[store.ApprovalStatus]int{}
			for _, a := range approvals {
				byStatus[a.Status]++
				assert.True(t, logged["approval.request"][a.ID], "approval %s has its request entry", a.ID)
				switch a.Status {
				case store.ApprovalApplying, store.ApprovalApplied, store.ApprovalFailed:
					assert.True(t, logged["approval.approve"][a.ID], "approval %s (%s) has its approve entry", a.ID, a.Status)
				case store.ApprovalRejected:
					assert.True(t, logged["approval.reject"][a.ID], "approval %s has its reject entry", a.ID)
				}
			}
			svcs, err := st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit}})
			require.NoError(t, err)
			removed, destroyed := 0, 0
			for _, s := range svcs {
				var meta struct {
					Removed *struct {
						CredentialsDestroyedAt *time.Time `json:"credentials_destroyed_at"`
					} `json:"removed"`
				}
				require.NoError(t, json.Unmarshal(s.SchemaMappings, &meta))
				assert.True(t, logged["service.register"][s.ID], "service %s has its register entry", s.Name)
				if meta.Removed == nil {
					continue
				}
				removed++
				assert.True(t, logged["service.remove"][s.ID], "removed service %s has its remove entry", s.Name)
				if meta.Removed.CredentialsDestroyedAt != nil {
					destroyed++
					assert.True(t, logged["service.credentials_destroyed"][s.ID], "service %s has its credentials_destroyed entry", s.Name)
				}
			}
			assert.Positive(t, removed)
			// a request the kill left applying is recovered by the next hub once its time to
			// apply is over (a clock past it stands in for the wait)
			later := func() time.Time {
				return time.Now().Add(hub.ApprovalApplyTimeout + hub.ApprovalRecoveryMargin + time.Minute)
			}
			rh := hubtest.New(t, st, hub.WithSecretKey(key), hub.WithClock(later))
			recovered, err := rh.RecoverApprovals(ctx)
			require.NoError(t, err)
			assert.Equal(t, byStatus[store.ApprovalApplying], recovered)
			stuck, err := as.ListApprovals(ctx, store.ApprovalFilter{Status: store.ApprovalApplying})
			require.NoError(t, err)
			assert.Empty(t, stuck, "no request is left applying")
			rep := verifyAfterKill(t, st, key)
			t.Logf("%s: killed after %d approval requests %v (%d recovered), %d services (%d removed, %d with credentials destroyed); %d audit entries, chain intact",
				kind, len(approvals), byStatus, recovered, len(svcs), removed, destroyed, rep.Entries)
		})
	}
}

// killAuditChild runs auditChild in mode ("services" or "governance") on a fresh store of
// kind, kills it (SIGKILL) at a random moment of the 30 ms after it reported n rounds (so
// in the midst of some step), and returns the store reopened and the secret key the child
// used.
func killAuditChild(t *testing.T, kind, mode string, n int) (store.Store, []byte) {
	t.Helper()
	dsn := crashDSN(t, kind)
	key := testSecretKey(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), auditChildEnv+"="+mode, "HUB_CRASH_KIND="+kind, "HUB_CRASH_DSN="+dsn,
		"HUB_CRASH_KEY="+hex.EncodeToString(key))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	progress := make(chan int, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "done %d", &n); err == nil {
				progress <- n
			}
		}
		close(progress)
	}()
	deadline := time.After(2 * time.Minute)
wait:
	for {
		select {
		case got, ok := <-progress:
			require.True(t, ok, "the child ended early")
			if got >= n {
				break wait
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("the child made no progress")
		}
	}
	time.Sleep(mrand.N(30 * time.Millisecond))
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	return reopen(t, kind, dsn), key
}

// verifyAfterKill verifies the audit chain of st through a new hub holding key.
func verifyAfterKill(t *testing.T, st store.Store, key []byte) *hub.AuditReport {
	t.Helper()
	h := hubtest.New(t, st, hub.WithSecretKey(key))
	rep, err := h.VerifyAudit(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
	require.True(t, rep.OK)
	return rep
}

// auditChild does audited actions in a loop, printing "done n" after each round, until it
// is killed: in mode "services" it registers and reconfigures services, in mode
// "governance" it registers a service, requests a change of its endpoint, approves or
// rejects it as a second principal, and removes the service of the round before.
func auditChild() int {
	ctx := context.Background()
	st, key, err := openCrashStore(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit child:", err)
		return 2
	}
	opts := append(hubtest.Fast(), hub.WithSecretKey(key), hub.WithAuditCheckpointInterval(20*time.Millisecond))
	mode := os.Getenv(auditChildEnv)
	if mode == "governance" {
		opts = append(opts, hub.WithAuthorization(nil), hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeEndpoints}}))
	}
	h, err := hub.New(st, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit child: new hub:", err)
		return 2
	}
	if err := h.Start(adminCtx(ctx)); err != nil {
		fmt.Fprintln(os.Stderr, "audit child: start:", err)
		return 2
	}
	if mode == "governance" {
		return governanceRounds(ctx, h)
	}
	for i := 0; ; i++ {
		name := fmt.Sprint("svc-", i)
		if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: name, Connector: "http", BaseURL: "https://example.com/v1",
			Auth: json.RawMessage(`{"type":"bearer","token":"kill-secret"}`)}); err != nil {
			fmt.Fprintln(os.Stderr, "audit child: register:", err)
			return 2
		}
		url := "https://example.com/v2"
		if _, err := h.ConfigureService(ctx, name, hub.ServiceConfig{BaseURL: &url, Actor: "kill-test"}); err != nil && !errors.Is(err, hub.ErrClosed) {
			fmt.Fprintln(os.Stderr, "audit child: configure:", err)
			return 2
		}
		fmt.Printf("done %d\n", i+1)
	}
}

// governanceRounds is auditChild's governance mode.
func governanceRounds(ctx context.Context, h *hub.Hub) int {
	alice := hub.WithPrincipal(ctx, hub.Principal{ID: "alice", Roles: []hub.Role{hub.RoleAdmin}})
	bob := hub.WithPrincipal(ctx, hub.Principal{ID: "bob", Roles: []hub.Role{hub.RoleAdmin}})
	fail := func(what string, err error) int {
		fmt.Fprintln(os.Stderr, "audit child:", what+":", err)
		return 2
	}
	for i := 0; ; i++ {
		name := fmt.Sprint("svc-", i)
		if _, err := h.RegisterIntegration(alice, hub.IntegrationConfig{Name: name, Connector: "http", BaseURL: "https://example.com/v1",
			Auth: json.RawMessage(`{"type":"bearer","token":"kill-secret"}`)}); err != nil {
			return fail("register", err)
		}
		url := "https://example.com/v2"
		_, err := h.ConfigureService(alice, name, hub.ServiceConfig{BaseURL: &url})
		var held *hub.ApprovalRequiredError
		if !errors.As(err, &held) {
			return fail("request", err)
		}
		if i%3 == 2 {
			_, err = h.Reject(bob, held.ID, "not now")
		} else {
			_, err = h.Approve(bob, held.ID, "fine")
		}
		if err != nil {
			return fail("decide", err)
		}
		if i > 0 {
			if _, err := h.RemoveService(alice, fmt.Sprint("svc-", i-1), hub.RemoveOptions{Reason: "kill test"}); err != nil {
				return fail("remove", err)
			}
		}
		fmt.Printf("done %d\n", i+1)
	}
}
