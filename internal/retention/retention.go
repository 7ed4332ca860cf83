// Package retention runs the hub's retention rules against a store: each rule deletes the
// records older than its cut-off in batches, each batch one short transaction of the store,
// until a batch comes back short. Several cleaners (hubs) may run the same rules on one store
// at once: the store deletes, and counts, each row once.
package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/ehg/hub/store"
)

// Table names what a rule deletes.
type Table string

// Tables a rule may name.
const (
	Events        Table = "integration_events"
	HealthMetrics Table = "integration_health_metrics"
	Analytics     Table = "integration_analytics"
)

// Rule is one deletion: the records of Table (events: in Status) older than Before, of
// ServiceID when set, else of every service but Exclude.
type Rule struct {
	Table     Table
	Status    store.EventStatus
	ServiceID string
	Exclude   []string
	Before    time.Time
}

// Removal is what one rule removed.
type Removal struct {
	Rule
	Count   int64
	Batches int
}

// Run applies the rules in order, batch rows at a time, and returns what each removed
// (rules that removed nothing included). It stops at the first error, returning the
// removals so far with it; the context ends it between batches.
func Run(ctx context.Context, st store.RetentionStore, rules []Rule, batch int) ([]Removal, error) {
	out := make([]Removal, 0, len(rules))
	for _, r := range rules {
		rm := Removal{Rule: r}
		p := store.DeleteParams{ServiceID: r.ServiceID, ExcludeServiceIDs: r.Exclude, Before: r.Before, Limit: batch}
		for {
			if err := ctx.Err(); err != nil {
				return append(out, rm), err
			}
			var (
				n   int
				err error
			)
			switch r.Table {
			case Events:
				n, err = st.DeleteEvents(ctx, store.DeleteEventsParams{DeleteParams: p, Statuses: []store.EventStatus{r.Status}})
			case HealthMetrics:
				n, err = st.DeleteHealthMetrics(ctx, p)
			case Analytics:
				n, err = st.DeleteAnalytics(ctx, p)
			default:
				err = fmt.Errorf("retention: unknown table %q", r.Table)
			}
			if err != nil {
				return append(out, rm), fmt.Errorf("retention: %s: %w", r.Table, err)
			}
			rm.Count += int64(n)
			rm.Batches++
			if n < batch {
				break
			}
		}
		out = append(out, rm)
	}
	return out, nil
}
