package demo

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/results"
)

// The demo end to end, as a speaker runs it: `blastradius demo --tui` in a
// terminal (tmux here), the dashboard in a browser (headless Chromium),
// on a local cluster of its own with the real Argo Rollouts controller.

// demoBin is the built blastradius binary and the tools' directory; the
// test is skipped without them (make test builds both).
func demoBin(t *testing.T) (bin, tools string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: brings a cluster up")
	}
	tools = os.Getenv("BLASTRADIUS_BIN")
	if tools == "" {
		tools = "../../bin"
	}
	tools, _ = filepath.Abs(tools)
	bin = filepath.Join(tools, "blastradius")
	for _, f := range []string{bin, filepath.Join(tools, "kube-apiserver"), filepath.Join(tools, "rollouts-controller")} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s missing: run make build tools", f)
		}
	}
	return bin, tools
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// demoAPI talks to a running demo's HTTP API.
type demoAPI struct {
	t    *testing.T
	base string
}

func (a demoAPI) state() (State, bool) {
	resp, err := http.Get(a.base + "/api/state")
	if err != nil {
		return State{}, false
	}
	defer resp.Body.Close()
	var s State
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&s) != nil {
		return State{}, false
	}
	return s, true
}

// waitState waits until cond holds of a state, and returns that state.
func (a demoAPI) waitState(what string, timeout time.Duration, cond func(State) bool) State {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	var last State
	for time.Now().Before(deadline) {
		if s, ok := a.state(); ok {
			last = s
			if cond(s) {
				return s
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	a.t.Fatalf("waiting %s for %s; last state: phase %s, release %+v, log %v", timeout, what, last.Phase, last.Release, tail(last.Log, 8))
	return last
}

func (a demoAPI) act(c Control, choice string) (int, string) {
	body := fmt.Sprintf(`{"choice":%q}`, choice)
	resp, err := http.Post(a.base+"/api/control/"+string(c), "application/json", strings.NewReader(body))
	require.NoError(a.t, err)
	defer resp.Body.Close()
	var out struct {
		Message, Error string
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Message + out.Error
}

func tail(l []LogLine, n int) []string {
	var out []string
	for _, x := range l[max(0, len(l)-n):] {
		out = append(out, string(x.Kind)+": "+x.Text)
	}
	return out
}

// ended is the newest ended release, if any.
func ended(s State) (Release, bool) {
	if len(s.History) == 0 {
		return Release{}, false
	}
	return s.History[0], true
}

func TestDemoEndToEnd(t *testing.T) {
	bin, tools := demoBin(t)
	scenario, err := filepath.Abs("../../scenarios/demo/stage.yaml")
	require.NoError(t, err)
	addr := freeAddr(t)
	work := t.TempDir()
	pidFile := filepath.Join(work, "demo.pid")
	// The speaker's terminal: the demo in tmux, its pid noted so that the
	// test can press Ctrl-C (SIGINT) and see it clean up.
	term := startTmux(t, 120, 40, "sh", "-c", fmt.Sprintf("cd %s && echo $$ > %s && exec %s demo --tui --listen %s --scenario %s --bin %s",
		work, pidFile, bin, addr, scenario, tools))
	api := demoAPI{t: t, base: "http://" + addr}

	s := api.waitState("the demo to be up", 5*time.Minute, func(s State) bool { return s.Phase == PhaseIdle })
	ns := s.Namespace
	assert.Equal(t, "blue", s.Stable)
	term.WaitFor(30*time.Second, "idle")

	b := openDashboard(t, api.base)
	b.waitFor("the grid to fill", `document.body.dataset.seq !== undefined`, 30*time.Second)
	waitGrid(t, b, "the stable colour fills the grid", 30*time.Second, func(sh map[string]float64) bool { return sh["blue"] > 0.9 })
	b.saveScreenshot("1-stable")

	// A control that cannot act now is refused where the audience sees it.
	b.click(`[data-control="promote"]`)
	b.waitFor("the refusal to show", `document.body.textContent.includes("no release in progress")`, 10*time.Second)

	// Release bad: the candidate's colour appears, the analysis fails,
	// Argo aborts, the grid goes back to the stable colour.
	b.click(`[data-control="release-bad"][data-choice="bad"]`)
	api.waitState("the release to start", 30*time.Second, func(s State) bool { return s.Release != nil && s.Release.Candidate == "bad-green" })
	waitGrid(t, b, "the candidate's colour", time.Minute, func(sh map[string]float64) bool { return sh["green"] > 0.03 })
	b.saveScreenshot("2-candidate")
	term.WaitFor(30*time.Second, "bad-green")
	term.WaitFor(30*time.Second, "step ")

	// A second viewer, and a reload of the first, disturb nothing.
	b2 := openDashboard(t, api.base)
	b2.waitFor("the second viewer to draw", `document.body.dataset.seq !== undefined`, 30*time.Second)

	s = api.waitState("the bad release to be stopped", 3*time.Minute, func(s State) bool {
		r, ok := ended(s)
		return ok && r.Candidate == "bad-green"
	})
	r, _ := ended(s)
	require.NotNil(t, r.Score, "the release was scored: %+v", r)
	assert.Equal(t, results.OutcomeAborted, r.Outcome)
	assert.Equal(t, results.VerdictDetected, r.Score.Verdict)
	assert.Positive(t, r.Score.FailedRequests, "some users were hurt before the abort")
	assert.Equal(t, "blue", s.Stable)
	t.Logf("bad release: %s, %d failed of %d requests, %d users, detected after %.1fs", r.Score.Verdict,
		r.Score.FailedRequests, r.Score.TotalRequests, r.Score.UsersAffected, deref(r.Score.TimeToDetectS))
	b.waitFor("the verdict on the page", `(document.querySelector("#verdict")||{}).textContent.includes("detected")`, 15*time.Second)
	b.saveScreenshot("3-detected")
	term.WaitFor(30*time.Second, "detected")
	assert.Contains(t, term.Capture(), "FAILED", "the terminal shows the failed measurement")

	b.do(30*time.Second, chromedp.Reload())
	waitGrid(t, b, "the grid back to the stable colour", time.Minute, func(sh map[string]float64) bool {
		return sh["blue"] > 0.9 && sh["green"] < 0.02
	})
	b.saveScreenshot("4-recovered")
	b2.waitFor("the second viewer to see the verdict", `(document.querySelector("#verdict")||{}).textContent.includes("detected")`, 15*time.Second)

	// The API server stops answering for a while (SIGSTOP: from the
	// clients' side, an outage): the dashboard says so, then carries on.
	if apiserver := pidOf(t, "kube-apiserver", work); apiserver > 0 {
		require.NoError(t, syscall.Kill(apiserver, syscall.SIGSTOP))
		api.waitState("the outage to show", 30*time.Second, func(s State) bool { return !s.Connected })
		code, msg := api.act(ControlReleaseGood, "")
		assert.Equal(t, http.StatusConflict, code, "no release while the API server is away: %s", msg)
		b.waitFor("the reconnecting banner", `document.body.textContent.includes("reconnecting")`, 15*time.Second)
		b.saveScreenshot("5-outage")
		require.NoError(t, syscall.Kill(apiserver, syscall.SIGCONT))
		api.waitState("the API server back", time.Minute, func(s State) bool { return s.Connected })
	} else {
		t.Error("no kube-apiserver process of the demo's cluster found")
	}

	// A good release goes all the way through.
	code, msg := api.act(ControlReleaseGood, "")
	require.Equal(t, http.StatusOK, code, msg)
	s = api.waitState("the good release to be promoted", 3*time.Minute, func(s State) bool {
		r, ok := ended(s)
		return ok && r.Candidate == "green"
	})
	r, _ = ended(s)
	require.NotNil(t, r.Score, "%+v", r)
	assert.Equal(t, results.OutcomePromoted, r.Outcome)
	assert.Equal(t, results.VerdictPromoted, r.Score.Verdict)
	assert.Equal(t, "green", s.Stable)
	b.checkClean()
	b2.checkClean()

	// Ctrl-C: everything the demo started goes.
	pid := readPid(t, pidFile)
	require.NoError(t, syscall.Kill(pid, syscall.SIGINT))
	if !assert.Eventually(t, func() bool { return !alive(pid) }, 3*time.Minute, 500*time.Millisecond, "the demo exits") {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		_ = syscall.Kill(pid, syscall.SIGQUIT) // its goroutines, into the pane
		time.Sleep(2 * time.Second)
		t.Fatalf("the demo did not exit on Ctrl-C (/proc stat: %s); its terminal:\n%s", st, term.CaptureAll())
	}
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the dashboard's port is closed")
	assert.Zero(t, pidOf(t, "", work), "no process of the demo's cluster is left")
	_, err = os.Stat(filepath.Join(work, ".blastradius", "demo-local", "kubeconfig"))
	assert.True(t, os.IsNotExist(err), "the cluster's data is gone")
	assert.NotEmpty(t, ns)
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// waitGrid waits until the dashboard's grid colours satisfy cond.
func waitGrid(t *testing.T, b *dashboardBrowser, what string, timeout time.Duration, cond func(map[string]float64) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[string]float64
	for time.Now().Before(deadline) {
		last = b.gridShares()
		if cond(last) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("waiting %s for %s; grid colours: %v", timeout, what, last)
}

// pidOf finds a process whose command line mentions dir (and name, when
// given): the demo's cluster runs its components with paths under it.
func pidOf(t *testing.T, name, dir string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		line := strings.ReplaceAll(string(cmd), "\x00", " ")
		if strings.Contains(line, dir) && (name == "" || strings.Contains(line, name)) && !strings.Contains(line, "tmux") {
			if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
				continue // a zombie is gone, only not yet reaped
			}
			return pid
		}
	}
	return 0
}

// alive reports whether a process runs: a zombie (exited, not yet reaped
// by tmux, its parent) does not.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(st), ") Z ")
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	return pid
}

// TestDemoSoak runs releases back to back for $BLASTRADIUS_DEMO_SOAK (e.g.
// 30m), as a long demo would: good and bad releases, each bad variant, a
// fault injected by hand, promotes, aborts and strategy switches, and
// checks that every release ends scored and that memory stays flat. Not
// part of make test (it takes as long as it is told to).
func TestDemoSoak(t *testing.T) {
	d := os.Getenv("BLASTRADIUS_DEMO_SOAK")
	if d == "" {
		t.Skip("set BLASTRADIUS_DEMO_SOAK=30m to soak the demo")
	}
	length, err := time.ParseDuration(d)
	require.NoError(t, err)
	bin, tools := demoBin(t)
	scenario, err := filepath.Abs("../../scenarios/demo/stage.yaml")
	require.NoError(t, err)
	addr := freeAddr(t)
	work := t.TempDir()
	cmd := exec.Command(bin, "demo", "--listen", addr, "--scenario", scenario, "--bin", tools)
	cmd.Dir = work
	logf, err := os.Create(filepath.Join(work, "demo.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	})
	api := demoAPI{t: t, base: "http://" + addr}
	api.waitState("the demo to be up", 5*time.Minute, func(s State) bool { return s.Phase == PhaseIdle })

	type step struct {
		control Control
		choice  string
		during  func() // while the release runs
	}
	steps := []step{
		{control: ControlReleaseBad, choice: "bad"},
		{control: ControlReleaseGood},
		{control: ControlReleaseBad, choice: "slow"},
		{control: ControlReleaseGood, during: func() {
			api.waitState("candidate pods", time.Minute, func(s State) bool { return s.Controls[ControlFault].Enabled || s.Phase != PhaseReleasing })
			api.act(ControlFault, "errors")
		}},
		{control: ControlReleaseBad, choice: "crash"},
		{control: ControlStrategy, choice: "blue-green"},
		{control: ControlReleaseGood},
		{control: ControlReleaseBad, choice: "bad"},
		{control: ControlStrategy, choice: "deployment-rolling"},
		{control: ControlReleaseGood},
		{control: ControlStrategy, choice: "canary"},
		{control: ControlReleaseGood, during: func() {
			api.waitState("a step", time.Minute, func(s State) bool { return s.Rollout.Step >= 1 || s.Phase != PhaseReleasing })
			api.act(ControlPromote, "")
		}},
		{control: ControlReleaseBad, choice: "bad", during: func() {
			time.Sleep(5 * time.Second)
			api.act(ControlAbort, "")
		}},
		{control: ControlStrategy, choice: "canary-analysis"},
	}
	start := time.Now()
	var heap []uint64
	var releases, scored, lastID int
	verdicts := map[results.Verdict]int{}
	for i := 0; time.Since(start) < length; i++ {
		st := steps[i%len(steps)]
		code, msg := api.act(st.control, st.choice)
		require.Equal(t, http.StatusOK, code, "%s %s: %s", st.control, st.choice, msg)
		if st.during != nil {
			st.during()
		}
		// Snapshots are published a few times a second: wait for one that
		// shows the step done, not the one from before it.
		isRelease := st.control == ControlReleaseGood || st.control == ControlReleaseBad
		s := api.waitState("the step to end", 5*time.Minute, func(s State) bool {
			if s.Phase != PhaseIdle {
				return false
			}
			if isRelease {
				r, ok := ended(s)
				return ok && r.ID > lastID
			}
			return s.Strategy == st.choice
		})
		heap = append(heap, s.HeapBytes)
		if isRelease {
			releases++
			r, _ := ended(s)
			lastID = r.ID
			if r.Score != nil {
				scored++
				verdicts[r.Score.Verdict]++
			} else {
				t.Errorf("release %d (%s) not scored: %s", r.ID, r.Candidate, r.Error)
			}
		}
		t.Logf("%5.0fs %s %s: heap %.1f MiB, rss %s", time.Since(start).Seconds(), st.control, st.choice,
			float64(s.HeapBytes)/(1<<20), rss(cmd.Process.Pid))
	}
	t.Logf("%d releases in %s, %d scored, verdicts %v", releases, time.Since(start).Round(time.Second), scored, verdicts)
	require.Greater(t, len(heap), 2*len(steps), "enough steps to compare memory over time")
	early := maxOf(heap[len(steps) : 2*len(steps)])
	late := maxOf(heap[len(heap)-len(steps):])
	t.Logf("live heap: max %.1f MiB in the second round, %.1f MiB in the last", float64(early)/(1<<20), float64(late)/(1<<20))
	assert.Less(t, float64(late), 1.5*float64(early), "memory stays flat")
}

func maxOf(xs []uint64) uint64 {
	var m uint64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// rss is a process's resident memory, as /proc says it.
func rss(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.Join(strings.Fields(strings.TrimPrefix(line, "VmRSS:")), " ")
		}
	}
	return "?"
}
