package memory_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (Notifications starts one per
// subscription, ended by its context).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
