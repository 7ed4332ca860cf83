package contract

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Contract is the definition of a canonical data contract: a name, a semantic version and a
// JSON Schema. It is plain data (the store persists it as is); a [Registry] compiles it into
// a [Compiled] that validates. The zero value is not a usable contract.
type Contract struct {
	// Name identifies the contract: 1–128 characters from [A-Za-z0-9._-], starting with a
	// letter or digit, e.g. "work-item".
	Name string `json:"name"`
	// Version is a semantic version MAJOR.MINOR.PATCH, optionally with a leading "v" and a
	// "-prerelease" suffix, e.g. "1.4.0". Versions of one name are ordered by semver;
	// changes within one major must be backward compatible (see [Compare]).
	Version string `json:"version"`
	// Schema is the JSON Schema document. Its "$schema" selects the draft (4, 6, 7,
	// 2019-09 or 2020-12); without one the registry's default (2020-12) applies.
	Schema json.RawMessage `json:"schema"`
}

// Ref returns the URI by which other contracts can "$ref" this one inside the registry:
// "contract:NAME/VERSION". A fragment may follow, e.g. "contract:customer/1.2.0#/$defs/address".
// "contract:NAME" (no version) refers to the latest version at the time the referring
// contract is registered.
func (c Contract) Ref() string { return refScheme + c.Name + "/" + c.Version }

const refScheme = "contract:"

func validName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// semver is a parsed MAJOR.MINOR.PATCH[-pre] version.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

func parseVersion(s string) (semver, bool) {
	s = strings.TrimPrefix(s, "v")
	var v semver
	if i := strings.IndexByte(s, '+'); i >= 0 { // build metadata is ignored for ordering
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		v.pre = s[i+1:]
		s = s[:i]
		if v.pre == "" {
			return semver{}, false
		}
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	nums := [3]*uint64{&v.major, &v.minor, &v.patch}
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return semver{}, false
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return semver{}, false
		}
		*nums[i] = n
	}
	return v, true
}

// compare orders versions by semver precedence (pre-releases before their release,
// compared as strings).
func (a semver) compare(b semver) int {
	for _, d := range [3][2]uint64{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	case a.pre < b.pre:
		return -1
	}
	return 1
}

func (a semver) String() string {
	s := strconv.FormatUint(a.major, 10) + "." + strconv.FormatUint(a.minor, 10) + "." + strconv.FormatUint(a.patch, 10)
	if a.pre != "" {
		s += "-" + a.pre
	}
	return s
}
