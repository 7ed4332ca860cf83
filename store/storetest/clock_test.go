package storetest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ehg/hub/store/storetest"
)

func TestClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := storetest.NewClock(t0)
	assert.Equal(t, t0, c.Now())
	assert.Equal(t, t0.Add(time.Minute), c.Advance(time.Minute))
	assert.Equal(t, t0.Add(time.Minute), c.Now())
	c.Set(t0.Add(-time.Hour))
	assert.Equal(t, t0.Add(-time.Hour), c.Now())

	// Safe for concurrent use: 100 advances of a second each, from many goroutines.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 10 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, t0.Add(-time.Hour+100*time.Second), c.Now())
}
