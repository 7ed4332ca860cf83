package pipeline

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync/atomic"

	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/internal/jsonproj"
	"github.com/ehg/hub/transform"
)

// checkDepth is the nesting limit of the documents the pipeline decodes itself (the
// canonical document for the delivery mapping): encoding/json's own limit.
const checkDepth = 10000

// Config is what a Pipeline runs. Every stage is optional: without a mapping the payload
// itself is the canonical document; without contracts nothing is validated; without a
// delivery mapping the canonical document is the delivery body.
type Config struct {
	// MaxBytes bounds the payload and the delivery body; 0 means no limit. The canonical
	// contract is assumed to have been compiled with the same byte limit (the hub does so).
	MaxBytes int
	// MaxDepth bounds the nesting of objects and arrays in the payload; 0 means 10000.
	MaxDepth int
	// Input validates the raw payload (strictly: duplicate keys are refused).
	Input *contract.Compiled
	// Mapping turns the payload into the canonical document.
	Mapping *transform.Program
	// Canonical validates the canonical document.
	Canonical *contract.Compiled
	// Delivery turns the canonical document into the delivery body.
	Delivery *transform.Program
}

// Pipeline is a compiled Config. It is immutable and safe for concurrent use.
type Pipeline struct {
	cfg       Config
	maxBytes  int
	maxDepth  int
	proj      *jsonproj.Projection // what Mapping reads of the payload
	delivProj *jsonproj.Projection // what Delivery reads of the canonical document
	outHint   atomic.Int64         // largest canonical document seen (up to maxHint): buffer sizing
}

// maxHint caps the buffer space reserved ahead for the canonical document.
const maxHint = 64 << 10

// New compiles cfg: the decode projections of the mappings (only the paths their
// expressions read are decoded). It never fails for a valid Config; the error is kept for
// future stages that may.
func New(cfg Config) (*Pipeline, error) {
	p := &Pipeline{cfg: cfg, maxBytes: cfg.MaxBytes, maxDepth: cfg.MaxDepth}
	p.outHint.Store(512)
	if p.maxBytes <= 0 {
		p.maxBytes = int(^uint(0) >> 1)
	}
	if p.maxDepth <= 0 {
		p.maxDepth = checkDepth
	}
	if cfg.Mapping != nil {
		p.proj = jsonproj.FromExpr(cfg.Mapping.Nodes()...)
	}
	if cfg.Delivery != nil {
		p.delivProj = jsonproj.FromExpr(cfg.Delivery.Nodes()...)
	}
	return p, nil
}

// Result is what Run produced for one event. Its byte slices are fresh (they do not alias
// the payload passed to Run, except Canonical and Delivery without a mapping, which are
// that payload as given, as the hub stores it).
type Result struct {
	// PayloadIn is the payload compacted (insignificant white space removed, exactly as
	// encoding/json.Compact does).
	PayloadIn []byte
	// Canonical is the canonical document: the mapping's output encoded as encoding/json
	// encodes a map (sorted keys), or the payload itself without a mapping.
	Canonical []byte
	// Delivery is the delivery body: the delivery mapping's output, or Canonical.
	Delivery []byte
	// Applied is the JSON transformation_applied record of the mapping (what
	// encoding/json.Marshal writes for Record), nil without a mapping.
	Applied []byte
	// Record is the mapping's transformation record (zero without a mapping).
	Record transform.Applied
}

// Run runs the event payload through the pipeline. Errors are *Error (see Stage and the
// Err* kinds); when ctx ends during a mapping, the *Error wraps the context's error.
// Nothing is compiled and the payload is not modified.
func (p *Pipeline) Run(ctx context.Context, payload []byte) (*Result, error) {
	if len(payload) > p.maxBytes {
		if isSpace(payload) {
			return nil, &Error{Stage: StagePayload, Kind: ErrEmpty}
		}
		return nil, &Error{Stage: StagePayload, Kind: ErrTooLarge, Size: len(payload), Limit: p.maxBytes}
	}
	// One buffer holds the compacted payload then the canonical document.
	buf := make([]byte, 0, len(payload)+int(p.outHint.Load())+64)
	var in map[string]any
	if p.proj != nil {
		m, b, err := p.proj.DecodeCompact(payload, jsonproj.Options{UseNumber: true, MaxDepth: p.maxDepth}, buf)
		if err != nil {
			perr := p.payloadError(payload, err, true)
			if perr.Stage == StageMapping && p.cfg.Input != nil {
				// well-formed but not an object: the input contract speaks first
				if _, err := p.cfg.Input.ValidateJSON(payload); err != nil {
					return nil, &Error{Stage: StageInput, Err: err}
				}
			}
			return nil, perr
		}
		in, buf = m, b
	} else {
		if err := jsonproj.Check(payload, jsonproj.Options{MaxDepth: p.maxDepth}); err != nil {
			return nil, p.payloadError(payload, err, false)
		}
		buf = appendCompact(buf, payload)
	}
	if p.cfg.Input != nil {
		if _, err := p.cfg.Input.ValidateJSON(payload); err != nil {
			return nil, &Error{Stage: StageInput, Err: err}
		}
	}
	res := &Result{}
	res.PayloadIn = buf[:len(buf):len(buf)]
	res.Canonical = payload
	var out map[string]any
	if p.cfg.Mapping != nil {
		var err error
		var rec transform.Applied
		out, rec, err = p.cfg.Mapping.Apply(ctx, in)
		if err != nil {
			return nil, &Error{Stage: StageMapping, Err: err}
		}
		start := len(buf)
		if buf, err = jsonproj.AppendJSON(buf, out); err != nil {
			return nil, &Error{Stage: StageMapping, Kind: ErrUnencodable, Err: err}
		}
		res.Canonical = buf[start:len(buf):len(buf)]
		if n := int64(len(res.Canonical)); n > p.outHint.Load() && n <= maxHint {
			p.outHint.Store(n)
		}
		res.Record = rec
		res.Applied = appendApplied(make([]byte, 0, 64+16*len(rec.Fields)), &rec)
	}
	if c := p.cfg.Canonical; c != nil {
		if err := p.validateCanonical(c, out, res.Canonical); err != nil {
			return nil, &Error{Stage: StageCanonical, Err: err}
		}
	}
	res.Delivery = res.Canonical
	if p.cfg.Delivery != nil {
		m, err := p.delivProj.Decode(res.Canonical, jsonproj.Options{UseNumber: true, MaxDepth: checkDepth})
		if err != nil {
			kind := ErrMalformed
			if errors.Is(err, jsonproj.ErrSyntax) && jsonproj.Check(res.Canonical, jsonproj.Options{MaxDepth: checkDepth}) == nil {
				kind = ErrNotObject
			} else if errors.Is(err, jsonproj.ErrTooDeep) {
				kind = ErrTooDeep
			}
			return nil, &Error{Stage: StageDelivery, Kind: kind, Err: err}
		}
		dout, _, err := p.cfg.Delivery.Apply(ctx, m)
		if err != nil {
			return nil, &Error{Stage: StageDelivery, Err: err}
		}
		if res.Delivery, err = jsonproj.AppendJSON(make([]byte, 0, len(res.Canonical)+64), dout); err != nil {
			return nil, &Error{Stage: StageDelivery, Kind: ErrUnencodable, Err: err}
		}
	}
	if len(res.Delivery) > p.maxBytes {
		return nil, &Error{Stage: StageSize, Kind: ErrTooLarge, Size: len(res.Delivery), Limit: p.maxBytes}
	}
	return res, nil
}

// validateCanonical validates the mapped document: in place on the decoded map (no second
// decode), falling back to the encoded bytes, exactly as the contract sees them after
// encoding, whenever the map is refused or too large, so the verdict and the error are
// those of validating the stored bytes.
func (p *Pipeline) validateCanonical(c *contract.Compiled, out map[string]any, encoded []byte) error {
	if out != nil && len(encoded) <= p.maxBytes {
		if _, err := c.Validate(out); err == nil {
			return nil
		}
	}
	_, err := c.ValidateJSON(encoded)
	return err
}

// payloadError classifies a failed decode or check of the payload. Precedence follows the
// checks the hub made in turn: empty, malformed anywhere, too deep, then (for a mapping)
// not an object.
func (p *Pipeline) payloadError(payload []byte, err error, needObject bool) *Error {
	if isSpace(payload) {
		return &Error{Stage: StagePayload, Kind: ErrEmpty}
	}
	if errors.Is(err, jsonproj.ErrTooDeep) {
		// A malformed document is reported as such even when the depth limit hit first.
		if cerr := jsonproj.Check(payload, jsonproj.Options{MaxDepth: checkDepth}); cerr != nil && !errors.Is(cerr, jsonproj.ErrTooDeep) {
			return &Error{Stage: StagePayload, Kind: ErrMalformed, Err: cerr}
		}
		return &Error{Stage: StagePayload, Kind: ErrTooDeep, Err: err, Limit: p.maxDepth}
	}
	if needObject && firstByte(payload) != '{' {
		// Decode refuses anything but an object: tell a well-formed non-object apart.
		cerr := jsonproj.Check(payload, jsonproj.Options{MaxDepth: p.maxDepth})
		if cerr == nil {
			return &Error{Stage: StageMapping, Kind: ErrNotObject}
		}
		err = cerr
		if errors.Is(cerr, jsonproj.ErrTooDeep) {
			return &Error{Stage: StagePayload, Kind: ErrTooDeep, Err: cerr, Limit: p.maxDepth}
		}
	}
	return &Error{Stage: StagePayload, Kind: ErrMalformed, Err: err}
}

func isSpace(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// appendCompact appends well-formed JSON src without insignificant white space: what
// encoding/json.Compact writes. Strings are skipped with IndexByte to their closing quote,
// and the runs between white space are copied whole.
func appendCompact(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '"':
			i = jsonproj.StringEnd(src, i+1)
		case ' ', '\t', '\n', '\r':
			dst = append(dst, src[start:i]...)
			j := i + 1
			for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\n' || src[j] == '\r') {
				j++
			}
			start = j
			i = j - 1
		}
	}
	return append(dst, src[start:]...)
}

// appendApplied appends the JSON of a, byte for byte what encoding/json.Marshal writes for
// a transform.Applied.
func appendApplied(dst []byte, a *transform.Applied) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendStr(dst, a.Name)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(a.Version), 10)
	if a.Inverse {
		dst = append(dst, `,"inverse":true`...)
	}
	dst = append(dst, `,"fields":`...)
	dst = appendStrs(dst, a.Fields)
	if len(a.Defaulted) > 0 {
		dst = append(dst, `,"defaulted":`...)
		dst = appendStrs(dst, a.Defaulted)
	}
	dst = append(dst, `,"duration_ns":`...)
	dst = strconv.AppendInt(dst, int64(a.Duration), 10)
	return append(dst, '}')
}

func appendStrs(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendStr(dst, s)
	}
	return append(dst, ']')
}

func appendStr(dst []byte, s string) []byte { return jsonproj.AppendString(dst, s) }

// CheckPayload runs only the payload checks of Run (presence, size, syntax, UTF-8 and
// nesting; any JSON value passes) with the same *Error results (Stage StagePayload). It
// allocates nothing on success. maxBytes and maxDepth are as in Config.
func CheckPayload(payload []byte, maxBytes, maxDepth int) error {
	p := Pipeline{maxBytes: maxBytes, maxDepth: maxDepth}
	if p.maxBytes <= 0 {
		p.maxBytes = int(^uint(0) >> 1)
	}
	if p.maxDepth <= 0 {
		p.maxDepth = checkDepth
	}
	if len(payload) > p.maxBytes {
		if isSpace(payload) {
			return &Error{Stage: StagePayload, Kind: ErrEmpty}
		}
		return &Error{Stage: StagePayload, Kind: ErrTooLarge, Size: len(payload), Limit: p.maxBytes}
	}
	if err := jsonproj.Check(payload, jsonproj.Options{MaxDepth: p.maxDepth}); err != nil {
		return p.payloadError(payload, err, false)
	}
	return nil
}
