// Package scenario reads declarative scenario files (apiVersion
// blastradius.dev/v1, kind Scenario), validates them strictly, fills in the
// defaults, and expands a set of scenarios into the run matrix
// scenario × strategy × analyzer × seed.
//
// Every validation error names the file, the line and the field, e.g.
//
//	scenarios/high-error-rate.yaml:14: spec.load.slo: invalid duration "5 ms"
//
// The schema is documented in docs/scenarios.md.
package scenario

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/loadgen"
)

// APIVersion and Kind identify a scenario file.
const (
	APIVersion = "blastradius.dev/v1"
	Kind       = "Scenario"
)

// Strategies and analyzers come from their catalogs (harness/strategy,
// harness/analysis); ground truths and verdicts from harness/results.

// Defaults of the optional fields.
const (
	DefaultReplicas     = 10
	MaxReplicas         = 50
	DefaultRate         = 100.0
	DefaultUsers        = 100
	DefaultSLO          = time.Second
	DefaultWarmup       = 10 * time.Second
	DefaultPreviewShare = 0.1
	DefaultInterval     = 5 * time.Second
	DefaultCount        = 6
	DefaultFailureLimit = 1
	DefaultMaxErrorRate = 0.05
	DefaultMaxP99       = time.Second
	DefaultWindow       = 10 * time.Second
	DefaultStepPause    = 10 * time.Second
	DefaultTimeScale    = 1.0
	MaxTimeScale        = 10.0
	DefaultRepeat       = 1
	DefaultSeed         = int64(1)
	DefaultTimeout      = 10 * time.Minute
	MaxTrafficFactor    = 10.0
)

// DefaultSteps are the canary weights when spec.steps is not set. Each is a
// whole number of pods at the default 10 replicas (25 would not be: 2.5 pods).
func DefaultSteps() []int { return []int{10, 20, 50} }

// Scenario is one validated scenario file with every default applied.
type Scenario struct {
	Name        string
	Description string
	File        string // the file it was read from
	nameLine    int

	Stable    catalog.Version // the version running before the release
	Candidate catalog.Version // the version being released
	// GroundTruth is spec.groundTruth if set, else the catalog's verdict on
	// the candidate.
	GroundTruth results.GroundTruth
	// RootCause is the category of the release's defect (none when good):
	// the candidate's, or that of a runtime fault aimed at it.
	RootCause results.RootCause

	Replicas   int
	Load       LoadSpec
	Strategies []string // in file order; default all, in report order
	Analyzers  []string // for strategies with analysis; default [analysis.Default]
	Analysis   Analysis

	Steps     []int         // canary weights, percent, ascending
	StepPause time.Duration // unscaled; see Scaled
	// TimeScale is the file's timeScale: Argo's pace (step pauses, analysis
	// intervals, scrapes) and nothing else.
	TimeScale float64
	// RunTimeScale is the run's time scale (SetTimeScale), 0 or 1 for none:
	// the whole release compressed, the load's rate raised to match.
	RunTimeScale float64

	Faults []Fault // in file order

	Repeat  int     // len(Seeds)
	Seeds   []int64 // one run per seed, per strategy and analyzer
	Timeout time.Duration

	// Expect holds the expectations, at most one per strategy; see ExpectFor.
	Expect []Expect

	// Routing configures the strategies that route through Traefik.
	Routing Routing
}

// DefaultCohortShare is the share of users in a dark launch's cohort.
const DefaultCohortShare = 0.1

// Routing configures the routed strategies (canary-traffic, dark-launch,
// shadow).
type Routing struct {
	CanaryReplicas int     // the fixed small canary's pods (default 1)
	MirrorPercent  int     // shadow: share of requests mirrored, percent (default 100)
	CohortShare    float64 // dark-launch: share of users carrying the cohort header (default 0.1)
}

// LoadSpec is how the harness drives traffic during a run.
type LoadSpec struct {
	Profile      loadgen.Profile
	Users        int
	SLO          time.Duration // a slower response counts as failed
	Warmup       time.Duration // load before the candidate is applied
	KeepAlive    bool
	PreviewShare float64 // share of the load aimed at the blue-green preview Service
	// Workers, when > 0, generates the users' load inside the cluster, in
	// that many worker pods sharing it (disjoint users, rate shares summing
	// to the rate); 0 is the harness's own generator. The run's --load
	// overrides it.
	Workers int
}

// MaxLoadWorkers bounds load.workers.
const MaxLoadWorkers = 64

// Analysis configures the analysis of strategies that have one.
type Analysis struct {
	Interval          time.Duration // unscaled; see Scaled
	Count             int
	FailureLimit      int
	InconclusiveLimit int // default Count-1
	// Params are the analyzers' parameters (limits, window, minimum of
	// requests, confidence, tolerance, scores, alpha, beta, effect size,
	// Prometheus's scrape interval), analyzer.Defaults where not set.
	analyzer.Params
}

// Target is whose pods a fault hits.
type Target string

// The fault targets.
const (
	TargetStable    Target = "stable"
	TargetCandidate Target = "candidate"
)

// FaultKind names the kind of a fault entry, as the file spells its key.
type FaultKind string

// The fault kinds.
const (
	FaultPodKill FaultKind = "podKill"
	FaultRuntime FaultKind = "runtime"
	FaultTraffic FaultKind = "traffic"
	// FaultAnalysisPath injects chaos on the path from the AI analyzers
	// (llm, agent) to their model or agent, for a while.
	FaultAnalysisPath FaultKind = "analysisPath"
)

// Fault is one entry of the fault timeline. Exactly one of PodKill, Runtime
// and Traffic is set. Times count from the moment the candidate is applied
// and are not scaled by TimeScale; a run's time scale compresses them
// (Compressed).
type Fault struct {
	At    time.Duration
	Clear time.Duration // 0: never cleared; else > At
	Line  int           // the entry's line in the file, for messages

	PodKill *PodKill
	Runtime *RuntimeFault
	Traffic *TrafficChange
	// AnalysisPath makes every call of the AI analyzers fail (or mangles
	// their answers) between At and Clear.
	AnalysisPath *AnalysisPathFault
}

// Kind says which of PodKill, Runtime and Traffic is set.
func (f Fault) Kind() FaultKind {
	switch {
	case f.PodKill != nil:
		return FaultPodKill
	case f.Runtime != nil:
		return FaultRuntime
	case f.AnalysisPath != nil:
		return FaultAnalysisPath
	default:
		return FaultTraffic
	}
}

// End is when the fault stops: Clear, or never (math.MaxInt64).
func (f Fault) End() time.Duration {
	if f.Clear > 0 {
		return f.Clear
	}
	return time.Duration(math.MaxInt64)
}

// PodKill deletes Count pods of the target at once, as a crash would; their
// ReplicaSet replaces them. A kill has nothing to undo: Clear only marks the
// end of the fault in the record. If fewer pods of the target are running at
// At, the run fails with the reason.
type PodKill struct {
	Target Target
	Count  int
}

// RuntimeFault sets faults on running pods through the demo app's admin API
// (PUT /admin/faults), replacing the faults they had; Clear puts the previous
// faults back. Pods that start after At run with their image's faults.
type RuntimeFault struct {
	Target Target
	// Pods is how many of the target's pods get the faults; 0 means every
	// pod of the target running at At. If fewer than Pods are running then,
	// the run fails with the reason.
	Pods   int
	Faults demoapp.Faults
}

// TrafficChange multiplies the load rate by Factor (> 1 a spike, < 1 a drop).
type TrafficChange struct {
	Factor float64
}

// AnalysisPathFault injects Chaos on every call of the AI analyzers to
// their model or agent while it lasts, overriding spec.analysis.chaos.
type AnalysisPathFault struct {
	Chaos results.Chaos
}

// Expect is an expectation on the outcome of runs, checked in CI.
type Expect struct {
	// Verdicts are the acceptable verdicts (any of); empty means any.
	Verdicts []results.Verdict
	// MaxFailedRequests bounds the run's failedRequests (docs/scoring.md:
	// failed requests of any version from applying the candidate to the end
	// of the run); nil: no bound.
	MaxFailedRequests *int64
	// MaxTimeToDetect bounds the run's timeToDetectSeconds (from the onset
	// to the stop; a run that was not stopped has none and fails it); nil:
	// no bound. Only for bad releases.
	MaxTimeToDetect *time.Duration
	// Strategies the expectation applies to; empty means every strategy of
	// the scenario that no other expectation names.
	Strategies []string
}

// AllowsVerdict reports whether v satisfies the expectation's verdicts.
func (e *Expect) AllowsVerdict(v results.Verdict) bool {
	return len(e.Verdicts) == 0 || slices.Contains(e.Verdicts, v)
}

// ExpectFor returns the expectation for runs of strategy, or nil if none.
func (s *Scenario) ExpectFor(strategy string) *Expect {
	for i := range s.Expect {
		if slices.Contains(s.Expect[i].Strategies, strategy) {
			return &s.Expect[i]
		}
	}
	for i := range s.Expect {
		if len(s.Expect[i].Strategies) == 0 {
			return &s.Expect[i]
		}
	}
	return nil
}

// Scaled multiplies d by the scenario's time scale and the run's, rounded
// to the millisecond: step pauses and analysis intervals.
func (s *Scenario) Scaled(d time.Duration) time.Duration {
	return scale(d, orOne(s.TimeScale)*orOne(s.RunTimeScale))
}

// Compressed multiplies d by the run's time scale alone: the warm-up, fault
// times, the analysis window and the settling, which the file's timeScale
// leaves alone (they are the release's time, not Argo's pace).
func (s *Scenario) Compressed(d time.Duration) time.Duration {
	return scale(d, orOne(s.RunTimeScale))
}

// LoadProfile is the load as a run sends it: at run time scale F every rate
// is divided by F (and a sine's period multiplied by it), so that each step
// and each analysis window sees the requests it would at scale 1.
func (s *Scenario) LoadProfile() loadgen.Profile {
	f := orOne(s.RunTimeScale)
	p := s.Load.Profile.Times(1 / f)
	p.Period = scale(p.Period, f)
	return p
}

// AnalysisParams are the analyzers' parameters as a run uses them. The
// Prometheus scrape interval is scaled with the analysis interval it feeds
// (at least 1 s): unscaled, a candidate at time scale 0.5 was promoted
// before Prometheus had the two scrapes rate() needs. The window follows
// the run's time scale (at least 1 s), so that at twice the rate it holds
// the same requests.
func (s *Scenario) AnalysisParams() analyzer.Params {
	p := s.Analysis.Params
	if p.ScrapeInterval > 0 {
		p.ScrapeInterval = max(time.Second, s.Scaled(p.ScrapeInterval))
	}
	if p.Window > 0 {
		p.Window = max(time.Second, s.Compressed(p.Window))
	}
	return p
}

// RunScale is the run's time scale, 1 when none was set.
func (s *Scenario) RunScale() float64 { return orOne(s.RunTimeScale) }

func orOne(f float64) float64 {
	if f <= 0 {
		return 1
	}
	return f
}

func scale(d time.Duration, f float64) time.Duration {
	if f <= 0 {
		f = DefaultTimeScale
	}
	return time.Duration(math.Round(float64(d)*f/float64(time.Millisecond))) * time.Millisecond
}

// UsesCanarySteps reports whether any of the scenario's strategies walks the
// canary steps.
func (s *Scenario) UsesCanarySteps() bool { return slices.ContainsFunc(s.Strategies, isCanary) }

// UsesReplicaWeights reports whether any of the scenario's strategies
// walks the canary steps as replica ratios (without a router).
func (s *Scenario) UsesReplicaWeights() bool {
	return slices.ContainsFunc(s.Strategies, func(name string) bool {
		t, _ := strategy.TraitsOf(name)
		return t.Canary && !t.Routed()
	})
}

// isCanary reports whether the named strategy walks the canary steps.
func isCanary(name string) bool {
	t, _ := strategy.TraitsOf(name)
	return t.Canary
}

// hasAnalysis reports whether the named strategy runs an analysis, and so
// is paired with analyzers rather than with analysis.None.
func hasAnalysis(name string) bool {
	t, _ := strategy.TraitsOf(name)
	return t.HasAnalysis()
}

// SetTimeScale sets the run's time scale (the run command's --time-scale,
// a run set's timeScale): the whole release happens F times as fast, at
// 1/F times the rate (docs/runner.md, "Time scale"). Checked as the file's
// own values are: Argo counts pauses in whole seconds, the analysis
// interval must stay at least 1s, the canary steps must fit in the timeout,
// and the rate must stay within the load generator's.
func (s *Scenario) SetTimeScale(f float64) error {
	if f <= 0 || f > MaxTimeScale {
		return fmt.Errorf("time scale must be greater than 0 and at most %g, got %g", MaxTimeScale, f)
	}
	t := *s
	t.RunTimeScale = f
	if p := t.Scaled(s.StepPause); p < time.Second {
		return fmt.Errorf("%s: stepPause %v at time scale %g is %v; Argo Rollouts counts pauses in whole seconds, so it must be at least 1s", s.File, s.StepPause, f, p)
	}
	if i := t.Scaled(s.Analysis.Interval); i < time.Second {
		return fmt.Errorf("%s: analysis interval %v at time scale %g is %v; it must be at least 1s", s.File, s.Analysis.Interval, f, i)
	}
	if s.UsesCanarySteps() {
		if need := time.Duration(len(s.Steps)) * t.Scaled(s.StepPause); need >= s.Timeout {
			return fmt.Errorf("%s: timeout %v is too short for the canary steps at time scale %g: %d steps × %v = %v", s.File, s.Timeout, f, len(s.Steps), t.Scaled(s.StepPause), need)
		}
	}
	if err := t.LoadProfile().Validate(0); err != nil && s.Load.Profile.Validate(0) == nil {
		return fmt.Errorf("%s: the load at time scale %g: %w", s.File, f, err)
	}
	s.RunTimeScale = f
	return nil
}
