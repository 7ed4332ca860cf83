package hubhttp

import (
	"context"
	"fmt"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
)

// redriveTargets returns the events a redrive requeues: the ids given.
func (x *Handler) redriveTargets(_ context.Context, b apiv1.RedriveRequest) ([]string, error) {
	if len(b.IDs) == 0 {
		return nil, fmt.Errorf("%w: ids is required", hub.ErrInvalidInput)
	}
	if len(b.IDs) > maxRedrive {
		return nil, fmt.Errorf("%w: at most %d ids per redrive", hub.ErrInvalidInput, maxRedrive)
	}
	return b.IDs, nil
}
