package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// TestConsoleExample runs the example on a free port, signs in with the printed tokens and
// sees the stand-ins' services and traffic.
func TestConsoleExample(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type started struct {
		base   string
		tokens map[string]string
	}
	ready := make(chan started, 1)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{addr: "127.0.0.1:0", demo: true}, &out, func(base string, tokens map[string]string) {
			ready <- started{base, tokens}
		})
	}()
	var s started
	select {
	case s = <-ready:
	case err := <-done:
		t.Fatalf("the example stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the example did not start")
	}
	require.Contains(t, out.String(), "Integration Hub console: "+s.base+"/#token="+s.tokens["chairman"])

	c := &apiv1.Client{BaseURL: s.base, Token: s.tokens["chairman"]}
	var me apiv1.Me
	require.NoError(t, c.Do(ctx, "GET", "me", nil, &me))
	require.Equal(t, []string{"chairman"}, me.Principal.Roles)
	var list apiv1.ServiceList
	require.NoError(t, c.Do(ctx, "GET", "services", nil, &list))
	require.Len(t, list.Services, 3)
	require.Eventually(t, func() bool {
		var ov apiv1.Overview
		if c.Do(ctx, "GET", "overview", nil, &ov) != nil {
			return false
		}
		var n float64
		for _, svc := range ov.Services {
			for _, v := range svc.SeriesEvents {
				n += v
			}
		}
		return n >= 6
	}, 20*time.Second, 200*time.Millisecond, "no traffic")

	viewer := &apiv1.Client{BaseURL: s.base, Token: s.tokens["viewer"]}
	err := viewer.Do(ctx, "POST", "recovery", apiv1.RecoveryRequest{Service: list.Services[0].Name, Actions: []string{"disable"}}, nil)
	var refused *apiv1.Problem
	require.ErrorAs(t, err, &refused)
	require.Equal(t, 403, refused.Status, "a viewer may not pause a service")

	resp, err := http.Get(s.base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	bad := &apiv1.Client{BaseURL: s.base, Token: "nope"}
	err = bad.Do(ctx, "GET", "me", nil, nil)
	var p *apiv1.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, 401, p.Status)

	cancel()
	require.NoError(t, <-done)
	require.False(t, strings.Contains(out.String(), "error"))
}
