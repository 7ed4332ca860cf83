package audit_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// ExampleVerifyExport exports a store's audit log with a signed checkpoint and verifies the
// export offline, with only the public key; then it shows what a deleted entry looks like.
func ExampleVerifyExport() {
	ctx := context.Background()
	st := memory.New(memory.Options{})
	var head *store.AuditEntry
	for _, action := range []string{"service.register", "service.configure", "event.retry"} {
		e, err := st.AppendAudit(ctx, &store.AuditEntry{Actor: "alice", Action: action, EntityType: "service", EntityID: "crm"})
		if err != nil {
			panic(err)
		}
		head = e
	}
	secret := bytes.Repeat([]byte{7}, 32) // in a hub: Config.SecretKey
	skey, vkey, err := audit.DeriveKey("hub-audit", secret)
	if err != nil {
		panic(err)
	}
	signer, err := audit.ParseSignerKey(skey)
	if err != nil {
		panic(err)
	}
	cp, err := audit.SignCheckpoint(signer, head.Seq, head.Hash)
	if err != nil {
		panic(err)
	}
	if err := st.AddAuditCheckpoint(ctx, cp); err != nil {
		panic(err)
	}

	var export bytes.Buffer
	if _, err := audit.Export(ctx, st, audit.Range{}, vkey, &export); err != nil {
		panic(err)
	}
	key, err := audit.ParseVerifierKey(vkey) // the verifier needs only the public key
	if err != nil {
		panic(err)
	}
	rep, err := audit.VerifyExport(bytes.NewReader(export.Bytes()), key)
	if err != nil {
		panic(err)
	}
	fmt.Println("entries:", rep.Entries, "signed size:", rep.SignedSize, "ok:", rep.OK)

	// drop the second entry's line from the export, as someone editing the file would
	lines := bytes.SplitAfter(export.Bytes(), []byte("\n"))
	tampered := bytes.Join(append(lines[:2:2], lines[3:]...), nil)
	rep, err = audit.VerifyExport(bytes.NewReader(tampered), key)
	if err != nil {
		panic(err)
	}
	fmt.Println("ok:", rep.OK, "first problem:", rep.Problems[0].Kind, rep.Problems[0].Seq)
	// Output:
	// entries: 3 signed size: 3 ok: true
	// ok: false first problem: missing 2
}
