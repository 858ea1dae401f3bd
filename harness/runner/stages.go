package runner

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/blastradius/blastradius/harness/fault"
	"github.com/blastradius/blastradius/harness/incluster"
	"github.com/blastradius/blastradius/harness/internal/sleep"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/loadgen"
)

// steps are the stages of a run, in order (docs/runner.md).
func (x *run) steps() []step {
	return []step{
		{"namespace", x.createNamespace},
		{"watch", x.watch},
		{"stable", x.deployStable},
		{"load", x.startLoad},
		{"warm-up", x.warmUp},
		{"candidate", x.applyCandidate},
		{"faults", x.startFaults},
		{"decision", x.awaitDecision},
		{"settle", x.settle},
		{"window", x.closeWindow},
		{"score", x.score},
		{"analysis", x.recordAnalysis},
	}
}

// createNamespace makes the run's namespace; it goes whatever happens.
func (x *run) createNamespace(ctx context.Context) error {
	if _, err := x.r.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: x.ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "blastradius"},
		Annotations: map[string]string{"blastradius.dev/run": x.spec.ID},
	}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", x.ns, err)
	}
	x.lc.cleanup(x.deleteNamespace)
	return nil
}

// deleteNamespace removes the run's namespace. Waiting for it to be gone
// (its pods' graceful ends, the namespace controller's sweep: about 12 s
// here) is not measurement, so the run's slot does not wait: the Runner
// does, in Wait, before the cluster may go.
func (x *run) deleteNamespace() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	err := x.r.client.CoreV1().Namespaces().Delete(ctx, x.ns, metav1.DeleteOptions{})
	if err != nil {
		cancel()
		if !apierrors.IsNotFound(err) {
			x.progress("delete namespace %s: %v", x.ns, err)
		}
		return
	}
	x.r.pending.Add(1)
	go func() {
		defer x.r.pending.Done()
		defer cancel()
		_ = wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			_, err := x.r.client.CoreV1().Namespaces().Get(ctx, x.ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
	}()
}

// watch starts the informers and the analysis endpoint's scraping.
func (x *run) watch(ctx context.Context) error {
	wctx, stop := context.WithCancel(ctx)
	x.lc.cleanup(stop)
	x.w.Run(wctx, x.r.client, x.r.dyn)
	if x.r.Analysis != nil {
		x.lc.cleanup(x.r.Analysis.Watch(x.ns, x.sc.AnalysisParams()))
	}
	return nil
}

// deployStable applies the stable version and waits until it is healthy.
func (x *run) deployStable(ctx context.Context) error {
	objs, err := x.strat.Render(x.params)
	if err != nil {
		return fmt.Errorf("render %s: %w", x.strat.Name(), err)
	}
	if err := x.r.applier.Apply(ctx, objs...); err != nil {
		return err
	}
	x.progress("stable %s deploying", x.sc.Stable.Tag)
	return x.waitStable(ctx)
}

// startLoad starts the users' load on the active Service, recording every
// request, and for blue-green a share on the preview Service.
func (x *run) startLoad(ctx context.Context) error {
	dir := filepath.Join(x.r.OutDir, "runs", strings.ReplaceAll(x.spec.ID, "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	x.res.Records = filepath.Join("runs", filepath.Base(dir), "records.ndjson")
	f, err := os.Create(filepath.Join(dir, "records.ndjson"))
	if err != nil {
		return err
	}
	x.records = f
	x.lc.cleanup(func() { f.Close() })
	gen, workers, err := x.loadPlan()
	if err != nil {
		return err
	}
	x.res.Load.Generator = gen
	inCluster := gen == results.LoadInCluster
	url, headers, cohort, err := x.entry(ctx, inCluster)
	if err != nil {
		return err
	}
	cfg := loadgen.Config{
		URL: url + "/color", Profile: x.sc.LoadProfile(), Users: x.sc.Load.Users, Seed: x.spec.Seed,
		KeepAlive: x.sc.Load.KeepAlive, SLO: x.sc.Load.SLO, Records: f, Timeout: 5 * time.Second,
		OnSecond: x.live.add, Headers: headers, Cohort: cohort,
	}
	if x.gen, err = x.startGenerator(ctx, inCluster, "load-worker", workers, cfg); err != nil {
		return err
	}
	// On any exit the load stops; closeWindow stops it first on success.
	x.lc.cleanup(func() { _, _ = x.stopLoad() })
	x.w.Add(Event{Kind: results.EventLoadStarted})
	if x.traits.BlueGreen && x.sc.Load.PreviewShare > 0 {
		x.preview, err = x.startPreview(ctx, inCluster)
	}
	return err
}

// startGenerator starts a load: the harness's own generator, or n worker
// pods named prefix-<i> in the cluster.
func (x *run) startGenerator(ctx context.Context, inCluster bool, prefix string, n int, cfg loadgen.Config) (userLoad, error) {
	if inCluster {
		f, err := x.startFleet(ctx, prefix, n, cfg)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return f, nil
	}
	g, err := loadgen.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := g.Start(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// entry is where the users' load goes, as the harness (or, in the
// cluster, a pod) reaches it: the app's Service, or for a routed strategy
// the platform's router under the run's own host (one router serves every
// run at once); a dark launch marks its cohort of users.
func (x *run) entry(ctx context.Context, inCluster bool) (string, http.Header, *loadgen.Cohort, error) {
	if !x.traits.Routed() {
		url, err := x.serviceURL(ctx, inCluster, x.params.App)
		return url, nil, nil, err
	}
	url, err := x.r.Platform.RouterURL(ctx)
	if inCluster {
		url, err = x.r.Platform.InClusterRouterURL(ctx)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("strategy %s routes through the cluster's router: %w", x.spec.Strategy, err)
	}
	var cohort *loadgen.Cohort
	if x.traits.Cohort {
		cohort = &loadgen.Cohort{Header: strategy.CohortHeader, Value: strategy.CohortValue, Share: x.sc.Routing.CohortShare}
	}
	return url, http.Header{"Host": {strategy.HostFor(x.ns)}}, cohort, nil
}

func (x *run) serviceURL(ctx context.Context, inCluster bool, name string) (string, error) {
	if inCluster {
		return x.r.Platform.InClusterServiceURL(ctx, x.ns, name)
	}
	return x.r.Platform.ServiceURL(ctx, x.ns, name)
}

// startPreview sends previewShare of the rate to the blue-green preview
// Service, from where the users' load comes (one worker in the cluster).
// Its requests are not scored: no user sees the preview.
func (x *run) startPreview(ctx context.Context, inCluster bool) (userLoad, error) {
	url, err := x.serviceURL(ctx, inCluster, x.params.App+strategy.PreviewSuffix)
	if err != nil {
		return nil, err
	}
	cfg := loadgen.Config{URL: url + "/color", Profile: x.sc.LoadProfile().Times(x.sc.Load.PreviewShare), Users: x.sc.Load.Users,
		Seed: x.spec.Seed + 1, KeepAlive: x.sc.Load.KeepAlive, SLO: x.sc.Load.SLO, Timeout: 5 * time.Second}
	g, err := x.startGenerator(ctx, inCluster, "preview-worker", 1, cfg)
	if err != nil {
		return nil, fmt.Errorf("preview load: %w", err)
	}
	return g, nil
}

// stopLoad stops every generator and waits for the requests in flight; it
// returns the moment it was done and the last send time. Once only.
func (x *run) stopLoad() (time.Time, error) {
	if x.loadDone || x.gen == nil {
		return time.Time{}, nil
	}
	x.loadDone = true
	x.gen.Stop()
	sum, err := x.gen.Wait()
	if f, ok := x.gen.(*fleetLoad); ok {
		x.res.Load.Workers, x.res.Load.LostShare = incluster.Results(f.reports)
	}
	if x.preview != nil {
		x.preview.Stop()
		if ps, _ := x.preview.Wait(); ps != nil {
			x.res.Load.PreviewTotal = ps.Total
		}
	}
	stopped := time.Now()
	if sum != nil {
		l := &x.res.Load
		l.Total, l.Unattributed, l.Aborted = sum.Total, sum.Unattributed, sum.Aborted
		l.AchievedRate, l.RequestedRate = sum.AchievedRate, sum.RequestedRate
		// The window's end: no request the run sent may fall outside it
		// (the window is half-open, so just past the last send).
		if last := sum.LastSent.Add(time.Nanosecond); last.After(stopped) {
			stopped = last
		}
	}
	x.w.Add(Event{Time: stopped, Kind: results.EventLoadStopped})
	return stopped, err
}

// warmUp holds load on the stable version alone.
func (x *run) warmUp(ctx context.Context) error {
	if !sleep.For(ctx, x.sc.Compressed(x.sc.Load.Warmup)) {
		return ctx.Err()
	}
	return nil
}

// applyCandidate re-applies only the workload with the candidate's image,
// so that Argo's edits to the Services' selectors (blue-green) stay. This
// instant opens the scoring window.
func (x *run) applyCandidate(ctx context.Context) error {
	x.params.Image = x.candidateImage()
	objs, err := x.strat.Render(x.params)
	if err != nil {
		return err
	}
	x.applied = time.Now()
	x.res.AppliedAt = x.applied
	x.res.Window.Start = x.applied
	if err := x.r.applier.Apply(ctx, strategy.Workload(objs)...); err != nil {
		return fmt.Errorf("apply candidate: %w", err)
	}
	x.w.Add(Event{Time: x.applied, Kind: results.EventCandidate, Object: x.sc.Candidate.Tag})
	return nil
}

// startFaults plays the fault timeline, timed from the candidate.
func (x *run) startFaults(ctx context.Context) error {
	env := &fault.Env{Client: x.r.client, Namespace: x.ns, Pods: x.targetPods, PodURL: x.r.Platform.PodURL,
		SetLoadFactor: x.setLoadFactor}
	if x.r.Analysis != nil {
		env.SetAnalysisChaos = func(c results.Chaos) { x.r.Analysis.SetChaos(x.ns, c) }
	}
	items, last, err := faultItems(x.sc)
	if err != nil {
		return err
	}
	x.lastFault = last
	fctx, stop := context.WithCancel(ctx)
	x.timeline = fault.Play(fctx, env, x.applied, items, x.faultChanged)
	x.lc.cleanup(func() {
		stop()
		x.res.Faults = x.timeline.Wait()
	})
	return nil
}

// faultItems turns the scenario's faults into timeline items, with the
// timeline's last moment: a runtime fault without a pod count takes every
// target pod running at its time.
func faultItems(sc *scenario.Scenario) ([]fault.Item, time.Duration, error) {
	var items []fault.Item
	var last time.Duration
	for _, f := range sc.Faults {
		it := fault.Item{At: sc.Compressed(f.At), Clear: sc.Compressed(f.Clear)}
		switch {
		case f.PodKill != nil:
			it.Fault = &fault.PodKill{Target: fault.Target(f.PodKill.Target), Count: f.PodKill.Count}
		case f.Runtime != nil:
			it.Fault = &fault.Runtime{Target: fault.Target(f.Runtime.Target), Pods: f.Runtime.Pods, Faults: f.Runtime.Faults}
		case f.Traffic != nil:
			it.Fault = &fault.Traffic{Factor: f.Traffic.Factor}
		case f.AnalysisPath != nil:
			it.Fault = &fault.AnalysisPath{Chaos: f.AnalysisPath.Chaos}
		default:
			return nil, 0, fmt.Errorf("%s:%d: fault of no known kind", sc.File, f.Line)
		}
		items = append(items, it)
		last = max(last, it.At, it.Clear) // the timeline's last event (End() is "never" without a clear)
	}
	return items, last, nil
}

func (x *run) setLoadFactor(f float64) {
	x.gen.SetRateFactor(f)
	if x.preview != nil {
		x.preview.SetRateFactor(f)
	}
}

// faultChanged records an injection or a clearing as a typed event.
func (x *run) faultChanged(i int, rec fault.Record) {
	kind := results.EventFaultInjected
	if rec.ClearedAt != nil {
		kind = results.EventFaultCleared
	}
	x.w.Add(Event{Kind: kind, Fault: &results.FaultChange{Index: i, Kind: rec.Kind, Description: rec.Description, Error: rec.Error}})
}

// awaitDecision waits for Argo's decision (or the timeout) and records it.
func (x *run) awaitDecision(ctx context.Context) error {
	outcome, at, err := x.waitDecision(ctx)
	x.res.Outcome, x.decided = outcome, at
	if kind, ok := outcome.DecisionEvent(); ok && err == nil {
		x.w.Add(Event{Time: at, Kind: kind, Object: x.params.App})
	}
	return err
}

// settle lets traffic settle: after an abort the users' traffic leaves the
// candidate, the last fault plays, and the load runs on a little to see the
// result.
func (x *run) settle(ctx context.Context) error {
	x.res.Logs = x.candidateLogs(ctx)
	if x.res.Outcome == results.OutcomeAborted || x.res.Outcome == results.OutcomeDegraded {
		x.waitTrafficOffCandidate(ctx)
	}
	settle := x.sc.Compressed(settle)
	until := time.Now().Add(settle)
	if end := x.applied.Add(x.lastFault + settle); end.After(until) && time.Until(end) < x.sc.Timeout {
		until = end
	}
	x.progress("%s after %.1fs; settling", x.res.Outcome, x.decided.Sub(x.applied).Seconds())
	sleep.Until(ctx, until)
	return nil
}

// closeWindow stops the load: the window ends when the last request has
// been sent, so that every request of the run is inside it.
func (x *run) closeWindow(context.Context) error {
	end, err := x.stopLoad()
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	x.res.Window.End = end
	return x.records.Sync()
}
