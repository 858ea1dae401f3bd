package demo

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// A dashboard in headless Chromium, driven with chromedp, for the page's
// tests and for end-to-end tests against the real demo. Debian's chromium
// package provides the browser (CI installs it); without one the test skips.

// chromiumPath finds a Chromium binary: $CHROMIUM, /usr/bin/chromium, or
// chromium / chromium-browser on the PATH; "" when there is none.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// dashboardBrowser is one tab on the dashboard. It records what a page must
// never do: console errors and warnings, uncaught exceptions, and requests
// to any host but the dashboard's.
type dashboardBrowser struct {
	t    testing.TB
	ctx  context.Context
	base *url.URL

	mu       sync.Mutex
	problems []string // console errors and warnings, exceptions, browser log entries
	network  []string // browser log entries of the network (a 409 answer, a dropped stream)
	foreign  []string // requests to other hosts
}

// dashboardWidth and dashboardHeight are the stage's projector.
const dashboardWidth, dashboardHeight = 1280, 720

// openDashboard starts a headless Chromium at 1280x720 and loads the
// dashboard at base (http://host:port). It skips the test when no Chromium
// is installed. The browser closes in a t.Cleanup: register the server's own
// shutdown before calling openDashboard (cleanups run last-first), since an
// httptest.Server's Close waits for the page's open event stream; or close
// the server with CloseClientConnections first.
func openDashboard(t testing.TB, base string) *dashboardBrowser {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no Chromium found ($CHROMIUM, /usr/bin/chromium, chromium-browser; apt-get install chromium): skipping the dashboard's browser test")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dashboard address %q: %v", base, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(dashboardWidth, dashboardHeight),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium leaves org.chromium.Chromium.* directories in $TMPDIR.
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &dashboardBrowser{t: t, ctx: ctx, base: u}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatalf("starting Chromium %s: %v", bin, err)
	}
	// The window size includes the browser's own frame: set the page's
	// viewport to the projector's size exactly.
	b.do(30*time.Second,
		chromedp.EmulateViewport(dashboardWidth, dashboardHeight, chromedp.EmulateScale(1)),
		chromedp.Navigate(u.JoinPath("/").String()))
	return b
}

// onEvent runs on chromedp's reading goroutine: it only records.
func (b *dashboardBrowser) onEvent(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range e.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *log.EventEntryAdded:
		if e.Entry.Level != log.EntryLevelError && e.Entry.Level != log.EntryLevelWarning {
			return
		}
		line := fmt.Sprintf("%s %s: %s (%s)", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
		// A refused control's 409 and a dropped event stream are logged by
		// the browser as network errors; the tests cause them on purpose.
		if e.Entry.Source == log.EntrySourceNetwork {
			b.network = append(b.network, line)
			return
		}
		b.problems = append(b.problems, line)
	case *network.EventRequestWillBeSent:
		u, err := url.Parse(e.Request.URL)
		if err != nil {
			b.foreign = append(b.foreign, e.Request.URL)
			return
		}
		if u.Scheme == "data" || u.Scheme == "blob" || u.Scheme == "about" {
			return // nothing leaves the page
		}
		if u.Host != b.base.Host {
			b.foreign = append(b.foreign, e.Request.URL)
		}
	}
}

// do runs actions with a timeout, failing the test on an error.
func (b *dashboardBrowser) do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v (problems so far: %v)", err, b.Problems())
	}
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](b *dashboardBrowser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript expression is true.
func (b *dashboardBrowser) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		b.t.Fatalf("waiting for %s (%s): %v (problems so far: %v)", what, expr, err, b.Problems())
	}
}

// waitSeq waits until the page has drawn the state with this Seq (the page
// sets data-seq on <body> after drawing a state).
func (b *dashboardBrowser) waitSeq(seq uint64) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("state %d", seq), fmt.Sprintf(`document.body.dataset.seq === %q`, fmt.Sprint(seq)), 15*time.Second)
}

// click clicks the first element a CSS selector finds, once it is visible.
// A control inside a closed menu ("Release bad ▾") is clicked as a person
// would: the menu is opened first (a disabled menu stays shut, and the click
// then times out).
func (b *dashboardBrowser) click(selector string) {
	b.t.Helper()
	b.waitFor(selector, fmt.Sprintf(`document.querySelector(%q) !== null`, selector), 10*time.Second)
	evalJS[bool](b, fmt.Sprintf(`(() => {
		const menu = document.querySelector(%q).closest('details');
		if (menu && !menu.open) menu.querySelector('summary').click();
		return true;
	})()`, selector))
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(selector)))
}

// text returns the textContent of the first element a CSS selector finds.
func (b *dashboardBrowser) text(selector string) string {
	b.t.Helper()
	return evalJS[string](b, fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, selector))
}

// visible reports whether the element is shown: laid out, not hidden, and
// at least partly inside the viewport.
func (b *dashboardBrowser) visible(selector string) bool {
	b.t.Helper()
	return evalJS[bool](b, fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e || e.hidden || e.closest('[hidden]')) return false;
		const r = e.getBoundingClientRect();
		const st = getComputedStyle(e);
		return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none' &&
			r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
	})()`, selector))
}

// screenshot returns a PNG of the first element a CSS selector finds.
func (b *dashboardBrowser) screenshot(selector string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(selector)))
	if err != nil {
		b.t.Fatalf("screenshot of %s: %v", selector, err)
	}
	return png
}

// saveScreenshot writes the viewport as name.png into
// $BLASTRADIUS_WEB_SCREENSHOTS, when set: to look at what the stage shows.
func (b *dashboardBrowser) saveScreenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("BLASTRADIUS_WEB_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// gridShares screenshots the #grid canvas and returns its colour shares
// (see gridColorShares).
func (b *dashboardBrowser) gridShares() map[string]float64 {
	b.t.Helper()
	shares, err := gridColorShares(b.screenshot("#grid"))
	if err != nil {
		b.t.Fatal(err)
	}
	return shares
}

// Problems returns the console errors and warnings, uncaught exceptions and
// non-network browser log errors seen so far.
func (b *dashboardBrowser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// Foreign returns the requests made to any host but the dashboard's.
func (b *dashboardBrowser) Foreign() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.foreign...)
}

// NetworkLog returns the browser's network error log lines (informative).
func (b *dashboardBrowser) NetworkLog() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.network...)
}

// checkClean fails the test on any problem or foreign request so far.
func (b *dashboardBrowser) checkClean() {
	b.t.Helper()
	for _, p := range b.Problems() {
		b.t.Errorf("page problem: %s", p)
	}
	for _, f := range b.Foreign() {
		b.t.Errorf("request to another host than the dashboard's (%s): %s", b.base.Host, f)
	}
}
