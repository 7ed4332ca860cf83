package egress

import (
	"errors"
	"net/http"
	"strings"
)

// MaxRedirects is how many same-origin redirects SameOrigin follows before it stops.
const MaxRedirects = 5

// NoRedirects is an http.Client CheckRedirect that follows no redirect: the 3xx response is
// the outcome of the call.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// SameOrigin is an http.Client CheckRedirect that follows a redirect only to the origin
// (scheme, host and port) of the first request, at most MaxRedirects times; any other
// redirect ends the call with the 3xx response as its outcome, so credentials (which the
// client would copy to the next request, custom headers included) never reach another
// origin.
func SameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if len(via) > MaxRedirects || !sameOrigin(req, via[0]) {
		return http.ErrUseLastResponse
	}
	return nil
}

func sameOrigin(a, b *http.Request) bool {
	return a.URL.Scheme == b.URL.Scheme && strings.EqualFold(a.URL.Hostname(), b.URL.Hostname()) && port(a) == port(b)
}

func port(r *http.Request) string {
	if p := r.URL.Port(); p != "" {
		return p
	}
	if r.URL.Scheme == "https" {
		return "443"
	}
	return "80"
}

// Redirects names a redirect policy in service configuration.
type Redirects string

// The redirect policies.
const (
	// RedirectsNone follows no redirect (the default).
	RedirectsNone Redirects = "none"
	// RedirectsSameOrigin follows redirects within the origin of the request.
	RedirectsSameOrigin Redirects = "same_origin"
)

// ErrUnknownRedirects reports a redirect policy name that is neither "none" nor
// "same_origin".
var ErrUnknownRedirects = errors.New("egress: unknown redirect policy (want none or same_origin)")

// CheckRedirect returns the http.Client CheckRedirect of r ("" is RedirectsNone).
func (r Redirects) CheckRedirect() (func(*http.Request, []*http.Request) error, error) {
	switch r {
	case "", RedirectsNone:
		return NoRedirects, nil
	case RedirectsSameOrigin:
		return SameOrigin, nil
	}
	return nil, ErrUnknownRedirects
}
