package strategy_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/strategy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	stableImage    = "blastradius/demoapp:blue"
	candidateImage = "blastradius/demoapp:bad-green"
)

func params(name, image string) strategy.Params {
	p := strategy.Params{
		Namespace:        "br-test",
		Image:            image,
		Replicas:         10,
		Steps:            []int{10, 20, 50},
		StepPause:        30 * time.Second,
		AutoPromotion:    20 * time.Second,
		ProgressDeadline: 90 * time.Second,
		Env:              []corev1.EnvVar{{Name: "SEED", Value: "42"}},
	}
	s, _ := strategy.Lookup(name)
	if s.Traits().HasAnalysis() {
		p.Analysis = &strategy.AnalysisParams{
			URL: "http://127.0.0.1:34567", Analyzer: "threshold", Interval: 5 * time.Second, Count: 3, FailureLimit: 1,
			InconclusiveLimit: 2, Params: analyzer.Params{MaxErrorRate: 0.05, MaxP99: 500 * time.Millisecond, Window: 10 * time.Second},
		}
		if name == strategy.CanaryAnalysis {
			p.Analysis.Count = 0 // background: until the rollout ends
		}
	}
	return p
}

func render(t *testing.T, name string, p strategy.Params) []*unstructured.Unstructured {
	t.Helper()
	s, ok := strategy.Lookup(name)
	require.True(t, ok, name)
	objs, err := s.Render(p)
	require.NoError(t, err)
	return objs
}

func TestCatalog(t *testing.T) {
	assert.Equal(t, []string{"deployment-rolling", "canary", "canary-analysis", "canary-step-analysis", "blue-green", "blue-green-analysis",
		"canary-traffic", "canary-traffic-analysis", "dark-launch", "shadow"}, strategy.Names())
	for _, name := range strategy.Names() {
		s, ok := strategy.Lookup(name)
		require.True(t, ok)
		assert.Equal(t, name, s.Name())
		// dark-launch and shadow always judge the candidate before users see it.
		wantAnalysis := strings.HasSuffix(name, "-analysis") || name == "dark-launch" || name == "shadow"
		assert.Equal(t, wantAnalysis, s.Traits().HasAnalysis(), name)
	}
	_, ok := strategy.Lookup("rainbow")
	assert.False(t, ok)
}

// TestGolden pins each candidate render; run with -update to accept changes.
func TestGolden(t *testing.T) {
	for _, name := range strategy.Names() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			for _, obj := range render(t, name, params(name, candidateImage)) {
				b, err := yaml.Marshal(obj.Object)
				require.NoError(t, err)
				buf.WriteString("---\n")
				buf.Write(b)
			}
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create the golden files")
			assert.Equal(t, string(want), buf.String())
		})
	}
}

// TestCandidateIsImageUpdate: the candidate render differs from the stable
// one only in the image, so applying it is a pod template update.
func TestCandidateIsImageUpdate(t *testing.T) {
	for _, name := range strategy.Names() {
		stable := render(t, name, params(name, stableImage))
		candidate := render(t, name, params(name, candidateImage))
		require.Len(t, candidate, len(stable))
		for i := range stable {
			a, b := yaml2(t, stable[i]), yaml2(t, candidate[i])
			if w := workload(stable); w == stable[i] {
				assert.NotEqual(t, a, b, name)
			}
			assert.Equal(t, a, strings.ReplaceAll(b, candidateImage, stableImage), name)
		}
		again := render(t, name, params(name, stableImage))
		for i := range stable {
			assert.Equal(t, stable[i].Object, again[i].Object, "%s: render is not deterministic", name)
		}
	}
}

func yaml2(t *testing.T, obj *unstructured.Unstructured) string {
	b, err := yaml.Marshal(obj.Object)
	require.NoError(t, err)
	return string(b)
}

func workload(objs []*unstructured.Unstructured) *unstructured.Unstructured { return objs[len(objs)-1] }

type ref struct{ kind, name string }

func refs(objs []*unstructured.Unstructured) []ref {
	var out []ref
	for _, o := range objs {
		out = append(out, ref{o.GetKind(), o.GetName()})
	}
	return out
}

func TestObjects(t *testing.T) {
	svc, preview, tmpl := ref{"Service", "demo"}, ref{"Service", "demo-preview"}, ref{"AnalysisTemplate", "demo-threshold"}
	ro := ref{"Rollout", "demo"}
	want := map[string][]ref{
		strategy.DeploymentRolling:  {svc, {"Deployment", "demo"}},
		strategy.Canary:             {svc, ro},
		strategy.CanaryAnalysis:     {svc, tmpl, ro},
		strategy.CanaryStepAnalysis: {svc, tmpl, ro},
		strategy.BlueGreen:          {svc, preview, ro},
		strategy.BlueGreenAnalysis:  {svc, preview, tmpl, ro},
	}
	for name, refs0 := range want {
		objs := render(t, name, params(name, candidateImage))
		assert.Equal(t, refs0, refs(objs), name)
		for _, o := range objs {
			assert.Equal(t, "br-test", o.GetNamespace())
			assert.Equal(t, "demo", o.GetLabels()["app"])
			switch o.GetKind() {
			case "Service":
				var s corev1.Service
				strict(t, o.Object, &s)
				assert.Equal(t, corev1.ServiceTypeNodePort, s.Spec.Type)
				assert.Equal(t, map[string]string{"app": "demo"}, s.Spec.Selector)
				assert.Equal(t, "http", s.Spec.Ports[0].TargetPort.StrVal)
			case "Deployment":
				var d appsv1.Deployment
				strict(t, o.Object, &d)
				assert.Equal(t, int32(10), *d.Spec.Replicas)
				assert.Equal(t, int32(90), *d.Spec.ProgressDeadlineSeconds)
				assert.Equal(t, appsv1.RollingUpdateDeploymentStrategyType, d.Spec.Strategy.Type)
				checkPodTemplate(t, d.Spec.Template)
			case "Rollout":
				assert.Equal(t, "argoproj.io/v1alpha1", o.GetAPIVersion())
				assert.EqualValues(t, 10, nested(t, o, "spec", "replicas"))
				assert.EqualValues(t, 90, nested(t, o, "spec", "progressDeadlineSeconds"))
				assert.Equal(t, true, nested(t, o, "spec", "progressDeadlineAbort"))
				assert.EqualValues(t, 2, nested(t, o, "spec", "revisionHistoryLimit"))
				var pt corev1.PodTemplateSpec
				strict(t, nested(t, o, "spec", "template").(map[string]any), &pt)
				checkPodTemplate(t, pt)
			}
		}
	}
}

func checkPodTemplate(t *testing.T, pt corev1.PodTemplateSpec) {
	t.Helper()
	assert.Equal(t, map[string]string{"app": "demo"}, pt.Labels)
	assert.Equal(t, int64(5), *pt.Spec.TerminationGracePeriodSeconds)
	require.Len(t, pt.Spec.Containers, 1)
	c := pt.Spec.Containers[0]
	assert.Equal(t, candidateImage, c.Image)
	assert.Equal(t, []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}, c.Ports)
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name)
	}
	assert.Equal(t, []string{"POD_NAME", "POD_NAMESPACE", "SEED"}, env)
	assert.Equal(t, "metadata.name", c.Env[0].ValueFrom.FieldRef.FieldPath)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, int32(1), c.ReadinessProbe.PeriodSeconds)
	assert.Equal(t, int32(2), c.ReadinessProbe.FailureThreshold)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, int32(2), c.LivenessProbe.PeriodSeconds)
	assert.Equal(t, int32(3), c.LivenessProbe.FailureThreshold)
	assert.Equal(t, "256Mi", c.Resources.Limits.Memory().String())
}

// strict decodes into a typed object, failing on any field the type lacks.
func strict(t *testing.T, m map[string]any, into any) {
	t.Helper()
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(m, into, true))
}

func nested(t *testing.T, o *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	require.NoError(t, err)
	require.True(t, ok, "%s: no %s", o.GetName(), strings.Join(path, "."))
	return v
}

func TestCanarySteps(t *testing.T) {
	pause := map[string]any{"pause": map[string]any{"duration": "30s"}}
	w := func(n int64) any { return map[string]any{"setWeight": n} }

	ro := workload(render(t, strategy.Canary, params(strategy.Canary, candidateImage)))
	assert.Equal(t, []any{w(10), pause, w(20), pause, w(50), pause}, nested(t, ro, "spec", "strategy", "canary", "steps"))
	_, has, _ := unstructured.NestedFieldNoCopy(ro.Object, "spec", "strategy", "canary", "analysis")
	assert.False(t, has)

	ro = workload(render(t, strategy.CanaryAnalysis, params(strategy.CanaryAnalysis, candidateImage)))
	assert.Equal(t, []any{w(10), pause, w(20), pause, w(50), pause}, nested(t, ro, "spec", "strategy", "canary", "steps"))
	bg := nested(t, ro, "spec", "strategy", "canary", "analysis").(map[string]any)
	assert.EqualValues(t, 1, bg["startingStep"])
	checkRef(t, bg)

	ro = workload(render(t, strategy.CanaryStepAnalysis, params(strategy.CanaryStepAnalysis, candidateImage)))
	steps := nested(t, ro, "spec", "strategy", "canary", "steps").([]any)
	require.Len(t, steps, 9)
	for i, weight := range []int64{10, 20, 50} {
		assert.Equal(t, w(weight), steps[3*i])
		assert.Equal(t, pause, steps[3*i+1])
		checkRef(t, steps[3*i+2].(map[string]any)["analysis"].(map[string]any))
	}
}

func TestBlueGreen(t *testing.T) {
	ro := workload(render(t, strategy.BlueGreen, params(strategy.BlueGreen, candidateImage)))
	bg := nested(t, ro, "spec", "strategy", "blueGreen").(map[string]any)
	assert.Equal(t, map[string]any{
		"activeService": "demo", "previewService": "demo-preview",
		"autoPromotionEnabled": true, "autoPromotionSeconds": int64(20),
	}, bg)

	ro = workload(render(t, strategy.BlueGreenAnalysis, params(strategy.BlueGreenAnalysis, candidateImage)))
	bg = nested(t, ro, "spec", "strategy", "blueGreen").(map[string]any)
	assert.NotContains(t, bg, "autoPromotionSeconds", "would cut pre-promotion analysis short")
	assert.NotContains(t, bg, "scaleDownDelaySeconds", "old pods must outlive post-promotion analysis")
	checkRef(t, bg["prePromotionAnalysis"].(map[string]any))
	checkRef(t, bg["postPromotionAnalysis"].(map[string]any))
}

// checkRef checks a Rollout's analysis reference: the template and the
// args it declares, with the hashes from Argo.
func checkRef(t *testing.T, ref map[string]any) {
	t.Helper()
	assert.Equal(t, []any{map[string]any{"templateName": "demo-threshold"}}, ref["templates"])
	assert.Equal(t, []any{
		map[string]any{"name": "url", "value": "http://127.0.0.1:34567"},
		map[string]any{"name": "namespace", "value": "br-test"},
		map[string]any{"name": "canary-hash", "valueFrom": map[string]any{"podTemplateHashValue": "Latest"}},
		map[string]any{"name": "stable-hash", "valueFrom": map[string]any{"podTemplateHashValue": "Stable"}},
	}, ref["args"])
}

func TestAnalysisTemplate(t *testing.T) {
	for _, name := range []string{strategy.CanaryAnalysis, strategy.CanaryStepAnalysis, strategy.BlueGreenAnalysis} {
		objs := render(t, name, params(name, candidateImage))
		tmpl := objs[len(objs)-2]
		require.Equal(t, "AnalysisTemplate", tmpl.GetKind())
		assert.Equal(t, []any{
			map[string]any{"name": "url"}, map[string]any{"name": "namespace"},
			map[string]any{"name": "canary-hash"}, map[string]any{"name": "stable-hash"},
		}, nested(t, tmpl, "spec", "args"))
		metrics := nested(t, tmpl, "spec", "metrics").([]any)
		require.Len(t, metrics, 1)
		m := metrics[0].(map[string]any)
		assert.Equal(t, "candidate-health", m["name"])
		assert.Equal(t, "5s", m["interval"])
		assert.EqualValues(t, 1, m["failureLimit"])
		assert.Equal(t, "result.verdict == 'pass'", m["successCondition"])
		assert.Equal(t, "result.verdict == 'fail'", m["failureCondition"])
		web := m["provider"].(map[string]any)["web"].(map[string]any)
		assert.Equal(t, "{$}", web["jsonPath"])
		assert.Equal(t, "{{args.url}}/analyze?namespace={{args.namespace}}&hash={{args.canary-hash}}&stableHash={{args.stable-hash}}"+
			"&analyzer=threshold&maxErrorRate=0.05&maxP99=500ms&window=10s", web["url"])

		if name == strategy.CanaryAnalysis {
			assert.NotContains(t, m, "count", "background analysis runs until the rollout ends")
			assert.EqualValues(t, 1_000_000, m["inconclusiveLimit"])
		} else {
			assert.EqualValues(t, 3, m["count"])
			assert.EqualValues(t, 2, m["inconclusiveLimit"], "inconclusive only if no measurement was conclusive")
		}
		argoMetricRules(t, m)
	}
}

// argoMetricRules are the checks Argo's controller makes on a metric
// (utils/analysis ValidateMetric), restated so a bad render fails here
// rather than as a rollout stuck with InvalidSpec.
func argoMetricRules(t *testing.T, m map[string]any) {
	t.Helper()
	count, _ := m["count"].(int64)
	failureLimit, _ := m["failureLimit"].(int64)
	inconclusiveLimit, _ := m["inconclusiveLimit"].(int64)
	if count > 0 {
		assert.GreaterOrEqual(t, count, failureLimit)
		assert.GreaterOrEqual(t, count, inconclusiveLimit)
	}
	if count != 1 {
		_, err := time.ParseDuration(m["interval"].(string))
		assert.NoError(t, err, "interval is needed unless count is 1")
	}
}

func TestExactWeights(t *testing.T) {
	for _, tc := range []struct {
		replicas int
		steps    []int
		err      string
	}{
		{10, []int{10, 20, 50}, ""},
		{10, []int{10, 20, 50, 100}, ""},
		{4, []int{25, 50, 75}, ""},
		{20, []int{5, 10, 25}, ""},
		{10, []int{10, 25, 50}, "weight 25% of 10 replicas is 2.50 pods: Argo would run 3 (30%); choose weights that are multiples of 10%"},
		{3, []int{50}, "multiples of 100%"},
		{10, []int{0}, "weight 0 is not a percentage"},
		{10, []int{110}, "weight 110 is not a percentage"},
		{10, nil, "at least one weight"},
	} {
		for _, name := range []string{strategy.Canary, strategy.CanaryAnalysis, strategy.CanaryStepAnalysis} {
			p := params(name, candidateImage)
			p.Replicas, p.Steps = tc.replicas, tc.steps
			s, _ := strategy.Lookup(name)
			_, err := s.Render(p)
			if tc.err == "" {
				assert.NoError(t, err, "%s %v", name, tc.steps)
			} else {
				assert.ErrorContains(t, err, tc.err, "%s %v", name, tc.steps)
			}
		}
	}
	// Weights mean nothing to the other strategies.
	p := params(strategy.BlueGreen, candidateImage)
	p.Steps = []int{33}
	render(t, strategy.BlueGreen, p)
}

func TestInvalidParams(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		mutate   func(*strategy.Params)
		err      string
	}{
		{strategy.Canary, func(p *strategy.Params) { p.Namespace = "" }, "namespace"},
		{strategy.Canary, func(p *strategy.Params) { p.Image = "" }, "image is required"},
		{strategy.Canary, func(p *strategy.Params) { p.App = "Demo_1" }, `app "Demo_1"`},
		{strategy.DeploymentRolling, func(p *strategy.Params) { p.Replicas = 0 }, "replicas must be at least 1"},
		{strategy.Canary, func(p *strategy.Params) { p.StepPause = 0 }, "stepPause must be positive"},
		{strategy.CanaryAnalysis, func(p *strategy.Params) { p.Analysis = nil }, "analysis parameters are required"},
		{strategy.CanaryAnalysis, func(p *strategy.Params) { p.Analysis.URL = "" }, "URL is required"},
		{strategy.CanaryAnalysis, func(p *strategy.Params) { p.Analysis.Interval = 0 }, "interval must be positive"},
		{strategy.CanaryAnalysis, func(p *strategy.Params) { p.Analysis.Window = 0 }, "window must be positive"},
		{strategy.CanaryAnalysis, func(p *strategy.Params) { p.Analysis.MaxErrorRate = 5 }, "maxErrorRate 5"},
		{strategy.CanaryAnalysis, func(p *strategy.Params) { p.Analysis.Analyzer = "Threshold!" }, `analyzer "Threshold!"`},
		{strategy.CanaryAnalysis, func(p *strategy.Params) { p.Analysis.Analyzer = "" }, "analyzer is required"},
		{strategy.CanaryStepAnalysis, func(p *strategy.Params) { p.Analysis.Count = 0 }, "count must be at least 1"},
		{strategy.BlueGreenAnalysis, func(p *strategy.Params) { p.Analysis.Count = 0 }, "count must be at least 1"},
		{strategy.BlueGreenAnalysis, func(p *strategy.Params) { p.Analysis.FailureLimit = 3 }, "failureLimit 3 must be below count 3"},
		{strategy.CanaryAnalysis, func(p *strategy.Params) { p.Analysis.Count, p.Analysis.FailureLimit = 2, 2 }, "must be below count"},
	} {
		p := params(tc.strategy, candidateImage)
		tc.mutate(&p)
		s, _ := strategy.Lookup(tc.strategy)
		_, err := s.Render(p)
		assert.ErrorContains(t, err, tc.err)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), tc.strategy+": "), err.Error())
		}
	}
}

func TestRenderDoesNotMutateParams(t *testing.T) {
	p := params(strategy.CanaryAnalysis, candidateImage)
	p.App = ""
	render(t, strategy.CanaryAnalysis, p)
	assert.Empty(t, p.App, "the default app name is filled into a copy")
	assert.Len(t, p.Env, 1)
}

func TestRounding(t *testing.T) {
	p := params(strategy.Canary, candidateImage)
	p.StepPause, p.ProgressDeadline = 1500*time.Millisecond, 100*time.Millisecond
	ro := workload(render(t, strategy.Canary, p))
	steps := nested(t, ro, "spec", "strategy", "canary", "steps").([]any)
	assert.Equal(t, map[string]any{"pause": map[string]any{"duration": "2s"}}, steps[1])
	assert.EqualValues(t, 1, nested(t, ro, "spec", "progressDeadlineSeconds"))

	p.ProgressDeadline = 0
	ro = workload(render(t, strategy.Canary, p))
	_, has, _ := unstructured.NestedFieldNoCopy(ro.Object, "spec", "progressDeadlineSeconds")
	assert.False(t, has, "0 leaves the default")
}

// TestPrometheusTemplate: the prometheus analyzer's template has Argo's
// prometheus provider, the way users write it, and passes the CRD schema.
func TestPrometheusTemplate(t *testing.T) {
	schema := loadCRDSchema(t, "analysis-template-crd.yaml")
	for _, name := range []string{strategy.CanaryAnalysis, strategy.CanaryStepAnalysis, strategy.BlueGreenAnalysis} {
		p := params(name, candidateImage)
		p.Analysis.Analyzer, p.Analysis.PrometheusURL = "prometheus", "http://127.0.0.1:9090"
		p.Analysis.MinRequests, p.Analysis.ScrapeInterval = 20, 5*time.Second
		objs := render(t, name, p)
		tmpl := objs[len(objs)-2]
		require.Equal(t, "AnalysisTemplate", tmpl.GetKind())
		assert.Equal(t, "demo-prometheus", tmpl.GetName())
		metrics := nested(t, tmpl, "spec", "metrics").([]any)
		require.Len(t, metrics, 2)
		for i, want := range []string{"error-rate", "p99-latency"} {
			m := metrics[i].(map[string]any)
			assert.Equal(t, want, m["name"])
			prom := m["provider"].(map[string]any)["prometheus"].(map[string]any)
			assert.Equal(t, "http://127.0.0.1:9090", prom["address"])
			assert.Contains(t, prom["query"], `rollouts_pod_template_hash="{{args.canary-hash}}"`)
			assert.Contains(t, prom["query"], `[20s]`, "four scrape intervals")
			assert.Equal(t, "5s", m["interval"])
			argoMetricRules(t, m)
		}
		for _, e := range check("AnalysisTemplate.spec", tmpl.Object["spec"], schema.Properties["spec"]) {
			t.Errorf("%s: %s", name, e)
		}
	}
}
