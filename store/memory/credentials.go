package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/ehg/hub/store"
)

// ReplaceCredentials implements [store.CredentialStore].
func (s *Store) ReplaceCredentials(ctx context.Context, id string, old, next json.RawMessage) error {
	if err := begin(ctx, "replace credentials"); err != nil {
		return err
	}
	id, err := canonicalID("service", id)
	if err != nil {
		return err
	}
	if len(next) > 0 && !json.Valid(next) {
		return fmt.Errorf("%w: memory: replace credentials: not well-formed JSON", store.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv, ok := s.services[id]
	if !ok {
		return fmt.Errorf("%w: memory: service %s", store.ErrNotFound, id)
	}
	if !bytes.Equal(compactJSON(sv.AuthenticationConfig), compactJSON(old)) {
		return fmt.Errorf("%w: memory: the credentials of service %s changed", store.ErrConflict, id)
	}
	c := sv.Clone()
	c.AuthenticationConfig = append(json.RawMessage(nil), next...)
	if len(next) == 0 {
		c.AuthenticationConfig = nil
	}
	s.services[id] = c
	return nil
}

func compactJSON(doc json.RawMessage) []byte {
	var b bytes.Buffer
	if len(doc) == 0 || json.Compact(&b, doc) != nil {
		return doc
	}
	return b.Bytes()
}

var _ store.CredentialStore = (*Store)(nil)
