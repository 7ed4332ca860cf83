package transform_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// workload is the shared benchmark workload, read from the copy the quickstart ships.
type workload struct {
	event    []byte
	mapping  []byte
	expected []byte
	schema   []byte
}

const workloadDir = "../examples/quickstart/data"

var (
	workOnce sync.Once
	work     workload
	workErr  error
)

func loadWorkload(tb testing.TB) workload {
	tb.Helper()
	workOnce.Do(func() {
		read := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(workloadDir, name))
			if err != nil && workErr == nil {
				workErr = err
			}
			return b
		}
		work = workload{
			event:    read("github-issue-event.json"),
			mapping:  read("github-issue-to-work-item.expr.json"),
			expected: read("work-item.expected.json"),
			schema:   read("work-item.schema.json"),
		}
	})
	require.NoError(tb, workErr, "the workload files are missing")
	return work
}

// decodeNumber decodes JSON keeping numbers exact, as the hub does.
func decodeNumber(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	require.NoError(tb, d.Decode(&m))
	return m
}
