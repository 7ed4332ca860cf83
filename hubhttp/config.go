package hubhttp

import (
	"context"
	"errors"
	"fmt"

	"github.com/ehg/hub"
	"github.com/ehg/hub/config"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
)

func (x *Handler) configRoutes() []*apiendpoint.Endpoint {
	return []*apiendpoint.Endpoint{
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/config/plan", OperationID: "planConfig", Tag: "configuration",
			Summary: "Plan a configuration document: per object create, update (with a field diff), remove or unchanged; secret references are resolved in the hub's environment"}, x.planConfig),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/config/apply", OperationID: "applyConfig", Tag: "configuration",
			Summary: "Apply a configuration document as one audited change set, refused (409) when the configuration moved since the plan whose revision and fingerprint are sent"}, x.applyConfig),
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/config/export", OperationID: "exportConfig", Tag: "configuration",
			Summary: "The hub's configuration as a YAML document (secret references only)"}, x.exportConfig),
	}
}

type configParams struct {
	Body apiv1.ConfigRequest `body:""`
}

// configDocument parses the request's files and applies its environment.
func configDocument(r apiv1.ConfigRequest) (*config.Document, error) {
	files := make([]config.File, len(r.Files))
	for i, f := range r.Files {
		files[i] = config.File{Name: f.Name, Data: []byte(f.Content)}
	}
	doc, err := config.ParseFiles(files)
	if err != nil {
		return nil, err
	}
	if r.Environment != "" || len(doc.Environments) > 0 {
		return doc.ForEnvironment(r.Environment)
	}
	return doc, nil
}

func (x *Handler) planConfig(ctx context.Context, p *configParams) (*apiv1.ConfigPlan, error) {
	doc, err := configDocument(p.Body)
	if err != nil {
		return nil, err
	}
	plan, err := x.hub.Plan(ctx, doc)
	if err != nil {
		return nil, err
	}
	return &apiv1.ConfigPlan{Revision: plan.Revision, Fingerprint: plan.Fingerprint, HasChanges: plan.HasChanges(),
		Changes: configChanges(plan.Changes), Diff: plan.String()}, nil
}

func (x *Handler) applyConfig(ctx context.Context, p *configParams) (*apiv1.ConfigApplyResult, error) {
	if p.Body.Revision == nil || p.Body.Fingerprint == "" {
		return nil, fmt.Errorf("%w: apply needs the revision and fingerprint of the plan it carries out", hub.ErrInvalidInput)
	}
	doc, err := configDocument(p.Body)
	if err != nil {
		return nil, err
	}
	plan, err := x.hub.Plan(ctx, doc)
	if err != nil {
		return nil, err
	}
	if plan.Revision != *p.Body.Revision || plan.Fingerprint != p.Body.Fingerprint {
		return nil, fmt.Errorf("%w: the configuration moved since the plan (revision %d, now %d); plan again", hub.ErrStalePlan, *p.Body.Revision, plan.Revision)
	}
	plan.Actor = callerOf(ctx).ID
	res, err := x.hub.Apply(ctx, plan)
	if err != nil {
		return nil, err
	}
	out := &apiv1.ConfigApplyResult{ChangeSetID: res.ChangeSetID, Revision: res.Revision, Applied: configChanges(res.Applied)}
	for _, pc := range res.Pending {
		out.Pending = append(out.Pending, apiv1.ConfigPending{Change: configChanges([]hub.ConfigChange{pc.Change})[0], ApprovalID: pc.ApprovalID})
	}
	return out, nil
}

func (x *Handler) exportConfig(ctx context.Context, _ *noParams) (*apiv1.ConfigExport, error) {
	doc, err := x.hub.Export(ctx)
	if err != nil {
		return nil, err
	}
	b, err := config.Encode(doc)
	if err != nil {
		return nil, err
	}
	return &apiv1.ConfigExport{Document: string(b)}, nil
}

func configChanges(cs []hub.ConfigChange) []apiv1.ConfigChange {
	out := make([]apiv1.ConfigChange, 0, len(cs))
	for _, c := range cs {
		a := apiv1.ConfigChange{Kind: c.Kind, Name: c.Name, Path: c.Path, Action: string(c.Action), Breaking: c.Breaking}
		for _, f := range c.Fields {
			a.Fields = append(a.Fields, apiv1.ConfigFieldChange{Field: f.Field, Old: f.Old, New: f.New, Drift: f.Drift})
		}
		for _, m := range c.Mappings {
			a.Mappings = append(a.Mappings, apiv1.ConfigMappingEffect{Mapping: m.Mapping, Samples: m.Samples, Changed: m.Changed, Failed: m.Failed, Targets: m.Targets})
		}
		out = append(out, a)
	}
	return out
}

// configViolations lists a document's problems as violations: the path is
// "FILE:LINE:COL PATH".
func configViolations(err error) []apiv1.Violation {
	var es config.Errors
	var e *config.Error
	switch {
	case errors.As(err, &es):
	case errors.As(err, &e):
		es = config.Errors{e}
	}
	out := make([]apiv1.Violation, 0, len(es))
	for _, e := range es {
		path := e.Path
		if pos := e.Position.String(); pos != "" {
			path = pos + " " + path
		}
		msg := e.Message
		if e.Err != nil {
			if msg != "" {
				msg += ": "
			}
			msg += e.Err.Error()
		}
		out = append(out, apiv1.Violation{Path: path, Message: msg})
	}
	return out
}
