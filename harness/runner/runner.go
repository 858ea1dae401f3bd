// Package runner runs one scenario run end to end: a fresh namespace, the
// stable version deployed and healthy, load started and warmed up, the
// candidate applied, the fault timeline played, everything watched and
// timestamped, until Argo promotes or aborts and traffic settles (or the
// timeout); then the load stops, which closes the scoring window, the run is
// scored and the namespace goes. Each stage is a named step (stages.go) with
// one cleanup path (steps.go).
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
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/fault"
	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/harness/watch"
)

const (
	// settle is how long load goes on after the decision (and after the last
	// fault), so that the scores see the traffic recover or the damage go on.
	settle = 5 * time.Second
	// drain bounds the wait for the users' traffic to leave an aborted
	// candidate.
	drain = time.Minute
)

// Analysis is what the runner needs of the analysis endpoint that Argo
// calls: any analyzer served behind it plugs in without touching the runner.
type Analysis interface {
	// Watch starts collecting data for the namespace's pods before the
	// first call; the returned func ends that.
	// Calls that carry no parameters of their own (the agent API's)
	// are answered with params.
	Watch(namespace string, params analyzer.Params) (unwatch func())
	// Recorded returns every answer given for the namespace, oldest first.
	Recorded(namespace string) []results.AnalysisCall
	// Trace is what the analyzers saw of the two versions in the namespace.
	Trace(namespace, candidate, stable string) (*analyzer.Trace, bool)
	// SetChaos injects chaos on the AI analyzers' calls for the namespace
	// until set to none (an analysisPath fault).
	SetChaos(namespace string, c results.Chaos)
}

// Event is one timestamped observation, as it goes into results.json.
type Event = results.Event

// Runner runs scenario runs against one platform.
type Runner struct {
	Platform platform.Platform
	// Analysis serves strategies with analysis; nil when none runs.
	Analysis Analysis
	// AnalysisURL is where Argo reaches the analysis endpoint.
	AnalysisURL string
	// PrometheusURL is where Argo's prometheus provider queries.
	PrometheusURL string
	// PluginBacking is the analyzer that answers, at AnalysisURL's agent
	// API, the agent calls of an analyzer Argo measures through a metric
	// plugin (metric-ai); empty when the platform runs no such plugin.
	PluginBacking string
	// Load chooses where the users' load is generated.
	Load LoadOptions
	// OutDir receives runs/<id>/records.ndjson.
	OutDir string
	// Progress receives notable events, one line each, prefixed with the
	// run's ID.
	Progress func(line string)
	// Status, when set, receives each run's status once a second while it
	// waits for the decision (a live display keeps one line per run); when
	// nil, those lines go to Progress.
	Status func(runID, line string)

	client  kubernetes.Interface
	dyn     dynamic.Interface
	applier *kube.Applier
	once    sync.Once
	initErr error
	// pending counts the namespaces deleted and not yet gone.
	pending sync.WaitGroup
}

// Wait waits until the namespaces of the runs done so far are gone (each
// bounded by 2 minutes), so that nothing of them is left when it returns.
func (r *Runner) Wait() { r.pending.Wait() }

func (r *Runner) init() error {
	r.once.Do(func() {
		if r.client != nil { // set by a test
			return
		}
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

// run is the state of one run, filled in by its steps.
type run struct {
	r      *Runner
	spec   scenario.RunSpec
	sc     *scenario.Scenario
	ns     string
	strat  strategy.Strategy
	traits strategy.Traits
	params strategy.Params
	w      *watch.Watcher
	res    *results.Run
	lc     lifecycle

	records   *os.File // runs/<id>/records.ndjson
	gen       userLoad // the users' load
	preview   userLoad // blue-green preview load, or nil
	live      liveStats
	loadDone  bool
	applied   time.Time
	timeline  *fault.Timeline
	lastFault time.Duration
	outcome   results.Outcome
	decided   time.Time
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
		GroundTruth: sc.GroundTruth, RootCause: sc.RootCause, Stable: sc.Stable.Tag, Candidate: sc.Candidate.Tag,
		Namespace: Namespace(spec.ID), StartedAt: time.Now(),
		TimeScale: sc.RunScale(),
		Load:      results.Load{Profile: sc.LoadProfile().String(), Users: sc.Load.Users, SLOSeconds: sc.Load.SLO.Seconds()},
		Logs:      []results.LogExcerpt{}, Analysis: []results.AnalysisCall{}, Expectations: []results.Expectation{},
	}
	defer func() {
		if err != nil {
			res.Outcome, res.Error = results.OutcomeError, err.Error()
		}
		res.EndedAt = time.Now()
	}()
	if err := r.init(); err != nil {
		return res, err
	}
	x, err := r.newRun(spec, res)
	if err != nil {
		return res, err
	}
	err = x.lc.run(ctx, x.steps())
	res.Stages = x.lc.stages
	res.Events = x.w.Events()
	if r.Analysis != nil {
		res.Analysis = r.Analysis.Recorded(x.ns)
	}
	return res, err
}

// newRun resolves the strategy and renders its parameters.
func (r *Runner) newRun(spec scenario.RunSpec, res *results.Run) (*run, error) {
	sc := spec.Scenario
	strat, ok := strategy.Lookup(spec.Strategy)
	if !ok {
		return nil, fmt.Errorf("unknown strategy %q", spec.Strategy)
	}
	x := &run{r: r, spec: spec, sc: sc, ns: res.Namespace, strat: strat, traits: strat.Traits(), res: res}
	x.params = strategy.Params{
		Namespace: x.ns, App: strategy.DefaultApp, Image: r.Platform.Image(sc.Stable.Image()), Replicas: sc.Replicas,
		Steps: sc.Steps, StepPause: sc.Scaled(sc.StepPause), AutoPromotion: sc.Scaled(sc.StepPause),
		ProgressDeadline: progressDeadline(sc),
		Env:              []corev1.EnvVar{{Name: "SEED", Value: fmt.Sprint(spec.Seed)}},
		CanaryReplicas:   sc.Routing.CanaryReplicas, MirrorPercent: sc.Routing.MirrorPercent,
	}
	if x.traits.HasAnalysis() {
		if r.Analysis == nil {
			return nil, fmt.Errorf("strategy %s needs the analysis endpoint", spec.Strategy)
		}
		x.params.Analysis = &strategy.AnalysisParams{
			URL: r.AnalysisURL, Analyzer: spec.Analyzer, PrometheusURL: r.PrometheusURL,
			Interval: sc.Scaled(sc.Analysis.Interval), Count: sc.Analysis.Count,
			FailureLimit: sc.Analysis.FailureLimit, InconclusiveLimit: sc.Analysis.InconclusiveLimit,
			Params: sc.AnalysisParams(),
		}
		if analysis.IsExternal(spec.Analyzer) && x.params.Analysis.Budget == 0 {
			x.params.Analysis.Budget = analysis.DefaultBudget
		}
		x.params.ScrapeInterval = sc.AnalysisParams().ScrapeInterval
		info, _ := analysis.Lookup(spec.Analyzer)
		if info.Provider == analysis.ProviderPrometheus && r.PrometheusURL == "" {
			return nil, fmt.Errorf("analyzer %s needs the cluster's Prometheus, and the platform has none", spec.Analyzer)
		}
		if info.Provider == analysis.ProviderPlugin {
			if r.PluginBacking == "" {
				return nil, fmt.Errorf("analyzer %s needs its Argo metric plugin, and the platform runs none", spec.Analyzer)
			}
			x.params.Analysis.AgentPath = analysis.A2APrefix + r.PluginBacking
		}
	}
	x.w = watch.New(x.ns, x.params.App, nil)
	return x, nil
}

// progressDeadline is how long a rollout may go without progress before
// Argo aborts it (progressDeadlineAbort) or the Deployment reports it. Argo
// does not count pauses or analysis steps, so it only has to cover pods
// becoming ready, and blue-green's pre-promotion analysis.
func progressDeadline(sc *scenario.Scenario) time.Duration {
	analysis := sc.Scaled(sc.Analysis.Interval) * time.Duration(max(sc.Analysis.Count, 1))
	return max(30*time.Second, analysis+15*time.Second)
}

// status reports the run's state now.
func (x *run) status(format string, args ...any) {
	if x.r.Status != nil {
		x.r.Status(x.spec.ID, fmt.Sprintf(format, args...))
		return
	}
	x.progress(format, args...)
}

func (x *run) progress(format string, args ...any) {
	x.r.progress("[%s] "+format, append([]any{x.spec.ID}, args...)...)
}
