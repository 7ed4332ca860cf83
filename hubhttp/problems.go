package hubhttp

import (
	"context"
	"errors"
	"net/http"

	"github.com/ehg/hub"
	"github.com/ehg/hub/config"
	"github.com/ehg/hub/hubhttp/apiv1"
)

// problemOf maps an error of a hub call to its problem document: each hub sentinel has one
// status and code; typed errors add their data (the field of a *hub.ConfigError, the
// violations of a *hub.ContractViolationError). Anything unknown is 500 without detail.
func problemOf(err error) *apiv1.Problem {
	var (
		ce *hub.ConfigError
		cv *hub.ContractViolationError
		fe *hub.ForbiddenError
		ar *hub.ApprovalRequiredError
	)
	p := func(status int, code, title string) *apiv1.Problem {
		return apiv1.NewProblem(status, code, title, err.Error())
	}
	switch {
	case errors.As(err, &fe):
		pr := p(http.StatusForbidden, apiv1.CodeForbidden, "Forbidden")
		pr.Permission, pr.Rule, pr.Principal = string(fe.Permission), fe.Rule, fe.Principal
		return pr
	case errors.Is(err, hub.ErrForbidden):
		return p(http.StatusForbidden, apiv1.CodeForbidden, "Forbidden")
	case errors.As(err, &ar):
		pr := p(http.StatusAccepted, apiv1.CodeApprovalRequired, "Approval required")
		pr.ApprovalID = ar.ID
		return pr
	case errors.Is(err, config.ErrInvalid) && !errors.Is(err, hub.ErrStalePlan):
		pr := p(http.StatusUnprocessableEntity, apiv1.CodeInvalidConfig, "Invalid configuration document")
		pr.Violations = configViolations(err)
		return pr
	case errors.As(err, &cv):
		pr := p(http.StatusUnprocessableEntity, apiv1.CodeContractViolation, "Contract violation")
		pr.Violations = violations(cv.Violations)
		return pr
	case errors.As(err, &ce):
		pr := p(http.StatusUnprocessableEntity, apiv1.CodeInvalidConfig, "Invalid configuration")
		pr.Field = ce.Field
		return pr
	case errors.Is(err, hub.ErrNotFound):
		return p(http.StatusNotFound, apiv1.CodeNotFound, "Not found")
	case errors.Is(err, hub.ErrInvalidInput):
		return p(http.StatusBadRequest, apiv1.CodeInvalidInput, "Invalid input")
	case errors.Is(err, hub.ErrInvalidConfig):
		return p(http.StatusUnprocessableEntity, apiv1.CodeInvalidConfig, "Invalid configuration")
	case errors.Is(err, hub.ErrContractViolation):
		return p(http.StatusUnprocessableEntity, apiv1.CodeContractViolation, "Contract violation")
	case errors.Is(err, hub.ErrTransform):
		return p(http.StatusUnprocessableEntity, apiv1.CodeTransformFailed, "Transformation failed")
	case errors.Is(err, hub.ErrExpired):
		return p(http.StatusUnprocessableEntity, apiv1.CodeExpired, "Event expired")
	case errors.Is(err, hub.ErrInvalidTransition):
		return p(http.StatusConflict, apiv1.CodeInvalidTransition, "Invalid state transition")
	case errors.Is(err, hub.ErrServiceDisabled):
		return p(http.StatusConflict, apiv1.CodeServiceDisabled, "Service disabled")
	case errors.Is(err, hub.ErrStalePlan):
		return p(http.StatusConflict, apiv1.CodeConflict, "Stale plan")
	case errors.Is(err, hub.ErrCircuitOpen):
		return p(http.StatusServiceUnavailable, apiv1.CodeCircuitOpen, "Circuit breaker open")
	case errors.Is(err, hub.ErrBusy):
		return p(http.StatusServiceUnavailable, apiv1.CodeBusy, "Busy")
	case errors.Is(err, hub.ErrClosed), errors.Is(err, hub.ErrNotStarted):
		return p(http.StatusServiceUnavailable, apiv1.CodeUnavailable, "Hub unavailable")
	case errors.Is(err, hub.ErrDeliveryFailed):
		return p(http.StatusBadGateway, apiv1.CodeDeliveryFailed, "Delivery failed")
	case errors.Is(err, errors.ErrUnsupported), errors.Is(err, hub.ErrNotSupported):
		return p(http.StatusNotImplemented, apiv1.CodeUnsupported, "Not supported by this hub")
	case errors.Is(err, context.DeadlineExceeded):
		return p(http.StatusGatewayTimeout, apiv1.CodeTimeout, "Timeout")
	case errors.Is(err, context.Canceled):
		// the client went away; the status is for the log
		return p(499, apiv1.CodeTimeout, "Request cancelled")
	}
	return apiv1.NewProblem(http.StatusInternalServerError, apiv1.CodeInternal, "Internal error", "the hub could not complete the request; the error is logged")
}

func violations(vs []hub.Violation) []apiv1.Violation {
	out := make([]apiv1.Violation, 0, len(vs))
	for _, v := range vs {
		out = append(out, apiv1.Violation{Path: v.Path, Keyword: v.Keyword, SchemaPath: v.SchemaPath, Message: v.Message})
	}
	return out
}
