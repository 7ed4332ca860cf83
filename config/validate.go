package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// terminalStatuses are the event statuses a retention age may name.
var terminalStatuses = []string{"succeeded", "failed", "dead", "expired", "cancelled"}

// redirectPolicies are the values of a service's redirects member.
var redirectPolicies = []string{"none", "same_origin"}

// errAt records a problem at path with the position the path was read from.
func (d *decoder) errAt(path, format string, args ...any) {
	doc := Document{src: d.src}
	d.errs = append(d.errs, &Error{Position: doc.Position(path), Path: path, Message: fmt.Sprintf(format, args...)})
}

// dupAt records a repeated name at the repetition's position.
func (d *decoder) dupAt(path, format string, args ...any) {
	pos, ok := d.dups[path]
	if !ok {
		d.errAt(path, format, args...)
		return
	}
	d.errs = append(d.errs, &Error{Position: pos, Path: path, Message: fmt.Sprintf(format, args...)})
}

// validate checks what the types alone do not: required members, unique names, secret
// references, known statuses, overrides of known services.
func (d *decoder) validate(doc *Document) {
	if len(d.errs) > 0 {
		return // type errors first: the values below may be partial
	}
	switch doc.Version {
	case FormatVersion:
	case 0:
		d.errAt("", "version is required (version: %d)", FormatVersion)
	default:
		d.errAt("version", "format version %d is not supported (this build reads %d)", doc.Version, FormatVersion)
	}
	seen := map[string]bool{}
	for i := range doc.Services {
		s := &doc.Services[i]
		p := ServicePath(s.Name, "")
		if s.Name == "" {
			p = fmt.Sprintf("services[%d]", i)
			d.errAt(p, "name is required")
		} else if seen[s.Name] {
			d.dupAt(p, "service %q is defined twice", s.Name)
		}
		seen[s.Name] = true
		if s.Connector == "" {
			d.errAt(p, "connector is required")
		}
		if s.Redirects != "" && !slices.Contains(redirectPolicies, s.Redirects) {
			d.errAt(p+".redirects", "%q is not a redirect policy (%s)", s.Redirects, strings.Join(redirectPolicies, ", "))
		}
		d.checkObjects(p, map[string]json.RawMessage{"auth": s.Auth, "options": s.Options, "rate_limits": s.RateLimits,
			"circuit_breaker": s.CircuitBreaker, "retry": s.Retry, "health_check": s.HealthCheck,
			"mapping": s.Mapping, "delivery_mapping": s.DeliveryMapping})
		d.checkAuth(s.Auth, p+".auth")
		for member, ref := range map[string]*ContractRef{"input_contract": s.InputContract, "contract": s.Contract} {
			if ref != nil && (ref.Name == "" || ref.Version == "") {
				d.errAt(p+"."+member, "a contract reference needs name and version")
			}
		}
	}
	seenC := map[string]bool{}
	for i, c := range doc.Contracts {
		p := ContractPath(c.Name, c.Version)
		if c.Name == "" || c.Version == "" {
			p = fmt.Sprintf("contracts[%d]", i)
			d.errAt(p, "a contract needs name and version")
		} else if seenC[c.Name+"@"+c.Version] {
			d.dupAt(p, "contract %s@%s is defined twice", c.Name, c.Version)
		}
		seenC[c.Name+"@"+c.Version] = true
		if len(c.Schema) == 0 {
			d.errAt(p, "schema is required")
		} else if c.Schema[0] != '{' && string(c.Schema) != "true" && string(c.Schema) != "false" {
			d.errAt(p+".schema", "a schema is a mapping or a boolean")
		}
	}
	seenR := map[string]bool{}
	for i, r := range doc.Routes {
		p := RoutePath(r.Name, "")
		switch {
		case r.Name == "":
			p = fmt.Sprintf("routes[%d]", i)
			d.errAt(p, "name is required")
		case seenR[r.Name]:
			d.dupAt(p, "route %q is defined twice", r.Name)
		}
		seenR[r.Name] = true
		if r.Source == "" {
			d.errAt(p, "source is required")
		}
		if len(r.Destinations) == 0 {
			d.errAt(p, "at least one destination is required")
		}
		for j, dst := range r.Destinations {
			if dst.Service == "" {
				d.errAt(fmt.Sprintf("%s.destinations[%d]", p, j), "service is required")
			}
			d.checkObjects(fmt.Sprintf("%s.destinations[%d]", p, j), map[string]json.RawMessage{"delivery_mapping": dst.DeliveryMapping})
		}
		d.checkObjects(p, map[string]json.RawMessage{"mapping": r.Mapping})
		if r.Contract != nil && (r.Contract.Name == "" || r.Contract.Version == "") {
			d.errAt(p+".contract", "a contract reference needs name and version")
		}
	}
	seenS := map[string]bool{}
	for i, sc := range doc.Schedules {
		p := SchedulePath(sc.Service, "")
		switch {
		case sc.Service == "":
			p = fmt.Sprintf("schedules[%d]", i)
			d.errAt(p, "service is required")
		case seenS[sc.Service]:
			d.dupAt(p, "service %q has two schedules", sc.Service)
		case !seen[sc.Service]:
			d.errAt(p+".service", "schedule of service %q, which the document does not define", sc.Service)
		}
		seenS[sc.Service] = true
		if sc.Interval < Duration(time.Millisecond) {
			d.errAt(p+".interval", "interval is required, at least 1ms")
		}
		if sc.PageSize < 0 {
			d.errAt(p+".page_size", "page_size must not be negative")
		}
	}
	d.checkRetention(doc.Retention, "retention")
	if a := doc.Approvals; a != nil {
		if a.TTL < 0 {
			d.errAt("approvals.ttl", "ttl must be a duration, not forever")
		}
		seenK := map[string]bool{}
		for i, k := range a.Require {
			if seenK[k] {
				d.errAt(fmt.Sprintf("approvals.require[%d]", i), "%q is listed twice", k)
			}
			seenK[k] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(doc.Roles)) {
		if name == "" {
			d.errAt("roles", "a role name is empty")
		}
		seenP := map[string]bool{}
		for i, perm := range doc.Roles[name] {
			if seenP[perm] {
				d.errAt(fmt.Sprintf("%s[%d]", RolePath(name), i), "permission %q is listed twice", perm)
			}
			seenP[perm] = true
		}
	}
	for _, env := range slices.Sorted(maps.Keys(doc.Environments)) {
		e := doc.Environments[env]
		ep := "environments." + env
		for _, name := range slices.Sorted(maps.Keys(e.Services)) {
			o := e.Services[name]
			p := ep + ".services." + name
			if !seen[name] {
				d.errAt(p, "environment %q overrides service %q, which the document does not define", env, name)
			}
			d.checkObjects(p, map[string]json.RawMessage{"auth": o.Auth, "options": o.Options, "rate_limits": o.RateLimits,
				"circuit_breaker": o.CircuitBreaker, "retry": o.Retry, "health_check": o.HealthCheck})
			d.checkAuth(o.Auth, p+".auth")
		}
		d.checkRetention(e.Retention, ep+".retention")
	}
}

func (d *decoder) checkObjects(prefix string, members map[string]json.RawMessage) {
	for _, k := range slices.Sorted(maps.Keys(members)) {
		if v := members[k]; len(v) > 0 && v[0] != '{' {
			d.errAt(prefix+"."+k, "expected a mapping")
		}
	}
}

func (d *decoder) checkRetention(r *Retention, p string) {
	if r == nil {
		return
	}
	check := func(events map[string]Duration, p string) {
		for _, st := range slices.Sorted(maps.Keys(events)) {
			if !slices.Contains(terminalStatuses, st) {
				d.errAt(p+".events."+st, "%q is not a terminal event status (%s)", st, strings.Join(terminalStatuses, ", "))
			}
		}
	}
	check(r.Events, p)
	for _, name := range slices.Sorted(maps.Keys(r.Services)) {
		check(r.Services[name].Events, p+".services."+name)
	}
}

// ForEnvironment returns the document as environment env sees it: its overrides applied to
// the services they name and its retention (when set) replacing the document's, with no
// environments member. Positions follow: an overridden member reports the override's
// file and line. An empty env returns a copy without the environments member.
//
// Errors: an *Error (ErrInvalid) when the document has no environment env.
func (d *Document) ForEnvironment(env string) (*Document, error) {
	out := d.Clone()
	out.Environments = nil
	if env == "" {
		return out, nil
	}
	e, ok := d.Environments[env]
	if !ok {
		return nil, d.ErrorAt("environments", nil, "the document has no environment %q (known: %s)", env, strings.Join(slices.Sorted(maps.Keys(d.Environments)), ", "))
	}
	pos := func(member, name string) {
		if out.src == nil {
			return
		}
		from := "environments." + env + ".services." + name + "." + member
		to := ServicePath(name, member)
		for k, v := range out.src.pos {
			if k == from || strings.HasPrefix(k, from+".") || strings.HasPrefix(k, from+"[") {
				out.src.pos[to+k[len(from):]] = v
			}
		}
	}
	for name, o := range e.Services {
		s := out.Service(name)
		if s == nil {
			return nil, d.ErrorAt("environments."+env+".services."+name, nil, "service %q is not defined", name)
		}
		set := func(member string, ok bool, apply func()) {
			if ok {
				apply()
				pos(member, name)
			}
		}
		set("base_url", o.BaseURL != nil, func() { s.BaseURL = *o.BaseURL })
		set("backup_urls", o.BackupURLs != nil, func() { s.BackupURLs = slices.Clone(o.BackupURLs) })
		set("auth", o.Auth != nil, func() { s.Auth = slices.Clone(o.Auth) })
		set("options", o.Options != nil, func() { s.Options = slices.Clone(o.Options) })
		set("rate_limits", o.RateLimits != nil, func() { s.RateLimits = slices.Clone(o.RateLimits) })
		set("circuit_breaker", o.CircuitBreaker != nil, func() { s.CircuitBreaker = slices.Clone(o.CircuitBreaker) })
		set("retry", o.Retry != nil, func() { s.Retry = slices.Clone(o.Retry) })
		set("max_retries", o.MaxRetries != nil, func() { v := *o.MaxRetries; s.MaxRetries = &v })
		set("health_check", o.HealthCheck != nil, func() { s.HealthCheck = slices.Clone(o.HealthCheck) })
		set("cost_per_call", o.CostPerCall != nil, func() { s.CostPerCall = *o.CostPerCall })
		set("region", o.Region != nil, func() { s.Region = *o.Region })
		set("disabled", o.Disabled != nil, func() { s.Disabled = *o.Disabled })
	}
	if e.Retention != nil {
		r := cloneRetention(e.Retention)
		out.Retention = r
	}
	return out, nil
}

// Clone returns a deep copy of the document (positions and resolvers shared by value).
func (d *Document) Clone() *Document {
	out := &Document{Version: d.Version, Retention: cloneRetention(d.Retention)}
	for _, sc := range d.Schedules {
		sc.Params = maps.Clone(sc.Params)
		out.Schedules = append(out.Schedules, sc)
	}
	if d.Approvals != nil {
		out.Approvals = &Approvals{Require: slices.Clone(d.Approvals.Require), TTL: d.Approvals.TTL}
	}
	if d.Roles != nil {
		out.Roles = map[string][]string{}
		for k, v := range d.Roles {
			out.Roles[k] = slices.Clone(v)
		}
	}
	for _, r := range d.Routes {
		c := r
		c.Mapping = slices.Clone(r.Mapping)
		if r.Contract != nil {
			v := *r.Contract
			c.Contract = &v
		}
		c.Destinations = make([]RouteDestination, len(r.Destinations))
		for i, dst := range r.Destinations {
			dst.DeliveryMapping = slices.Clone(dst.DeliveryMapping)
			c.Destinations[i] = dst
		}
		out.Routes = append(out.Routes, c)
	}
	for _, s := range d.Services {
		out.Services = append(out.Services, cloneService(s))
	}
	for _, c := range d.Contracts {
		out.Contracts = append(out.Contracts, Contract{Name: c.Name, Version: c.Version, Schema: slices.Clone(c.Schema)})
	}
	if d.Environments != nil {
		out.Environments = maps.Clone(d.Environments)
	}
	if d.src != nil {
		src := *d.src
		src.pos = maps.Clone(d.src.pos)
		out.src = &src
	}
	return out
}

func cloneService(s Service) Service {
	c := s
	c.BackupURLs = slices.Clone(s.BackupURLs)
	for _, p := range []*json.RawMessage{&c.Auth, &c.Options, &c.RateLimits, &c.CircuitBreaker, &c.Retry, &c.HealthCheck, &c.Mapping, &c.DeliveryMapping} {
		*p = slices.Clone(*p)
	}
	if s.MaxRetries != nil {
		v := *s.MaxRetries
		c.MaxRetries = &v
	}
	if s.InputContract != nil {
		v := *s.InputContract
		c.InputContract = &v
	}
	if s.Contract != nil {
		v := *s.Contract
		c.Contract = &v
	}
	return c
}

func cloneRetention(r *Retention) *Retention {
	if r == nil {
		return nil
	}
	out := &Retention{Events: maps.Clone(r.Events), HealthMetrics: r.HealthMetrics, Analytics: r.Analytics, Audit: r.Audit}
	if r.Services != nil {
		out.Services = map[string]ServiceRetention{}
		for k, v := range r.Services {
			out.Services[k] = ServiceRetention{Events: maps.Clone(v.Events), HealthMetrics: v.HealthMetrics, Analytics: v.Analytics}
		}
	}
	return out
}

// Validate checks a document built in Go as Load checks a file: required members, unique
// names, secret references (against the built-in schemes and the resolvers of opts).
// Errors: [Errors] (ErrInvalid).
func (d *Document) Validate(opts ...Option) error {
	src := d.src
	if src == nil {
		src = newSource("", opts)
		d.src = src
	}
	dec := &decoder{src: src}
	dec.validate(d)
	if len(dec.errs) > 0 {
		return dec.errs
	}
	return nil
}

// WithOptions returns a copy of the document that resolves secret references with opts
// (resolvers, environment lookup, base folder) in place of the ones it was loaded with —
// for a document built in Go or exported by a hub, which has none. Positions are kept.
func (d *Document) WithOptions(opts ...Option) *Document {
	out := d.Clone()
	src := newSource("", opts)
	if out.src != nil {
		src.pos = out.src.pos
		if src.dir == "" {
			src.dir = out.src.dir
		}
	}
	out.src = src
	return out
}
