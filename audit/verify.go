package audit

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ehg/hub/store"
)

// ErrTampered is what every [*Problem] matches with errors.Is: the log is not the one the
// hub wrote.
var ErrTampered = errors.New("audit: the audit log has been tampered with")

// Kind classifies a [Problem].
type Kind string

// Kinds of problems.
const (
	// Altered: the entry's content (or its hash) is not what was chained; or, when the
	// Seq is that of a checkpoint, the entry there is not the one signed.
	Altered Kind = "altered"
	// Missing: entries Seq to ToSeq were removed from the middle of the chain.
	Missing Kind = "missing"
	// Inserted: the entry is not part of the chain.
	Inserted Kind = "inserted"
	// Reordered: the entry is stored at a position other than its place in the chain.
	Reordered Kind = "reordered"
	// Truncated: a signed checkpoint covers entries Seq to ToSeq that are gone: the newest
	// entries were deleted.
	Truncated Kind = "truncated"
	// BadCheckpoint: a stored checkpoint does not verify with the hub's key.
	BadCheckpoint Kind = "bad_checkpoint"
)

// Problem is one finding of a verification. It is an error matching [ErrTampered].
type Problem struct {
	Kind Kind `json:"kind"`
	// Seq is the position the problem is at (the entry's stored seq, or the first missing
	// seq); ToSeq, for Missing and Truncated, the last one.
	Seq   int64 `json:"seq,omitempty"`
	ToSeq int64 `json:"to_seq,omitempty"`
	// EntryID names the entry, when there is one.
	EntryID string `json:"entry_id,omitempty"`
	Message string `json:"message"`
}

// Error implements error.
func (p *Problem) Error() string {
	return fmt.Sprintf("audit: %s at seq %d: %s", p.Kind, p.Seq, p.Message)
}

// Is reports whether target is ErrTampered.
func (p *Problem) Is(target error) bool { return target == ErrTampered }

// Report is the result of a verification.
type Report struct {
	// OK is true when no problem was found.
	OK bool `json:"ok"`
	// Entries is how many entries were read; FirstSeq and LastSeq their stored range.
	Entries  int64 `json:"entries"`
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	// HeadHash is the hash of the last entry of the chain as verified.
	HeadHash string `json:"head_hash,omitempty"`
	// Checkpoints is how many signed checkpoints were checked; SignedSize the largest size
	// among them (0 when none: then deleting the newest entries cannot be detected).
	Checkpoints int   `json:"checkpoints"`
	SignedSize  int64 `json:"signed_size"`
	// Problems are the findings in seq order, at most MaxProblems; ProblemCount counts all.
	Problems     []Problem `json:"problems,omitempty"`
	ProblemCount int       `json:"problem_count"`
	// HorizonSeq is the seq of the signed retention horizon the chain was anchored at (the
	// entries up to it were removed by retention); 0 when the range starts at the first
	// entry or after the horizon.
	HorizonSeq int64 `json:"horizon_seq,omitempty"`
	// Duration is how long the verification took.
	Duration time.Duration `json:"duration"`
}

// MaxProblems is the most problems a Report lists.
const MaxProblems = 100

// Err returns the first problem as a *Problem (errors.Is ErrTampered), or nil when OK.
func (r *Report) Err() error {
	if r == nil || len(r.Problems) == 0 {
		return nil
	}
	p := r.Problems[0]
	return &p
}

// Verifier recomputes a chain from entries handed to it in stored order. It keeps about
// 200 bytes per entry until Finish. Use [NewVerifier]; it is not safe for concurrent use.
type Verifier struct {
	anchorSeq  int64
	anchorHash string
	key        note.Verifier
	recs       []rec
	bad        map[int]*store.AuditEntry // entries whose hash does not match as stored
	cps        []*store.AuditCheckpoint
	problems   []Problem
	started    time.Time
	horizon    int64 // the retention horizon anchored at, 0: none
}

type rec struct {
	seq              int64
	id, hash, prev   string
	selfOK           bool
	chained, visited bool
	chainSeq         int64
}

// NewVerifier returns a verifier of the entries following the anchor: the entry at
// anchorSeq with hash anchorHash, trusted as is (0 and "" for a chain verified from its
// first entry). key verifies checkpoints; nil skips them (then Report.Checkpoints is 0).
func NewVerifier(anchorSeq int64, anchorHash string, key note.Verifier) *Verifier {
	if anchorHash == "" {
		anchorHash = store.AuditGenesisHash
	}
	return &Verifier{anchorSeq: anchorSeq, anchorHash: anchorHash, key: key, bad: map[int]*store.AuditEntry{}, started: time.Now()}
}

// NewHorizonVerifier returns a verifier of the entries following a signed retention
// horizon h (see store.AuditRetentionStore): the entries up to h.Size were removed and the
// chain is anchored at h.Size and h.Hash once h verifies with key. A horizon that does not
// verify (forged, or signed with another key) is reported as BadCheckpoint and not
// trusted: the chain is then verified from the genesis, so the removed entries are reported
// Missing. With a nil key the horizon is trusted unverified (the chain alone is checked).
func NewHorizonVerifier(h *store.AuditCheckpoint, key note.Verifier) *Verifier {
	if key != nil {
		if _, _, err := OpenCheckpoint(h, key); err != nil {
			v := NewVerifier(0, "", key)
			v.problem(Problem{Kind: BadCheckpoint, Seq: h.Size,
				Message: fmt.Sprintf("the retention horizon at seq %d is not signed by the audit key: %v", h.Size, err)})
			return v
		}
	}
	v := NewVerifier(h.Size, h.Hash, key)
	v.horizon = h.Size
	return v
}

// Add hands over the next entry in stored order.
func (v *Verifier) Add(e *store.AuditEntry) {
	h, err := store.AuditEntryHash(e)
	r := rec{seq: e.Seq, id: e.ID, hash: e.Hash, prev: e.PrevHash, selfOK: err == nil && h == e.Hash}
	if !r.selfOK {
		v.bad[len(v.recs)] = e.Clone()
	}
	v.recs = append(v.recs, r)
}

// AddCheckpoint hands over a checkpoint to check the chain against. Its signature is
// verified with the key; one that fails is reported as BadCheckpoint and otherwise ignored.
func (v *Verifier) AddCheckpoint(c *store.AuditCheckpoint) {
	if v.key == nil {
		return
	}
	for _, seen := range v.cps {
		if seen.Size == c.Size && seen.Hash == c.Hash {
			return
		}
	}
	if _, _, err := OpenCheckpoint(c, v.key); err != nil {
		v.problem(Problem{Kind: BadCheckpoint, Seq: c.Size, Message: err.Error()})
		return
	}
	v.cps = append(v.cps, c)
}

func (v *Verifier) problem(p Problem) { v.problems = append(v.problems, p) }

// Finish classifies what it was handed and returns the report. The chain is rebuilt by
// following each entry's PrevHash from the anchor; entries off that chain are Inserted, a
// break in it is Missing (a gap in seq) or Altered (the entry before the break was
// rewritten), entries whose content does not give their hash are Altered, entries stored
// out of chain order are Reordered, and each signed checkpoint must name an entry of the
// chain at its size — or, beyond the last entry, the entries it covers are Truncated.
func (v *Verifier) Finish() *Report {
	rep := &Report{Entries: int64(len(v.recs)), HorizonSeq: v.horizon}
	if len(v.recs) > 0 {
		rep.FirstSeq, rep.LastSeq = v.recs[0].seq, v.recs[len(v.recs)-1].seq
	}
	byHash := make(map[string]int, len(v.recs))
	byPrev := make(map[string][]int, len(v.recs))
	for i, r := range v.recs {
		if _, dup := byHash[r.hash]; !dup {
			byHash[r.hash] = i
		}
		byPrev[r.prev] = append(byPrev[r.prev], i)
	}
	hasSuccessor := func(i int) bool {
		for _, j := range byPrev[v.recs[i].hash] {
			if !v.recs[j].visited {
				return true
			}
		}
		return false
	}
	// walk the chain
	var chain []int
	cur, curSeq, last := v.anchorHash, v.anchorSeq, -1
	for {
		next := -1
		for _, j := range byPrev[cur] {
			if v.recs[j].visited {
				continue
			}
			if next < 0 || (!hasSuccessor(next) && hasSuccessor(j)) {
				next = j
			}
		}
		if next < 0 {
			// the chain breaks: resume at the first entry left whose predecessor is absent
			for i, r := range v.recs {
				if _, ok := byHash[r.prev]; !r.visited && !ok && r.prev != v.anchorHash {
					next = i
					break
				}
			}
			if next < 0 {
				break
			}
			r := &v.recs[next]
			switch {
			case r.seq > curSeq+1:
				v.problem(Problem{Kind: Missing, Seq: curSeq + 1, ToSeq: r.seq - 1,
					Message: fmt.Sprintf("entries %d to %d are gone: entry %s links to a predecessor that is not there", curSeq+1, r.seq-1, r.id)})
			case last >= 0:
				p := v.recs[last]
				v.problem(Problem{Kind: Altered, Seq: p.seq, EntryID: p.id,
					Message: fmt.Sprintf("entry %s is not the one entry %s (seq %d) was chained to: it was rewritten, or an entry after it removed", p.id, r.id, r.seq)})
			default:
				v.problem(Problem{Kind: Missing, Seq: r.seq, ToSeq: r.seq,
					Message: fmt.Sprintf("entry %s links to a predecessor that is not there", r.id)})
			}
			curSeq = r.seq - 1
		}
		r := &v.recs[next]
		r.visited, r.chained = true, true
		curSeq++
		r.chainSeq = curSeq
		chain = append(chain, next)
		cur, last = r.hash, next
	}
	if last >= 0 {
		rep.HeadHash = v.recs[last].hash
	} else if v.anchorSeq > 0 {
		rep.HeadHash = v.anchorHash
	}
	// content
	for i := range v.recs {
		r := &v.recs[i]
		switch {
		case !r.chained:
			v.problem(Problem{Kind: Inserted, Seq: r.seq, EntryID: r.id,
				Message: fmt.Sprintf("entry %s is not part of the chain", r.id)})
		case !r.selfOK && !v.matchesAt(i, r.chainSeq):
			v.problem(Problem{Kind: Altered, Seq: r.seq, EntryID: r.id,
				Message: fmt.Sprintf("entry %s does not hash to the hash it was chained with", r.id)})
		}
	}
	// order: the chain's entries in stored order against chain order
	stored := slices.Clone(chain)
	slices.Sort(stored)
	for p := range stored {
		if stored[p] != chain[p] {
			r, want := v.recs[stored[p]], v.recs[chain[p]]
			v.problem(Problem{Kind: Reordered, Seq: r.seq, EntryID: r.id,
				Message: fmt.Sprintf("entry %s is stored at seq %d, where the chain has entry %s", r.id, r.seq, want.id)})
		}
	}
	// checkpoints
	for _, c := range v.cps {
		if c.Size <= v.anchorSeq {
			continue
		}
		rep.Checkpoints++
		rep.SignedSize = max(rep.SignedSize, c.Size)
		i, ok := byHash[c.Hash]
		switch {
		case ok && v.recs[i].chained && v.recs[i].chainSeq == c.Size:
		case ok && v.recs[i].chained:
			v.problem(Problem{Kind: Altered, Seq: v.recs[i].seq, EntryID: v.recs[i].id,
				Message: fmt.Sprintf("the checkpoint of size %d signs entry %s, which the chain puts at seq %d", c.Size, v.recs[i].id, v.recs[i].chainSeq)})
		case c.Size > curSeq:
			v.problem(Problem{Kind: Truncated, Seq: curSeq + 1, ToSeq: c.Size,
				Message: fmt.Sprintf("a signed checkpoint covers %d entries; entries %d to %d are gone", c.Size, curSeq+1, c.Size)})
		default:
			p := Problem{Kind: Altered, Seq: c.Size,
				Message: fmt.Sprintf("the entry at seq %d is not the one the checkpoint of that size signs", c.Size)}
			for _, r := range v.recs {
				if r.chained && r.chainSeq == c.Size {
					p.EntryID, p.Message = r.id, fmt.Sprintf("entry %s at seq %d is not the one the checkpoint of that size signs", r.id, c.Size)
				}
			}
			v.problem(p)
		}
	}
	slices.SortStableFunc(v.problems, func(a, b Problem) int { return cmp.Compare(a.Seq, b.Seq) })
	rep.ProblemCount = len(v.problems)
	rep.Problems = v.problems[:min(len(v.problems), MaxProblems)]
	rep.OK = len(v.problems) == 0
	rep.Duration = time.Since(v.started)
	return rep
}

// matchesAt reports whether entry i, stored with a hash that does not match it, matches
// with seq replaced by seq: its content is intact and only its position moved.
func (v *Verifier) matchesAt(i int, seq int64) bool {
	e, ok := v.bad[i]
	if !ok || e.Seq == seq {
		return false
	}
	c := e.Clone()
	c.Seq = seq
	h, err := store.AuditEntryHash(c)
	return err == nil && h == e.Hash
}
