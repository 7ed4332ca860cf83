package store

import (
	"context"
	"regexp"
)

// RegionClaimer is the optional capability of claiming only the events of services pinned
// to some data regions (Service.DataRegion), so that the hubs of one region process only
// that region's data. Find it with a type assertion.
type RegionClaimer interface {
	// ClaimEventsInRegions claims as ClaimEvents does, taking only events whose service's
	// data_region is one of p.Regions; the empty string stands for services without a
	// region. The service's region is read at claim time, in the claiming statement, so an
	// event is never claimed by a hub of another region, however recently its service was
	// created or changed. Errors: those of ClaimEvents, and ErrInvalidArgument for no
	// regions or a malformed one.
	ClaimEventsInRegions(ctx context.Context, p RegionClaimParams) ([]*Event, error)
}

// RegionClaimParams are the arguments of ClaimEventsInRegions.
type RegionClaimParams struct {
	ClaimParams
	Regions []string
}

// Validate checks that regions are given and well-formed ("" allowed).
func (p RegionClaimParams) Validate() error {
	if len(p.Regions) == 0 {
		return invalid("region claim names no region")
	}
	for _, r := range p.Regions {
		if r != "" && !ValidRegion(r) {
			return invalid("data region %q is malformed", r)
		}
	}
	return nil
}

var regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidRegion reports whether r is a well-formed data region name: 1 to 63 lowercase
// letters, digits, '-' or '_', starting with a letter or digit ("eu", "us-east-1").
func ValidRegion(r string) bool { return regionPattern.MatchString(r) }

// EventCanceller is the optional capability of cancelling a service's queue in bulk, used
// when a service is removed. Find it with a type assertion.
type EventCanceller interface {
	// CancelEvents moves up to p.Limit pending or retrying events of p.ServiceID to
	// cancelled (updated_at set to now, as CancelEvent does) in one short transaction and returns
	// how many; processing events are left to finish. Errors: ErrInvalidArgument for a
	// malformed service id or a limit outside [1, MaxPageLimit].
	CancelEvents(ctx context.Context, p CancelEventsParams) (int, error)
}

// CancelEventsParams select the queued events CancelEvents cancels.
type CancelEventsParams struct {
	ServiceID string
	Limit     int
}

// Validate checks the service id and the limit.
func (p CancelEventsParams) Validate() error {
	if err := checkUUID("service", p.ServiceID); err != nil {
		return err
	}
	if p.Limit <= 0 || p.Limit > MaxPageLimit {
		return invalid("cancel limit %d is outside [1, %d]", p.Limit, MaxPageLimit)
	}
	return nil
}
