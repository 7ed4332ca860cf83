package hub

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/ehg/hub/store"
)

// ServiceInfo is a registered service as operators see it: the stored record with its
// credentials redacted, the contracts and mappings it uses (with their documents), and the
// state of its primary circuit breaker in this hub.
type ServiceInfo struct {
	// Service is the stored record; AuthenticationConfig keeps the credentials' shape with
	// every value replaced by a redaction marker.
	Service *store.Service
	// Operation, EscalationService and CostPerCall are the service's settings (see
	// IntegrationConfig).
	Operation         string
	EscalationService string
	CostPerCall       float64
	// InputContract and Contract name the contracts in use, with their schemas (nil: none).
	InputContract *ContractRef
	Contract      *ContractRef
	// Mapping and DeliveryMapping are the active rules documents (nil: none), with their
	// versions.
	Mapping                json.RawMessage
	MappingVersion         int
	DeliveryMapping        json.RawMessage
	DeliveryMappingVersion int
	// Breaker is "closed", "open" or "half-open"; empty when the service cannot be loaded
	// because its data key was destroyed (DestroyDataKey).
	Breaker string
}

// GetService returns the service named by idOrName (ID or name) with its contracts and
// mappings, credentials redacted. Errors: ErrUnknownService; a *ConfigError when the
// stored configuration no longer loads; ErrClosed.
func (h *Hub) GetService(ctx context.Context, idOrName string) (*ServiceInfo, error) {
	if err := h.guard(ctx, call{method: "GetService", service: idOrName, perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	rt, err := h.runtimeFor(ctx, idOrName)
	id := idOrName
	switch {
	case errors.Is(err, ErrDataKeyDestroyed):
		rt = nil // shredded credentials: the service is shown, without them and without a runtime
	case err != nil:
		return nil, err
	default:
		id = rt.svc.ID
	}
	// The runtime may be older than the record when another hub changed it; the record
	// from the store is the truth for what is shown.
	svc, err := h.loadService(ctx, id)
	if err != nil {
		return nil, err
	}
	return h.serviceInfo(ctx, svc, rt)
}

// ListServices returns every registered service ordered by name, as GetService does. Errors:
// store errors; ErrClosed.
func (h *Hub) ListServices(ctx context.Context) ([]*ServiceInfo, error) {
	if err := h.guard(ctx, call{method: "ListServices", perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	var out []*ServiceInfo
	for off := 0; ; {
		svcs, err := h.st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return nil, mapStoreErr(err)
		}
		for _, svc := range svcs {
			rt, err := h.runtimeFor(ctx, svc.ID)
			if errors.Is(err, ErrDataKeyDestroyed) {
				rt, err = nil, nil
			}
			if err != nil {
				return nil, err
			}
			si, err := h.serviceInfo(ctx, svc, rt)
			if err != nil {
				return nil, err
			}
			out = append(out, si)
		}
		if len(svcs) < store.MaxPageLimit {
			return out, nil
		}
		off += len(svcs)
	}
}

func (h *Hub) serviceInfo(ctx context.Context, svc *store.Service, rt *runtime) (*ServiceInfo, error) {
	meta, err := parseMeta(svc.SchemaMappings)
	if err != nil {
		return nil, configErr("schema_mappings", "stored service metadata is unreadable", err)
	}
	src, err := h.loadSources(ctx, meta)
	if err != nil {
		return nil, err
	}
	plain, err := h.openCredentials(ctx, svc)
	if err != nil {
		return nil, configErr("Config.SecretKey", "cannot open the credentials of service "+svc.Name, err)
	}
	si := &ServiceInfo{
		Service:           publicService(svc, plain),
		Operation:         meta.Operation,
		EscalationService: meta.EscalationService,
		CostPerCall:       meta.CostPerCall,
		Mapping:           src.mapping,
		MappingVersion:    versionOf(meta.Mapping),
		DeliveryMapping:   src.delivery,
	}
	if rt != nil {
		si.Breaker = rt.policy.State().String()
	}
	si.DeliveryMappingVersion = versionOf(meta.DeliveryMapping)
	if k := meta.InputContract; k != nil {
		si.InputContract = &ContractRef{Name: k.Name, Version: k.Version, Schema: src.inputSchema}
	}
	if k := meta.Contract; k != nil {
		si.Contract = &ContractRef{Name: k.Name, Version: k.Version, Schema: src.canonSchema}
	}
	return si, nil
}
