package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ehg/hub/store"
)

// removal is what the hub keeps, in a service's metadata, about its removal.
type removal struct {
	At    time.Time `json:"at"`
	Drain bool      `json:"drain"`
	Actor string    `json:"actor,omitempty"`
	// Name is the service's name before the removal freed it.
	Name string `json:"name"`
	// CredentialsDestroyedAt is when the removal finished: no event left to deliver, the
	// sealed credentials deleted.
	CredentialsDestroyedAt *time.Time `json:"credentials_destroyed_at,omitempty"`
}

// RemoveOptions tune RemoveService.
type RemoveOptions struct {
	// Drain delivers the events already queued before the credentials are destroyed;
	// false (the default) cancels them.
	Drain bool
	// Actor names who removes the service, for the audit log. Default "hub".
	Actor string
	// Reason is recorded in the audit log.
	Reason string
}

// RemovalResult reports RemoveService.
type RemovalResult struct {
	ServiceID string    `json:"service_id"`
	Name      string    `json:"name"`
	RemovedAt time.Time `json:"removed_at"`
	// Cancelled counts the queued events this call cancelled.
	Cancelled int `json:"cancelled"`
	// Remaining counts the events still to deliver (when draining) or in flight.
	Remaining int64 `json:"remaining"`
	// CredentialsDestroyed is true once nothing is left to deliver and the sealed
	// credentials are deleted; until then the background cleaner finishes the removal.
	CredentialsDestroyed bool `json:"credentials_destroyed"`
}

// RemoveService removes a service (by ID or name): from now on it accepts no event (they
// fail with ErrUnknownService); its queued events are cancelled, or delivered first when
// opts.Drain; once none is left queued or in flight, its sealed credentials are deleted
// from the store and its name is freed for a new service. That last step happens in this
// call when nothing is pending, else in the background cleaner of whichever hub gets there
// first (call RemoveService again to see the progress: it is idempotent). The service's
// record stays, inactive, and its events, health metrics and analytics follow the
// retention policy like any others. Every step is audited.
//
// A drained service that is disabled keeps its queue until it is enabled again.
//
// Errors: ErrUnknownService; ErrNotSupported when cancelling needs store.EventCanceller;
// ErrClosed; store errors.
func (h *Hub) RemoveService(ctx context.Context, serviceID string, opts RemoveOptions) (*RemovalResult, error) {
	if err := h.guard(ctx, deletionCall("RemoveService", serviceID, PermRemove, proposedChange{Service: serviceID, Remove: &opts})); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	h.removalMu.Lock()
	defer h.removalMu.Unlock()
	cur, err := h.loadService(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	meta, err := parseMeta(cur.SchemaMappings)
	if err != nil {
		return nil, configErr("schema_mappings", "stored service metadata is unreadable", err)
	}
	ec, canCancel := h.st.(store.EventCanceller)
	if meta.Removed == nil {
		if !opts.Drain && !canCancel {
			return nil, fmt.Errorf("%w: cancelling a removed service's queue needs store.EventCanceller", ErrNotSupported)
		}
		meta.Removed = &removal{At: h.cfg.Clock(), Drain: opts.Drain, Actor: actorIn(ctx, opts.Actor), Name: cur.Name}
		next := cur.Clone()
		if !opts.Drain {
			next.IsActive = false // nothing more is claimed; attempts in flight finish
		}
		if next.SchemaMappings, err = json.Marshal(meta); err != nil {
			return nil, fmt.Errorf("hub: encoding service metadata: %w", err)
		}
		intent, err := h.auditIntent(ctx, opts.Actor, "service.remove", "service", cur.ID,
			map[string]any{"name": cur.Name, "drain": opts.Drain, "reason": opts.Reason})
		if err != nil {
			return nil, err
		}
		stored, err := h.st.UpdateService(ctx, next)
		if err != nil {
			h.auditAborted(ctx, intent, err)
			return nil, mapStoreErr(err)
		}
		if _, err := h.install(ctx, stored); err != nil {
			h.log.Warn("hub: a removed service does not compile", "service", cur.Name, "error", err)
		}
		cur = stored
	}
	res := &RemovalResult{ServiceID: cur.ID, Name: meta.Removed.Name, RemovedAt: meta.Removed.At}
	if !meta.Removed.Drain {
		if res.Cancelled, err = h.cancelQueue(ctx, ec, cur.ID); err != nil {
			return res, err
		}
	}
	res.Remaining, res.CredentialsDestroyed, err = h.finishRemoval(ctx, cur)
	return res, err
}

// cancelQueue cancels the service's queued events in batches and returns how many.
func (h *Hub) cancelQueue(ctx context.Context, ec store.EventCanceller, serviceID string) (int, error) {
	total := 0
	for {
		n, err := ec.CancelEvents(ctx, store.CancelEventsParams{ServiceID: serviceID, Limit: h.cfg.CleanupBatch})
		if err != nil {
			return total, mapStoreErr(err)
		}
		total += n
		if n < h.cfg.CleanupBatch {
			return total, nil
		}
	}
}

// finishRemoval completes the removal of svc when none of its events is queued or in
// flight: it deletes the sealed credentials (and, with a Sealer, destroys the service's data
// key), deactivates the service and frees its name.
// It returns how many events remain, and whether the credentials are gone. The caller holds
// h.removalMu.
func (h *Hub) finishRemoval(ctx context.Context, svc *store.Service) (int64, bool, error) {
	svc, err := h.st.GetService(ctx, svc.ID) // as it is now: another hub may have finished it
	if err != nil {
		return 0, false, mapStoreErr(err)
	}
	meta, err := parseMeta(svc.SchemaMappings)
	if err != nil || meta.Removed == nil {
		return 0, false, err
	}
	if meta.Removed.CredentialsDestroyedAt != nil {
		return 0, true, nil
	}
	if !meta.Removed.Drain {
		if ec, ok := h.st.(store.EventCanceller); ok {
			// an attempt in flight may have returned its event to the queue
			if _, err := h.cancelQueue(ctx, ec, svc.ID); err != nil {
				return 0, false, err
			}
		}
	}
	counts, err := h.st.CountEventsByStatus(ctx, store.EventFilter{ServiceID: svc.ID,
		Statuses: []store.EventStatus{store.StatusPending, store.StatusRetrying, store.StatusProcessing}})
	if err != nil {
		return 0, false, mapStoreErr(err)
	}
	var left int64
	for _, n := range counts {
		left += n
	}
	if left > 0 {
		return left, false, nil
	}
	now := h.cfg.Clock()
	meta.Removed.CredentialsDestroyedAt = &now
	next := svc.Clone()
	next.AuthenticationConfig = nil
	next.IsActive = false
	next.Name = fmt.Sprintf("%s (removed %s)", meta.Removed.Name, svc.ID)
	if next.SchemaMappings, err = json.Marshal(meta); err != nil {
		return 0, false, fmt.Errorf("hub: encoding service metadata: %w", err)
	}
	intent, err := h.appendAudit(ctx, &store.AuditEntry{Actor: actor(meta.Removed.Actor), Action: "service.credentials_destroyed",
		EntityType: "service", EntityID: svc.ID, After: mustJSON(map[string]any{"name": meta.Removed.Name})})
	if err != nil {
		return 0, false, err
	}
	if ts, ok := h.st.(store.TokenStore); ok {
		// the persisted OAuth tokens go with the credentials
		if err := ts.DeleteOAuthToken(ctx, svc.ID); err != nil {
			h.auditAborted(ctx, intent, err)
			return 0, false, mapStoreErr(err)
		}
	}
	if h.vault.kms != nil {
		// With envelope encryption the service's data key goes too, so copies of the
		// credentials in backups cannot be opened either. It goes while the service still
		// holds its name (the key's owner), so that no service registered under the name
		// meanwhile takes the key; when it cannot be destroyed the removal stays unfinished
		// and is tried again (finishRemovals).
		if _, err := h.vault.dks.DestroyDataKey(ctx, serviceKeyOwner(meta.Removed.Name)); err != nil && !errors.Is(err, store.ErrNotFound) {
			h.auditAborted(ctx, intent, err)
			return 0, false, fmt.Errorf("hub: destroying the data key of removed service %q: %w", meta.Removed.Name, mapStoreErr(err))
		}
	}
	stored, err := h.st.UpdateService(ctx, next)
	if err != nil {
		h.auditAborted(ctx, intent, err)
		return 0, false, mapStoreErr(err)
	}
	h.drop(ctx, stored.ID)
	h.log.Info("hub: service removed", slog.String("service", meta.Removed.Name))
	return 0, true, nil
}

// finishRemovals finishes every removal that waited for its queue to empty.
func (h *Hub) finishRemovals(ctx context.Context) error {
	h.removalMu.Lock()
	defer h.removalMu.Unlock()
	for off := 0; ; off += store.MaxPageLimit {
		page, err := h.st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return mapStoreErr(err)
		}
		for _, svc := range page {
			meta, err := parseMeta(svc.SchemaMappings)
			if err != nil || meta.Removed == nil || meta.Removed.CredentialsDestroyedAt != nil {
				continue
			}
			if _, _, err := h.finishRemoval(ctx, svc); err != nil {
				return err
			}
		}
		if len(page) < store.MaxPageLimit {
			return nil
		}
	}
}

// drop forgets a service's runtime (closing its connectors).
func (h *Hub) drop(ctx context.Context, serviceID string) {
	h.mu.Lock()
	rt := h.byID[serviceID]
	delete(h.byID, serviceID)
	h.gen++
	h.dropped[serviceID] = h.gen // a refresh that listed it before must not bring it back
	for n, id := range h.names {
		if id == serviceID {
			delete(h.names, n)
		}
	}
	h.mu.Unlock()
	if rt != nil {
		rt.close(ctx)
	}
}
