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

// workload is the shared benchmark workload in shared/bench, found by walking up from the
// test's working directory (or $BENCH_DATA).
type workload struct {
	event    []byte
	mapping  []byte
	expected []byte
	schema   []byte
}

var (
	workOnce sync.Once
	work     workload
	workErr  error
)

func benchDir() (string, error) {
	if d := os.Getenv("BENCH_DATA"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{filepath.Join(d, "shared", "bench"), filepath.Join(d, "bench")} {
			if _, err := os.Stat(filepath.Join(c, "github-issue-event.json")); err == nil {
				return c, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", os.ErrNotExist
		}
	}
}

func loadWorkload(tb testing.TB) workload {
	tb.Helper()
	workOnce.Do(func() {
		var dir string
		if dir, workErr = benchDir(); workErr != nil {
			return
		}
		read := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, name))
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
	require.NoError(tb, workErr, "shared/bench workload")
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
