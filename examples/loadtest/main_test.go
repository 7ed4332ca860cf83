package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunLosesNothing drives a small load through both sink kinds, with injected failures,
// and checks the report: every accepted event delivered (or dead), none lost.
func TestRunLosesNothing(t *testing.T) {
	t.Parallel()
	for _, sink := range []string{"inproc", "http"} {
		t.Run(sink, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(t.Context(), config{
				store: "memory", dataDir: "../quickstart/data", events: 300, producers: 4, sink: sink,
				failureRate: 0.1, workers: 4, batch: 32, poll: 5 * time.Millisecond, timeout: time.Minute,
			}, &out)
			require.NoError(t, err, out.String())
			assert.Contains(t, out.String(), "accepted 300")
			assert.Contains(t, out.String(), "lost 0")
			assert.Contains(t, out.String(), "p99")
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := config{store: "sqlite", sink: "inproc", events: 1, producers: 1}
	require.NoError(t, good.validate())
	for name, edit := range map[string]func(*config){
		"store":        func(c *config) { c.store = "redis" },
		"sink":         func(c *config) { c.sink = "kafka" },
		"events":       func(c *config) { c.events = 0 },
		"failure rate": func(c *config) { c.failureRate = 1 },
		"postgres url": func(c *config) { c.store, c.postgresURL = "postgres", "" },
	} {
		c := good
		edit(&c)
		assert.Error(t, c.validate(), name)
	}
}
