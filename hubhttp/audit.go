package hubhttp

import (
	"context"
	"net/http"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
)

// auditRoutes verify the audit chain and export it for offline verification.
func (x *Handler) auditRoutes() []*apiendpoint.Endpoint {
	return []*apiendpoint.Endpoint{
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/audit/verify", OperationID: "verifyAudit", Tag: "audit",
			Summary: "Recompute the audit chain and check it against the signed checkpoints; problems name their entries",
			Description: "A log that does not verify is the finding of this call, not an error of it: the report is a 200 " +
				"with ok false and the problems (altered, missing, inserted, reordered, truncated, bad_checkpoint)."}, x.verifyAudit),
		apiendpoint.Raw[noParams, apiv1.AuditExportLine](apiendpoint.Meta{Method: "GET", Path: "/api/v1/audit/export", OperationID: "exportAudit", Tag: "audit",
			Summary:     "The audit log as JSON Lines with its chain and signed checkpoints, for offline verification",
			ContentType: "application/jsonl"}, x.exportAudit),
	}
}

type auditVerifyParams struct {
	Body apiv1.AuditVerifyRequest `body:""`
}

func (x *Handler) verifyAudit(ctx context.Context, p *auditVerifyParams) (*apiv1.AuditReport, error) {
	rep, err := x.hub.VerifyAudit(ctx, p.Body.From, p.Body.To)
	if rep == nil {
		return nil, err
	}
	out := &apiv1.AuditReport{OK: rep.OK, Entries: rep.Entries, FirstSeq: rep.FirstSeq, LastSeq: rep.LastSeq, HeadHash: rep.HeadHash,
		ProblemCount: rep.ProblemCount, DurationMS: float64(rep.Duration.Microseconds()) / 1000}
	for _, pr := range rep.Problems {
		out.Problems = append(out.Problems, apiv1.AuditProblem{Kind: string(pr.Kind), Seq: pr.Seq, ToSeq: pr.ToSeq, EntryID: pr.EntryID, Message: pr.Message})
	}
	return out, nil
}

// exportAudit streams the export; the permission is checked before the first byte, so a
// refusal is still a problem response.
func (x *Handler) exportAudit(w http.ResponseWriter, r *http.Request, ctx context.Context) {
	if err := x.hub.Authorize(ctx, hub.PermReadAudit); err != nil {
		apiendpoint.WriteError(x.env, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.jsonl"`)
	// an error after the first byte can only cut the export short; verifying it then
	// reports the entries it lacks (truncated against its checkpoints)
	_, _ = x.hub.ExportAudit(ctx, w, time.Time{}, time.Time{})
}
