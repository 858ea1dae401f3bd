// Package runner runs one scenario run end to end: a fresh namespace, the
// stable version deployed and healthy, load started and warmed up, the
// candidate applied, the fault timeline played, everything watched and
// timestamped, until Argo promotes or aborts and traffic settles (or the
// timeout); then the load stops, the run is scored and the namespace goes.
//
// Argo Rollouts makes every promote and abort decision: the runner only
// observes, so that the scores measure the strategy, not the harness.
package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/fault"
	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/score"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/loadgen"
)

const (
	// settle is how long load goes on after the decision (and after the last
	// fault), so that the scores see the traffic recover or the damage go on.
	settle = 5 * time.Second
	// drain bounds the wait for an aborted candidate's pods to go.
	drain = time.Minute
)

// Runner runs scenario runs against one platform.
type Runner struct {
	Platform platform.Platform
	Analysis *analysis.Server
	// AnalysisURL is where Argo reaches the analysis endpoint.
	AnalysisURL string
	// OutDir receives runs/<id>/records.ndjson.
	OutDir string
	// Progress receives one line per second per run, and notable events.
	Progress func(line string)

	client  kubernetes.Interface
	dyn     dynamic.Interface
	applier *kube.Applier
	once    sync.Once
	initErr error
}

func (r *Runner) init() error {
	r.once.Do(func() {
		cfg := r.Platform.RESTConfig()
		if cfg == nil {
			r.initErr = errors.New("platform is not up")
			return
		}
		if r.client, r.initErr = kubernetes.NewForConfig(cfg); r.initErr != nil {
			return
		}
		if r.dyn, r.initErr = dynamic.NewForConfig(cfg); r.initErr != nil {
			return
		}
		r.applier, r.initErr = kube.NewApplier(cfg)
	})
	return r.initErr
}

func (r *Runner) progress(format string, args ...any) {
	if r.Progress != nil {
		r.Progress(fmt.Sprintf(format, args...))
	}
}

// run is the state of one run.
type run struct {
	r      *Runner
	spec   scenario.RunSpec
	sc     *scenario.Scenario
	ns     string
	strat  strategy.Strategy
	params strategy.Params
	w      *watcher
	res    *results.Run
}

// Namespace is the run's namespace: short, unique per run ID, a DNS label.
func Namespace(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return fmt.Sprintf("br-%08x", h.Sum32())
}

// Run runs one spec. The returned Run is always filled as far as the run
// got; err reports a harness failure (the run could not be carried out),
// which Run also records in its Outcome and Error.
func (r *Runner) Run(ctx context.Context, spec scenario.RunSpec) (res *results.Run, err error) {
	sc := spec.Scenario
	res = &results.Run{
		ID: spec.ID, Scenario: sc.Name, ScenarioFile: sc.File, Description: sc.Description,
		Strategy: spec.Strategy, Analyzer: spec.Analyzer, Seed: spec.Seed,
		GroundTruth: string(sc.GroundTruth), Stable: sc.Stable.Tag, Candidate: sc.Candidate.Tag,
		Namespace: Namespace(spec.ID), StartedAt: time.Now(),
		Load: results.Load{Profile: sc.Load.Profile.String(), Users: sc.Load.Users, SLOSeconds: sc.Load.SLO.Seconds()},
	}
	defer func() {
		if err != nil {
			res.Outcome, res.Error = "error", err.Error()
		}
		res.EndedAt = time.Now()
	}()
	if err := r.init(); err != nil {
		return res, err
	}
	strat, ok := strategy.Lookup(spec.Strategy)
	if !ok {
		return res, fmt.Errorf("unknown strategy %q", spec.Strategy)
	}
	x := &run{r: r, spec: spec, sc: sc, ns: res.Namespace, strat: strat, res: res}
	x.params = strategy.Params{
		Namespace: x.ns, App: strategy.DefaultApp, Image: sc.Stable.Image(), Replicas: sc.Replicas,
		Steps: sc.Steps, StepPause: sc.Scaled(sc.StepPause), AutoPromotion: sc.Scaled(sc.StepPause),
		ProgressDeadline: progressDeadline(sc),
		Env:              []corev1.EnvVar{{Name: "SEED", Value: fmt.Sprint(spec.Seed)}},
	}
	if strat.HasAnalysis() {
		x.params.Analysis = &strategy.AnalysisParams{
			URL: r.AnalysisURL, Analyzer: spec.Analyzer,
			Interval: sc.Scaled(sc.Analysis.Interval), Count: sc.Analysis.Count, FailureLimit: sc.Analysis.FailureLimit,
			MaxErrorRate: sc.Analysis.MaxErrorRate, MaxP99: sc.Analysis.MaxP99, Window: sc.Analysis.Window,
		}
	}
	x.w = newWatcher(x.ns, x.params.App, nil)
	err = x.execute(ctx)
	res.Events = x.w.Events()
	res.Analysis = x.analysisCalls()
	if res.Logs == nil {
		res.Logs = []results.LogExcerpt{}
	}
	return res, err
}

// progressDeadline is how long a rollout may go without progress before
// Argo aborts it (progressDeadlineAbort) or the Deployment reports it. Argo
// does not count pauses or analysis steps, so it only has to cover pods
// becoming ready, and blue-green's pre-promotion analysis.
func progressDeadline(sc *scenario.Scenario) time.Duration {
	analysis := sc.Scaled(sc.Analysis.Interval) * time.Duration(max(sc.Analysis.Count, 1))
	return max(30*time.Second, analysis+15*time.Second)
}

func (x *run) execute(ctx context.Context) error {
	r := x.r
	// The namespace goes whatever happens, even on Ctrl-C.
	if _, err := r.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: x.ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "blastradius"},
		Annotations: map[string]string{"blastradius.dev/run": x.spec.ID},
	}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", x.ns, err)
	}
	defer x.deleteNamespace()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	x.w.run(wctx, r.client, r.dyn)
	if r.Analysis != nil {
		defer r.Analysis.Watch(x.ns)()
	}

	// Stable first, healthy before anything else happens.
	objs, err := x.strat.Render(x.params)
	if err != nil {
		return fmt.Errorf("render %s: %w", x.strat.Name(), err)
	}
	if err := r.applier.Apply(ctx, objs...); err != nil {
		return err
	}
	x.progress("stable %s deploying", x.sc.Stable.Tag)
	if err := x.waitStable(ctx); err != nil {
		return err
	}

	// Load: users on the active Service; for blue-green a share on the preview.
	dir := filepath.Join(r.OutDir, "runs", strings.ReplaceAll(x.spec.ID, "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	x.res.Records = filepath.Join("runs", filepath.Base(dir), "records.ndjson")
	recFile, err := os.Create(filepath.Join(dir, "records.ndjson"))
	if err != nil {
		return err
	}
	defer recFile.Close()
	url, err := r.Platform.ServiceURL(ctx, x.ns, x.params.App)
	if err != nil {
		return err
	}
	var live liveStats
	gen, err := loadgen.New(loadgen.Config{
		URL: url + "/color", Profile: x.sc.Load.Profile, Users: x.sc.Load.Users, Seed: x.spec.Seed,
		KeepAlive: x.sc.Load.KeepAlive, SLO: x.sc.Load.SLO, Records: recFile, Timeout: 5 * time.Second,
		OnSecond: live.add,
	})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	loadCtx, abortLoad := context.WithCancel(ctx)
	defer abortLoad()
	if err := gen.Start(loadCtx); err != nil {
		return err
	}
	x.w.Add(Event{Kind: EvLoad, Message: "load started: " + x.sc.Load.Profile.String()})
	var preview *loadgen.Generator
	if strings.HasPrefix(x.strat.Name(), "blue-green") && x.sc.Load.PreviewShare > 0 {
		if preview, err = x.startPreview(loadCtx); err != nil {
			return err
		}
	}
	stopLoad := func() error {
		gen.Stop()
		sum, err := gen.Wait()
		if preview != nil {
			preview.Stop()
			if ps, _ := preview.Wait(); ps != nil {
				x.res.Load.PreviewTotal = ps.Total
			}
		}
		if sum != nil {
			x.res.Load.Total, x.res.Load.Unattributed, x.res.Load.Aborted = sum.Total, sum.Unattributed, sum.Aborted
			x.res.Load.AchievedRate, x.res.Load.RequestedRate = sum.AchievedRate, sum.RequestedRate
		}
		x.w.Add(Event{Kind: EvLoad, Message: "load stopped"})
		return err
	}
	if !sleep(ctx, x.sc.Load.Warmup) {
		_ = stopLoad()
		return ctx.Err()
	}

	// The candidate: only the workload is re-applied, so that Argo's edits to
	// the Services' selectors (blue-green) stay.
	x.params.Image = x.sc.Candidate.Image()
	objs, err = x.strat.Render(x.params)
	if err != nil {
		_ = stopLoad()
		return err
	}
	applied := time.Now()
	x.res.AppliedAt = applied
	if err := r.applier.Apply(ctx, workload(objs)...); err != nil {
		_ = stopLoad()
		return fmt.Errorf("apply candidate: %w", err)
	}
	x.w.Add(Event{Time: applied, Kind: EvCandidate, Message: "candidate " + x.sc.Candidate.Tag + " applied"})

	// Faults, timed from the candidate.
	env := &fault.Env{Client: r.client, Namespace: x.ns, Pods: x.targetPods, PodURL: r.Platform.PodURL, SetLoadFactor: func(f float64) {
		gen.SetRateFactor(f)
		if preview != nil {
			preview.SetRateFactor(f)
		}
	}}
	items, lastFault, err := x.faultItems(ctx, env)
	if err != nil {
		_ = stopLoad()
		return err
	}
	fctx, stopFaults := context.WithCancel(ctx)
	timeline := fault.Play(fctx, env, applied, items, func(rec fault.Record) {
		msg := "injected: " + rec.Description
		if rec.ClearedAt != nil {
			msg = "cleared: " + rec.Description
		}
		if rec.Error != "" {
			msg += " (" + rec.Error + ")"
		}
		x.w.Add(Event{Kind: EvFault, Message: msg})
	})

	outcome, decided, runErr := x.waitDecision(ctx, applied, timeline, &live)
	if runErr == nil {
		// Traffic settles: an aborted candidate's pods go, the last fault
		// has played, and the load runs on a little to see the result.
		x.res.Logs = x.candidateLogs(ctx)
		if outcome == "aborted" || outcome == "degraded" {
			x.waitCandidateGone(ctx)
		}
		until := time.Now().Add(settle)
		if end := applied.Add(lastFault + settle); end.After(until) && time.Until(end) < x.sc.Timeout {
			until = end
		}
		x.progress("%s after %.1fs; settling", outcome, decided.Sub(applied).Seconds())
		sleep(ctx, time.Until(until))
	}
	end := time.Now()
	loadErr := stopLoad()
	stopFaults()
	x.res.Faults = timeline.Wait()
	x.res.Outcome = outcome
	if runErr != nil {
		return runErr
	}
	if loadErr != nil {
		return fmt.Errorf("load: %w", loadErr)
	}
	if err := recFile.Sync(); err != nil {
		return err
	}
	return x.score(applied, end, filepath.Join(dir, "records.ndjson"))
}

// waitDecision waits for Argo's decision, or the Deployment's completion,
// printing progress once a second. A fault that could not be applied ends
// the run as a harness error.
func (x *run) waitDecision(ctx context.Context, applied time.Time, timeline *fault.Timeline, live *liveStats) (string, time.Time, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastPrint := time.Time{}
	deadline := applied.Add(x.sc.Timeout)
	for {
		select {
		case <-ctx.Done():
			return "interrupted", time.Now(), ctx.Err()
		case <-tick.C:
		}
		if err := timeline.Err(); err != nil {
			return "error", time.Now(), err
		}
		outcome, err := x.decision(ctx)
		if err != nil {
			return "error", time.Now(), err
		}
		now := time.Now()
		if outcome != "" {
			kind := map[string]string{"aborted": EvAborted, "degraded": EvDegraded, "promoted": EvPromoted}[outcome]
			x.w.Add(Event{Time: now, Kind: kind, Message: "rollout " + outcome})
			return outcome, now, nil
		}
		if now.After(deadline) {
			x.w.Add(Event{Time: now, Kind: EvTimeout, Message: fmt.Sprintf("no decision within %s", x.sc.Timeout)})
			return "timeout", now, nil
		}
		if now.Sub(lastPrint) >= time.Second {
			lastPrint = now
			st := x.w.Rollout()
			x.progress("t+%3.0fs %-11s step %d/%d weight %3d | %s", now.Sub(applied).Seconds(), st.Phase, st.Step, st.Steps, st.Weight, live.String())
		}
	}
}

// decision reads the outcome so far: "" while undecided.
func (x *run) decision(ctx context.Context) (string, error) {
	if x.strat.Name() == strategy.DeploymentRolling {
		d, err := x.r.client.AppsV1().Deployments(x.ns).Get(ctx, x.params.App, metav1.GetOptions{})
		if err != nil {
			return "", nil // transient; the timeout bounds it
		}
		if deploymentComplete(d, x.sc.Candidate.Image()) {
			return "promoted", nil
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
				return "degraded", nil // the Deployment controller gave up; old pods still serve
			}
		}
		return "", nil
	}
	st := x.w.Rollout()
	switch {
	case st.Abort:
		return "aborted", nil
	case st.Phase == "Degraded":
		return "degraded", nil
	case st.Phase == "Healthy" && st.PodHash != "" && st.StableHash == st.PodHash && x.candidateIsStable(ctx, st.StableHash):
		return "promoted", nil
	}
	return "", nil
}

// candidateIsStable checks that the stable ReplicaSet runs the candidate, so
// that the stable version's own Healthy phase is not read as a promotion.
func (x *run) candidateIsStable(ctx context.Context, hash string) bool {
	rss, err := x.r.client.AppsV1().ReplicaSets(x.ns).List(ctx, metav1.ListOptions{LabelSelector: analysis.HashLabel + "=" + hash})
	if err != nil {
		return false
	}
	for _, rs := range rss.Items {
		if image(rs.Spec.Template.Spec) == x.sc.Candidate.Image() {
			return true
		}
	}
	return false
}

func deploymentComplete(d *appsv1.Deployment, img string) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return image(d.Spec.Template.Spec) == img && d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == want && d.Status.Replicas == want && d.Status.AvailableReplicas == want
}

// waitStable waits until the stable version serves with every replica.
func (x *run) waitStable(ctx context.Context) error {
	limit := x.sc.Timeout
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, limit, true, func(ctx context.Context) (bool, error) {
		if x.strat.Name() == strategy.DeploymentRolling {
			d, err := x.r.client.AppsV1().Deployments(x.ns).Get(ctx, x.params.App, metav1.GetOptions{})
			return err == nil && deploymentComplete(d, x.sc.Stable.Image()), nil
		}
		st := x.w.Rollout()
		return st.Phase == "Healthy" && st.ReadyCount == int64(x.sc.Replicas), nil
	})
	if err != nil {
		return fmt.Errorf("stable %s not healthy within %s: %w (last: %+v)", x.sc.Stable.Tag, limit, err, x.w.Rollout())
	}
	return nil
}

// waitCandidateGone waits (bounded) until no candidate pod is left.
func (x *run) waitCandidateGone(ctx context.Context) {
	_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, drain, true, func(ctx context.Context) (bool, error) {
		pods, err := x.r.client.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			if image(p.Spec) == x.sc.Candidate.Image() {
				return false, nil
			}
		}
		return true, nil
	})
}

// targetPods lists the running, not terminating, pods of a fault target,
// told apart by image so that it works for every strategy.
func (x *run) targetPods(ctx context.Context, t fault.Target) ([]corev1.Pod, error) {
	img := x.sc.Stable.Image()
	if t == fault.Candidate {
		img = x.sc.Candidate.Image()
	}
	pods, err := x.r.client.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if image(p.Spec) == img && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out, nil
}

// faultItems turns the scenario's faults into timeline items; a runtime
// fault without a pod count takes every target pod running at its time.
func (x *run) faultItems(ctx context.Context, env *fault.Env) ([]fault.Item, time.Duration, error) {
	var items []fault.Item
	var last time.Duration
	for _, f := range x.sc.Faults {
		it := fault.Item{At: f.At, Clear: f.Clear}
		switch {
		case f.PodKill != nil:
			it.Fault = &fault.PodKill{Target: fault.Target(f.PodKill.Target), Count: f.PodKill.Count}
		case f.Runtime != nil:
			it.Fault = &fault.Runtime{Target: fault.Target(f.Runtime.Target), Pods: f.Runtime.Pods, Faults: f.Runtime.Faults}
		case f.Traffic != nil:
			it.Fault = &fault.Traffic{Factor: f.Traffic.Factor}
		default:
			return nil, 0, fmt.Errorf("%s:%d: fault of no known kind", x.sc.File, f.Line)
		}
		items = append(items, it)
		last = max(last, f.At, f.Clear) // the timeline's last event (End() is "never" without a clear)
	}
	return items, last, nil
}

func (x *run) startPreview(ctx context.Context) (*loadgen.Generator, error) {
	url, err := x.r.Platform.ServiceURL(ctx, x.ns, x.params.App+strategy.PreviewSuffix)
	if err != nil {
		return nil, err
	}
	p := x.sc.Load.Profile
	p.Rate *= x.sc.Load.PreviewShare
	p.RateTo *= x.sc.Load.PreviewShare
	p.Amplitude *= x.sc.Load.PreviewShare
	g, err := loadgen.New(loadgen.Config{URL: url + "/color", Profile: p, Users: x.sc.Load.Users, Seed: x.spec.Seed + 1,
		KeepAlive: x.sc.Load.KeepAlive, SLO: x.sc.Load.SLO, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("preview load: %w", err)
	}
	return g, g.Start(ctx)
}

// score reads the records back and scores the run.
func (x *run) score(applied, end time.Time, records string) error {
	in := score.Input{
		Stable: x.sc.Stable.Tag, Candidate: x.sc.Candidate.Tag, GroundTruthBad: x.sc.GroundTruthBad(),
		SLO: x.sc.Load.SLO, CandidateApplied: applied, End: end,
	}
	for _, e := range x.w.Events() {
		if k, ok := scoreKind(e); ok {
			in.Events = append(in.Events, score.Event{Time: e.Time, Kind: k, Value: e.Value, Detail: e.Message})
		}
	}
	f, err := os.Open(records)
	if err != nil {
		return err
	}
	defer f.Close()
	scores, series, err := score.ScoreReader(in, f)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	x.res.Scores, x.res.Series = scores, series
	x.res.Expectations = expectations(x.sc, x.spec.Strategy, scores)
	return nil
}

func scoreKind(e Event) (score.EventKind, bool) {
	switch e.Kind {
	case EvAborted:
		return score.EventAborted, true
	case EvDegraded:
		return score.EventDegraded, true
	case EvPromoted:
		return score.EventPromoted, true
	case EvTimeout:
		return score.EventRunTimedOut, true
	case EvMeasurement:
		switch e.Phase {
		case "Failed":
			return score.EventMeasurementFailed, true
		case "Successful":
			return score.EventMeasurementSucceeded, true
		}
	case EvFault:
		if strings.HasPrefix(e.Message, "injected:") {
			return score.EventFaultInjected, true
		}
		if strings.HasPrefix(e.Message, "cleared:") {
			return score.EventFaultCleared, true
		}
	}
	return "", false
}

// expectations checks the scenario's expect block for this strategy.
func expectations(sc *scenario.Scenario, strat string, s score.Scores) []results.Expectation {
	exp := sc.ExpectFor(strat)
	out := []results.Expectation{}
	if exp == nil {
		return out
	}
	if len(exp.Verdicts) > 0 {
		ok := exp.AllowsVerdict(scenario.Verdict(s.Verdict))
		out = append(out, results.Expectation{Name: "verdict", OK: ok,
			Message: fmt.Sprintf("verdict %s, want %s", s.Verdict, joinVerdicts(exp.Verdicts))})
	}
	if exp.MaxFailedRequests != nil {
		ok := s.BlastRadius.FailedRequests <= *exp.MaxFailedRequests
		out = append(out, results.Expectation{Name: "maxFailedRequests", OK: ok,
			Message: fmt.Sprintf("%d failed requests, at most %d allowed", s.BlastRadius.FailedRequests, *exp.MaxFailedRequests)})
	}
	if exp.MaxTimeToDetect != nil {
		t := s.Timing.TimeToDetectSeconds
		ok := t != nil && *t <= exp.MaxTimeToDetect.Seconds()
		msg := fmt.Sprintf("not detected, want within %s", exp.MaxTimeToDetect)
		if t != nil {
			msg = fmt.Sprintf("detected after %.1fs, want within %s", *t, exp.MaxTimeToDetect)
		}
		out = append(out, results.Expectation{Name: "maxTimeToDetect", OK: ok, Message: msg})
	}
	return out
}

func joinVerdicts(vs []scenario.Verdict) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, " or ")
}

// analysisCalls are the analysis endpoint's answers for this run.
func (x *run) analysisCalls() []results.AnalysisCall {
	out := []results.AnalysisCall{}
	if x.r.Analysis == nil {
		return out
	}
	for _, c := range x.r.Analysis.Calls() {
		if c.Namespace != x.ns {
			continue
		}
		out = append(out, results.AnalysisCall{
			Time: c.Time, Analyzer: c.Analyzer, Hash: c.Hash, Verdict: c.Verdict.Verdict, Value: c.Verdict.Value,
			P99Seconds: c.Verdict.P99, Requests: c.Verdict.Requests, Explanation: c.Verdict.Explanation, Error: c.Error,
		})
	}
	return out
}

// logExcerptPods and logExcerptLines bound what goes into results.json.
const (
	logExcerptPods  = 2
	logExcerptLines = 20
)

// candidateLogs takes the tail of a few candidate pods' logs, their error
// lines if there are any (the demo app logs every request at info level).
func (x *run) candidateLogs(ctx context.Context) []results.LogExcerpt {
	out := []results.LogExcerpt{}
	pods, err := x.targetPods(ctx, fault.Candidate)
	if err != nil {
		return out
	}
	for i := range pods {
		if len(out) == logExcerptPods {
			break
		}
		tail := int64(500)
		data, err := x.r.client.CoreV1().Pods(x.ns).GetLogs(pods[i].Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		var errs []string
		for _, l := range lines {
			if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, `"level":"FATAL"`) {
				errs = append(errs, l)
			}
		}
		if len(errs) > 0 {
			lines = errs
		}
		if len(lines) > logExcerptLines {
			lines = lines[len(lines)-logExcerptLines:]
		}
		out = append(out, results.LogExcerpt{Pod: pods[i].Name, Container: strategy.ContainerName,
			Version: x.sc.Candidate.Tag, Lines: strings.Join(lines, "\n")})
	}
	return out
}

// deleteNamespace removes the run's namespace and waits (bounded) until its
// pods are gone, so that the next run starts on a quiet node.
func (x *run) deleteNamespace() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := x.r.client.CoreV1().Namespaces().Delete(ctx, x.ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		x.progress("delete namespace %s: %v", x.ns, err)
		return
	}
	_ = wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := x.r.client.CoreV1().Namespaces().Get(ctx, x.ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func (x *run) progress(format string, args ...any) {
	x.r.progress("[%s] "+format, append([]any{x.spec.ID}, args...)...)
}

// workload keeps the Deployment or Rollout of a render.
func workload(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Rollout" || o.GetKind() == "Deployment" {
			out = append(out, o)
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// liveStats keeps the last second of load per version for the progress line.
type liveStats struct {
	mu   sync.Mutex
	last loadgen.Second
}

func (l *liveStats) add(s loadgen.Second) {
	l.mu.Lock()
	l.last = s
	l.mu.Unlock()
}

func (l *liveStats) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.last.Versions))
	for v := range l.last.Versions {
		names = append(names, v)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, v := range names {
		st := l.last.Versions[v]
		rate := 0.0
		if st.Requests > 0 {
			rate = 100 * float64(st.Failures) / float64(st.Requests)
		}
		fmt.Fprintf(&b, "%s %d/s %.1f%% err  ", v, st.Requests, rate)
	}
	if u := l.last.Unattributed; u.Requests > 0 {
		fmt.Fprintf(&b, "unattributed %d/s", u.Requests)
	}
	return strings.TrimSpace(b.String())
}
