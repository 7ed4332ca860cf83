// Package audit verifies the hub's tamper-evident audit log, in a store or offline.
//
// Every audit entry is chained: it records its position (Seq), the hash of the entry before
// it (PrevHash) and its own Hash, the SHA-256 of its canonical encoding
// ([store.AuditCanonical]: netstrings of the version, seq, previous hash, id, actor, action,
// entity, time and the canonical JSON of before and after). The store appends under a lock,
// so one store has one chain even when several hubs share it. Changing, inserting,
// removing or reordering an entry breaks the chain where it happened; [Verifier] rebuilds
// the chain from the entries and names each such entry ([Problem]).
//
// A chain alone cannot reveal that its newest entries were removed, nor an attacker who
// rewrites a whole suffix and recomputes the hashes. Signed checkpoints can: a checkpoint
// states "the chain had Size entries and the entry at Size had Hash", as a
// golang.org/x/mod/sumdb/note signed note with an Ed25519 key — the format of Go's checksum
// database tree heads. The hub signs one after its audited actions; [DeriveKey] derives
// the key from the hub's credential key, so there is no second secret to keep.
//
// To verify offline, export the log ([Export], or Hub.ExportAudit) as JSON Lines — a
// header, the entries, the checkpoints — and check it with [VerifyExport] and the public
// key (the "vkey", from Hub.AuditVerifierKey or DeriveKey), on any machine, without the
// store:
//
//	key, err := audit.ParseVerifierKey(vkey)
//	...
//	rep, err := audit.VerifyExport(file, key)
//	...
//	if err := rep.Err(); err != nil { // a *audit.Problem: errors.Is(err, audit.ErrTampered)
//		...
//	}
//
// Keep the newest checkpoint of each export somewhere else too, and pass it as an extra
// checkpoint next time: an attacker with access to the database could delete the newest
// entries together with their checkpoints, but not the copy you hold.
package audit
