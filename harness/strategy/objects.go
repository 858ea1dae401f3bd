package strategy

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/blastradius/blastradius/harness/analysis/metricai"
	"github.com/blastradius/blastradius/harness/analysis/prometheus"
	"github.com/blastradius/blastradius/harness/kube"

	"github.com/blastradius/blastradius/harness/platform"
)

const (
	rolloutAPIVersion = "argoproj.io/v1alpha1"

	// unboundedInconclusiveLimit stands in for "no limit" on a background
	// run, which Argo ends itself when the rollout completes: no data is not
	// a reason to pause a rollout that progressDeadlineAbort already guards.
	unboundedInconclusiveLimit = 1_000_000

	// webTimeoutSeconds bounds one /analyze call; the endpoint scrapes the
	// candidate pods synchronously, each with its own shorter timeout.
	webTimeoutSeconds = 10
)

// The AnalysisTemplate's arguments, filled in by the Rollout.
const (
	ArgURL        = "url"
	ArgNamespace  = "namespace"
	ArgCanaryHash = "canary-hash" // podTemplateHashValue: Latest (canary or preview)
	ArgStableHash = "stable-hash" // podTemplateHashValue: Stable (stable or active)
)

func podTemplate(p Params) corev1.PodTemplateSpec {
	env := []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
	}
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(PortName)}},
			PeriodSeconds:    period,
			FailureThreshold: failures,
		}
	}
	interval := p.ScrapeInterval
	if interval <= 0 {
		interval = platform.DefaultScrapeInterval
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{"app": p.App},
			// The cluster's Prometheus scrapes the demo app's /metrics.
			Annotations: map[string]string{
				platform.AnnotationScrape:         "true",
				platform.AnnotationPort:           strconv.Itoa(ContainerPort),
				platform.AnnotationPath:           "/metrics",
				platform.AnnotationScrapeInterval: platform.PromDuration(interval),
			},
		},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{
				Name:            ContainerName,
				Image:           p.Image,
				ImagePullPolicy: corev1.PullIfNotPresent, // images are loaded into the nodes, never pulled
				Ports:           []corev1.ContainerPort{{Name: PortName, ContainerPort: ContainerPort, Protocol: corev1.ProtocolTCP}},
				Env:             append(env, p.Env...),
				ReadinessProbe:  probe("/readyz", 1, 2),
				LivenessProbe:   probe("/healthz", 2, 3),
				Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
			}},
		},
	}
}

func service(p Params, name, strategyName string) (*unstructured.Unstructured, error) {
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.Namespace, Labels: labels(p, strategyName)},
		Spec: corev1.ServiceSpec{
			// NodePort: the platforms reach Services on 127.0.0.1:<nodePort>.
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": p.App},
			Ports: []corev1.ServicePort{{
				Name: PortName, Port: ServicePort, TargetPort: intstr.FromString(PortName), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
	return kube.ToUnstructured(svc)
}

func deployment(p Params, strategyName string) (*unstructured.Unstructured, error) {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: p.App, Namespace: p.Namespace, Labels: labels(p, strategyName)},
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To(int32(p.Replicas)),
			RevisionHistoryLimit: ptr.To[int32](2),
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{"app": p.App}},
			Template:             podTemplate(p),
			// Kubernetes' defaults, spelled out: the baseline is a rolling
			// update as most teams ship it, with no checks beyond readiness.
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge:       ptr.To(intstr.FromString("25%")),
					MaxUnavailable: ptr.To(intstr.FromString("25%")),
				},
			},
		},
	}
	if p.ProgressDeadline > 0 {
		d.Spec.ProgressDeadlineSeconds = ptr.To(int32(seconds(p.ProgressDeadline)))
	}
	return kube.ToUnstructured(d)
}

// rollout is the part of a Rollout common to both strategies.
func rollout(p Params, strategyName string, strat map[string]any) (*unstructured.Unstructured, error) {
	pt := podTemplate(p)
	tmpl, err := kube.ToMap(&pt)
	if err != nil {
		return nil, err
	}
	spec := map[string]any{
		"replicas":             int64(p.Replicas),
		"revisionHistoryLimit": int64(2),
		"selector":             map[string]any{"matchLabels": map[string]any{"app": p.App}},
		"template":             tmpl,
		"strategy":             strat,
		// Argo aborts a rollout that misses its deadline (a crash-looping
		// canary, say) instead of leaving it degraded mid-way.
		"progressDeadlineAbort": true,
	}
	if p.ProgressDeadline > 0 {
		spec["progressDeadlineSeconds"] = seconds(p.ProgressDeadline)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": rolloutAPIVersion,
		"kind":       "Rollout",
		"metadata":   meta(p, p.App, strategyName),
		"spec":       spec,
	}}, nil
}

// canaryRollout holds each weight for StepPause. Background analysis starts
// at step 1, once the first weight's pods are up; step analysis follows each
// pause, so its window covers traffic the weight actually received, and the
// exposure timeline matches plain canary's plus the analysis time.
func canaryRollout(p Params, strategyName string, analysis []AnalysisKind, ref map[string]any) (*unstructured.Unstructured, error) {
	pause := map[string]any{"pause": map[string]any{"duration": strconv.FormatInt(seconds(p.StepPause), 10) + "s"}}
	var steps []any
	for _, w := range p.Steps {
		steps = append(steps, map[string]any{"setWeight": int64(w)}, runtime.DeepCopyJSONValue(pause))
		if slices.Contains(analysis, AnalysisStep) {
			steps = append(steps, map[string]any{"analysis": runtime.DeepCopyJSONValue(ref)})
		}
	}
	canary := map[string]any{"steps": steps}
	if slices.Contains(analysis, AnalysisBackground) {
		bg := runtime.DeepCopyJSONValue(ref).(map[string]any)
		bg["startingStep"] = int64(1)
		canary["analysis"] = bg
	}
	return rollout(p, strategyName, map[string]any{"canary": canary})
}

// blueGreenRollout keeps the preview at full size until promotion. With
// analysis, pre-promotion analysis is the gate: autoPromotionSeconds is left
// out because Argo marks a still-running pre-promotion run successful when
// that delay elapses. scaleDownDelaySeconds is left out too, so the old
// pods stay up until post-promotion analysis ends and a failure can switch
// the active Service straight back.
func blueGreenRollout(p Params, strategyName string, ref map[string]any) (*unstructured.Unstructured, error) {
	bg := map[string]any{
		"activeService":        p.App,
		"previewService":       p.App + PreviewSuffix,
		"autoPromotionEnabled": true,
	}
	if ref != nil {
		bg["prePromotionAnalysis"] = runtime.DeepCopyJSONValue(ref)
		bg["postPromotionAnalysis"] = runtime.DeepCopyJSONValue(ref)
	} else if p.AutoPromotion > 0 {
		bg["autoPromotionSeconds"] = seconds(p.AutoPromotion)
	}
	return rollout(p, strategyName, map[string]any{"blueGreen": bg})
}

// analysisRef is the Rollout's reference to the template, with its args.
// Latest is the canary (or preview) ReplicaSet, Stable the stable (or
// active) one.
func analysisRef(p Params) map[string]any {
	return map[string]any{
		"templates": []any{map[string]any{"templateName": templateName(p)}},
		"args": []any{
			map[string]any{"name": ArgURL, "value": p.Analysis.URL},
			map[string]any{"name": ArgNamespace, "value": p.Namespace},
			map[string]any{"name": ArgCanaryHash, "valueFrom": map[string]any{"podTemplateHashValue": "Latest"}},
			map[string]any{"name": ArgStableHash, "valueFrom": map[string]any{"podTemplateHashValue": "Stable"}},
		},
	}
}

func templateName(p Params) string { return p.App + "-" + p.Analysis.Analyzer }

// analysisTemplate has the analyzer's metrics: one web metric calling the
// harness's endpoint, which answers a JSON verdict that Argo records whole,
// or, for the prometheus analyzer, PromQL metrics that Argo runs itself, or,
// for metric-ai, the metric-ai plugin's metric, whose agent is the endpoint.
func analysisTemplate(p Params, strategyName string, unbounded bool) *unstructured.Unstructured {
	a := p.Analysis
	common := map[string]any{
		"interval":     a.Interval.String(),
		"failureLimit": int64(a.FailureLimit),
	}
	if a.Count > 0 {
		common["count"] = int64(a.Count)
		common["inconclusiveLimit"] = int64(a.InconclusiveLimit)
	} else if unbounded {
		common["inconclusiveLimit"] = int64(unboundedInconclusiveLimit)
	}
	var metrics []any
	switch a.Analyzer {
	case prometheus.Name:
		metrics = prometheus.Metrics(a.Params, a.PrometheusURL, prometheus.Selector(ArgNamespace, ArgCanaryHash), common)
	case metricai.Name:
		metrics = []any{metricai.Metric(MetricName, fmt.Sprintf("{{args.%s}}%s", ArgURL, a.AgentPath),
			hashSelector(p.App, ArgStableHash), hashSelector(p.App, ArgCanaryHash), common)}
	default:
		metric := map[string]any{
			"name":             MetricName,
			"successCondition": "result.verdict == 'pass'",
			"failureCondition": "result.verdict == 'fail'",
			"provider": map[string]any{"web": map[string]any{
				"url":            analyzeURL(a),
				"jsonPath":       "{$}",
				"timeoutSeconds": webTimeout(a.Budget),
			}},
		}
		for k, v := range common {
			metric[k] = v
		}
		metrics = []any{metric}
	}
	var args []any
	for _, name := range []string{ArgURL, ArgNamespace, ArgCanaryHash, ArgStableHash} {
		args = append(args, map[string]any{"name": name})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": rolloutAPIVersion,
		"kind":       "AnalysisTemplate",
		"metadata":   meta(p, templateName(p), strategyName),
		"spec":       map[string]any{"args": args, "metrics": metrics},
	}}
}

// hashSelector picks one version's pods: the app and the pod-template
// hash Argo fills in per AnalysisRun (the endpoint's agent API needs it).
func hashSelector(app, hashArg string) string {
	return fmt.Sprintf("app=%s,rollouts-pod-template-hash={{args.%s}}", app, hashArg)
}

// analyzeURL is the endpoint's query. The placeholders are Argo's and must
// stay unescaped; the parameters are fixed per render, zero ones left to
// the endpoint's defaults.
func analyzeURL(a *AnalysisParams) string {
	q := url.Values{}
	q.Set("analyzer", a.Analyzer)
	q.Set("maxErrorRate", strconv.FormatFloat(a.MaxErrorRate, 'f', -1, 64))
	q.Set("maxP99", a.MaxP99.String())
	q.Set("window", a.Window.String())
	if a.Policy != "" {
		q.Set("policy", string(a.Policy))
	}
	if a.Budget > 0 {
		q.Set("budget", a.Budget.String())
	}
	if a.Chaos != "" {
		q.Set("chaos", string(a.Chaos))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"minRequests", float64(a.MinRequests)}, {"confidence", a.Confidence}, {"tolerance", a.Tolerance},
		{"passScore", a.PassScore}, {"marginalScore", a.MarginalScore},
		{"alpha", a.Alpha}, {"beta", a.Beta}, {"effectSize", a.EffectSize},
	} {
		if f.v != 0 {
			q.Set(f.name, strconv.FormatFloat(f.v, 'f', -1, 64))
		}
	}
	return fmt.Sprintf("{{args.%s}}/analyze?namespace={{args.%s}}&hash={{args.%s}}&stableHash={{args.%s}}&%s",
		ArgURL, ArgNamespace, ArgCanaryHash, ArgStableHash, q.Encode())
}

// webTimeout is Argo's timeout of one /analyze call: webTimeoutSeconds,
// or an external analyzer's budget and a margin for the scrape.
func webTimeout(budget time.Duration) int64 {
	return max(webTimeoutSeconds, int64(math.Ceil(budget.Seconds()))+webTimeoutSeconds)
}

func meta(p Params, name, strategyName string) map[string]any {
	l := map[string]any{}
	for k, v := range labels(p, strategyName) {
		l[k] = v
	}
	return map[string]any{"name": name, "namespace": p.Namespace, "labels": l}
}
