//go:build unix

package reports

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// The browser checks run the report in headless Chromium (Debian's
// chromium package; CI installs it with apt-get) and skip without it.

func chromiumBinary(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Skip("headless Chromium not found (apt-get install chromium): skipping the browser checks")
	return ""
}

// chromium runs one headless Chromium with a fresh profile, in its own
// process group, killed whole when it ends or after the timeout.
func chromium(tb testing.TB, timeout time.Duration, args ...string) ([]byte, time.Duration, error) {
	tb.Helper()
	bin := chromiumBinary(tb)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + tb.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Chromium puts org.chromium.Chromium.* directories in $TMPDIR and
	// leaves them: give it the test's own.
	cmd.Env = append(os.Environ(), "TMPDIR="+tb.TempDir())
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers it left behind
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return stdout.Bytes(), elapsed, errors.New("chromium timed out: " + stderr.String())
	}
	if err != nil {
		return stdout.Bytes(), elapsed, errors.New(err.Error() + ": " + stderr.String())
	}
	return stdout.Bytes(), elapsed, nil
}

func writeReport(tb testing.TB, page []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), HTMLFile)
	require.NoError(tb, os.WriteFile(path, page, 0o644))
	return path
}

// htmlAttrs returns the attributes of the dumped DOM's <html>.
func htmlAttrs(tb testing.TB, dom []byte) map[string]string {
	tb.Helper()
	doc, err := html.Parse(bytes.NewReader(dom))
	require.NoError(tb, err)
	out := map[string]string{}
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "html" {
			for _, a := range n.Attr {
				out[a.Key] = a.Val
			}
		}
	})
	return out
}

func TestChromiumRendersReport(t *testing.T) {
	f := fixture()
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, Compare(baselineOf(f), f)))
	path := writeReport(t, buf.Bytes())

	// The page's script ran to the end without an error.
	dom, _, err := chromium(t, 60*time.Second, "--virtual-time-budget=3000", "--dump-dom", "file://"+path)
	require.NoError(t, err)
	attrs := htmlAttrs(t, dom)
	assert.Equal(t, "ok", attrs["data-status"], "script error: %s", attrs["data-error"])
	assert.Empty(t, attrs["data-error"])
	assert.Contains(t, string(dom), `class="sort"`, "the tables became sortable")

	// The screenshot is not blank.
	shot := filepath.Join(t.TempDir(), "shot.png")
	_, _, err = chromium(t, 60*time.Second, "--screenshot="+shot, "--window-size=1280,2000", "--virtual-time-budget=3000", "file://"+path)
	require.NoError(t, err)
	pf, err := os.Open(shot)
	require.NoError(t, err)
	defer pf.Close()
	img, err := png.Decode(pf)
	require.NoError(t, err)
	colors, nonWhite, total := pixelStats(img)
	t.Logf("screenshot: %d colors, %.1f%% not white", colors, 100*float64(nonWhite)/float64(total))
	assert.Greater(t, colors, 50, "a rendered report has text and charts in many colors")
	assert.Greater(t, float64(nonWhite)/float64(total), 0.03)
}

func pixelStats(img image.Image) (colors, nonWhite, total int) {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			key := (r>>8)<<16 | (g>>8)<<8 | bl>>8
			seen[key] = true
			if key != 0xffffff {
				nonWhite++
			}
			total++
		}
	}
	return len(seen), nonWhite, total
}

// The hostile payloads stay text in a real browser: none of their scripts
// runs, and the page's own script still does.
func TestChromiumHostileReport(t *testing.T) {
	f := hostileFixture()
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, Compare(f, f)))
	inertInBrowser(t, buf.Bytes())
}

// inertInBrowser opens the page in headless Chromium: its script ran
// without an error, and no payload ran (none marked the page).
func inertInBrowser(t *testing.T, page []byte) {
	t.Helper()
	path := writeReport(t, page)
	dom, _, err := chromium(t, 60*time.Second, "--virtual-time-budget=3000", "--dump-dom", "file://"+path)
	require.NoError(t, err)
	attrs := htmlAttrs(t, dom)
	assert.Equal(t, "ok", attrs["data-status"], "script error: %s", attrs["data-error"])
	_, pwned := attrs["data-pwned"]
	assert.False(t, pwned, "a payload ran: data-pwned=%s", attrs["data-pwned"])
}

// BenchmarkOpen200Runs measures how long headless Chromium takes to open a
// report of 200 runs of 300 s each (target: under 2 s), next to an empty
// page for Chromium's own start-up, and the report's size (target: under
// 10 MiB; TestSize200Runs checks it). Metrics: open-ms is the wall time of
// a screenshot of the report (load, script, layout, paint), blank-ms the
// same for an empty page, ready-ms the page's own performance.now() when
// its script finished (navigation to interactive), MiB the file size.
func BenchmarkOpen200Runs(b *testing.B) {
	chromiumBinary(b)
	f := generated(200, 300)
	var buf bytes.Buffer
	require.NoError(b, HTML(&buf, f, nil))
	path := writeReport(b, buf.Bytes())
	blank := writeReport(b, []byte("<!DOCTYPE html><html><head><title>blank</title></head><body>blank</body></html>"))
	shot := filepath.Join(b.TempDir(), "shot.png")
	var open, empty, ready float64
	for b.Loop() {
		_, d0, err := chromium(b, 60*time.Second, "--screenshot="+shot, "--window-size=1280,2000", "file://"+blank)
		require.NoError(b, err)
		_, d1, err := chromium(b, 60*time.Second, "--screenshot="+shot, "--window-size=1280,2000", "file://"+path)
		require.NoError(b, err)
		dom, _, err := chromium(b, 60*time.Second, "--dump-dom", "file://"+path)
		require.NoError(b, err)
		attrs := htmlAttrs(b, dom)
		require.Equal(b, "ok", attrs["data-status"], attrs["data-error"])
		ms, err := strconv.ParseFloat(attrs["data-ready-ms"], 64)
		require.NoError(b, err)
		empty += float64(d0.Milliseconds())
		open += float64(d1.Milliseconds())
		ready += ms
	}
	n := float64(b.N)
	b.ReportMetric(open/n, "open-ms")
	b.ReportMetric(empty/n, "blank-ms")
	b.ReportMetric(ready/n, "ready-ms")
	b.ReportMetric(float64(buf.Len())/(1<<20), "MiB")
	b.ReportMetric(0, "ns/op")
}

// The page's script at work: hovering over a timeline shows the second's
// values, and clicking a heading sorts. A test script, admitted by adding
// its hash to the page's policy, plays the user and writes what it saw.
func TestChromiumInteractions(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, fixture(), nil))
	const play = `(function () {
  var root = document.documentElement;
  try {
    var svg = document.querySelector('svg.timeline');
    var r = svg.getBoundingClientRect();
    svg.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width * 0.2, clientY: r.top + r.height * 0.3, bubbles: true}));
    var tip = document.getElementById('tip');
    root.setAttribute('data-test-tip', tip.hidden ? 'hidden' : tip.textContent);
    var th = document.querySelector('table.board th:nth-child(6)');
    th.click();
    var asc = document.querySelector('table.board tbody tr').getAttribute('data-target');
    th.click();
    var desc = document.querySelector('table.board tbody tr').getAttribute('data-target');
    root.setAttribute('data-test-sort', asc + ' ' + desc);
  } catch (e) {
    root.setAttribute('data-test-error', String(e));
  }
}());`
	page := strings.Replace(buf.String(), "script-src &#39;", "script-src &#39;"+cspHash(play)+"&#39; &#39;", 1)
	require.NotEqual(t, buf.String(), page, "the policy names the test script")
	page = strings.Replace(page, "</body>", "<script>"+play+"</script>\n</body>", 1)
	path := writeReport(t, []byte(page))
	dom, _, err := chromium(t, 60*time.Second, "--window-size=1280,2000", "--virtual-time-budget=3000", "--dump-dom", "file://"+path)
	require.NoError(t, err)
	attrs := htmlAttrs(t, dom)
	require.Empty(t, attrs["data-test-error"])
	assert.Equal(t, "ok", attrs["data-status"], attrs["data-error"])
	assert.Contains(t, attrs["data-test-tip"], "blue: 90 req/s, 0.0% failed")
	assert.Contains(t, attrs["data-test-tip"], "configured weight 10%")
	// high-error-rate: run-1 failed 39 requests, run-2 672.
	assert.Equal(t, "run-1 run-2", attrs["data-test-sort"], "ascending, then descending")
}
