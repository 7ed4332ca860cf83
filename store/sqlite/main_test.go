package sqlite_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the binary as a child process of the multi-process tests when asked to
// (see runChild), and otherwise runs the tests, checking that no goroutine outlives them.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChild(mode, os.Getenv(childPathEnv)))
	}
	goleak.VerifyTestMain(m)
}
