package httpconn

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Batch splits the array a request body carries into requests of at most MaxItems
// items and refuses any request over MaxBytes, the way analytics ingestion APIs limit
// their batches (GA4 Measurement Protocol 25 events, Mixpanel /import 2000, Amplitude
// HTTP V2 2000 and 1 MB).
type Batch struct {
	// Field is the top-level field of the rendered body holding the array ("events");
	// "" means the body itself is the array (Mixpanel /import).
	Field string `json:"field,omitempty"`
	// MaxItems is the most items per request; 0 means no count limit.
	MaxItems int `json:"max_items,omitempty"`
	// MaxBytes is the largest request body; 0 means no size limit.
	MaxBytes int `json:"max_bytes,omitempty"`
}

func (b *Batch) validate(name string) error {
	if b.MaxItems < 0 || b.MaxBytes < 0 {
		return fmt.Errorf("operations.%s.batch: max_items and max_bytes must not be negative", name)
	}
	return nil
}

// split renders the request bodies of one delivery: body (decoded) cut into chunks of
// at most MaxItems items, each encoded and checked against MaxBytes. Every chunk is
// checked before any is sent, so an oversized delivery sends nothing.
func (b *Batch) split(body any) ([][]byte, error) {
	var items []any
	obj, isObj := body.(map[string]any)
	switch {
	case b.Field == "":
		arr, ok := body.([]any)
		if !ok {
			return nil, fmt.Errorf("batch body must be a JSON array")
		}
		items = arr
	case isObj:
		arr, ok := obj[b.Field].([]any)
		if !ok {
			return nil, fmt.Errorf("batch body field %q must be an array", b.Field)
		}
		items = arr
	default:
		return nil, fmt.Errorf("batch body must be a JSON object with the array in %q", b.Field)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("batch has no items")
	}
	size := b.MaxItems
	if size <= 0 {
		size = len(items)
	}
	var out [][]byte
	for start := 0; start < len(items); start += size {
		chunk := items[start:min(start+size, len(items))]
		var doc any = chunk
		if b.Field != "" {
			m := make(map[string]any, len(obj))
			for k, v := range obj {
				m[k] = v
			}
			m[b.Field] = chunk
			doc = m
		}
		enc, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("cannot encode batch")
		}
		if b.MaxBytes > 0 && len(enc) > b.MaxBytes {
			return nil, fmt.Errorf("batch request of %d items is %d bytes; the limit is %d", len(chunk), len(enc), b.MaxBytes)
		}
		out = append(out, enc)
	}
	return out, nil
}

// chunkKey is the idempotency key of chunk i of n: the delivery's key, suffixed with
// the chunk number when the delivery was split.
func chunkKey(key string, i, n int) string {
	if key == "" || n == 1 {
		return key
	}
	return key + "/" + strconv.Itoa(i+1)
}
