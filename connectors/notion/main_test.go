package notion_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind (connections or
// token fetches that outlive their call).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
