package hubhttp

import (
	"context"
	"fmt"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/store"
)

// redriveTargets returns the events a redrive requeues: the ids given, or the failed or
// dead events (dead by default) of the filter, oldest first, at most maxRedrive.
func (x *Handler) redriveTargets(ctx context.Context, b apiv1.RedriveRequest) ([]string, error) {
	if len(b.IDs) > maxRedrive {
		return nil, fmt.Errorf("%w: at most %d ids per redrive", hub.ErrInvalidInput, maxRedrive)
	}
	if len(b.IDs) > 0 {
		if b.Service != "" || b.Status != "" || !b.Since.IsZero() {
			return nil, fmt.Errorf("%w: give either ids or a filter (service, status, since), not both", hub.ErrInvalidInput)
		}
		return b.IDs, nil
	}
	status := store.StatusDead
	switch b.Status {
	case "", "dead":
	case "failed":
		status = store.StatusFailed
	default:
		return nil, fmt.Errorf("%w: a redrive takes dead or failed events, not %q", hub.ErrInvalidInput, b.Status)
	}
	q := hub.EventQuery{Service: b.Service, Status: []store.EventStatus{status}, Since: b.Since, Limit: maxRedrive}
	var ids []string
	for len(ids) < maxRedrive {
		page, err := x.hub.ListEvents(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		if !page.More {
			break
		}
		q.Cursor, q.Limit = page.NextCursor, maxRedrive-len(ids)
	}
	return ids, nil
}
