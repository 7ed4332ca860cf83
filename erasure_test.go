package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/postgres"
	"github.com/ehg/hub/store/sqlite"
)

// The contracts of the personal-data tests: a canonical contact whose email identifies the
// data subject, and a support ticket (an input contract) whose reporter does.
const (
	contactSchema = `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "object",
		"required": ["email", "name"],
		"properties": {
			"email": {"type": "string", "format": "email", "x-pii": "email", "x-subject": true},
			"name": {"type": "string", "x-pii": "name"},
			"phone": {"type": "string", "x-pii": "phone"},
			"plan": {"type": "string"},
			"seq": {"type": "integer"}
		}
	}`
	ticketSchema = `{
		"type": "object",
		"required": ["reporter"],
		"properties": {
			"reporter": {"type": "object", "properties": {
				"email": {"type": "string", "x-pii": "email", "x-subject": true},
				"name": {"type": "string", "x-pii": "name"}}},
			"topic": {"type": "string"},
			"body": {"type": "string"},
			"seq": {"type": "integer"}
		}
	}`
	mailerMapping  = `{"email": "customer.mail", "name": "customer.full_name", "phone": "customer.tel", "plan": "campaign", "seq": "seq"}`
	mailerDelivery = `{"to": "email", "greeting": "'Dear ' + name + ','", "seq": "seq"}`
)

// person is one data subject of the generator.
type person struct{ Email, Name, Phone string }

// values are the personal values the store must not hold once the person is erased.
func (p person) values() []string {
	return []string{p.Email, strings.ToLower(p.Email), p.Name, p.Phone}
}

// people returns n data subjects with values found nowhere else (a random part each).
func people(n int) []person {
	out := make([]person, n)
	for i := range out {
		var b [4]byte
		_, _ = rand.Read(b[:])
		tag := hex.EncodeToString(b[:])
		out[i] = person{
			Email: fmt.Sprintf("Subject%02d.%s@Example.org", i, tag),
			Name:  fmt.Sprintf("Firstname%02d Lastname%s", i, tag),
			Phone: fmt.Sprintf("+1 555 01%02d %s", i, tag[:4]),
		}
	}
	return out
}

// personalServices registers the three services of the personal-data tests on h:
//   - crm: no mapping, the canonical contract describes payload_in;
//   - mailer: a mapping to the canonical contact and a delivery mapping greeting by name,
//     delivered to a remote that refuses one event in ten with a 422 echoing the address;
//   - support: an input contract (the ticket) and no mapping, registered disabled so its
//     events wait in the queue.
func personalServices(t *testing.T, h *hub.Hub, crm, mailer, support string) {
	t.Helper()
	contact := &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(contactSchema)}
	register(t, h, "crm", crm, func(c *hub.IntegrationConfig) { c.Contract = contact })
	register(t, h, "mailer", mailer, func(c *hub.IntegrationConfig) {
		c.Contract = contact
		c.Mapping = json.RawMessage(mailerMapping)
		c.DeliveryMapping = json.RawMessage(mailerDelivery)
	})
	register(t, h, "support", support, func(c *hub.IntegrationConfig) {
		c.InputContract = &hub.ContractRef{Name: "ticket", Version: "1.0.0", Schema: json.RawMessage(ticketSchema)}
		c.Disabled = true
	})
}

// personalEvent is the i-th event of the generator for p: crm, mailer and support in turn.
func personalEvent(i int, p person) hub.EventData {
	var payload string
	var svc string
	switch i % 3 {
	case 0:
		svc = "crm"
		payload = fmt.Sprintf(`{"email":%q,"name":%q,"phone":%q,"plan":"pro","seq":%d}`, p.Email, p.Name, p.Phone, i)
	case 1:
		svc = "mailer"
		payload = fmt.Sprintf(`{"customer":{"mail":%q,"full_name":%q,"tel":%q},"campaign":"spring","seq":%d}`, p.Email, p.Name, p.Phone, i)
	default:
		svc = "support"
		payload = fmt.Sprintf(`{"reporter":{"email":%q,"name":%q},"topic":"printer","body":"Printer jammed again, please call %s back.","seq":%d}`,
			p.Email, p.Name, p.Name, i)
	}
	return hub.EventData{Service: svc, Payload: json.RawMessage(payload), IdempotencyKey: fmt.Sprintf("ev-%d", i), Mode: hub.Async}
}

// rejectingRemote answers 200, except for bodies whose seq is a multiple of 10: 422 with
// a message echoing the recipient, as a mail API refusing an address does.
func rejectingRemote(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To  string `json:"to"`
			Seq int    `json:"seq"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		w.Header().Set("Content-Type", "application/json")
		if body.Seq%10 == 0 && r.Header.Get("Idempotency-Key") != "" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = fmt.Fprintf(w, `{"message":"recipient %s rejected"}`, body.To)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// logBuffer collects a hub's log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// debugLogger returns a logger writing every level, as JSON, to a new buffer.
func debugLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// waitSettled waits until no event of the services is queued or in flight.
func waitSettled(t *testing.T, st store.Store, h *hub.Hub, services ...string) {
	t.Helper()
	for _, name := range services {
		svc, err := st.GetServiceByName(context.Background(), name)
		require.NoError(t, err)
		// Polled every quarter second: a count is a scan, and the hub is busy delivering.
		require.Eventuallyf(t, func() bool {
			return countEvents(t, st, store.EventFilter{ServiceID: svc.ID, Statuses: []store.EventStatus{
				store.StatusPending, store.StatusRetrying, store.StatusProcessing}}) == 0
		}, 120*time.Second, 250*time.Millisecond, "the events of %s are delivered", name)
	}
}

const (
	erasureSubjects = 10
	erasureEvents   = 5000
)

// TestErasure stores 5,000 events of 10 data subjects across 3 services on each store,
// checks ExportSubject against the generator, erases one subject and then searches the
// database (SQLite file and WAL bytes, a pg_dump; the memory store's records) and the
// hub's debug logs: none of that subject's values is left, while the other subjects' events
// are intact and still delivered. Under the race detector, which slows modernc.org/sqlite
// about twentyfold, SQLite runs 1,000 events (go test -run 'TestErasure$' . runs all 5,000).
func TestErasure(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			runErasure(t, kind)
		})
	}
}

func runErasure(t *testing.T, kind string) {
	ctx := context.Background()
	ls := openLifecycleStore(t, kind, nil)
	logger, logs := debugLogger()
	h := hubtest.New(t, ls.st, hub.WithLogger(logger), hub.WithWorkers(8), hub.WithBatchSize(64))
	crm, support := hubtest.NewSink(t), hubtest.NewSink(t)
	mailer := rejectingRemote(t)
	personalServices(t, h, crm.URL, mailer.URL, support.URL)

	events := erasureEvents
	if kind == "sqlite" && raceEnabled {
		events = 1000
	}
	subjects := people(erasureSubjects)
	owner := map[string]int{} // event id -> subject
	bySubject := map[int][]string{}
	keyOwner := map[string]int{} // idempotency key -> subject
	start := time.Now()
	for b := 0; b < events; b += 500 {
		batch := make([]hub.EventData, 0, 500)
		for i := b; i < b+500; i++ {
			batch = append(batch, personalEvent(i, subjects[(i/3)%erasureSubjects]))
		}
		res, err := h.ProcessIntegrationEvents(ctx, batch)
		require.NoError(t, err)
		for j, r := range res {
			s := ((b + j) / 3) % erasureSubjects
			owner[r.EventID] = s
			bySubject[s] = append(bySubject[s], r.EventID)
			keyOwner[batch[j].IdempotencyKey] = s
		}
	}
	waitSettled(t, ls.st, h, "crm", "mailer")
	t.Logf("%s: %d events of %d subjects accepted and delivered in %s", kind, events, erasureSubjects, time.Since(start).Round(time.Millisecond))

	// Every event carries its subject's index key, never the subject itself.
	// ExportSubject returns exactly each subject's events, checked against the generator;
	// the other subjects' exports are kept to compare after the erasure.
	const gone = 3
	held := map[string]*store.Event{}
	for s := range subjects {
		exp, err := h.ExportSubject(ctx, strings.ToUpper(subjects[s].Email))
		require.NoError(t, err)
		var got []string
		for _, e := range exp.Events {
			got = append(got, e.ID)
			require.Contains(t, string(e.PayloadIn), subjects[s].Email, "the export holds the subject's data")
			if s != gone {
				held[e.ID] = e
			}
		}
		want := slices.Clone(bySubject[s])
		slices.Sort(want)
		slices.Sort(got)
		require.Equal(t, want, got, "ExportSubject returns exactly subject %d's events", s)
		b, err := exp.JSON()
		require.NoError(t, err)
		require.True(t, json.Valid(b))
	}
	before := storedBytes(t, ls)
	for _, v := range subjects[gone].values()[:1] {
		require.True(t, bytes.Contains(before, []byte(v)), "the subject's values are stored before the erasure")
	}

	res, err := h.EraseSubject(ctx, " "+strings.ToLower(subjects[gone].Email)+" ")
	require.NoError(t, err)
	assert.Equal(t, store.RequestCompleted, res.Status)
	assert.Equal(t, int64(len(bySubject[gone])), res.Records, "every event of the subject erased once")
	t.Logf("%s: erased %d events of subject %d in request %s", kind, res.Records, gone, res.RequestID)

	// The database holds none of the subject's values; the others' are intact.
	after := storedBytes(t, ls)
	for _, v := range subjects[gone].values() {
		assert.Zerof(t, bytes.Count(after, []byte(v)), "%s: %q is still stored", kind, v)
	}
	for s, p := range subjects {
		if s != gone {
			require.Truef(t, bytes.Contains(after, []byte(p.Email)), "%s: subject %d's data is intact", kind, s)
		}
	}
	// Every event of the other subjects is as it was before the erasure, document for document.
	intact := 0
	for s, p := range subjects {
		if s == gone {
			continue
		}
		exp, err := h.ExportSubject(ctx, p.Email)
		require.NoError(t, err)
		require.Len(t, exp.Events, len(bySubject[s]), "subject %d's events are all still held", s)
		for _, e := range exp.Events {
			was := held[e.ID]
			require.NotNil(t, was, "event %s of subject %d", e.ID, s)
			assert.Equal(t, was.Status, e.Status, "event %s", e.ID)
			for _, d := range [][2]json.RawMessage{{was.PayloadIn, e.PayloadIn}, {was.CanonicalMapping, e.CanonicalMapping},
				{was.PayloadOut, e.PayloadOut}, {was.ErrorDetails, e.ErrorDetails}} {
				assert.Equal(t, string(d[0]), string(d[1]), "event %s of subject %d changed", e.ID, s)
			}
			intact++
		}
	}
	t.Logf("%s: %d events of the other %d subjects intact after the erasure", kind, intact, erasureSubjects-1)
	// The logs never held any subject's values.
	logged := logs.Bytes()
	require.NotEmpty(t, logged)
	for s, p := range subjects {
		for _, v := range p.values() {
			assert.Falsef(t, bytes.Contains(logged, []byte(v)), "subject %d's %q is in the logs", s, v)
		}
	}
	exp, err := h.ExportSubject(ctx, subjects[gone].Email)
	require.NoError(t, err)
	assert.Empty(t, exp.Events, "nothing is held about the subject any more")
	for _, id := range bySubject[gone] {
		ev, err := ls.st.GetEvent(ctx, id)
		require.NoError(t, err)
		assert.Empty(t, ev.SubjectKey)
		if ev.ServiceName == "support" {
			assert.Equal(t, store.StatusCancelled, ev.Status, "queued events of an erased subject are never delivered")
		}
	}

	// The other subjects' queued events are delivered, with their data as sent.
	_, err = h.ConfigureService(ctx, "support", hub.ServiceConfig{Active: ptr(true)})
	require.NoError(t, err)
	waitSettled(t, ls.st, h, "support")
	delivered := 0
	for key, s := range keyOwner {
		if !strings.HasPrefix(key, "ev-") {
			continue
		}
		var i int
		_, _ = fmt.Sscanf(key, "ev-%d", &i)
		if i%3 != 2 {
			continue
		}
		if s == gone {
			assert.Zero(t, support.Delivered(key), "the erased subject's ticket %s was delivered", key)
			continue
		}
		require.Equal(t, 1, support.Delivered(key), "ticket %s delivered", key)
		assert.Contains(t, string(support.Body(key)), subjects[s].Email)
		delivered++
	}
	t.Logf("%s: %d tickets of the other subjects delivered after the erasure", kind, delivered)

	// The audit log tells that erasure and access requests happened, with counts only.
	entries, err := ls.st.ListAudit(ctx, store.AuditFilter{EntityType: "subject_request", Page: store.Page{Limit: store.MaxPageLimit}})
	require.NoError(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	assert.Subset(t, actions, []string{"subject.access", "subject.erasure.request", "subject.erasure.complete"})
}

// storedBytes is what a search of the store's database sees.
func storedBytes(t *testing.T, ls *lifecycleStore) []byte {
	t.Helper()
	if ls.kind == "memory" {
		out := allEventBytes(t, ls.st)
		audit, err := ls.st.ListAudit(context.Background(), store.AuditFilter{Page: store.Page{Limit: store.MaxPageLimit}})
		require.NoError(t, err)
		b, err := json.Marshal(audit)
		require.NoError(t, err)
		return append(out, b...)
	}
	return ls.dump(t)
}

// The erasure child is this test binary re-executed with eraseChildEnv set: it starts an
// erasure and is killed in the middle of it.
const eraseChildEnv = "HUB_ERASE_CHILD"

// TestErasureResumesAfterKill kills a hub (a child process, SIGKILL) in the middle of an
// erasure on SQLite and PostgreSQL; a new hub on the same store takes the stored request
// over once its lease runs out and completes it: every event of the subject erased once,
// no value of the subject left in the database, the other subject intact.
func TestErasureResumesAfterKill(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			runErasureKill(t, kind)
		})
	}
}

func runErasureKill(t *testing.T, kind string) {
	ctx := context.Background()
	ls := openLifecycleStore(t, kind, nil)
	key := make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(key)
	h := hubtest.New(t, ls.st, hub.WithSecretKey(key))
	sink := hubtest.NewSink(t)
	register(t, h, "crm", sink.URL, func(c *hub.IntegrationConfig) {
		c.Contract = &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(contactSchema)}
	})
	subjects := people(2)
	const mine, theirs = 300, 100
	var evs []hub.EventData
	for i := range mine + theirs {
		p := subjects[0]
		if i >= mine {
			p = subjects[1]
		}
		evs = append(evs, personalEvent(3*i, p)) // every third event of the generator: crm
	}
	_, err := h.ProcessIntegrationEvents(ctx, evs)
	require.NoError(t, err)
	waitSettled(t, ls.st, h, "crm")
	require.NoError(t, h.Close(ctx))

	dsn := ls.path
	if kind == "postgres" {
		dsn = ls.url + "#" + ls.schema
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), eraseChildEnv+"=1", "HUB_ERASE_KIND="+kind, "HUB_ERASE_DSN="+dsn,
		"HUB_ERASE_KEY="+hex.EncodeToString(key), "HUB_ERASE_SUBJECT="+subjects[0].Email)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	batches := make(chan int, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "erased batch %d", &n); err == nil {
				batches <- n
			}
		}
		close(batches)
	}()
	killAt := 3
	for n := range batches {
		if n >= killAt {
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	ss := ls.st.(store.SubjectStore)
	reqs, err := ss.ListSubjectRequests(ctx, store.SubjectRequestFilter{Kind: store.RequestErasure})
	require.NoError(t, err)
	require.Len(t, reqs, 1)
	killed := reqs[0]
	require.Equal(t, store.RequestRunning, killed.Status, "killed mid-erasure")
	require.Less(t, killed.Records, int64(mine))
	t.Logf("%s: killed after %d of %d events erased (request %s)", kind, killed.Records, mine, killed.ID)

	// A new hub (another process would do the same) finishes the request.
	st2 := ls.reopen(t, nil)
	h2 := hubtest.New(t, st2, hub.WithSecretKey(key), hub.WithCleanup(100*time.Millisecond, 25), hub.WithLease(time.Second))
	eventually(t, 60*time.Second, func() bool {
		r, err := ss.GetSubjectRequest(ctx, killed.ID)
		return err == nil && r.Status == store.RequestCompleted
	}, "the erasure is resumed and completed")
	done, err := ss.GetSubjectRequest(ctx, killed.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(mine), done.Records, "every event of the subject erased, none twice")
	assert.Empty(t, done.SubjectKey, "a completed request keeps no subject key")
	after := storedBytes(t, ls)
	for _, v := range subjects[0].values() {
		assert.Zerof(t, bytes.Count(after, []byte(v)), "%s: %q is still stored", kind, v)
	}
	assert.True(t, bytes.Contains(after, []byte(subjects[1].Email)), "the other subject's data is intact")
	exp, err := h2.ExportSubject(ctx, subjects[1].Email)
	require.NoError(t, err)
	assert.Len(t, exp.Events, theirs)
	t.Logf("%s: resumed and completed: %d events erased", kind, done.Records)
}

// TestErasureResumesAfterHubDies is TestErasureResumesAfterKill on the memory store, which
// lives inside the process and so cannot outlive a process kill: the hub erasing is cut
// off between two batches (its context ends, it never finishes or releases the request, as
// a killed one would not), and a new hub on the same store takes the request over once
// its lease runs out and completes it, every event erased once.
func TestErasureResumesAfterHubDies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	key := make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(key)
	st := memory.New(memory.Options{})
	setup := hubtest.New(t, st, hub.WithSecretKey(key))
	register(t, setup, "crm", "https://crm.example.com", func(c *hub.IntegrationConfig) {
		c.Contract = &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(contactSchema)}
		c.Disabled = true
	})
	subjects := people(2)
	const mine, theirs = 300, 100
	var evs []hub.EventData
	for i := range mine + theirs {
		p := subjects[0]
		if i >= mine {
			p = subjects[1]
		}
		evs = append(evs, personalEvent(3*i, p))
	}
	_, err := setup.ProcessIntegrationEvents(ctx, evs)
	require.NoError(t, err)
	require.NoError(t, setup.Close(ctx))

	batches := make(chan int, 64)
	dying, err := hub.New(&slowMemoryEraser{Store: st, report: func(n int) { batches <- n }}, append(hubtest.Fast(),
		hub.WithSecretKey(key), hub.WithLease(time.Second), hub.WithCleanup(-1, 25))...)
	require.NoError(t, err)
	cut, kill := context.WithCancel(ctx)
	erased := make(chan *hub.ErasureResult, 1)
	go func() {
		res, _ := dying.EraseSubject(cut, subjects[0].Email)
		erased <- res
	}()
	for n := range batches {
		if n >= 3 {
			break
		}
	}
	kill()
	res := <-erased
	require.Equal(t, store.RequestRunning, res.Status, "cut off mid-erasure")
	require.Less(t, res.Records, int64(mine))
	t.Logf("memory: hub cut off after %d of %d events erased (request %s)", res.Records, mine, res.RequestID)

	h := hubtest.New(t, st, hub.WithSecretKey(key), hub.WithCleanup(100*time.Millisecond, 25), hub.WithLease(time.Second))
	eventually(t, 60*time.Second, func() bool {
		r, err := st.GetSubjectRequest(ctx, res.RequestID)
		return err == nil && r.Status == store.RequestCompleted
	}, "the erasure is resumed and completed")
	done, err := st.GetSubjectRequest(ctx, res.RequestID)
	require.NoError(t, err)
	assert.Equal(t, int64(mine), done.Records, "every event of the subject erased, none twice")
	after := allEventBytes(t, st)
	for _, v := range subjects[0].values() {
		assert.Zerof(t, bytes.Count(after, []byte(v)), "%q is still stored", v)
	}
	assert.True(t, bytes.Contains(after, []byte(subjects[1].Email)), "the other subject's data is intact")
	exp, err := h.ExportSubject(ctx, subjects[1].Email)
	require.NoError(t, err)
	assert.Len(t, exp.Events, theirs)
	t.Logf("memory: resumed and completed: %d events erased", done.Records)
	require.NoError(t, dying.Close(ctx))
}

// slowMemoryEraser is slowEraser for the memory store (which has no store.Purger).
type slowMemoryEraser struct {
	*memory.Store
	n      atomic.Int32
	report func(batch int)
}

func (s *slowMemoryEraser) EraseEvents(ctx context.Context, b store.EraseBatch) ([]string, error) {
	return eraseThenPause(ctx, b, s.Store.EraseEvents, &s.n, s.report)
}

// fullStore is a store with every optional capability the SQL stores have.
type fullStore interface {
	store.Store
	store.Notifier
	store.SubjectStore
	store.RetentionStore
	store.Purger
	store.EventCanceller
	store.RegionClaimer
}

// slowEraser reports each erasure batch (the child process on stdout) and pauses after it,
// so the parent can kill the process between batches.
type slowEraser struct {
	fullStore
	n      atomic.Int32
	report func(batch int)
}

func (s *slowEraser) EraseEvents(ctx context.Context, b store.EraseBatch) ([]string, error) {
	return eraseThenPause(ctx, b, s.fullStore.EraseEvents, &s.n, s.report)
}

// eraseThenPause erases one batch with erase, reports it as the n'th batch and pauses, so a
// test can stop the eraser between batches.
func eraseThenPause(ctx context.Context, b store.EraseBatch, erase func(context.Context, store.EraseBatch) ([]string, error),
	n *atomic.Int32, report func(batch int)) ([]string, error) {
	skipped, err := erase(ctx, b)
	report(int(n.Add(1)))
	time.Sleep(200 * time.Millisecond)
	return skipped, err
}

// eraseChild is the child process: it opens the store and erases the subject in batches of
// 25 events, slowly, until killed.
func eraseChild() int {
	ctx := context.Background()
	kind, dsn := os.Getenv("HUB_ERASE_KIND"), os.Getenv("HUB_ERASE_DSN")
	key, err := hex.DecodeString(os.Getenv("HUB_ERASE_KEY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "erase child: key:", err)
		return 2
	}
	var st fullStore
	switch kind {
	case "sqlite":
		st, err = sqlite.Open(ctx, dsn, sqlite.Options{})
	default:
		u, schema, _ := strings.Cut(dsn, "#")
		st, err = postgres.Open(ctx, u, postgres.Options{Schema: schema})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "erase child: open store:", err)
		return 2
	}
	report := func(n int) { fmt.Printf("erased batch %d\n", n) }
	h, err := hub.New(&slowEraser{fullStore: st, report: report}, append(hubtest.Fast(), hub.WithSecretKey(key),
		hub.WithLease(time.Second), hub.WithCleanup(-1, 25))...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "erase child: new hub:", err)
		return 2
	}
	if _, err := h.EraseSubject(ctx, os.Getenv("HUB_ERASE_SUBJECT")); err != nil {
		fmt.Fprintln(os.Stderr, "erase child: erase:", err)
		return 2
	}
	fmt.Println("erasure finished before the kill")
	select {} // wait to be killed
}
