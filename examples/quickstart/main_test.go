package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstart runs the quickstart offline and checks what it reports.
func TestQuickstart(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "")
	t.Setenv("SLACK_CHANNEL", "")
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(context.Background(), &out), out.String())
	t.Logf("quickstart took %s:\n%s", time.Since(start), out.String())
	s := out.String()
	assert.Contains(t, s, "github:acme-corp/payments-api#1347")
	assert.Contains(t, s, "/title")
	assert.Contains(t, s, "breaker open")
	assert.Contains(t, s, "drained=true")
	assert.Contains(t, s, "failed or dead 0")
	assert.Contains(t, s, "Slack stand-in received 23 messages")
	assert.Contains(t, s, "tracker stand-in received 23 work items")
	assert.Contains(t, s, "tampered body: HTTP 401")
	assert.Contains(t, s, "duplicate=true")
	assert.Contains(t, s, "tracker meanwhile: 23 work items received")
}
