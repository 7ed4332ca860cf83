package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/ehg/hub/store"
)

// CheckpointOrigin is the first line of every checkpoint's text: it names what the
// checkpoint is about, as "go.sum database tree" does for Go's checksum database.
const CheckpointOrigin = "github.com/ehg/hub audit chain"

// DefaultKeyName is the key name DeriveKey uses when given none.
const DefaultKeyName = "hub-audit"

// Errors of checkpoints.
var (
	// ErrBadCheckpoint: a checkpoint's note is malformed or its signature does not verify
	// with the given key.
	ErrBadCheckpoint = errors.New("audit: checkpoint is malformed or not signed by the expected key")
)

// DeriveKey derives an Ed25519 checkpoint key pair from secret (at least 32 bytes, for
// example the hub's credential key) with HKDF-SHA256, so a hub needs no second secret. It
// returns the keys in the golang.org/x/mod/sumdb/note text form: skey
// ("PRIVATE+KEY+name+hash+data", keep it secret) for [ParseSignerKey] and vkey
// ("name+hash+data", publish it) for [ParseVerifierKey] and offline verification. The same
// secret and name always give the same keys.
func DeriveKey(name string, secret []byte) (skey, vkey string, err error) {
	if len(secret) < 32 {
		return "", "", fmt.Errorf("audit: derive key: secret must be at least 32 bytes, got %d", len(secret))
	}
	if name == "" {
		name = DefaultKeyName
	}
	seed, err := hkdf.Key(sha256.New, secret, []byte(name), "github.com/ehg/hub audit checkpoint key v1", 32)
	if err != nil {
		return "", "", fmt.Errorf("audit: derive key: %w", err)
	}
	skey, vkey, err = note.GenerateKey(bytes.NewReader(seed), name)
	if err != nil {
		return "", "", fmt.Errorf("audit: derive key: %w", err)
	}
	return skey, vkey, nil
}

// ParseSignerKey returns the signer of a private key in note text form (see [DeriveKey];
// note.GenerateKey makes random ones).
func ParseSignerKey(skey string) (note.Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("audit: signing key: %w", err)
	}
	return s, nil
}

// VerifierKeyOf returns the public verifier key (note text form) of an Ed25519 private key
// in note text form ("PRIVATE+KEY+name+hash+data").
func VerifierKeyOf(skey string) (string, error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", fmt.Errorf("audit: signing key: %w", err)
	}
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", fmt.Errorf("audit: signing key: not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", fmt.Errorf("audit: signing key: %w", err)
	}
	return vkey, nil
}

// ParseVerifierKey returns the verifier of a public key in note text form.
func ParseVerifierKey(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit: verifier key: %w", err)
	}
	return v, nil
}

// CheckpointText returns the text a checkpoint signs:
//
//	github.com/ehg/hub audit chain
//	<size in decimal>
//	<head hash, standard base64 of its 32 bytes>
func CheckpointText(size int64, hash string) (string, error) {
	raw, err := hex.DecodeString(hash)
	if err != nil || len(raw) != sha256.Size {
		return "", fmt.Errorf("%w: hash %q is not a SHA-256 in hex", ErrBadCheckpoint, hash)
	}
	return fmt.Sprintf("%s\n%d\n%s\n", CheckpointOrigin, size, base64.StdEncoding.EncodeToString(raw)), nil
}

// SignCheckpoint returns the checkpoint of a chain whose entry at seq size has hash,
// signed by signer: a golang.org/x/mod/sumdb/note signed note, as Go's checksum database
// signs its tree heads.
func SignCheckpoint(signer note.Signer, size int64, hash string) (*store.AuditCheckpoint, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%w: size %d", ErrBadCheckpoint, size)
	}
	text, err := CheckpointText(size, hash)
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return &store.AuditCheckpoint{Size: size, Hash: hash, Note: string(msg)}, nil
}

// OpenCheckpoint verifies a checkpoint's note with verifier and returns the size and hash it
// signs. A note that does not verify, does not parse, or disagrees with c.Size and c.Hash
// is ErrBadCheckpoint.
func OpenCheckpoint(c *store.AuditCheckpoint, verifier note.Verifier) (size int64, hash string, err error) {
	n, err := note.Open([]byte(c.Note), note.VerifierList(verifier))
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[0] != CheckpointOrigin || lines[3] != "" {
		return 0, "", fmt.Errorf("%w: unexpected text", ErrBadCheckpoint)
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size <= 0 {
		return 0, "", fmt.Errorf("%w: bad size %q", ErrBadCheckpoint, lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != sha256.Size {
		return 0, "", fmt.Errorf("%w: bad hash %q", ErrBadCheckpoint, lines[2])
	}
	hash = hex.EncodeToString(raw)
	if size != c.Size || hash != c.Hash {
		return 0, "", fmt.Errorf("%w: the note signs size %d, hash %s; the record says %d, %s", ErrBadCheckpoint, size, hash, c.Size, c.Hash)
	}
	return size, hash, nil
}
