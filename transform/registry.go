package transform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Registry holds compiled rules by name and version, with one explicitly active version
// per name. It is safe for concurrent use; Apply and Active take a read lock only. The
// zero value is not usable: build one with NewRegistry.
type Registry struct {
	opts []Option
	mu   sync.RWMutex
	byNm map[string]*ruleSet
}

type ruleSet struct {
	versions map[int]*Program
	active   int // 0: none
}

// NewRegistry returns an empty registry; opts apply to every Register.
func NewRegistry(opts ...Option) *Registry {
	return &Registry{opts: opts, byNm: map[string]*ruleSet{}}
}

// Register compiles r and stores it under (r.Name, r.Version). It does not change the
// active version (see Activate). Registering the same content again returns the stored
// Program; different content under an existing version fails with ErrVersionExists.
// r.Name must be non-empty and r.Version >= 1 (ErrInvalidRules); compile errors are as
// for Compile.
func (g *Registry) Register(r Rules) (*Program, error) {
	if r.Name == "" {
		return nil, invalid("rules name is empty")
	}
	if r.Version < 1 {
		return nil, invalid("rules %q: version %d is not positive", r.Name, r.Version)
	}
	p, err := Compile(r, g.opts...)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	rs := g.byNm[r.Name]
	if rs == nil {
		rs = &ruleSet{versions: map[int]*Program{}}
		g.byNm[r.Name] = rs
	}
	if old, ok := rs.versions[r.Version]; ok {
		if sameRules(old.rules, p.rules) {
			return old, nil
		}
		return nil, fmt.Errorf("%w: rules %q version %d", ErrVersionExists, r.Name, r.Version)
	}
	rs.versions[r.Version] = p
	return p, nil
}

func sameRules(a, b Rules) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Activate makes version the active one of name. It fails with ErrNotFound when that
// version is not registered.
func (g *Registry) Activate(name string, version int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	rs := g.byNm[name]
	if rs == nil || rs.versions[version] == nil {
		return fmt.Errorf("%w: rules %q version %d", ErrNotFound, name, version)
	}
	rs.active = version
	return nil
}

// Deactivate leaves name without an active version (Apply then fails with
// ErrNoActiveVersion). It fails with ErrNotFound for an unknown name.
func (g *Registry) Deactivate(name string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	rs := g.byNm[name]
	if rs == nil {
		return fmt.Errorf("%w: rules %q", ErrNotFound, name)
	}
	rs.active = 0
	return nil
}

// Get returns the Program of one version (ErrNotFound when absent).
func (g *Registry) Get(name string, version int) (*Program, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if rs := g.byNm[name]; rs != nil {
		if p := rs.versions[version]; p != nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: rules %q version %d", ErrNotFound, name, version)
}

// Active returns the active Program of name: ErrNotFound for an unknown name,
// ErrNoActiveVersion when none is active.
func (g *Registry) Active(name string) (*Program, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	rs := g.byNm[name]
	if rs == nil {
		return nil, fmt.Errorf("%w: rules %q", ErrNotFound, name)
	}
	if rs.active == 0 {
		return nil, fmt.Errorf("%w: rules %q", ErrNoActiveVersion, name)
	}
	return rs.versions[rs.active], nil
}

// Versions lists the registered versions of name in ascending order, and the active one
// (0 when none). An unknown name gives nil and 0.
func (g *Registry) Versions(name string) (versions []int, active int) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	rs := g.byNm[name]
	if rs == nil {
		return nil, 0
	}
	for v := range rs.versions {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	return versions, rs.active
}

// Names lists the registered rule names in ascending order.
func (g *Registry) Names() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	names := make([]string, 0, len(g.byNm))
	for n := range g.byNm {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Apply runs the active version of name over in; the returned Applied records which
// version ran. Errors are those of Active and Program.Apply.
func (g *Registry) Apply(ctx context.Context, name string, in map[string]any) (map[string]any, Applied, error) {
	p, err := g.Active(name)
	if err != nil {
		return nil, Applied{}, err
	}
	return p.Apply(ctx, in)
}
