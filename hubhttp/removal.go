package hubhttp

import (
	"context"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
)

func (x *Handler) removalRoutes() []*apiendpoint.Endpoint {
	return []*apiendpoint.Endpoint{
		apiendpoint.New(apiendpoint.Meta{Method: "DELETE", Path: "/api/v1/services/{service}", OperationID: "removeService", Tag: "services",
			Summary: "Remove a service: its queued events are cancelled (or delivered first with ?drain=true), then its credentials destroyed; idempotent, it reports the progress"}, x.removeService),
	}
}

type removeParams struct {
	Service string `path:"service" doc:"service name or ID"`
	Drain   bool   `query:"drain" doc:"deliver the queued events before destroying the credentials"`
	Reason  string `query:"reason" doc:"recorded in the audit log"`
}

func (x *Handler) removeService(ctx context.Context, p *removeParams) (*apiv1.RemovalResult, error) {
	r, err := x.hub.RemoveService(ctx, p.Service, hub.RemoveOptions{Drain: p.Drain, Reason: p.Reason, Actor: callerOf(ctx).ID})
	if err != nil {
		return nil, err
	}
	return &apiv1.RemovalResult{ServiceID: r.ServiceID, Name: r.Name, RemovedAt: r.RemovedAt, Cancelled: r.Cancelled,
		Remaining: r.Remaining, CredentialsDestroyed: r.CredentialsDestroyed}, nil
}
