package hub_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
)

// hostilePayload is one input of the differential ingest test.
type hostilePayload struct {
	name    string
	payload []byte
}

func hostilePayloads() []hostilePayload {
	nest := func(depth int) []byte {
		return []byte(`{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
	}
	var exps bytes.Buffer // about 18 KB of huge exponents, as the example
	exps.WriteString(`{"n":[`)
	for i := range 2000 {
		if i > 0 {
			exps.WriteByte(',')
		}
		exps.WriteString("1e131000")
	}
	exps.WriteString(`]}`)
	size := 50 << 20
	if raceEnabled {
		size = 4 << 20 // the race detector makes 50 MB take minutes; the full size runs without it
	}
	big := bytes.Repeat([]byte("x"), size)
	return []hostilePayload{
		{"huge exponent", []byte(`{"n":1e131000,"m":-1E-131000,"k":1.5e+308}`)},
		{"18 KB of huge exponents", exps.Bytes()},
		{"300-digit integer", []byte(`{"n":` + strings.Repeat("9", 300) + `,"m":-` + strings.Repeat("1", 300) + `}`)},
		{"escaped NUL", []byte(`{"s":"a\u0000b","\u0000":"key"}`)},
		{"lone surrogates", []byte(`{"hi":"\ud800","lo":"\udfff","x":"\ud800x","pair":"\ud83d\ude00"}`)},
		{"duplicate keys", []byte(`{"a":1,"a":2,"b":{"c":true,"c":false}}`)},
		{"number spellings", []byte(`{"a":1.0,"b":-0,"c":1E2,"d":0.10,"e":1e-0}`)},
		{"escapes and space", []byte(` { "s" : "\/\u0041\u00e9\t" , "t" : [ 1 , 2 ] } `)},
		{"key order", []byte(`{"zz":1,"a":2,"mmm":3,"b":4}`)},
		{"deep nesting at the limit", nest(60)},
		{"deep nesting over the limit", nest(5000)},
		{"invalid UTF-8", []byte("{\"s\":\"\xff\xfe\"}")},
		{"raw control character", []byte("{\"s\":\"a\x01b\"}")},
		{"trailing garbage", []byte(`{"a":1} {"b":2}`)},
		{"not an object", []byte(`[1,2,3]`)},
		{fmt.Sprintf("%d MB string", size>>20), append(append([]byte(`{"s":"`), big...), `"}`...)},
	}
}

// outcome is what one store made of one payload.
type outcome struct {
	Accepted  bool
	Err       string // the hub sentinel the error matched
	Stored    string // digest of the stored payload_in and canonical_mapping
	Delivered string // digest of the body the remote received
	Size      int
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// sentinelOf names the hub sentinel err matches.
func sentinelOf(err error) string {
	for _, s := range []error{hub.ErrInvalidInput, hub.ErrContractViolation, hub.ErrTransform, hub.ErrDeliveryFailed, hub.ErrBusy} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "unmapped: " + err.Error()
}

// TestHostileJSONOneAnswerOnEveryStore puts the same hostile payloads through the memory,
// SQLite and PostgreSQL stores: each is accepted or refused the same way (refusals are
// ErrInvalidInput, before any store sees them), and an accepted payload is stored and
// delivered as the same bytes everywhere — the bytes the caller sent.
func TestHostileJSONOneAnswerOnEveryStore(t *testing.T) {
	t.Parallel()
	payloads := hostilePayloads()
	results := map[string][]outcome{}
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			st := sk.open(t)
			h := hubtest.New(t, st, hub.WithPayloadLimits(64<<20, 64))
			sink := hubtest.NewSink(t)
			register(t, h, "sink", sink.URL, nil)
			var outs []outcome
			for i, p := range payloads {
				key := fmt.Sprintf("k%d", i)
				res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "sink", Payload: p.payload, IdempotencyKey: key, Mode: hub.Sync})
				o := outcome{Accepted: err == nil}
				if err != nil {
					o.Err = sentinelOf(err)
					require.Nil(t, res, "%s: a refused payload has no result", p.name)
				} else {
					ev, err := st.GetEvent(t.Context(), res.EventID)
					require.NoError(t, err)
					o.Stored = digest(ev.PayloadIn) + "/" + digest(ev.CanonicalMapping)
					body := sink.Body(key)
					o.Delivered, o.Size = digest(body), len(body)
					require.Equal(t, string(compactPayload(p.payload)), string(ev.PayloadIn), "%s: payload_in is the payload compacted", p.name)
					require.Equal(t, string(compactPayload(p.payload)), string(body), "%s: the remote receives the bytes sent (compacted)", p.name)
				}
				outs = append(outs, o)
			}
			results[sk.name] = outs
		})
	}
	ref, ok := results["memory"]
	require.True(t, ok)
	for i, p := range payloads {
		line := fmt.Sprintf("%-28s", p.name)
		for _, sk := range allStores() {
			outs, ok := results[sk.name]
			if !ok {
				continue
			}
			o := outs[i]
			if o.Accepted {
				line += fmt.Sprintf(" | %s: accepted, delivered %d bytes %s", sk.name, o.Size, o.Delivered)
			} else {
				line += fmt.Sprintf(" | %s: refused (%s)", sk.name, o.Err)
			}
			require.Equal(t, ref[i], o, "%s: %s differs from memory", p.name, sk.name)
		}
		t.Log(line)
		if !ref[i].Accepted {
			require.Equal(t, hub.ErrInvalidInput.Error(), ref[i].Err, "%s: refused as invalid input", p.name)
		}
	}
}

// compactPayload is encoding/json.Compact, as the hub stores payload_in.
func compactPayload(p []byte) []byte {
	var b bytes.Buffer
	if err := payloadCompact(&b, p); err != nil {
		return p
	}
	return b.Bytes()
}

var payloadCompact = json.Compact
