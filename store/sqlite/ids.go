package sqlite

import (
	"github.com/google/uuid"
)

// IDs are stored in canonical form (lowercase, hyphenated), as Postgres's uuid type and the
// memory store keep them, so a key given in another spelling finds its row.

// canonicalID returns id in canonical UUID form, or store.ErrInvalidArgument.
func canonicalID(kind, id string) (string, error) {
	if isCanonical(id) {
		return id, nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", invalidf("%s id %q is not a UUID", kind, id)
	}
	return u.String(), nil
}

// assignID returns the canonical form of id, or a new random UUID when id is empty.
func assignID(kind, id string) (string, error) {
	if id == "" {
		return uuid.NewString(), nil
	}
	return canonicalID(kind, id)
}

// optionalID is canonicalID that keeps an empty id empty.
func optionalID(kind, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	return canonicalID(kind, id)
}

// isCanonical reports, without allocating, whether id is a lowercase hyphenated UUID.
func isCanonical(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
