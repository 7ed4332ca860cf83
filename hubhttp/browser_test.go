package hubhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/internal/apitest"
	"github.com/ehg/hub/store"
)

// Browser tests drive the console in headless Chromium. They need a Chromium binary
// (HUB_CHROMIUM, else chromium or chromium-browser on PATH); without one they fail, they do
// not skip. Screenshots go to HUB_SCREENSHOTS when set, else to the test's temporary
// directory; each test logs where.

// browserTimeout bounds one browser test.
const browserTimeout = 60 * time.Second

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HUB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install Debian's chromium package or set HUB_CHROMIUM")
	return ""
}

type browser struct {
	ctx  context.Context
	base string
	t    *testing.T
	shot string // directory of screenshots
}

// newBrowser starts a headless Chromium of its own (fresh profile) with the window size
// and returns a tab context bounded by browserTimeout.
func newBrowser(t *testing.T, base string, width, height int) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium failed: %v", err)
	}
	dir := os.Getenv("HUB_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	return &browser{ctx: ctx, base: base, t: t, shot: dir}
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.screenshot("failure")
		b.t.Fatalf("browser: %v", err)
	}
}

// text returns the visible text of the first element matching the CSS selector.
func (b *browser) text(css string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.screenshot("failure")
		b.t.Fatalf("browser: text of %s: %v", css, err)
	}
	return v
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.screenshot("failure")
		b.t.Fatalf("browser: evaluating %s: %v", expr, err)
	}
	return v
}

// screenshot saves the whole page as <test>-<name>.png.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s failed: %v", name, err)
		return ""
	}
	file := filepath.Join(b.shot, strings.NewReplacer("/", "-", " ", "_").Replace(b.t.Name())+"-"+name+".png")
	require.NoError(b.t, os.WriteFile(file, png, 0o644))
	b.t.Logf("screenshot: %s", file)
	return file
}

// open loads the console at fragment, signed in with token.
func (b *browser) open(token, fragment string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base + "/#token=" + token))
	b.waitJS(`document.getElementById('me').textContent !== ''`)
	if fragment != "" {
		eval[string](b, fmt.Sprintf(`location.hash = %q`, fragment))
	}
}

// waitJS polls a JavaScript condition until it is true.
func (b *browser) waitJS(cond string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		b.screenshot("failure")
		b.t.Fatalf("browser: waiting for %s: %v", cond, err)
	}
}

type consoleBundle struct {
	hub  *hub.Hub
	srv  *httptest.Server
	sink *hubtest.Sink
}

func setupConsole(t *testing.T) *consoleBundle {
	t.Helper()
	h := hubtest.New(t, nil)
	x, err := hubhttp.New(h, hubhttp.Options{Authenticate: hubhttp.BearerTokens(testPrincipals), Title: "Test Hub"})
	require.NoError(t, err)
	srv := httptest.NewServer(apitest.Validating(t, x))
	t.Cleanup(func() {
		x.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return &consoleBundle{hub: h, srv: srv, sink: hubtest.NewSink(t)}
}

func TestBrowserOverview(t *testing.T) {
	c := setupConsole(t)
	ctx := t.Context()
	registerSink(t, c.hub, "crm", c.sink.URL)
	registerSink(t, c.hub, "chat", c.sink.URL)
	for i := range 6 {
		_, err := c.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		require.NoError(t, err)
	}
	b := newBrowser(t, c.srv.URL, 1280, 900)
	b.open(tokViewer, "")
	b.waitJS(`document.querySelectorAll('#services tbody tr').length === 2`)
	status := b.text(`tr[data-service="crm"] .badge`)
	who := b.text(`#me`)
	throughput := b.text(`tr[data-service="crm"] td[data-label="Throughput"]`)
	require.Equal(t, "vera (viewer)", who)
	require.Contains(t, []string{"healthy", "unknown"}, status)
	require.Contains(t, throughput, "0.1 /min") // 6 events over the last hour
	sparks := eval[int](b, `document.querySelectorAll('tr[data-service="crm"] svg.spark').length`)
	require.Equal(t, 4, sparks)
	b.screenshot("overview")
}

func TestBrowserPhoneLayout(t *testing.T) {
	c := setupConsole(t)
	registerSink(t, c.hub, "crm", c.sink.URL)
	b := newBrowser(t, c.srv.URL, 1280, 900)
	b.run(chromedp.Emulate(device.IPhone13))
	b.open(tokViewer, "")
	b.waitJS(`document.querySelectorAll('#services tbody tr').length === 1`)
	require.Equal(t, 390, eval[int](b, `window.innerWidth`))
	overflow := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`)
	require.False(t, overflow, "the page scrolls sideways on a phone")
	b.screenshot("phone")
}

func TestBrowserServiceTurnsUnhealthyLive(t *testing.T) {
	c := setupConsole(t)
	ctx := t.Context()
	registerSink(t, c.hub, "flaky", c.sink.URL)
	_, err := c.hub.ConfigureService(ctx, "flaky", hub.ServiceConfig{HealthCheck: json.RawMessage(`{"min_samples": 3, "window_seconds": 60}`)})
	require.NoError(t, err)
	for i := range 3 {
		_, err := c.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "flaky", Payload: json.RawMessage(fmt.Sprintf(`{"ok":%d}`, i))})
		require.NoError(t, err)
	}
	b := newBrowser(t, c.srv.URL, 1280, 900)
	b.open(tokViewer, "")
	b.waitJS(`(document.querySelector('tr[data-service="flaky"] .badge') || {}).dataset?.status === 'healthy'`)
	b.waitJS(`document.getElementById('live').classList.contains('on')`)
	b.screenshot("healthy")
	// the remote starts failing: the page turns the service unhealthy without a reload
	c.sink.FailWith(400)
	for i := range 5 {
		_, _ = c.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "flaky", Payload: json.RawMessage(fmt.Sprintf(`{"bad":%d}`, i))})
	}
	navs := eval[float64](b, `performance.timeOrigin`)
	b.waitJS(`document.querySelector('tr[data-service="flaky"] .badge').dataset.status === 'unhealthy'`)
	// the figures follow: the error rate of the failures and the overall status
	b.waitJS(`!document.querySelector('tr[data-service="flaky"] td[data-label="Error rate"]').textContent.startsWith('0.0%') && ` +
		`document.querySelector('p.muted > .badge').dataset.status !== 'healthy'`)
	after := eval[float64](b, `performance.timeOrigin`)
	require.Equal(t, navs, after, "the page was reloaded")
	b.screenshot("unhealthy")
}

func TestBrowserDesignerPreviewAndViolations(t *testing.T) {
	c := setupConsole(t)
	ctx := t.Context()
	schema := `{"type":"object","required":["title","state"],"properties":{"title":{"type":"string"},"state":{"enum":["todo","done"]}}}`
	_, err := c.hub.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "tracker", Connector: "http", BaseURL: c.sink.URL,
		Contract: &hub.ContractRef{Name: "item", Version: "1.0.0", Schema: json.RawMessage(schema)},
		Mapping:  json.RawMessage(`{"title":"issue.title","state":"issue.state == 'closed' ? 'done' : 'todo'"}`)})
	require.NoError(t, err)
	b := newBrowser(t, c.srv.URL, 1280, 1000)
	b.open(tokAdmin, "#/designer/tracker")
	b.waitJS(`document.getElementById('preview-verdict') && document.getElementById('preview-verdict').className === 'ok'`)
	out := b.text(`#output`)
	require.JSONEq(t, `{"title":"Example","state":"todo"}`, out)
	b.screenshot("valid")

	// an edit that breaks the contract: the violation shows at its path
	b.run(chromedp.SetValue(chromedp.ID("mapping"), `{"title": "issue.title", "state": "issue.state"}`),
		chromedp.SendKeys(chromedp.ID("mapping"), " "))
	b.waitJS(`document.querySelector('#problems li.violation[data-path="/state"]') !== null`)
	out = b.text(`#output`)
	require.JSONEq(t, `{"title":"Example","state":"open"}`, out)
	violation := b.text(`#problems li.violation`)
	require.Contains(t, violation, "/state")
	b.screenshot("violation")

	// a field that does not compile is reported with its position
	b.run(chromedp.SetValue(chromedp.ID("mapping"), `{"title": "issue.(", "state": "'todo'"}`),
		chromedp.SendKeys(chromedp.ID("mapping"), " "))
	b.waitJS(`document.querySelector('#problems li.error[data-target="title"]') !== null`)

	// the sample changes: the preview follows
	b.run(chromedp.SetValue(chromedp.ID("mapping"), `{"title": "issue.title", "state": "issue.state == 'closed' ? 'done' : 'todo'"}`),
		chromedp.SetValue(chromedp.ID("sample"), `{"issue": {"title": "Ship it", "state": "closed"}}`),
		chromedp.SendKeys(chromedp.ID("sample"), " "))
	b.waitJS(`document.getElementById('output').textContent.includes('Ship it')`)
	out = b.text(`#output`)
	require.JSONEq(t, `{"title":"Ship it","state":"done"}`, out)

	// the suggested mapping
	b.run(chromedp.Click(chromedp.ID("suggest")))
	b.waitJS(`document.getElementById('use-suggestion') !== null`)
	b.screenshot("suggestion")
}

func TestBrowserCommandBar(t *testing.T) {
	c := setupConsole(t)
	registerSink(t, c.hub, "chat", c.sink.URL)
	b := newBrowser(t, c.srv.URL, 1280, 900)
	b.open(tokOperator, "")
	b.waitJS(`document.querySelectorAll('#services tbody tr').length === 1`)
	// "/" focuses the command bar from anywhere
	b.run(chromedp.KeyEvent("/"))
	focused := eval[string](b, `document.activeElement.id`)
	require.Equal(t, "cmd", focused)
	// (DevTools sends the typed character apart from the key press the page cancelled)
	eval[string](b, `document.getElementById('cmd').value = ''`)
	b.run(chromedp.SendKeys(chromedp.ID("cmd"), "pause chat\n"))
	b.waitJS(`document.getElementById('plan-summary') !== null`)
	summary := b.text(`#plan-summary`)
	require.Contains(t, summary, "Pause chat")
	b.screenshot("plan")
	// the confirm button has the focus: Enter runs the plan
	b.run(chromedp.KeyEvent("\r"))
	b.waitJS(`document.getElementById('command-result') !== null`)
	result := b.text(`#command-result`)
	require.Contains(t, result, "disabled")
	si, err := c.hub.GetService(t.Context(), "chat")
	require.NoError(t, err)
	require.False(t, si.Service.IsActive)
	b.waitJS(`document.querySelector('tr[data-service="chat"] .muted').textContent.includes('paused')`)
	b.screenshot("ran")

	// nonsense: not understood, with suggestions to click
	eval[string](b, `document.getElementById('cmd').value = ''`)
	b.run(chromedp.SendKeys(chromedp.ID("cmd"), "make me a sandwich\n"))
	b.waitJS(`document.querySelectorAll('#plan .suggestions button').length > 0`)
}

// TestBrowserRedriveDeadLetter: a dead event is listed on its service's page; the Redrive
// button requeues it and, the remote healthy again, it is delivered: the page, without a
// reload, shows it succeeded and the dead letters empty.
func TestBrowserRedriveDeadLetter(t *testing.T) {
	c := setupConsole(t)
	ctx := t.Context()
	zero := 0
	_, err := c.hub.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name: "orders", Connector: "http", BaseURL: c.sink.URL, MaxRetries: &zero,
		Retry:          json.RawMessage(hubtest.FastRetry),
		RateLimits:     json.RawMessage(hubtest.Unlimited),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 1000, "recovery_timeout": "100ms"}`),
	})
	require.NoError(t, err)
	c.sink.FailWith(503)
	// delivered at once (the default synchronous mode), it fails and, with no retries, is dead
	res, err := c.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "orders", Payload: json.RawMessage(`{"order":1}`)})
	require.ErrorIs(t, err, hub.ErrDeliveryFailed)
	require.NotNil(t, res)
	hubtest.WaitForStatus(t, c.hub, res.EventID, store.StatusDead)
	c.sink.FailWith(0)

	b := newBrowser(t, c.srv.URL, 1280, 900)
	b.open(tokOperator, "#/services/orders")
	row := fmt.Sprintf(`tr.dead-letter[data-event-id=%q]`, res.EventID)
	b.waitJS(`document.querySelector('` + row + `') !== null`)
	require.Equal(t, "dead", b.text(fmt.Sprintf(`#recent tr[data-event-id=%q] .evstatus`, res.EventID)))
	origin := eval[float64](b, `performance.timeOrigin`)
	b.screenshot("dead")
	b.run(chromedp.Click(chromedp.CSS(row + ` button.redrive`)))
	// the click only starts the page's request: the event stays dead until the hub has
	// requeued it, and WaitForStatus would take that dead for the outcome
	require.Eventually(t, func() bool {
		ev, err := c.hub.GetEvent(ctx, res.EventID)
		return err == nil && ev.Status != store.StatusDead
	}, hubtest.DefaultWait, 5*time.Millisecond, "the redrive did not requeue the dead event")
	ev := hubtest.WaitForStatus(t, c.hub, res.EventID, store.StatusSucceeded)
	require.Equal(t, store.StatusSucceeded, ev.Status)
	// the page follows by itself (the stream reports the outcome): the event shows as
	// succeeded among the recent events and the dead letters are empty, with no reload
	b.waitJS(fmt.Sprintf(`(document.querySelector('#recent tr[data-event-id=%q] .evstatus') || {}).textContent === 'succeeded'`, res.EventID))
	b.waitJS(`document.getElementById('no-dead') !== null`)
	require.Equal(t, origin, eval[float64](b, `performance.timeOrigin`), "the page was reloaded")
	b.screenshot("redriven")
}

// TestBrowserApproveAsSecondUser: a registration held for approval is listed for its
// requester, who cannot approve it, and applied when a second user approves it.
func TestBrowserApproveAsSecondUser(t *testing.T) {
	g := setupGoverned(t)
	reg := apiv1.RegisterRequest{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"}
	pr := g.json(t, "POST", "/api/v1/services", tokAdmin, reg).problem(t)
	require.Equal(t, 202, pr.Status)
	item := fmt.Sprintf(`li.approval[data-approval-id=%q]`, pr.ApprovalID)

	requester := newBrowser(t, g.srv.URL, 1280, 900)
	requester.open(tokAdmin, "#/approvals")
	requester.waitJS(`document.querySelector('` + item + `') !== null`)
	require.True(t, eval[bool](requester, `document.querySelector('`+item+` button.approve').disabled`),
		"the requester can approve their own change")
	requester.screenshot("requester")

	second := newBrowser(t, g.srv.URL, 1280, 900)
	second.open(tokChair, "#/approvals")
	second.waitJS(`document.querySelector('` + item + ` button.approve') !== null && !document.querySelector('` + item + ` button.approve').disabled`)
	second.run(chromedp.Click(chromedp.CSS(item + ` button.approve`)))
	second.waitJS(`document.getElementById('no-approvals') !== null`)
	second.screenshot("approved")
	require.Equal(t, 200, g.call(t, "GET", "/api/v1/services/crm", tokViewer, nil).Status, "the approved registration was not applied")
}

// TestBrowserMissingFails runs a browser test in a child process of this test binary with
// no Chromium to start, once with HUB_CHROMIUM naming a file that does not exist and once
// with none on PATH: the browser test fails (it does not skip) and says why.
func TestBrowserMissingFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, env := range map[string][]string{
		"HUB_CHROMIUM names no file": {"HUB_CHROMIUM=" + filepath.Join(dir, "no-chromium")},
		"no Chromium on PATH":        {"HUB_CHROMIUM=", "PATH=" + dir},
	} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrowserOverview$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%s: the browser test passed without a browser:\n%s", name, out)
		require.Contains(t, string(out), "--- FAIL: TestBrowserOverview", name)
		require.NotContains(t, string(out), "--- SKIP", name)
		require.Regexp(t, `no Chromium found|starting Chromium failed`, string(out), name)
		t.Logf("%s: the browser test fails: %s", name, firstLine(out, "Chromium"))
	}
}

// firstLine returns the first line of out containing s.
func firstLine(out []byte, s string) string {
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
