package benchmarks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrWorkloadNotFound is returned by LocateRepo when no folder above the start holds the
// workload files.
var ErrWorkloadNotFound = errors.New("benchmarks: workload files not found")

// Paths of the workload files, relative to the repository root.
const (
	dataDir   = "examples/quickstart/data"
	bloblPath = "benchmarks/testdata/github-issue-to-work-item.blobl"
)

// Workload is the shared benchmark workload, read from the repository.
type Workload struct {
	// Event is github-issue-event.json as stored (5,550 bytes, pretty-printed): what the
	// per-event pipeline benchmarks feed.
	Event []byte
	// Compact is Event without insignificant white space (4,459 bytes): what producers
	// hand to the hub and to River.
	Compact []byte
	// Mapping is the expr-lang mapping document (github-issue-to-work-item.expr.json).
	Mapping []byte
	// Schema is the canonical work item's JSON Schema (work-item.schema.json).
	Schema []byte
	// Expected is the canonical output every implementation must produce, without the
	// trailing newline of work-item.expected.json.
	Expected []byte
	// Blobl is the same mapping in Benthos bloblang.
	Blobl string
}

// LocateRepo returns the repository root: the first folder at or above start that holds
// the workload files. Errors wrap ErrWorkloadNotFound.
func LocateRepo(start string) (string, error) {
	abs, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if isFile(filepath.Join(d, dataDir, "github-issue-event.json")) && isFile(filepath.Join(d, bloblPath)) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w at or above %s (run inside the repository)", ErrWorkloadNotFound, abs)
		}
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// LoadWorkload reads the workload from the repository rooted at root (see LocateRepo).
func LoadWorkload(root string) (*Workload, error) {
	var firstErr error
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("benchmarks: workload: %w", err)
		}
		return b
	}
	w := &Workload{
		Event:    read(filepath.Join(dataDir, "github-issue-event.json")),
		Mapping:  read(filepath.Join(dataDir, "github-issue-to-work-item.expr.json")),
		Schema:   read(filepath.Join(dataDir, "work-item.schema.json")),
		Expected: bytes.TrimSpace(read(filepath.Join(dataDir, "work-item.expected.json"))),
		Blobl:    string(read(bloblPath)),
	}
	if firstErr != nil {
		return nil, firstErr
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, w.Event); err != nil {
		return nil, fmt.Errorf("benchmarks: workload event: %w", err)
	}
	w.Compact = buf.Bytes()
	return w, nil
}

// FindWorkload locates the repository from the working directory and loads the workload.
func FindWorkload() (*Workload, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := LocateRepo(wd)
	if err != nil {
		return nil, err
	}
	return LoadWorkload(root)
}
