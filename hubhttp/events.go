package hubhttp

import (
	"context"
	"fmt"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
	"github.com/ehg/hub/store"
)

// eventRoutes find events again: a filtered, cursor-paged listing and one event by id.
func (x *Handler) eventRoutes() []*apiendpoint.Endpoint {
	return []*apiendpoint.Endpoint{
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/events", OperationID: "listEvents", Tag: "events",
			Summary: "Events by service, status, creation time or data subject, in keyset pages",
			Description: "Pages follow created_at then id (oldest first, or newest first with order=newest). Pass next_cursor " +
				"back as cursor for the next page: every event that existed when the listing began is returned exactly once, " +
				"whatever arrives meanwhile. next_cursor is absent on the last page."}, x.listEvents),
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/events/{id}", OperationID: "getEvent", Tag: "events",
			Summary: "One event with its documents and outcome"}, x.getEvent),
	}
}

type listEventsParams struct {
	Service string    `query:"service" doc:"service name or ID"`
	Status  []string  `query:"status" doc:"comma-separated statuses, e.g. failed,dead"`
	Since   time.Time `query:"since" doc:"created at or after (RFC 3339)"`
	Until   time.Time `query:"until" doc:"created before (RFC 3339)"`
	Subject string    `query:"subject" doc:"the data subject's identifier (the field its contract marks x-subject)"`
	Cursor  string    `query:"cursor" doc:"next_cursor of the previous page"`
	Limit   int       `query:"limit" doc:"page size, default 100, at most 10000"`
	Order   string    `query:"order" enum:"oldest,newest" doc:"default oldest first"`
}

func (x *Handler) listEvents(ctx context.Context, p *listEventsParams) (*apiv1.EventPage, error) {
	q := hub.EventQuery{Service: p.Service, Since: p.Since, Until: p.Until, Subject: p.Subject, Cursor: p.Cursor, Limit: p.Limit}
	switch p.Order {
	case "", "oldest":
	case "newest":
		q.NewestFirst = true
	default:
		return nil, fmt.Errorf("%w: order %q is neither oldest nor newest", hub.ErrInvalidInput, p.Order)
	}
	for _, s := range p.Status {
		q.Status = append(q.Status, store.EventStatus(s))
	}
	page, err := x.hub.ListEvents(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &apiv1.EventPage{Events: make([]apiv1.Event, 0, len(page.Events))}
	for _, e := range page.Events {
		out.Events = append(out.Events, eventOf(e))
	}
	if page.More {
		out.NextCursor = page.NextCursor
	}
	return out, nil
}

func (x *Handler) getEvent(ctx context.Context, p *eventParam) (*apiv1.Event, error) {
	e, err := x.hub.GetEvent(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	ev := eventOf(e)
	return &ev, nil
}
