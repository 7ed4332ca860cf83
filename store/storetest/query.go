package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func queryCases(opts Options) []testCase {
	return []testCase{
		{"PagesInKeysetOrder", testQueryPages},
		{"Filters", testQueryFilters},
		{"Invalid", testQueryInvalid},
		{"PaginationWhileInserting", func(t *testing.T, b *bundle) { testQueryWhileInserting(t, b, opts.ConcurrentEvents) }},
	}
}

// querier returns the store's EventQuerier, skipping the case when it has none.
func (b *bundle) querier(t *testing.T) store.EventQuerier {
	t.Helper()
	q, ok := b.st.(store.EventQuerier)
	if !ok {
		t.Skip("the store does not implement store.EventQuerier (optional)")
	}
	return q
}

// queryAll pages through q with the given page size and returns the ids in the order seen.
func queryAll(t *testing.T, ctx context.Context, qr store.EventQuerier, q store.EventQuery, size int) []string {
	t.Helper()
	q.Limit = size
	var got []string
	for range 10000 {
		page, err := qr.QueryEvents(ctx, q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), size)
		for _, e := range page {
			got = append(got, e.ID)
		}
		if len(page) < size {
			return got
		}
		q.After = store.KeyOf(page[len(page)-1])
	}
	t.Fatal("paging did not end")
	return nil
}

func testQueryPages(t *testing.T, b *bundle) {
	qr := b.querier(t)
	sv := b.service(t, "pages")
	// Groups of events sharing a created_at, with explicit ids in an order unlike the
	// insertion order, so the id tie-break is exercised.
	var all []*store.Event
	for g := range 4 {
		for _, n := range []int{5, 1, 4, 2, 3} {
			e := newEvent(sv)
			e.ID = fixedID(g*10 + n)
			all = append(all, b.insert(t, e))
		}
		b.clock.Advance(time.Millisecond)
	}
	asc := slices.Clone(all)
	slices.SortFunc(asc, func(x, y *store.Event) int { return store.KeyOf(x).Compare(store.KeyOf(y)) })
	want := ids(asc)
	for _, size := range []int{1, 3, 5, 7, 100} {
		assert.Equal(t, want, queryAll(t, b.ctx, qr, store.EventQuery{}, size), "ascending, pages of %d", size)
		desc := slices.Clone(want)
		slices.Reverse(desc)
		assert.Equal(t, desc, queryAll(t, b.ctx, qr, store.EventQuery{Descending: true}, size), "descending, pages of %d", size)
	}
	// A cursor in the middle of a group of equal created_at.
	page, err := qr.QueryEvents(b.ctx, store.EventQuery{After: store.KeyOf(asc[6]), Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, want[7:10], ids(page))
	page, err = qr.QueryEvents(b.ctx, store.EventQuery{After: store.KeyOf(asc[6]), Descending: true, Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, []string{want[5], want[4], want[3]}, ids(page))
	// The default limit and the full record.
	page, err = qr.QueryEvents(b.ctx, store.EventQuery{})
	require.NoError(t, err)
	require.Len(t, page, len(all))
	assert.Equal(t, b.get(t, page[0].ID), page[0])
}

func testQueryFilters(t *testing.T, b *bundle) {
	qr := b.querier(t)
	a, c := b.service(t, "filter-a"), b.service(t, "filter-b")
	type rec struct {
		ev      *store.Event
		service string
		subject string
		minute  int
	}
	var recs []rec
	for i := range 24 {
		sv := a
		if i%3 == 0 {
			sv = c
		}
		e := newEvent(sv)
		if i%4 == 0 {
			e.SubjectKey = "subject-x"
		}
		e.PayloadIn = json.RawMessage(`{"i":1}`)
		recs = append(recs, rec{ev: b.insert(t, e), service: sv.ID, subject: e.SubjectKey, minute: i})
		b.clock.Advance(time.Minute)
	}
	// Some events change status: claimed and completed, or cancelled.
	done := b.claim(t, "w", 4, time.Minute)
	for _, e := range done {
		b.complete(t, e.ID, "w", 5)
	}
	_, err := b.st.CancelEvent(b.ctx, recs[10].ev.ID)
	require.NoError(t, err)
	status := map[string]store.EventStatus{}
	for _, r := range recs {
		status[r.ev.ID] = b.get(t, r.ev.ID).Status
	}
	from, to := at(5*time.Minute), at(17*time.Minute)
	cases := []struct {
		name string
		q    store.EventQuery
		keep func(r rec) bool
	}{
		{"service", store.EventQuery{ServiceID: c.ID}, func(r rec) bool { return r.service == c.ID }},
		{"subject", store.EventQuery{SubjectKey: "subject-x"}, func(r rec) bool { return r.subject == "subject-x" }},
		{"subject and service", store.EventQuery{SubjectKey: "subject-x", ServiceID: a.ID}, func(r rec) bool {
			return r.subject == "subject-x" && r.service == a.ID
		}},
		{"statuses", store.EventQuery{Statuses: []store.EventStatus{store.StatusSucceeded, store.StatusCancelled}}, func(r rec) bool {
			return status[r.ev.ID] == store.StatusSucceeded || status[r.ev.ID] == store.StatusCancelled
		}},
		{"created range", store.EventQuery{CreatedFrom: from, CreatedTo: to}, func(r rec) bool { return r.minute >= 5 && r.minute < 17 }},
		{"pending of a in range", store.EventQuery{ServiceID: a.ID, Statuses: []store.EventStatus{store.StatusPending}, CreatedFrom: from}, func(r rec) bool {
			return r.service == a.ID && status[r.ev.ID] == store.StatusPending && r.minute >= 5
		}},
		{"unknown subject", store.EventQuery{SubjectKey: "nobody"}, func(rec) bool { return false }},
	}
	for _, tc := range cases {
		var want []string
		for _, r := range recs {
			if tc.keep(r) {
				want = append(want, r.ev.ID)
			}
		}
		got := queryAll(t, b.ctx, qr, tc.q, 2)
		if len(want) == 0 {
			assert.Empty(t, got, tc.name)
			continue
		}
		assert.Equal(t, want, got, tc.name)
		tc.q.Descending = true
		desc := queryAll(t, b.ctx, qr, tc.q, 3)
		slices.Reverse(desc)
		assert.Equal(t, want, desc, tc.name+", descending")
	}
}

func testQueryInvalid(t *testing.T, b *bundle) {
	qr := b.querier(t)
	for _, q := range []store.EventQuery{
		{ServiceID: "not-a-uuid"},
		{Statuses: []store.EventStatus{"lost"}},
		{Limit: -1},
		{After: store.EventKey{ID: newID()}},
		{After: store.EventKey{CreatedAt: start}},
		{After: store.EventKey{CreatedAt: start, ID: "x"}},
		{SubjectKey: "has space"},
	} {
		_, err := qr.QueryEvents(b.ctx, q)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, "%+v", q)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	_, err := qr.QueryEvents(ctx, store.EventQuery{})
	assert.ErrorIs(t, err, context.Canceled)
}

// testQueryWhileInserting pages through n events while other goroutines insert new events
// (at the same created_at as the newest existing ones, and later) and claim, complete and
// fail existing ones: every event that existed at the start is seen exactly once, and no
// event is seen twice.
func testQueryWhileInserting(t *testing.T, b *bundle, n int) {
	qr := b.querier(t)
	sv := b.service(t, "busy")
	const batch = 500
	initial := make(map[string]bool, n)
	var last store.EventKey
	for i := 0; i < n; i += batch {
		es := make([]*store.Event, min(batch, n-i))
		for j := range es {
			es[j] = newEvent(sv)
		}
		res, err := b.st.InsertEvents(b.ctx, es)
		require.NoError(t, err)
		for _, r := range res {
			initial[r.Event.ID] = true
			if k := store.KeyOf(r.Event); k.Compare(last) > 0 {
				last = k
			}
		}
		if i%(batch*4) == 0 {
			b.clock.Advance(time.Millisecond)
		}
	}
	require.Len(t, initial, n)

	ctx, cancel := context.WithCancel(b.ctx)
	var added atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() { // inserter: new events, half at the newest existing created_at
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			es := make([]*store.Event, 20)
			for j := range es {
				es[j] = newEvent(sv)
			}
			if _, err := b.st.InsertEvents(ctx, es); err != nil && ctx.Err() == nil {
				errs <- err
				return
			}
			added.Add(int64(len(es)))
			if i%2 == 1 {
				b.clock.Advance(time.Microsecond)
			}
		}
	}()
	go func() { // worker: existing events change status and updated_at
		defer wg.Done()
		for ctx.Err() == nil {
			evs, err := b.st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 50, Lease: time.Minute})
			if err != nil {
				if ctx.Err() == nil {
					errs <- err
				}
				return
			}
			ps := make([]store.CompleteParams, len(evs))
			for i, e := range evs {
				ps[i] = store.CompleteParams{ID: e.ID, Owner: "w", ResponseCode: 200, ResponseTimeMS: 1}
			}
			if _, err := b.st.CompleteEvents(ctx, ps); err != nil && ctx.Err() == nil {
				errs <- err
				return
			}
		}
	}()

	seen := make(map[string]int, n)
	q := store.EventQuery{ServiceID: sv.ID, Limit: 250}
	pages := 0
	for {
		page, err := qr.QueryEvents(b.ctx, q)
		require.NoError(t, err)
		pages++
		for _, e := range page {
			seen[e.ID]++
		}
		if len(page) < q.Limit {
			break
		}
		q.After = store.KeyOf(page[len(page)-1])
		if q.After.Compare(last) >= 0 {
			break // past every event that existed at the start
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	missing, twice := 0, 0
	for id := range initial {
		if seen[id] != 1 {
			missing++
		}
	}
	for _, c := range seen {
		if c > 1 {
			twice++
		}
	}
	t.Logf("%d events paged in %d pages while %d were inserted", n, pages, added.Load())
	assert.Zero(t, missing, "events that existed at the start seen other than once (of %d, %d pages)", n, pages)
	assert.Zero(t, twice, "events seen more than once")
}
