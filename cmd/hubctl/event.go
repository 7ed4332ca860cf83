package main

import (
	"context"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// event prints one event: its state, outcome and documents.
func (c *cli) event(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: event needs one event ID", errUsage)
	}
	var e apiv1.Event
	if err := c.client.Do(ctx, "GET", "events/"+url.PathEscape(args[0]), nil, &e); err != nil {
		return err
	}
	return c.emit(e, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "id\t%s\n", e.ID)
		fmt.Fprintf(w, "service\t%s\n", e.ServiceName)
		fmt.Fprintf(w, "status\t%s\n", e.Status)
		fmt.Fprintf(w, "retries\t%d of %d\n", e.RetryCount, e.MaxRetries)
		if e.ResponseCode != 0 {
			fmt.Fprintf(w, "response\t%d in %d ms\n", e.ResponseCode, e.ResponseTimeMS)
		}
		fmt.Fprintf(w, "created\t%s\n", e.CreatedAt.Format(time.RFC3339))
		if e.CompletedAt != nil {
			fmt.Fprintf(w, "completed\t%s\n", e.CompletedAt.Format(time.RFC3339))
		}
		if t := errorText(e.Error); t != "" {
			fmt.Fprintf(w, "error\t%s\n", t)
		}
		if len(e.Payload) > 0 {
			fmt.Fprintf(w, "payload\t%s\n", e.Payload)
		}
	})
}
