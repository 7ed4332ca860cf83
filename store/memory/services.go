package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ehg/hub/store"
)

// CreateService implements [store.ServiceStore].
func (s *Store) CreateService(ctx context.Context, in *store.Service) (*store.Service, error) {
	if err := begin(ctx, "create service"); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: create service: nil service", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: create service: %w", err)
	}
	sv := in.Clone()
	id, err := assignID("service", sv.ID)
	if err != nil {
		return nil, err
	}
	sv.ID = id
	if sv.HealthStatus == "" {
		sv.HealthStatus = store.HealthUnknown
	}
	if sv.LastHealthCheck != nil {
		t := store.Timestamp(*sv.LastHealthCheck)
		sv.LastHealthCheck = &t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[id]; ok {
		return nil, fmt.Errorf("%w: memory: service id %s exists", store.ErrConflict, id)
	}
	if _, ok := s.servicesByName[sv.Name]; ok {
		return nil, fmt.Errorf("%w: memory: service name %q is taken", store.ErrConflict, sv.Name)
	}
	now := s.clock()
	sv.CreatedAt, sv.UpdatedAt = now, now
	s.services[id] = sv
	s.servicesByName[sv.Name] = id
	return sv.Clone(), nil
}

// GetService implements [store.ServiceStore].
func (s *Store) GetService(ctx context.Context, id string) (*store.Service, error) {
	if err := begin(ctx, "get service"); err != nil {
		return nil, err
	}
	cid, err := canonicalID("service", id)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sv, ok := s.services[cid]
	if !ok {
		return nil, fmt.Errorf("%w: memory: service %s", store.ErrNotFound, id)
	}
	return sv.Clone(), nil
}

// GetServiceByName implements [store.ServiceStore].
func (s *Store) GetServiceByName(ctx context.Context, name string) (*store.Service, error) {
	if err := begin(ctx, "get service by name"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.servicesByName[name]
	if !ok {
		return nil, fmt.Errorf("%w: memory: service named %q", store.ErrNotFound, name)
	}
	return s.services[id].Clone(), nil
}

// UpdateService implements [store.ServiceStore].
func (s *Store) UpdateService(ctx context.Context, in *store.Service) (*store.Service, error) {
	if err := begin(ctx, "update service"); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: update service: nil service", store.ErrInvalidArgument)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: update service: %w", err)
	}
	id, err := canonicalID("service", in.ID)
	if err != nil {
		return nil, err
	}
	sv := in.Clone()
	sv.ID = id
	if sv.HealthStatus == "" {
		sv.HealthStatus = store.HealthUnknown
	}
	if sv.LastHealthCheck != nil {
		t := store.Timestamp(*sv.LastHealthCheck)
		sv.LastHealthCheck = &t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.services[id]
	if !ok {
		return nil, fmt.Errorf("%w: memory: service %s", store.ErrNotFound, id)
	}
	if other, ok := s.servicesByName[sv.Name]; ok && other != id {
		return nil, fmt.Errorf("%w: memory: service name %q is taken", store.ErrConflict, sv.Name)
	}
	sv.CreatedAt = old.CreatedAt
	sv.UpdatedAt = s.clock()
	delete(s.servicesByName, old.Name)
	s.servicesByName[sv.Name] = id
	s.services[id] = sv
	return sv.Clone(), nil
}

// ListServices implements [store.ServiceStore].
func (s *Store) ListServices(ctx context.Context, f store.ServiceFilter) ([]*store.Service, error) {
	if err := begin(ctx, "list services"); err != nil {
		return nil, err
	}
	page, err := normPage("list services", f.Page)
	if err != nil {
		return nil, err
	}
	if f.Category != "" && !f.Category.Valid() {
		return nil, fmt.Errorf("%w: memory: list services: unknown category %q", store.ErrInvalidArgument, f.Category)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.Service
	for _, sv := range s.services {
		if f.Category != "" && sv.Category != f.Category {
			continue
		}
		if f.ActiveOnly && !sv.IsActive {
			continue
		}
		match = append(match, sv)
	}
	slices.SortFunc(match, func(a, b *store.Service) int { return strings.Compare(a.Name, b.Name) })
	lo, hi := window(page, len(match))
	out := make([]*store.Service, 0, hi-lo)
	for _, sv := range match[lo:hi] {
		out = append(out, sv.Clone())
	}
	return out, nil
}

// RecordServiceHealth implements [store.ServiceHealthRecorder].
func (s *Store) RecordServiceHealth(ctx context.Context, p store.ServiceHealthParams) (*store.Service, error) {
	if err := begin(ctx, "record service health"); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("memory: record service health: %w", err)
	}
	id, err := canonicalID("service", p.ServiceID)
	if err != nil {
		return nil, err
	}
	at := store.Timestamp(p.At)
	s.mu.Lock()
	defer s.mu.Unlock()
	sv, ok := s.services[id]
	if !ok {
		return nil, fmt.Errorf("%w: memory: service %s", store.ErrNotFound, p.ServiceID)
	}
	if sv.LastHealthCheck == nil || !at.Before(*sv.LastHealthCheck) {
		sv.LastHealthCheck = &at
		if p.Status != "" {
			sv.HealthStatus = p.Status
		}
	}
	return sv.Clone(), nil
}
