package hub

import (
	"context"
	"reflect"
	"slices"
)

// The calls whose needs depend on their arguments: which permissions they need and which
// changes an approval policy may hold back. guard (governance.go) checks them.

// registerCall is RegisterIntegration's call.
func registerCall(cfg IntegrationConfig) call {
	return call{method: "RegisterIntegration", service: cfg.Name, perms: perms(PermRegister),
		propose: func(context.Context) (*proposal, error) {
			return &proposal{kinds: []ChangeKind{ChangeRegister},
				change: proposedChange{Method: "RegisterIntegration", Service: cfg.Name, Register: &cfg}}, nil
		}}
}

// configureCall is ConfigureService's call: service.configure for any change besides
// enabling or disabling, service.credentials, service.endpoints and service.enable for
// those fields.
func (h *Hub) configureCall(serviceID string, cfg ServiceConfig) call {
	rest := cfg
	rest.Active, rest.Actor = nil, ""
	var ps []Permission
	if !reflect.ValueOf(rest).IsZero() {
		ps = append(ps, PermConfigure)
	}
	if len(cfg.Auth) > 0 {
		ps = append(ps, PermCredentials)
	}
	if cfg.BaseURL != nil || cfg.BackupURLs != nil || cfg.Connector != nil {
		ps = append(ps, PermEndpoints)
	}
	if cfg.Active != nil {
		ps = append(ps, PermEnable)
	}
	if len(ps) == 0 {
		ps = append(ps, PermConfigure)
	}
	return call{method: "ConfigureService", service: serviceID, perms: ps,
		propose: func(ctx context.Context) (*proposal, error) {
			kinds := []ChangeKind{ChangeConfigure}
			if len(cfg.Auth) > 0 {
				kinds = append(kinds, ChangeCredentials)
			}
			if cfg.BaseURL != nil || cfg.BackupURLs != nil || cfg.Connector != nil {
				kinds = append(kinds, ChangeEndpoints)
			}
			if cfg.Active != nil && *cfg.Active && h.inactive(ctx, serviceID) {
				kinds = append(kinds, ChangeEnable)
			}
			return &proposal{kinds: kinds,
				change: proposedChange{Method: "ConfigureService", Service: serviceID, Configure: &cfg}}, nil
		}}
}

// recoveryCall is TriggerRecoveryAction's call: each action's permission; a retry of
// every failed event is a bulk retry, enabling a disabled service an enable.
func (h *Hub) recoveryCall(plan RecoveryPlan) call {
	var ps []Permission
	add := func(p Permission) {
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	for _, a := range plan.Actions {
		switch a {
		case ActionRetryFailed:
			add(PermRetry)
		case ActionEnable, ActionDisable:
			add(PermEnable)
		default:
			add(PermRecovery)
		}
	}
	if len(ps) == 0 {
		add(PermRecovery)
	}
	return call{method: "TriggerRecoveryAction", service: plan.Service, perms: ps,
		propose: func(ctx context.Context) (*proposal, error) {
			var kinds []ChangeKind
			if slices.Contains(plan.Actions, ActionRetryFailed) {
				kinds = append(kinds, ChangeBulkRetry)
			}
			if slices.Contains(plan.Actions, ActionEnable) && h.inactive(ctx, plan.Service) {
				kinds = append(kinds, ChangeEnable)
			}
			return &proposal{kinds: kinds,
				change: proposedChange{Method: "TriggerRecoveryAction", Service: plan.Service, Recovery: &plan}}, nil
		}}
}

// deletionCall is the call of a method that deletes data.
func deletionCall(method, service string, perm Permission, change proposedChange) call {
	change.Method = method
	return call{method: method, service: service, perms: perms(perm),
		propose: func(context.Context) (*proposal, error) {
			return &proposal{kinds: []ChangeKind{ChangeDataDeletion}, change: change}, nil
		}}
}

// processPerms are the permissions of ProcessIntegrationEvent(s), shared by every call
// (guard only reads them).
var processPerms = perms(PermProcess)

// processCall is the call of ProcessIntegrationEvent(s): an event put before every other
// is a chairman's override.
func processCall(method, service string, evs ...EventData) call {
	c := call{method: method, service: service, perms: processPerms}
	for _, ev := range evs {
		c.priority = c.priority || ev.ChairmanOverride
	}
	return c
}

// inactive reports whether the service exists and is disabled.
func (h *Hub) inactive(ctx context.Context, serviceID string) bool {
	svc, err := h.loadService(ctx, serviceID)
	return err == nil && !svc.IsActive
}
