package hub

import (
	"context"
	"log/slog"
	"time"

	"github.com/ehg/hub/store"
)

// recordServiceHealth keeps the service's record in step with the monitor: health_status
// takes each new judgement (status, when set) and last_health_check the time of each probe
// or judgement. Stores implementing store.ServiceHealthRecorder update the two columns in
// place; on others the service is read and written back. Failures are logged: the
// monitor's live state, which the reports use, is unaffected.
func (h *Hub) recordServiceHealth(ctx context.Context, serviceID string, status store.HealthStatus, at time.Time) {
	err := func() error {
		if rec, ok := h.st.(store.ServiceHealthRecorder); ok {
			_, err := rec.RecordServiceHealth(ctx, store.ServiceHealthParams{ServiceID: serviceID, Status: status, At: at})
			return err
		}
		svc, err := h.st.GetService(ctx, serviceID)
		if err != nil {
			return err
		}
		if svc.LastHealthCheck != nil && at.Before(*svc.LastHealthCheck) {
			return nil
		}
		svc.LastHealthCheck = &at
		if status != "" {
			svc.HealthStatus = status
		}
		_, err = h.st.UpdateService(ctx, svc)
		return err
	}()
	if err != nil && ctx.Err() == nil {
		h.log.Warn("hub: recording a service's health failed", slog.String("service_id", serviceID), slog.Any("error", err))
	}
}
