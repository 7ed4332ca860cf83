package postgres

import (
	"testing"
	"time"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/storetest"
)

// TestConformance runs the store conformance suite, each case in a schema of its own.
func TestConformance(t *testing.T) {
	t.Parallel()
	testURL(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return newTestStore(t, now)
	})
}
