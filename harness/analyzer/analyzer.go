// Package analyzer is the seam every analyzer plugs into, and the one input
// they all judge: per-version series of the demo app's counters, step by
// step (a Trace). The analysis endpoint builds that input from live scrapes;
// the offline bench reads it from recorded or synthetic trace files. An
// analyzer is a pure function of its Input, so a replay gives the answer the
// live endpoint gave.
//
// One package per analyzer lives below this one (threshold, promql,
// kayenta, sprt, sequential); harness/analysis holds the catalog that
// builds them by name, like Argo Rollouts' metricproviders.
package analyzer

import (
	"context"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// Verdicts, as Argo's success and failure conditions test them.
const (
	Pass         = results.AnalysisPass
	Fail         = results.AnalysisFail
	Inconclusive = results.AnalysisInconclusive
)

// Analyzer judges a candidate against its parameters and, for those that
// compare, against the stable version. Analyze must depend on its Input
// only: no clock, no randomness, no state kept between calls.
type Analyzer interface {
	Name() string
	Analyze(ctx context.Context, in Input) (Verdict, error)
}

// Input is what an analyzer sees at one analysis: every complete step of
// both versions up to Now.
type Input struct {
	// Now is the analysis time, in seconds since the trace's start; Stable
	// and Candidate hold the points with T <= Now, oldest first.
	Now       float64
	Step      float64   // seconds per point
	Bounds    []float64 // latency bucket upper bounds, seconds, ascending
	Stable    []Point
	Candidate []Point
	Params    Params
	// Pods are the candidate's pods as the live endpoint saw them, for
	// explanations only (nil in a replay): a verdict must not depend on them.
	Pods []Pod
	// Context is what is known besides the counters, for the analyzers
	// that read it (llm, agent); a trace records it with each call.
	Context Context
}

// Context is what an analysis knows besides the counters: which release is
// judged, where the rollout stands, and log excerpts of both versions. The
// live endpoint reads it from the cluster at each call for the analyzers
// that read it; a trace keeps it per call, so a replay sees the same.
type Context struct {
	T             float64 `json:"t"` // when it was read, seconds since the trace's start
	Namespace     string  `json:"namespace,omitempty"`
	Rollout       string  `json:"rollout,omitempty"`
	CandidateHash string  `json:"candidateHash,omitempty"`
	StableHash    string  `json:"stableHash,omitempty"`
	App           string  `json:"app,omitempty"`  // the pods' app label
	Step          int     `json:"step"`           // Argo's currentStepIndex; -1 unknown
	Steps         int     `json:"steps"`          // steps of the strategy; 0 unknown
	SetWeight     float64 `json:"setWeight"`      // the candidate's set weight, percent; -1 unknown
	Logs          []Logs  `json:"logs,omitempty"` // stable first, then candidate
}

// Logs are one version's recent log lines, oldest first: text from the
// pods, untrusted; and how many of its containers the kernel killed for
// memory (OOMKilled, last or current state), nil when unknown.
type Logs struct {
	Version  string   `json:"version"` // "stable" or "candidate"
	Lines    []string `json:"lines"`
	OOMKills *int     `json:"oomKills,omitempty"`
}

// Unknown is the Context of an analysis that knows nothing but counters.
var Unknown = Context{Step: -1, SetWeight: -1}

// Pod is one candidate pod at the analysis time, live only.
type Pod struct {
	Name        string
	Ready       bool
	Restarts    int32
	ScrapeError string
}

// Verdict is an analyzer's answer. Argo records the whole JSON object as the
// measurement's value, so it carries what was measured, not only the
// decision.
type Verdict struct {
	Verdict     results.AnalysisVerdict `json:"verdict"`     // pass, fail or inconclusive
	Value       float64                 `json:"value"`       // the analyzer's main measure (see each analyzer)
	P99         float64                 `json:"p99"`         // candidate p99 latency, seconds
	Requests    float64                 `json:"requests"`    // candidate requests the verdict rests on
	Confidence  float64                 `json:"confidence"`  // 0..1
	Explanation string                  `json:"explanation"` // for people reading the AnalysisRun
	Cost        float64                 `json:"cost"`        // what the verdict cost (e.g. LLM dollars); 0 for metrics
	// Category is the root cause the analyzer names for a fail; empty when
	// it names none.
	Category results.RootCause `json:"category,omitempty"`
	// AI is an AI analyzer's call record (never sent to Argo).
	AI *results.AICall `json:"-"`
}

// Params are every analyzer's parameters; each reads its own. They come
// with each query (a scenario's analysis block), so one endpoint serves many
// runs; Defaults fills in what is left out.
type Params struct {
	// threshold and promql: limits on the candidate alone.
	MaxErrorRate float64       `json:"maxErrorRate"` // fail above this fraction of 5xx responses
	MaxP99       time.Duration `json:"maxP99"`       // fail above this p99 latency; 0: not checked
	Window       time.Duration `json:"window"`       // how far back threshold and promql look
	MinRequests  int           `json:"minRequests"`  // fewer candidate requests: inconclusive (every analyzer)
	// ScrapeInterval is Prometheus's scrape interval for the run's pods;
	// prometheus widens its query range to four of them.
	ScrapeInterval time.Duration `json:"scrapeInterval"`

	// kayenta: Mann-Whitney U per metric, as Kayenta's NetflixACAJudge.
	Confidence float64 `json:"confidence"` // of the two-sided test, e.g. 0.98
	Tolerance  float64 `json:"tolerance"`  // relative effect size within which a metric still passes, e.g. 0.25
	PassScore  float64 `json:"passScore"`  // score (0..100) at or above which the canary passes
	// MarginalScore: at or above it and below PassScore, inconclusive; below, fail.
	MarginalScore float64 `json:"marginalScore"`

	// sprt and sequential: tests on the candidate's error counts against
	// the stable's error rate.
	Alpha      float64 `json:"alpha"`      // false-alarm probability
	Beta       float64 `json:"beta"`       // sprt: probability of missing an increase of EffectSize
	EffectSize float64 `json:"effectSize"` // sprt: the error-rate increase (fraction, absolute) to detect

	// llm and agent: what a failed call becomes, how long one analysis may
	// take, and a failure injected on the way to the model or agent.
	Policy results.FailurePolicy `json:"policy,omitempty"` // "": inconclusive
	Budget time.Duration         `json:"budget,omitempty"` // 0: the analyzer's default
	Chaos  results.Chaos         `json:"chaos,omitempty"`
}

// Defaults are the parameters a query or scenario leaves out; docs/analyzers.md
// says where each comes from.
var Defaults = Params{
	MaxErrorRate: 0.05, MaxP99: time.Second, Window: 10 * time.Second, MinRequests: 20, ScrapeInterval: 5 * time.Second,
	Confidence: 0.98, Tolerance: 0.25, PassScore: 95, MarginalScore: 75,
	Alpha: 0.05, Beta: 0.2, EffectSize: 0.02,
}

// WithDefaults fills zero fields from Defaults.
func (p Params) WithDefaults() Params {
	d := Defaults
	set := func(f *float64, def float64) {
		if *f == 0 {
			*f = def
		}
	}
	set(&p.MaxErrorRate, d.MaxErrorRate)
	set(&p.Confidence, d.Confidence)
	set(&p.Tolerance, d.Tolerance)
	set(&p.PassScore, d.PassScore)
	set(&p.MarginalScore, d.MarginalScore)
	set(&p.Alpha, d.Alpha)
	set(&p.Beta, d.Beta)
	set(&p.EffectSize, d.EffectSize)
	if p.Window == 0 {
		p.Window = d.Window
	}
	if p.ScrapeInterval == 0 {
		p.ScrapeInterval = d.ScrapeInterval
	}
	if p.MinRequests == 0 {
		p.MinRequests = d.MinRequests
	}
	return p
}
