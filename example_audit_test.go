package hub_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/audit"
)

// ExampleHub_ExportAudit exports the audit log with its chain and signed checkpoints and
// verifies it offline, with nothing but the export and the hub's public key.
func ExampleHub_ExportAudit() {
	ctx := context.Background()
	secret := make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(secret)
	h, err := hub.New(nil, hub.WithSecretKey(secret))
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	for _, name := range []string{"crm", "billing"} {
		if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: name, Connector: "http",
			BaseURL: "https://" + name + ".example.com", Auth: json.RawMessage(`{"type":"bearer","token":"s3cret"}`)}); err != nil {
			panic(err)
		}
	}
	file := &bytes.Buffer{}

	// README: begin
	n, err := h.ExportAudit(ctx, file, time.Time{}, time.Time{}) // JSON Lines: entries, chain, checkpoints
	vkey := h.AuditVerifierKey()                                 // publish it; it is not a secret
	// elsewhere, with only the file and vkey:
	key, err := audit.ParseVerifierKey(vkey)
	rep, err := audit.VerifyExport(file, key) // rep.Err() is the first *audit.Problem, or nil
	// README: end

	if err != nil {
		panic(err)
	}
	fmt.Println("exported:", n, "entries")
	fmt.Println("intact:", rep.OK, "signed size:", rep.SignedSize, "problem:", rep.Err())
	// Output:
	// exported: 2 entries
	// intact: true signed size: 2 problem: <nil>
}

// ExampleHub_VerifyAudit verifies the audit chain in the store.
func ExampleHub_VerifyAudit() {
	ctx := context.Background()
	secret := make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(secret)
	h, err := hub.New(nil, hub.WithSecretKey(secret))
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"}); err != nil {
		panic(err)
	}
	if _, err := h.CheckpointAudit(ctx); err != nil {
		panic(err)
	}
	rep, err := h.VerifyAudit(ctx, time.Time{}, time.Time{})
	if err != nil { // errors.Is(err, hub.ErrAuditTampered); errors.As(err, new(*audit.Problem))
		panic(err)
	}
	fmt.Println("entries:", rep.Entries, "checkpoints:", rep.Checkpoints, "ok:", rep.OK)
	// Output:
	// entries: 1 checkpoints: 1 ok: true
}

// ExampleHub_RotateSecretKey rotates the credential key: the hub holds the new key and the
// old one, and re-seals every credential under the new key.
func ExampleHub_RotateSecretKey() {
	ctx := context.Background()
	oldKey, newKey := make([]byte, hub.SecretKeySize), make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)
	before, err := hub.New(nil, hub.WithSecretKey(oldKey))
	if err != nil {
		panic(err)
	}
	if _, err := before.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http",
		BaseURL: "https://crm.example.com", Auth: json.RawMessage(`{"type":"bearer","token":"s3cret"}`)}); err != nil {
		panic(err)
	}
	defer before.Close(ctx)
	st := before.Store()
	after, err := hub.New(st, hub.WithSecretKey(newKey), hub.WithPreviousSecretKeys(oldKey))
	if err != nil {
		panic(err)
	}
	defer after.Close(ctx)
	rep, err := after.RotateSecretKey(ctx, hub.RotateOptions{Reason: "yearly rotation"})
	if err != nil {
		panic(err)
	}
	fmt.Println("services:", rep.Services, "re-sealed:", rep.Resealed, "failed:", len(rep.Failed))
	// Output:
	// services: 1 re-sealed: 1 failed: 0
}
