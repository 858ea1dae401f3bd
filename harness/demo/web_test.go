package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// The dashboard page (web/) in a real headless Chromium: it draws
// hand-built States, escapes what analyzers say, posts its controls, shows
// refusals and lost connections, and fetches nothing from elsewhere.

// scriptedController records every control asked for and refuses those it
// was told to.
type scriptedController struct {
	mu     sync.Mutex
	calls  []controlCall
	refuse map[Control]string // control -> reason of its *Refusal
}

type controlCall struct {
	Control Control
	Choice  string
}

func (c *scriptedController) Act(_ context.Context, ctl Control, choice string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, controlCall{ctl, choice})
	if reason, ok := c.refuse[ctl]; ok {
		return "", &Refusal{Reason: reason}
	}
	return fmt.Sprintf("%s %s: on its way", ctl, choice), nil
}

func (c *scriptedController) Calls() []controlCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]controlCall(nil), c.calls...)
}

// waitCall waits until the controller was asked for want.
func (c *scriptedController) waitCall(t *testing.T, want controlCall) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, got := range c.Calls() {
			if got == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the controller was never asked for %+v; calls: %+v", want, c.Calls())
}

// injection is what a hostile analyzer explanation might carry.
const injection = `<img src=x onerror=alert(1)> the canary looks fine, promote`

const (
	promoteRefusal = "nothing to promote: the candidate is still at step 2 of 5"
	idleReason     = "no release in progress"
	busyReason     = "a release is in progress"
	apiNotice      = "the cluster's API server does not answer: retrying"
)

func f64(v float64) *float64 { return &v }

// webBaseState is an idle session with the stable blue version serving.
func webBaseState(seq uint64) State {
	now := time.Date(2026, 5, 14, 10, 30, 0, 0, time.UTC)
	s := State{
		Seq: seq, Time: now, Phase: PhaseIdle, Connected: true,
		Platform: "k3d", Namespace: "blastradius-demo",
		Strategy: "canary", Analyzer: "prometheus",
		Strategies: []Choice{{Name: "canary", Label: "canary 20→40→100"}, {Name: "blue-green", Label: "blue-green"}},
		Analyzers:  []Choice{{Name: "prometheus", Label: "Prometheus"}, {Name: "llm", Label: "LLM"}},
		Variants: []Choice{
			{Name: "bad", Label: "25% errors", Description: "25% of requests fail"},
			{Name: "slow", Label: "slow +400 ms"},
			{Name: "crash", Label: "crash loop"},
		},
		Faults: []Choice{{Name: "errors", Label: "30% errors"}, {Name: "latency", Label: "+500 ms"}},
		Stable: "blue",
		Versions: map[string]Version{
			"blue":  {Color: "blue", Good: true},
			"green": {Color: "green", Good: true},
		},
		SLO:     SLO{LatencyMs: 300, ErrorRate: 0.01},
		Rollout: Rollout{Kind: "Rollout", Phase: "Healthy", Step: 5, Steps: 5, SetWeight: -1, ObservedShare: -1},
		ReplicaSets: []ReplicaSet{{Name: "demo-blue", Version: "blue", Replicas: 3, Ready: 3, Pods: []Pod{
			{Name: "demo-blue-a", Phase: "Running", Ready: true},
			{Name: "demo-blue-b", Phase: "Running", Ready: true},
			{Name: "demo-blue-c", Phase: "Running", Ready: true, Restarts: 1},
		}}},
		Controls: map[Control]Availability{
			ControlReleaseGood: {Enabled: true},
			ControlReleaseBad:  {Enabled: true},
			ControlFault:       {Reason: idleReason},
			ControlPromote:     {Enabled: true}, // the scripted controller refuses it
			ControlAbort:       {Reason: idleReason},
			ControlStrategy:    {Enabled: true},
			ControlAnalyzer:    {Enabled: true},
		},
		Log: []LogLine{
			{Time: now, Kind: LogInfo, Text: "blue is serving"},
			{Time: now, Kind: LogRefused, Text: "abort: " + idleReason},
		},
	}
	for i := range 300 {
		s.Grid = append(s.Grid, Cell{Version: "blue", AgeMs: int64(300-i) * 20})
	}
	for i := range 20 {
		s.Series = append(s.Series, Tick{Unix: now.Unix() - int64(20-i), Versions: map[string]TickStats{"blue": {Requests: 100}}})
	}
	return s
}

// webReleasingState is a bad release half-way: a third of the requests go
// to bad-green, a quarter of which fail; its analysis carries an injection.
func webReleasingState(seq uint64) State {
	s := webBaseState(seq)
	now := s.Time
	s.Phase = PhaseReleasing
	s.Versions["bad-green"] = Version{Color: "green", Variant: "bad"}
	s.Grid = nil
	for i := range 300 {
		c := Cell{Version: "blue", AgeMs: int64(300-i) * 20}
		if i%3 == 0 {
			c.Version = "bad-green"
			c.Failed = i%4 == 0
		}
		if i == 299 {
			c.Version = "" // no version answered
			c.Failed = true
		}
		s.Grid = append(s.Grid, c)
	}
	s.Series = nil
	for i := range 20 {
		s.Series = append(s.Series, Tick{Unix: now.Unix() - int64(20-i), Versions: map[string]TickStats{
			"blue": {Requests: 66}, "bad-green": {Requests: 33, Failed: 8}, "": {Requests: 1, Failed: 1},
		}})
	}
	s.Rollout = Rollout{Kind: "Rollout", Phase: "Paused", Message: "CanaryPauseStep", Step: 2, Steps: 5,
		SetWeight: 40, ObservedShare: 33.3, Paused: true}
	s.ReplicaSets = append(s.ReplicaSets, ReplicaSet{Name: "demo-bad-green", Version: "bad-green", Replicas: 2, Ready: 1, Pods: []Pod{
		{Name: "demo-bad-green-a", Phase: "Running", Ready: true},
		{Name: "demo-bad-green-b", Phase: "Running", Restarts: 4, Waiting: "CrashLoopBackOff"},
	}})
	s.ReplicaSets[0].Pods[2].Gone = true
	s.Analysis = []AnalysisRun{{Name: "demo-bad-green-2", Phase: "Running", Measurements: []Measurement{
		{Metric: "success-rate", Phase: "Successful", Value: "0.99", At: now.Add(-20 * time.Second)},
		{Metric: "llm-verdict", Phase: "Failed", Value: "promote=false", Explanation: injection, At: now.Add(-10 * time.Second)},
		{Metric: "latency", Phase: "Inconclusive", At: now},
		{Metric: "errors", Phase: "Error", Explanation: "prometheus: connection refused", At: now},
	}}}
	s.Release = &Release{ID: 2, Strategy: "canary", Analyzer: "llm", Stable: "blue", Candidate: "bad-green",
		StartedAt: now.Add(-30 * time.Second), Requests: 1000, Failed: 80, UsersAffected: 12,
		SinceOnsetS: f64(28), ElapsedS: 30}
	s.History = []Release{{ID: 1, Strategy: "canary", Analyzer: "prometheus", Stable: "blue", Candidate: "green", Good: true,
		Outcome: results.OutcomePromoted, Score: &Score{Verdict: results.VerdictPromoted, TotalRequests: 5000}}}
	s.Controls[ControlReleaseGood] = Availability{Reason: busyReason}
	s.Controls[ControlReleaseBad] = Availability{Reason: busyReason}
	s.Controls[ControlFault] = Availability{Enabled: true}
	s.Controls[ControlAbort] = Availability{Enabled: true}
	s.Log = append(s.Log, LogLine{Time: now, Kind: LogError, Text: "analysis: " + injection})
	return s
}

// webScoredState is the bad release, caught.
func webScoredState(seq uint64) State {
	s := webReleasingState(seq)
	s.Phase = PhaseSettling
	s.Release.Outcome = results.OutcomeAborted
	s.Release.Score = &Score{Verdict: results.VerdictDetected, FailedRequests: 80, TotalRequests: 1000,
		UsersAffected: 12, TimeToDetectS: f64(21.5), TimeToRecoverS: f64(3)}
	return s
}

func TestWebDashboard(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found ($CHROMIUM, /usr/bin/chromium, chromium-browser; apt-get install chromium): skipping the dashboard's browser test")
	}
	hub := NewHub()
	ctrl := &scriptedController{refuse: map[Control]string{ControlPromote: promoteRefusal}}
	// eventsDown makes /events answer 503, as a harness that went away.
	var eventsDown atomic.Bool
	api := Handler(hub, ctrl)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" && eventsDown.Load() {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	b := openDashboard(t, srv.URL)

	// Before any state: the page draws empty panels and says it connects.
	b.waitFor("the connecting banner", `!document.getElementById('banner').hidden`, 5*time.Second)
	if !strings.Contains(b.text("#banner"), "connecting") {
		t.Errorf("banner before the first state = %q, want it to say connecting", b.text("#banner"))
	}

	// A bare state: every slice and map null in the JSON.
	hub.Publish(State{Seq: 1, Phase: PhaseStarting, Connected: true})
	b.waitSeq(1)
	b.saveScreenshot("1-bare")
	if b.visible("#banner") {
		t.Errorf("banner shown with states flowing: %q", b.text("#banner"))
	}
	if got := b.text("#verdict"); got != "no release yet" {
		t.Errorf("verdict without a release = %q", got)
	}

	// The stable blue version.
	hub.Publish(webBaseState(2))
	b.waitSeq(2)
	b.saveScreenshot("2-stable")
	shares := b.gridShares()
	t.Logf("stable grid shares: %v", shares)
	if shares["blue"] < 0.97 || shares[gridFailed] > 0.001 || shares["green"] > 0.005 {
		t.Errorf("stable grid: want all blue, no failures; got %v", shares)
	}
	if got := b.text("#stable"); got != "blue" {
		t.Errorf("stable chip = %q", got)
	}

	// Release bad: the menu, then its "bad" variant.
	b.click(`summary[data-menu-toggle="release-bad"]`)
	b.saveScreenshot("2-menu")
	b.click(`[data-control="release-bad"][data-choice="bad"]`)
	ctrl.waitCall(t, controlCall{ControlReleaseBad, "bad"})
	b.waitFor("the accepted control's message", `document.getElementById('toasts').textContent.includes('release-bad bad: on its way')`, 5*time.Second)

	// The strategy select posts its choice.
	evalJS[bool](b, `(() => {
		const s = document.querySelector('select[data-control="strategy"]');
		s.value = 'blue-green';
		s.dispatchEvent(new Event('change'));
		return true;
	})()`)
	ctrl.waitCall(t, controlCall{ControlStrategy, "blue-green"})

	// A refused control says why, visibly.
	b.click(`[data-control="promote"]`)
	ctrl.waitCall(t, controlCall{ControlPromote, ""})
	b.waitFor("the refusal", fmt.Sprintf(`document.getElementById('toasts').textContent.includes(%q)`, promoteRefusal), 5*time.Second)
	b.saveScreenshot("2-refused")
	if !b.visible("#toasts .toast.error") {
		t.Error("the refusal toast is not visible")
	}

	// Disabled controls say why: as a tooltip and as visible text.
	if !evalJS[bool](b, `document.querySelector('[data-control="abort"]').disabled`) {
		t.Error("abort is enabled although state.controls says no")
	}
	if title := evalJS[string](b, `document.querySelector('[data-control="abort"]').title`); title != idleReason {
		t.Errorf("abort's tooltip = %q, want %q", title, idleReason)
	}
	if !strings.Contains(b.text("#reasons"), idleReason) || !b.visible("#reasons") {
		t.Errorf("the reasons shown near the controls = %q, want %q visible", b.text("#reasons"), idleReason)
	}

	// The bad release in progress.
	hub.Publish(webReleasingState(3))
	b.waitSeq(3)
	b.saveScreenshot("3-releasing")
	shares = b.gridShares()
	t.Logf("releasing grid shares: %v", shares)
	if shares["green"] < 0.15 || shares["blue"] < 0.4 || shares[gridFailed] < 0.005 || shares["grey"] <= 0 {
		t.Errorf("releasing grid: want blue, green, grey and failure marks; got %v", shares)
	}
	analysis := b.text("#analysis")
	if !strings.Contains(analysis, injection) {
		t.Errorf("the analysis panel does not show the explanation as text: %q", analysis)
	}
	if n := evalJS[int](b, `document.querySelectorAll('#analysis img, #log img, img').length`); n != 0 {
		t.Errorf("%d <img> elements on the page: an explanation went in as HTML", n)
	}
	for _, want := range []string{"Successful", "Failed", "Inconclusive", "Error", "llm-verdict", "promote=false"} {
		if !strings.Contains(analysis, want) {
			t.Errorf("the analysis panel lacks %q: %q", want, analysis)
		}
	}
	release := b.text("#release")
	for _, want := range []string{"bad-green", "in progress", "80", "12", "28 s"} {
		if !strings.Contains(release, want) {
			t.Errorf("the release panel lacks %q: %q", want, release)
		}
	}
	rollout := b.text("#rollout")
	for _, want := range []string{"2/5", "40%", "33%", "CrashLoopBackOff", "paused"} {
		if !strings.Contains(rollout, want) {
			t.Errorf("the rollout panel lacks %q: %q", want, rollout)
		}
	}
	if !evalJS[bool](b, `document.querySelector('[data-control="release-good"]').disabled`) ||
		!strings.Contains(b.text("#reasons"), busyReason) {
		t.Errorf("release-good during a release: want disabled, with %q shown; reasons %q", busyReason, b.text("#reasons"))
	}

	// The score.
	hub.Publish(webScoredState(4))
	b.waitSeq(4)
	b.saveScreenshot("4-scored")
	if got := evalJS[string](b, `document.getElementById('verdict').dataset.verdict`); got != "detected" {
		t.Errorf("verdict = %q, want detected", got)
	}
	if got := b.text("#verdict"); !strings.Contains(strings.ToLower(got), "detected") {
		t.Errorf("verdict text = %q", got)
	}

	// The cluster's API server goes away, and comes back.
	lost := webScoredState(5)
	lost.Connected, lost.Notice = false, apiNotice
	hub.Publish(lost)
	b.waitSeq(5)
	b.saveScreenshot("5-cluster-lost")
	if !b.visible("#banner") || b.text("#banner") != apiNotice {
		t.Errorf("banner with the cluster lost: visible %v, %q", b.visible("#banner"), b.text("#banner"))
	}
	hub.Publish(webScoredState(6))
	b.waitSeq(6)
	if b.visible("#banner") {
		t.Errorf("banner still shown once the cluster is back: %q", b.text("#banner"))
	}

	// The harness's event stream drops: the page says it reconnects, then
	// clears the banner once states flow again.
	eventsDown.Store(true)
	srv.CloseClientConnections()
	b.waitFor("the reconnecting banner", `!document.getElementById('banner').hidden && document.getElementById('banner').textContent.includes('reconnecting')`, 10*time.Second)
	eventsDown.Store(false)
	hub.Publish(webBaseState(7))
	b.waitSeq(7)
	b.waitFor("the banner to clear", `document.getElementById('banner').hidden`, 5*time.Second)

	b.checkClean()
	t.Logf("browser network log (expected: the 409 and the dropped stream): %v", b.NetworkLog())
}

// TestWebPalette checks that app.css defines every colour the grid needs,
// each distinct enough to tell apart in a screenshot.
func TestWebPalette(t *testing.T) {
	p, err := webPalette()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range gridColorNames {
		if got := classifyGridPixel(p, p[name]); got != name {
			t.Errorf("the palette's %s (%v) classifies as %q", name, p[name], got)
		}
		// Faded to the grid's oldest opacity, it is still itself.
		faded := p[name].scale(0.25).add(p["grid-bg"].scale(0.75))
		if got := classifyGridPixel(p, faded); got != name {
			t.Errorf("the palette's %s at 25%% opacity (%v) classifies as %q", name, faded, got)
		}
	}
	if got := classifyGridPixel(p, p["fail"]); got != gridFailed {
		t.Errorf("the failure mark classifies as %q", got)
	}
	if got := classifyGridPixel(p, p["grid-bg"]); got != "" {
		t.Errorf("the grid background classifies as %q", got)
	}
}
