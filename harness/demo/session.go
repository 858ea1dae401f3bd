// Package demo is the live demo: one namespace with a stable version under
// steady load, and releases made on request (good, bad, a runtime fault, a
// promote or an abort), each acting through the Kubernetes API or the demo
// app's admin API as a person would; Argo decides every release. The
// session publishes a State several times a second to the dashboard (a page
// served over Server-Sent Events) and the terminal view, and scores each
// release from the load's records exactly as a scenario run is scored.
package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/loadgen"
)

// Analysis is what the demo needs of the analysis endpoint Argo calls.
type Analysis interface {
	// Watch collects the namespace's pods' metrics until unwatch.
	Watch(namespace string, params analyzer.Params) (unwatch func())
	// Recorded returns the answers given for the namespace, oldest first;
	// Forget drops them once a release is scored.
	Recorded(namespace string) []results.AnalysisCall
	Forget(namespace string)
}

// Config is what a session is built from.
type Config struct {
	Platform platform.Platform
	// Analysis, AnalysisURL and PrometheusURL serve strategies with
	// analysis, as for scenario runs.
	Analysis      Analysis
	AnalysisURL   string
	PrometheusURL string
	// Scenario sets the load, SLO, replicas, steps, pauses, analysis and
	// timeout, and the first stable version (its stable).
	Scenario *scenario.Scenario
	// Strategy and Analyzer are the first release's; Strategies and
	// Analyzers those on offer (what the platform and configuration serve).
	Strategy, Analyzer    string
	Strategies, Analyzers []string
	// Namespace is the session's own namespace, created and removed by it.
	Namespace string
	// RecordsDir receives each release's records while it is scored; the
	// caller removes it.
	RecordsDir string
	// OnRelease, when set, is told of each ended release with its full
	// result (for results.json and the report).
	OnRelease func(results.Run)
	// OnState, when set, gets every snapshot (the terminal view).
	OnState func(State)
	Hub     *Hub
	// Dashboard is where the dashboard is served (set once serving).
	Dashboard string
	// NamespaceWait bounds the wait for the namespace to go at the end:
	// on a cluster that outlives the demo it should be gone before the
	// command returns; on one about to be removed, 0 does not wait.
	NamespaceWait time.Duration
}

// Session is one live demo.
type Session struct {
	cfg     Config
	ctx     context.Context // the session's: background work ends with it
	client  kubernetes.Interface
	dyn     dynamic.Interface
	applier *kube.Applier
	live    live
	view    *view
	conn    connection

	mu       sync.Mutex
	phase    Phase
	strategy string
	analyzer string
	stable   catalog.Version
	kind     string // the workload's kind now: Rollout or Deployment
	release  *Release
	rel      *releaseRun // the release in progress
	history  []Release
	log      []LogLine
	nextID   int
	gen      *loadgen.Generator // the load now: idle, or the release's
	seq      uint64
	busy     sync.WaitGroup // background work: releases and switches
}

// Sizes kept for viewers.
const (
	logLines     = 40
	historySize  = 20
	publishEvery = 250 * time.Millisecond
)

// New checks the configuration and prepares a session.
func New(cfg Config) (*Session, error) {
	if cfg.Scenario == nil || cfg.Platform == nil || cfg.Hub == nil || cfg.Namespace == "" {
		return nil, errors.New("demo: scenario, platform, hub and namespace are required")
	}
	if err := checkChoice(cfg.Strategy, cfg.Analyzer); err != nil {
		return nil, err
	}
	rc := cfg.Platform.RESTConfig()
	if rc == nil {
		return nil, errors.New("demo: platform is not up")
	}
	s := &Session{cfg: cfg, phase: PhaseStarting, strategy: cfg.Strategy, analyzer: cfg.Analyzer, stable: cfg.Scenario.Stable}
	var err error
	if s.client, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, err
	}
	if s.dyn, err = dynamic.NewForConfig(rc); err != nil {
		return nil, err
	}
	if s.applier, err = kube.NewApplier(rc); err != nil {
		return nil, err
	}
	s.view = newView(cfg.Namespace)
	return s, nil
}

// checkChoice refuses a strategy or analyzer the catalogs do not know.
func checkChoice(strat, an string) error {
	st, ok := strategy.Lookup(strat)
	if !ok {
		return fmt.Errorf("unknown strategy %q (known: %v)", strat, strategy.Names())
	}
	if st.Traits().HasAnalysis() {
		if _, ok := analysis.Lookup(an); !ok {
			return fmt.Errorf("unknown analyzer %q", an)
		}
	}
	return nil
}

// Run brings the demo up (namespace, stable version, load), serves
// snapshots until ctx ends, then removes everything it made.
func (s *Session) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	stopPublish := s.publishLoop(ctx)
	defer stopPublish()
	defer s.teardown()
	if err := s.setup(ctx); err != nil {
		s.logf(LogError, "%v", err)
		return err
	}
	s.setPhase(PhaseIdle)
	s.logf(LogInfo, "ready: %s serves users under %s; release when you like", s.stable.Tag, s.strategy)
	<-ctx.Done()
	return nil
}

// setup makes the namespace, deploys the stable version and starts load.
func (s *Session) setup(ctx context.Context) error {
	ns := s.cfg.Namespace
	if _, err := s.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "blastradius"},
		Annotations: map[string]string{"blastradius.dev/run": "demo"},
	}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	go s.conn.monitor(ctx, s.client)
	if err := s.view.start(ctx, s.client, s.dyn); err != nil {
		return err
	}
	s.logf(LogInfo, "deploying %s with %s", s.stable.Tag, s.strategy)
	if err := s.deploy(ctx, s.strategy, s.stable); err != nil {
		return err
	}
	gen, err := s.startLoad(ctx, s.strategy, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.gen = gen
	s.mu.Unlock()
	return nil
}

// deploy applies every object of strat at version v and waits until it
// serves with every replica; a workload of the other kind goes afterwards
// (a strategy switch between a Deployment and a Rollout).
func (s *Session) deploy(ctx context.Context, strat string, v catalog.Version) error {
	st, _ := strategy.Lookup(strat)
	p := s.params(strat, s.analyzerFor(strat))
	p.Image = s.image(v)
	objs, err := st.Render(p)
	if err != nil {
		return fmt.Errorf("render %s: %w", strat, err)
	}
	if err := s.applier.Apply(ctx, objs...); err != nil {
		return err
	}
	kind := kindOf(st)
	if err := s.waitServing(ctx, kind, v); err != nil {
		return err
	}
	s.mu.Lock()
	old := s.kind
	s.kind = kind
	s.mu.Unlock()
	if old != "" && old != kind {
		return s.deleteWorkload(ctx, old)
	}
	return nil
}

func kindOf(st strategy.Strategy) string {
	if st.Traits().Rollout {
		return "Rollout"
	}
	return "Deployment"
}

// waitServing waits until the workload of kind serves v with every replica.
func (s *Session) waitServing(ctx context.Context, kind string, v catalog.Version) error {
	limit := s.cfg.Scenario.Timeout
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, limit, true, func(ctx context.Context) (bool, error) {
		return s.view.serving(kind, s.image(v), int32(s.cfg.Scenario.Replicas)), nil
	})
	if err != nil {
		return fmt.Errorf("%s not serving with %d replicas within %s: %w", v.Tag, s.cfg.Scenario.Replicas, limit, err)
	}
	return nil
}

// deleteWorkload removes the app's workload of kind (a strategy switch).
func (s *Session) deleteWorkload(ctx context.Context, kind string) error {
	var err error
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	if kind == "Deployment" {
		err = s.client.AppsV1().Deployments(s.cfg.Namespace).Delete(ctx, strategy.DefaultApp, opts)
	} else {
		err = s.dyn.Resource(rolloutGVR).Namespace(s.cfg.Namespace).Delete(ctx, strategy.DefaultApp, opts)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the %s: %w", kind, err)
	}
	return nil
}

// params are the strategy parameters of the session's workload.
func (s *Session) params(strat, an string) strategy.Params {
	sc := s.cfg.Scenario
	st, _ := strategy.Lookup(strat)
	p := strategy.Params{
		Namespace: s.cfg.Namespace, App: strategy.DefaultApp, Replicas: sc.Replicas,
		Steps: sc.Steps, StepPause: sc.Scaled(sc.StepPause), AutoPromotion: sc.Scaled(sc.StepPause),
		ProgressDeadline: max(30*time.Second, sc.Scaled(sc.Analysis.Interval)*time.Duration(max(sc.Analysis.Count, 1))+15*time.Second),
		CanaryReplicas:   sc.Routing.CanaryReplicas, MirrorPercent: sc.Routing.MirrorPercent,
		ScrapeInterval: sc.AnalysisParams().ScrapeInterval,
	}
	if st.Traits().HasAnalysis() {
		p.Analysis = &strategy.AnalysisParams{
			URL: s.cfg.AnalysisURL, Analyzer: an, PrometheusURL: s.cfg.PrometheusURL,
			Interval: sc.Scaled(sc.Analysis.Interval), Count: sc.Analysis.Count,
			FailureLimit: sc.Analysis.FailureLimit, InconclusiveLimit: sc.Analysis.InconclusiveLimit,
			Params: sc.AnalysisParams(),
		}
		if analysis.IsExternal(an) && p.Analysis.Budget == 0 {
			p.Analysis.Budget = analysis.DefaultBudget
		}
	}
	return p
}

// analyzerFor is the analyzer a render of strat needs: the session's.
func (s *Session) analyzerFor(string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.analyzer
}

// startLoad starts steady load on the app's entry for strat, recording
// to records when set (a release), and feeding the live view.
func (s *Session) startLoad(ctx context.Context, strat string, records *os.File) (*loadgen.Generator, error) {
	sc := s.cfg.Scenario
	st, _ := strategy.Lookup(strat)
	url, headers, cohort, err := s.entry(ctx, st)
	if err != nil {
		return nil, err
	}
	cfg := loadgen.Config{
		URL: url + "/color", Profile: sc.LoadProfile(), Users: sc.Load.Users, Seed: 1,
		KeepAlive: sc.Load.KeepAlive, SLO: sc.Load.SLO, Timeout: 5 * time.Second,
		Headers: headers, Cohort: cohort, OnRecord: s.live.record,
	}
	if records != nil {
		cfg.Records = records
	}
	gen, err := loadgen.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	// The load lives as long as the session, not the request that made it.
	return gen, gen.Start(context.WithoutCancel(ctx))
}

// entry is where users' requests go for a strategy: the app's Service, or
// the router under the namespace's host.
func (s *Session) entry(ctx context.Context, st strategy.Strategy) (string, http.Header, *loadgen.Cohort, error) {
	tr := st.Traits()
	if !tr.Routed() {
		url, err := s.cfg.Platform.ServiceURL(ctx, s.cfg.Namespace, strategy.DefaultApp)
		return url, nil, nil, err
	}
	url, err := s.cfg.Platform.RouterURL(ctx)
	if err != nil {
		return "", nil, nil, fmt.Errorf("strategy %s routes through the cluster's router: %w", st.Name(), err)
	}
	var cohort *loadgen.Cohort
	if tr.Cohort {
		cohort = &loadgen.Cohort{Header: strategy.CohortHeader, Value: strategy.CohortValue, Share: s.cfg.Scenario.Routing.CohortShare}
	}
	return url, http.Header{"Host": {strategy.HostFor(s.cfg.Namespace)}}, cohort, nil
}

// swapLoad starts next and then stops the load running now, so that users
// never see a gap; it returns the stopped generator.
func (s *Session) swapLoad(next *loadgen.Generator) *loadgen.Generator {
	s.mu.Lock()
	old := s.gen
	s.gen = next
	s.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	return old
}

// teardown stops everything the session started and removes the namespace.
func (s *Session) teardown() {
	s.setPhase(PhaseStopping)
	s.busy.Wait() // releases and switches end with the session's context
	s.mu.Lock()
	gen := s.gen
	s.gen = nil
	s.mu.Unlock()
	if gen != nil {
		gen.Stop()
		_, _ = gen.Wait()
	}
	s.view.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+s.cfg.NamespaceWait)
	defer cancel()
	err := s.client.CoreV1().Namespaces().Delete(ctx, s.cfg.Namespace, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		s.logf(LogError, "delete namespace %s: %v", s.cfg.Namespace, err)
		return
	}
	if s.cfg.NamespaceWait <= 0 {
		return
	}
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, s.cfg.NamespaceWait, true, func(ctx context.Context) (bool, error) {
		_, err := s.client.CoreV1().Namespaces().Get(ctx, s.cfg.Namespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		s.logf(LogError, "namespace %s is still terminating after %s; the cluster goes on removing it", s.cfg.Namespace, s.cfg.NamespaceWait)
	}
}

func (s *Session) setPhase(p Phase) {
	s.mu.Lock()
	s.phase = p
	s.mu.Unlock()
}

// logf adds a line to the session's log.
func (s *Session) logf(kind LogKind, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, LogLine{Time: time.Now(), Kind: kind, Text: fmt.Sprintf(format, args...)})
	if len(s.log) > logLines {
		s.log = append(s.log[:0:0], s.log[len(s.log)-logLines:]...)
	}
}

// publishLoop publishes a snapshot every publishEvery until stopped; the
// returned func publishes a last one and stops.
func (s *Session) publishLoop(ctx context.Context) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(publishEvery)
		defer t.Stop()
		for {
			s.publish()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		s.publish()
	}
}

func (s *Session) publish() {
	st := s.Snapshot()
	s.cfg.Hub.Publish(st)
	if s.cfg.OnState != nil {
		s.cfg.OnState(st)
	}
}

// Snapshot is the session's state now.
func (s *Session) Snapshot() State {
	now := time.Now()
	sc := s.cfg.Scenario
	st := State{
		Time: now, Platform: s.cfg.Platform.Name(), Namespace: s.cfg.Namespace, Dashboard: s.dashboard(),
		Strategies: s.strategyChoices(), Analyzers: s.analyzerChoices(),
		Variants: variantChoices(), Faults: faultChoices(),
		SLO: SLO{LatencyMs: float64(sc.Load.SLO.Milliseconds()), ErrorRate: sloErrorRate(sc)},
	}
	st.Connected, st.Notice = s.conn.status()
	s.mu.Lock()
	s.seq++
	st.Seq = s.seq
	st.Phase, st.Strategy, st.Analyzer, st.Stable = s.phase, s.strategy, s.analyzer, s.stable.Tag
	if s.release != nil {
		r := *s.release
		r.Faults = append([]string(nil), r.Faults...)
		st.Release = &r
		if s.rel != nil {
			st.Release.ElapsedS = now.Sub(r.StartedAt).Seconds()
		}
	}
	st.History = append([]Release{}, s.history...)
	st.Log = append([]LogLine{}, s.log...)
	kind := s.kind
	s.mu.Unlock()

	s.live.fill(&st, now)
	st.Rollout, st.ReplicaSets, st.Analysis = s.view.snapshot(kind)
	st.Rollout.ObservedShare = -1
	if st.Release != nil && st.Release.Outcome == "" {
		st.Rollout.ObservedShare = share(st.Series, st.Release.Candidate)
	}
	st.Versions = versionsOnScreen(&st)
	st.Controls = s.availability(&st)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.HeapBytes = ms.HeapAlloc
	return st
}

// SetDashboard records where the dashboard is served.
func (s *Session) SetDashboard(url string) {
	s.mu.Lock()
	s.cfg.Dashboard = url
	s.mu.Unlock()
}

func (s *Session) dashboard() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Dashboard
}

// sloErrorRate is the error-rate line drawn on the chart: the threshold
// analyzer's limit when the scenario sets one, else 5%.
func sloErrorRate(sc *scenario.Scenario) float64 {
	if r := sc.Analysis.Params.MaxErrorRate; r > 0 {
		return r
	}
	return 0.05
}

// versionsOnScreen maps every version tag a viewer draws to its look.
func versionsOnScreen(st *State) map[string]Version {
	out := map[string]Version{}
	add := func(tag string) {
		if tag == "" {
			return
		}
		if v, ok := catalog.Lookup(tag); ok {
			out[tag] = Version{Color: v.Color, Good: v.Good, Variant: v.Variant}
		}
	}
	add(st.Stable)
	for _, c := range st.Grid {
		add(c.Version)
	}
	for _, t := range st.Series {
		for v := range t.Versions {
			add(v)
		}
	}
	for _, rs := range st.ReplicaSets {
		add(rs.Version)
	}
	if st.Release != nil {
		add(st.Release.Candidate)
		add(st.Release.Stable)
	}
	for _, r := range st.History {
		add(r.Candidate)
		add(r.Stable)
	}
	return out
}

// image is a version's image as the platform's pods name it.
func (s *Session) image(v catalog.Version) string { return s.cfg.Platform.Image(v.Image()) }
