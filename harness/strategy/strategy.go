// Package strategy is the catalog of delivery strategies under test. Each
// renders the objects that deploy the demo app its way: a plain Deployment as
// the baseline, or an Argo Rollout with canary or blue-green steps, with or
// without analysis. Argo makes every promote and abort decision; the objects
// only say how.
//
// A render is a pure function of Params: the runner applies the stable
// version's render, waits for it to be healthy, then applies the same render
// with the candidate's image, which Argo (or the Deployment controller) sees
// as an update of the pod template.
package strategy

import (
	"github.com/blastradius/blastradius/harness/analyzer"

	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Strategy names, fixed: scenarios and reports refer to them.
const (
	DeploymentRolling  = "deployment-rolling"
	Canary             = "canary"
	CanaryAnalysis     = "canary-analysis"
	CanaryStepAnalysis = "canary-step-analysis"
	BlueGreen          = "blue-green"
	BlueGreenAnalysis  = "blue-green-analysis"
	// Routed through Traefik (docs/scenarios.md).
	CanaryTraffic         = "canary-traffic"
	CanaryTrafficAnalysis = "canary-traffic-analysis"
	DarkLaunch            = "dark-launch"
	Shadow                = "shadow"
)

// Defaults and names shared with the runner and the analysis endpoint.
const (
	DefaultApp    = "demo"
	ContainerName = "app"
	PortName      = "http"
	ContainerPort = 8080
	ServicePort   = 80
	PreviewSuffix = "-preview"         // blue-green preview Service: <App>-preview
	MetricName    = "candidate-health" // the AnalysisTemplate's one metric
)

// Strategy renders the objects of one delivery strategy.
type Strategy interface {
	Name() string
	// Description says in one line what the strategy does, for help texts
	// and reports.
	Description() string
	// Traits are what the validator, the runner and the reports need to
	// know of the strategy, so that none of them matches names.
	Traits() Traits
	// Render returns the objects to apply, in order: Services, then the
	// AnalysisTemplate if any, then the Deployment or Rollout.
	Render(p Params) ([]*unstructured.Unstructured, error)
}

// Traits describe a strategy.
type Traits struct {
	// Rollout is true for an Argo Rollout, false for a plain Deployment
	// (the Deployment controller decides, and never aborts).
	Rollout bool
	// Canary walks the scenario's weight steps, each held for stepPause.
	Canary bool
	// BlueGreen runs the candidate beside the stable version behind a
	// preview Service, then switches the active Service.
	BlueGreen bool
	// Analysis lists where Argo runs analysis; empty for none. A strategy
	// with analysis is paired with every analyzer of a scenario.
	Analysis []AnalysisKind
	// Router is how weights reach users: replica ratios, or the L7 router,
	// whose load goes to the platform's RouterURL under the run's host.
	Router Router
	// Cohort: a header-marked cohort of users gets the candidate first (a
	// dark launch); the load generator marks a share of its users.
	Cohort bool
	// Mirror: the candidate gets a copy of the requests, and users only
	// ever get the stable version's answers until promotion.
	Mirror bool
}

// HasAnalysis reports whether Argo gates the rollout on the analysis
// endpoint, so that Render needs Params.Analysis.
func (t Traits) HasAnalysis() bool { return len(t.Analysis) > 0 }

// AnalysisKind is where in a rollout Argo runs an analysis.
type AnalysisKind string

const (
	// AnalysisBackground runs beside a canary's steps, from the first weight.
	AnalysisBackground AnalysisKind = "background"
	// AnalysisStep is a blocking run after each canary weight.
	AnalysisStep AnalysisKind = "step"
	// AnalysisPrePromotion gates a blue-green switch.
	AnalysisPrePromotion AnalysisKind = "pre-promotion"
	// AnalysisPostPromotion follows a blue-green switch and can undo it.
	AnalysisPostPromotion AnalysisKind = "post-promotion"
)

// Params are the knobs of a render. Durations are already time-scaled; Argo
// counts pauses, deadlines and promotion delays in whole seconds, so those
// are rounded up.
type Params struct {
	Namespace string
	App       string // names the Rollout/Deployment and Services; default "demo"
	Image     string // the version being deployed
	Replicas  int
	Steps     []int         // canary weights in percent, each exact for Replicas
	StepPause time.Duration // how long each canary weight is held
	Analysis  *AnalysisParams
	// AutoPromotion is how long blue-green waits with the preview up before
	// switching the active Service; 0 promotes as soon as the preview is
	// available. blue-green-analysis ignores it: see Render there.
	AutoPromotion    time.Duration
	ProgressDeadline time.Duration // 0 leaves Kubernetes' default (600 s)
	Env              []corev1.EnvVar
	// ScrapeInterval is how often the cluster's Prometheus scrapes each pod
	// (default platform.DefaultScrapeInterval, 5s).
	ScrapeInterval time.Duration
	// Routed strategies: the Host their routes match (default HostFor the
	// namespace), the fixed canary size (default 1) and shadow's mirrored
	// share of requests in percent (default 100).
	Host           string
	CanaryReplicas int
	MirrorPercent  int
}

// AnalysisParams configure the AnalysisTemplate and the endpoint's query.
//
// Count semantics: for background analysis (canary-analysis) 0 means no
// count, so the run lasts until Argo ends it when the rollout completes or
// aborts. Blocking analyses (canary-step-analysis steps, blue-green pre- and
// post-promotion) need Count >= 1: Argo rejects an unbounded blocking run,
// which would hold the rollout forever. With a count, FailureLimit must be
// below it, or the analysis could never fail.
//
// Inconclusive measurements (too little traffic in the window) never end a
// run early: a bounded run turns Inconclusive (and Argo pauses the rollout)
// only if all Count measurements were inconclusive; an unbounded one
// tolerates any number of them.
type AnalysisParams struct {
	URL      string // the analysis endpoint's base URL, e.g. http://127.0.0.1:34567
	Analyzer string // an analyzer of the analysis catalog
	// AgentPath is, for an analyzer Argo measures through a metric plugin
	// (metric-ai), the path under URL where the plugin asks its agent: the
	// endpoint's agent API for the backing analyzer, e.g. /agents/threshold.
	AgentPath string
	// PrometheusURL is where Argo's prometheus provider queries, for the
	// prometheus analyzer.
	PrometheusURL string
	Interval      time.Duration
	Count         int
	FailureLimit  int
	// InconclusiveLimit applies with a Count; 0 there means none allowed.
	InconclusiveLimit int
	// Params are the analyzer's parameters: sent with each query to the
	// endpoint, or written into the PromQL of the prometheus analyzer.
	analyzer.Params
}

type strategy struct {
	name, description string
	traits            Traits
}

func (s strategy) Name() string        { return s.name }
func (s strategy) Description() string { return s.description }
func (s strategy) Traits() Traits      { return s.traits }

// catalog is the one table of strategies, in report order: the baseline
// first. Adding a strategy is one entry here (and its renderer).
var catalog = []strategy{
	{DeploymentRolling, "a plain Deployment's rolling update: the baseline, it never aborts",
		Traits{}},
	{Canary, "an Argo canary walking the weight steps, without analysis",
		Traits{Rollout: true, Canary: true}},
	{CanaryAnalysis, "an Argo canary with background analysis from the first weight",
		Traits{Rollout: true, Canary: true, Analysis: []AnalysisKind{AnalysisBackground}}},
	{CanaryStepAnalysis, "an Argo canary with a blocking analysis after each weight",
		Traits{Rollout: true, Canary: true, Analysis: []AnalysisKind{AnalysisStep}}},
	{BlueGreen, "Argo blue-green: the candidate behind a preview Service, then the switch",
		Traits{Rollout: true, BlueGreen: true}},
	{BlueGreenAnalysis, "Argo blue-green with pre- and post-promotion analysis",
		Traits{Rollout: true, BlueGreen: true, Analysis: []AnalysisKind{AnalysisPrePromotion, AnalysisPostPromotion}}},
	{CanaryTraffic, "an Argo canary through Traefik: exact weights (1%, 5%, ...) on a fixed small canary, without analysis",
		Traits{Rollout: true, Canary: true, Router: RouterTraefik}},
	{CanaryTrafficAnalysis, "an Argo canary through Traefik with exact weights and background analysis",
		Traits{Rollout: true, Canary: true, Router: RouterTraefik, Analysis: []AnalysisKind{AnalysisBackground}}},
	{DarkLaunch, "a dark launch: a header-marked cohort gets the candidate first, with analysis, then the weights (Traefik plugin)",
		Traits{Rollout: true, Canary: true, Router: RouterPlugin, Cohort: true, Analysis: []AnalysisKind{AnalysisBackground}}},
	{Shadow, "a shadow release: the candidate gets a mirror of the traffic, users only the stable answers, analysis on the mirror, then promotion (Traefik plugin)",
		Traits{Rollout: true, Canary: true, Router: RouterPlugin, Mirror: true, Analysis: []AnalysisKind{AnalysisBackground}}},
}

// All returns every strategy, in report order.
func All() []Strategy {
	out := make([]Strategy, len(catalog))
	for i, s := range catalog {
		out[i] = s
	}
	return out
}

// Lookup finds a strategy by name.
func Lookup(name string) (Strategy, bool) {
	for _, s := range catalog {
		if s.name == name {
			return s, true
		}
	}
	return nil, false
}

// Names lists every strategy, baseline first.
func Names() []string {
	names := make([]string, len(catalog))
	for i, s := range catalog {
		names[i] = s.name
	}
	return names
}

// Defaults lists the strategies a scenario that names none runs: those
// behind one Service (replica ratios), which need no router.
func Defaults() []string {
	var names []string
	for _, s := range catalog {
		if !s.traits.Routed() {
			names = append(names, s.name)
		}
	}
	return names
}

// TraitsOf returns the traits of a named strategy; false for a name the
// catalog does not know (e.g. in an old results file).
func TraitsOf(name string) (Traits, bool) {
	s, ok := Lookup(name)
	if !ok {
		return Traits{}, false
	}
	return s.Traits(), true
}

func (s strategy) Render(p Params) ([]*unstructured.Unstructured, error) {
	p, err := s.validate(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	// Services go first: their selector is an atomic map, so re-applying one
	// (forced server-side apply) drops the pod-template-hash key Argo added
	// to a blue-green Service. Applied before the Rollout changes, that
	// happens while only the stable pods exist, and Argo restores the key on
	// its next sync.
	objs := []*unstructured.Unstructured{}
	svcs := []string{p.App}
	if s.traits.BlueGreen {
		svcs = append(svcs, p.App+PreviewSuffix)
	}
	if s.traits.Routed() {
		if objs, err = routedObjects(p, s.name); err != nil {
			return nil, err
		}
		svcs = nil
	}
	for _, name := range svcs {
		svc, err := service(p, name, s.name)
		if err != nil {
			return nil, err
		}
		objs = append(objs, svc)
	}
	var ref map[string]any
	if s.traits.HasAnalysis() {
		objs = append(objs, analysisTemplate(p, s.name, s.has(AnalysisBackground)))
		ref = analysisRef(p)
	}
	var w *unstructured.Unstructured
	switch {
	case s.traits.Routed():
		w, err = routedRollout(p, s.name, s.traits, ref)
	case s.traits.Canary:
		w, err = canaryRollout(p, s.name, s.traits.Analysis, ref)
	case s.traits.BlueGreen:
		w, err = blueGreenRollout(p, s.name, ref)
	default:
		w, err = deployment(p, s.name)
	}
	if err != nil {
		return nil, err
	}
	return append(objs, w), nil
}

func (s strategy) has(k AnalysisKind) bool { return slices.Contains(s.traits.Analysis, k) }

// validate checks p for this strategy and fills in defaults.
func (s strategy) validate(p Params) (Params, error) {
	if p.App == "" {
		p.App = DefaultApp
	}
	if errs := validation.IsDNS1035Label(p.App + PreviewSuffix); len(errs) > 0 {
		return p, fmt.Errorf("app %q: %s", p.App, errs[0])
	}
	if errs := validation.IsDNS1123Label(p.Namespace); len(errs) > 0 {
		return p, fmt.Errorf("namespace %q: %s", p.Namespace, errs[0])
	}
	switch {
	case p.Image == "":
		return p, fmt.Errorf("image is required")
	case p.Replicas < 1:
		return p, fmt.Errorf("replicas must be at least 1, got %d", p.Replicas)
	case p.ProgressDeadline < 0 || p.AutoPromotion < 0 || p.StepPause < 0:
		return p, fmt.Errorf("durations must not be negative")
	}
	if s.traits.Routed() {
		var err error
		if p, err = validateRouted(p); err != nil {
			return p, err
		}
	} else if s.traits.Canary {
		if err := checkWeights(p.Steps, p.Replicas); err != nil {
			return p, err
		}
		if p.StepPause <= 0 {
			// An Argo pause without a duration waits for a human forever.
			return p, fmt.Errorf("stepPause must be positive")
		}
	}
	if !s.traits.HasAnalysis() {
		return p, nil
	}
	if p.Analysis == nil {
		return p, fmt.Errorf("analysis parameters are required")
	}
	a := *p.Analysis
	p.Analysis = &a
	if a.Analyzer == "" {
		return p, fmt.Errorf("analyzer is required")
	}
	if errs := validation.IsDNS1123Label(p.App + "-" + a.Analyzer); len(errs) > 0 {
		return p, fmt.Errorf("analyzer %q: %s", a.Analyzer, errs[0])
	}
	switch {
	case a.URL == "":
		return p, fmt.Errorf("analysis URL is required")
	case a.Interval <= 0:
		return p, fmt.Errorf("analysis interval must be positive")
	case a.Window <= 0:
		return p, fmt.Errorf("analysis window must be positive")
	case a.Count < 0 || a.FailureLimit < 0:
		return p, fmt.Errorf("analysis count and failureLimit must not be negative")
	case a.Count == 0 && !s.has(AnalysisBackground):
		return p, fmt.Errorf("analysis count must be at least 1: a blocking analysis without a count never ends")
	case a.Count > 0 && a.FailureLimit >= a.Count:
		return p, fmt.Errorf("analysis failureLimit %d must be below count %d, or the analysis can never fail", a.FailureLimit, a.Count)
	case a.MaxErrorRate < 0 || a.MaxErrorRate > 1:
		return p, fmt.Errorf("analysis maxErrorRate %g is not a fraction in [0,1]", a.MaxErrorRate)
	case a.MaxP99 < 0:
		return p, fmt.Errorf("analysis maxP99 must not be negative")
	}
	return p, nil
}

// checkWeights insists that every weight is a whole number of pods. Without
// a traffic router Argo approximates a weight by replica counts, rounding the
// canary up, so an inexact weight silently exposes more users than asked.
func checkWeights(steps []int, replicas int) error {
	if len(steps) == 0 {
		return fmt.Errorf("canary needs at least one weight step")
	}
	for _, w := range steps {
		if w < 1 || w > 100 {
			return fmt.Errorf("weight %d is not a percentage in 1..100", w)
		}
		if w*replicas%100 != 0 {
			pods := (w*replicas + 99) / 100
			return fmt.Errorf("weight %d%% of %d replicas is %.2f pods: Argo would run %d (%d%%); choose weights that are multiples of %d%%",
				w, replicas, float64(w*replicas)/100, pods, pods*100/replicas, 100/gcd(100, replicas))
		}
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// seconds rounds a duration up to whole seconds, at least 1: Argo and
// Kubernetes count these in seconds and 0 often means "default" or "forever".
func seconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// labels are the object labels: app for selection, strategy for clean-up
// and for telling runs apart in the event log.
func labels(p Params, strategyName string) map[string]string {
	return map[string]string{"app": p.App, "blastradius/strategy": strategyName}
}

// Workload keeps the Deployment or Rollout of a render: what a release
// re-applies, so that Argo's own edits to the Services' selectors stay.
func Workload(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Rollout" || o.GetKind() == "Deployment" {
			out = append(out, o)
		}
	}
	return out
}
