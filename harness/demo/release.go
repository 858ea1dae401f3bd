package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/fault"
	"github.com/blastradius/blastradius/harness/internal/sleep"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/score"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/harness/watch"
	"github.com/blastradius/blastradius/loadgen"
)

const (
	// settle is how long load goes on after Argo's decision, so that the
	// score sees traffic recover (as in a scenario run).
	settle = 5 * time.Second
	// drain bounds the wait for a rolled-back candidate's pods to go.
	drain = time.Minute
	poll  = 250 * time.Millisecond
)

// releaseRun is a release in progress.
type releaseRun struct {
	id          int
	strat       strategy.Strategy
	analyzer    string
	stable      catalog.Version
	cand        catalog.Version
	groundTruth results.GroundTruth
	rootCause   results.RootCause
	w           *watch.Watcher
	records     *os.File
	gen         *loadgen.Generator
	preview     *loadgen.Generator // blue-green's preview load, or nil
	applied     time.Time
	started     time.Time // the release's load
}

// startRelease begins releasing cand: the caller holds no lock and has
// checked that the session is idle. The release goes on in the background.
func (s *Session) startRelease(ctx context.Context, cand catalog.Version) error {
	s.mu.Lock()
	if s.phase != PhaseIdle {
		s.mu.Unlock()
		return refuse("%s", s.busyReason())
	}
	if cand.Tag == s.stable.Tag {
		s.mu.Unlock()
		return refuse("%s is already the stable version", cand.Tag)
	}
	s.nextID++
	st, _ := strategy.Lookup(s.strategy)
	x := &releaseRun{id: s.nextID, strat: st, analyzer: s.analyzer, stable: s.stable, cand: cand,
		groundTruth: results.Good, rootCause: cand.RootCause}
	if !st.Traits().HasAnalysis() {
		x.analyzer = ""
	}
	if !cand.Good {
		x.groundTruth = results.Bad
	}
	s.phase = PhaseReleasing
	s.rel = x
	s.release = &Release{ID: x.id, Strategy: st.Name(), Analyzer: x.analyzer, Stable: x.stable.Tag, Candidate: cand.Tag,
		Good: cand.Good, StartedAt: time.Now()}
	s.busy.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.busy.Done()
		s.runRelease(ctx, x)
	}()
	return nil
}

// runRelease carries a release out and scores it; whatever happens, the
// session is idle again afterwards, serving the stable version.
func (s *Session) runRelease(ctx context.Context, x *releaseRun) {
	outcome, err := s.rollOut(ctx, x)
	if err != nil && ctx.Err() == nil {
		s.logf(LogError, "release %d (%s): %v", x.id, x.cand.Tag, err)
	}
	rel := s.finishRelease(ctx, x, outcome, err)
	s.mu.Lock()
	if rel.Outcome == results.OutcomePromoted {
		s.stable = x.cand
	}
	s.release = &rel
	s.history = append([]Release{rel}, s.history...)
	if len(s.history) > historySize {
		s.history = s.history[:historySize]
	}
	s.rel = nil
	if s.phase != PhaseStopping {
		s.phase = PhaseIdle
	}
	s.mu.Unlock()
}

// rollOut applies the candidate and waits for Argo's decision; after an
// abort it puts the stable version back in the spec, as a person undoing
// the release would, so that the next release starts from a healthy
// Rollout.
func (s *Session) rollOut(ctx context.Context, x *releaseRun) (results.Outcome, error) {
	x.w = watch.New(s.cfg.Namespace, strategy.DefaultApp, nil)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	x.w.Run(wctx, s.client, s.dyn)
	if x.analyzer != "" && s.cfg.Analysis != nil {
		defer s.cfg.Analysis.Watch(s.cfg.Namespace, s.cfg.Scenario.AnalysisParams())()
	}
	f, err := os.Create(filepath.Join(s.cfg.RecordsDir, fmt.Sprintf("release-%d.ndjson", x.id)))
	if err != nil {
		return results.OutcomeError, err
	}
	x.records = f
	if x.gen, err = s.startLoad(ctx, x.strat.Name(), f); err != nil {
		return results.OutcomeError, err
	}
	x.started = time.Now()
	x.w.Add(results.Event{Time: x.started, Kind: results.EventLoadStarted})
	if old := s.swapLoad(x.gen); old != nil {
		go old.Wait() //nolint:errcheck // idle load: nothing of it is scored
	}

	p := s.params(x.strat.Name(), x.analyzer)
	p.Image = s.image(x.cand)
	objs, err := x.strat.Render(p)
	if err != nil {
		return results.OutcomeError, err
	}
	x.applied = time.Now()
	s.live.startRelease(x.applied)
	s.mu.Lock()
	s.release.StartedAt = x.applied
	s.mu.Unlock()
	if err := s.applier.Apply(ctx, strategy.Workload(objs)...); err != nil {
		return results.OutcomeError, fmt.Errorf("apply %s: %w", x.cand.Tag, err)
	}
	x.w.Add(results.Event{Time: x.applied, Kind: results.EventCandidate, Object: x.cand.Tag})
	if x.strat.Traits().BlueGreen && s.cfg.Scenario.Load.PreviewShare > 0 {
		// As in a run: the preview Service gets a share of the rate, so that
		// pre-promotion analysis has data; no user sees it, nothing scores it.
		x.preview, err = s.startPreview(ctx)
		if err != nil {
			return results.OutcomeError, err
		}
	}
	s.logf(LogInfo, "release %d: %s → %s under %s%s", x.id, x.stable.Tag, x.cand.Tag, x.strat.Name(), withAnalyzer(x.analyzer))

	outcome, at := s.awaitDecision(ctx, x)
	if ctx.Err() != nil {
		return results.OutcomeError, ctx.Err()
	}
	if kind, ok := outcome.DecisionEvent(); ok {
		x.w.Add(results.Event{Time: at, Kind: kind, Object: strategy.DefaultApp})
	}
	s.mu.Lock()
	s.release.Outcome = outcome
	s.phase = PhaseSettling
	s.mu.Unlock()
	s.logf(LogInfo, "release %d: %s after %.1fs", x.id, outcome, at.Sub(x.applied).Seconds())
	if outcome != results.OutcomePromoted {
		if err := s.rollBack(ctx, x); err != nil {
			return outcome, err
		}
	}
	sleep.For(ctx, settle)
	return outcome, nil
}

// startPreview sends previewShare of the load to the preview Service.
func (s *Session) startPreview(ctx context.Context) (*loadgen.Generator, error) {
	sc := s.cfg.Scenario
	url, err := s.cfg.Platform.ServiceURL(ctx, s.cfg.Namespace, strategy.DefaultApp+strategy.PreviewSuffix)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	p := sc.LoadProfile().Times(sc.Load.PreviewShare)
	g, err := loadgen.New(loadgen.Config{URL: url + "/color", Profile: p, Users: sc.Load.Users, Seed: 2,
		KeepAlive: sc.Load.KeepAlive, SLO: sc.Load.SLO, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("preview load: %w", err)
	}
	return g, g.Start(context.WithoutCancel(ctx))
}

func withAnalyzer(an string) string {
	if an == "" {
		return ""
	}
	return " gated by " + an
}

// awaitDecision waits for the decision of Argo (or of the Deployment
// controller), or the scenario's timeout.
func (s *Session) awaitDecision(ctx context.Context, x *releaseRun) (results.Outcome, time.Time) {
	deadline := x.applied.Add(s.cfg.Scenario.Timeout)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return results.OutcomeError, time.Now()
		case <-t.C:
		}
		now := time.Now()
		if o := s.decision(x); o != "" {
			return o, now
		}
		if now.After(deadline) {
			return results.OutcomeTimeout, now
		}
	}
}

// decision reads the outcome so far: "" while undecided.
func (s *Session) decision(x *releaseRun) results.Outcome {
	if !x.strat.Traits().Rollout {
		if d := s.view.deployment(); d != nil {
			return watch.DeploymentOutcome(d, s.image(x.cand))
		}
		return ""
	}
	st := x.w.Rollout()
	switch {
	case st.Abort:
		return results.OutcomeAborted
	case st.Phase == "Degraded":
		return results.OutcomeDegraded
	case st.Phase == "Healthy" && st.PodHash != "" && st.StableHash == st.PodHash && s.view.stableImage(st.StableHash) == s.image(x.cand):
		return results.OutcomePromoted
	}
	return ""
}

// rollBack puts the stable version back in the workload's spec and waits
// (bounded) until the candidate's pods are gone. For a Rollout Argo sees
// the stable ReplicaSet's template again and goes straight back to it; a
// Deployment rolls back like any rollout.
func (s *Session) rollBack(ctx context.Context, x *releaseRun) error {
	p := s.params(x.strat.Name(), x.analyzer)
	p.Image = s.image(x.stable)
	objs, err := x.strat.Render(p)
	if err != nil {
		return err
	}
	if err := s.applier.Apply(ctx, strategy.Workload(objs)...); err != nil {
		return fmt.Errorf("put %s back: %w", x.stable.Tag, err)
	}
	s.logf(LogInfo, "release %d: %s back in the spec", x.id, x.stable.Tag)
	_ = wait.PollUntilContextTimeout(ctx, poll, drain, true, func(context.Context) (bool, error) {
		return len(s.view.runningPods(s.image(x.cand))) == 0 && s.view.serving(kindOf(x.strat), s.image(x.stable), int32(s.cfg.Scenario.Replicas)), nil
	})
	return nil
}

// finishRelease ends the release's load (idle load takes over first),
// scores it from its records and reports it.
func (s *Session) finishRelease(ctx context.Context, x *releaseRun, outcome results.Outcome, runErr error) Release {
	s.mu.Lock()
	rel := *s.release
	s.mu.Unlock()
	rel.Outcome = outcome
	defer s.live.endRelease()
	if x.records != nil {
		defer os.Remove(x.records.Name())
		defer x.records.Close()
	}
	if s.cfg.Analysis != nil {
		defer s.cfg.Analysis.Forget(s.cfg.Namespace)
	}
	if x.gen == nil {
		rel.Error = errorText(runErr)
		return rel
	}
	var sum *loadgen.Summary
	var loadErr error
	if ctx.Err() == nil {
		if idle, err := s.startLoad(ctx, s.currentStrategy(), nil); err == nil {
			s.swapLoad(idle)
		} else {
			s.logf(LogError, "idle load: %v", err)
		}
	}
	if x.preview != nil {
		x.preview.Stop()
		_, _ = x.preview.Wait()
	}
	x.gen.Stop()
	sum, loadErr = x.gen.Wait()
	end := time.Now()
	if sum != nil && sum.LastSent.Add(time.Nanosecond).After(end) {
		end = sum.LastSent.Add(time.Nanosecond)
	}
	x.w.Add(results.Event{Time: end, Kind: results.EventLoadStopped})
	if !x.applied.IsZero() {
		rel.ElapsedS = end.Sub(x.applied).Seconds()
	}
	if runErr != nil || loadErr != nil || x.applied.IsZero() {
		rel.Error = errorText(runErr, loadErr)
		return rel
	}
	res := s.score(x, outcome, results.Window{Start: x.applied, End: end}, sum)
	if res.Error != "" {
		rel.Error = res.Error
		s.logf(LogError, "release %d: score: %s", x.id, res.Error)
		return rel
	}
	sc := res.Scores
	rel.Score = &Score{Verdict: sc.Verdict, FailedRequests: sc.BlastRadius.FailedRequests, TotalRequests: sc.BlastRadius.TotalRequests,
		UsersAffected: sc.BlastRadius.UsersAffected, TimeToDetectS: sc.Timing.TimeToDetectSeconds, TimeToRecoverS: sc.Timing.TimeToRecoverSeconds}
	rel.Requests, rel.Failed, rel.UsersAffected = sc.BlastRadius.TotalRequests, sc.BlastRadius.FailedRequests, sc.BlastRadius.UsersAffected
	s.logf(LogVerdict, "release %d: %s → %s: %s (%s), %d failed of %d requests, %d users hurt", x.id, x.stable.Tag, x.cand.Tag,
		sc.Verdict, outcome, sc.BlastRadius.FailedRequests, sc.BlastRadius.TotalRequests, sc.BlastRadius.UsersAffected)
	if s.cfg.OnRelease != nil {
		s.cfg.OnRelease(res)
	}
	return rel
}

// score scores the release from its records, as a scenario run is scored.
func (s *Session) score(x *releaseRun, outcome results.Outcome, win results.Window, sum *loadgen.Summary) results.Run {
	sc := s.cfg.Scenario
	res := results.Run{
		ID: fmt.Sprintf("demo/%d/%s", x.id, x.cand.Tag), Scenario: "demo", Description: "a live demo release",
		Strategy: x.strat.Name(), Analyzer: x.analyzer, GroundTruth: x.groundTruth, RootCause: x.rootCause,
		Stable: x.stable.Tag, Candidate: x.cand.Tag, Namespace: s.cfg.Namespace, StartedAt: x.started, AppliedAt: x.applied,
		EndedAt: time.Now(), Outcome: outcome, Window: win, Events: x.w.Events(),
		Load: results.Load{Profile: sc.LoadProfile().String(), Users: sc.Load.Users, SLOSeconds: sc.Load.SLO.Seconds()},
		Logs: []results.LogExcerpt{}, Analysis: []results.AnalysisCall{}, Expectations: []results.Expectation{},
	}
	if res.Analyzer == "" {
		res.Analyzer = "none"
	}
	if sum != nil {
		l := &res.Load
		l.Total, l.Unattributed, l.Aborted, l.AchievedRate, l.RequestedRate = sum.Total, sum.Unattributed, sum.Aborted, sum.AchievedRate, sum.RequestedRate
	}
	if s.cfg.Analysis != nil {
		res.Analysis = s.cfg.Analysis.Recorded(s.cfg.Namespace)
	}
	if err := x.records.Sync(); err != nil {
		res.Error = err.Error()
		return res
	}
	f, err := os.Open(x.records.Name())
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer f.Close()
	in := score.Input{Stable: x.stable.Tag, Candidate: x.cand.Tag, GroundTruth: x.groundTruth, SLO: sc.Load.SLO, Window: win, Events: res.Events}
	scores, series, err := score.ScoreReader(in, f)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Scores, res.Series = scores, series
	return res
}

func errorText(errs ...error) string {
	for _, err := range errs {
		if err != nil {
			return err.Error()
		}
	}
	return ""
}

func (s *Session) currentStrategy() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.strategy
}

// injectFault sets a runtime fault on the candidate's running pods through
// the demo app's admin API; the release becomes a bad one.
func (s *Session) injectFault(ctx context.Context, name string) (string, error) {
	fc, ok := faultByName(name)
	if !ok {
		return "", &BadRequest{Reason: fmt.Sprintf("unknown fault %q", name)}
	}
	s.mu.Lock()
	x := s.rel
	phase := s.phase
	s.mu.Unlock()
	if x == nil || phase != PhaseReleasing {
		return "", refuse("no release in progress: a fault goes into a candidate")
	}
	img := s.image(x.cand)
	env := &fault.Env{Client: s.client, Namespace: s.cfg.Namespace, PodURL: s.cfg.Platform.PodURL,
		Pods: func(context.Context, fault.Target) ([]corev1.Pod, error) { return s.view.runningPods(img), nil }}
	f := &fault.Runtime{Target: fault.Candidate, Faults: fc.faults}
	touched, err := f.Apply(ctx, env)
	if err != nil {
		if len(touched) == 0 {
			return "", refuse("%s: %v", fc.choice.Label, err)
		}
		return "", err
	}
	now := time.Now()
	x.w.Add(results.Event{Time: now, Kind: results.EventFaultInjected, Fault: &results.FaultChange{Kind: f.Kind(), Description: f.String()}})
	s.mu.Lock()
	x.groundTruth, x.rootCause = results.Bad, fc.rootCause
	if s.release != nil && s.release.ID == x.id {
		s.release.Faults = append(s.release.Faults, fc.choice.Label)
		s.release.Good = false
	}
	s.mu.Unlock()
	return fmt.Sprintf("%s on %d %s pod(s)", fc.choice.Label, len(touched), x.cand.Tag), nil
}
