package demo

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/harness/watch"
)

var rolloutGVR, analysisRunGVR = watch.RolloutGVR, watch.AnalysisRunGVR

// Shown per snapshot: the newest analysis runs and measurements.
const (
	analysisRunsShown = 3
	measurementsShown = 8
)

// view reads the namespace's workload, ReplicaSets, pods and analysis runs
// from informer caches: a snapshot costs no API call, and the informers
// reconnect by themselves when the API server comes back.
type view struct {
	ns     string
	cancel context.CancelFunc
	pods   cache.GenericLister
	rss    cache.GenericLister
	deps   cache.GenericLister
	ros    cache.GenericLister
	runs   cache.GenericLister
}

func newView(ns string) *view { return &view{ns: ns, cancel: func() {}} }

// start starts the informers and waits for their first lists.
func (v *view) start(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface) error {
	ctx, v.cancel = context.WithCancel(ctx)
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(v.ns))
	df := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, v.ns, nil)
	pods, _ := f.ForResource(corev1.SchemeGroupVersion.WithResource("pods"))
	rss, _ := f.ForResource(appsv1.SchemeGroupVersion.WithResource("replicasets"))
	deps, _ := f.ForResource(appsv1.SchemeGroupVersion.WithResource("deployments"))
	v.pods, v.rss, v.deps = pods.Lister(), rss.Lister(), deps.Lister()
	v.ros, v.runs = df.ForResource(rolloutGVR).Lister(), df.ForResource(analysisRunGVR).Lister()
	f.Start(ctx.Done())
	df.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	df.WaitForCacheSync(ctx.Done())
	return ctx.Err()
}

func (v *view) stop() { v.cancel() }

func (v *view) ready() bool { return v.pods != nil }

// serving reports whether the workload of kind runs img on want ready
// replicas and nothing else.
func (v *view) serving(kind, img string, want int32) bool {
	if !v.ready() {
		return false
	}
	if kind == "Deployment" {
		o, err := v.deps.ByNamespace(v.ns).Get(strategy.DefaultApp)
		d, ok := o.(*appsv1.Deployment)
		return err == nil && ok && watch.DeploymentComplete(d, img)
	}
	u := v.rollout()
	if u == nil {
		return false
	}
	st := watch.ReadRollout(u)
	return observed(u) && st.Phase == "Healthy" && st.ReadyReplicas == int64(want) && v.stableImage(st.StableHash) == img
}

// observed reports whether Argo has seen the Rollout's latest spec (its
// status.observedGeneration, a string, is the generation it last
// reconciled): a status from before an apply says nothing about it.
func observed(u *unstructured.Unstructured) bool {
	gen, _, _ := unstructured.NestedString(u.Object, "status", "observedGeneration")
	return gen == strconv.FormatInt(u.GetGeneration(), 10)
}

func (v *view) rollout() *unstructured.Unstructured {
	o, err := v.ros.ByNamespace(v.ns).Get(strategy.DefaultApp)
	if err != nil {
		return nil
	}
	u, _ := o.(*unstructured.Unstructured)
	return u
}

// stableImage is the image of the ReplicaSet with the pod-template hash.
func (v *view) stableImage(hash string) string {
	if hash == "" {
		return ""
	}
	objs, _ := v.rss.ByNamespace(v.ns).List(labels.Everything())
	for _, o := range objs {
		if rs, ok := o.(*appsv1.ReplicaSet); ok && rs.Labels["rollouts-pod-template-hash"] == hash {
			return watch.Image(rs.Spec.Template.Spec)
		}
	}
	return ""
}

// rolloutState is the Rollout's state as the watcher reads it; ok is false
// when there is no Rollout.
func (v *view) rolloutState() (watch.RolloutState, bool) {
	if !v.ready() {
		return watch.RolloutState{}, false
	}
	u := v.rollout()
	if u == nil {
		return watch.RolloutState{}, false
	}
	return watch.ReadRollout(u), true
}

// deployment is the app's Deployment, or nil.
func (v *view) deployment() *appsv1.Deployment {
	if !v.ready() {
		return nil
	}
	o, err := v.deps.ByNamespace(v.ns).Get(strategy.DefaultApp)
	if err != nil {
		return nil
	}
	d, _ := o.(*appsv1.Deployment)
	return d
}

// candidatePods are the running pods of img.
func (v *view) runningPods(img string) []corev1.Pod {
	if !v.ready() {
		return nil
	}
	objs, _ := v.pods.ByNamespace(v.ns).List(labels.Everything())
	var out []corev1.Pod
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && watch.Image(p.Spec) == img && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, *p.DeepCopy())
		}
	}
	return out
}

// snapshot reads the workload of kind, its ReplicaSets and the analysis.
func (v *view) snapshot(kind string) (Rollout, []ReplicaSet, []AnalysisRun) {
	ro := Rollout{Kind: kind, SetWeight: -1, ObservedShare: -1}
	if !v.ready() {
		return ro, []ReplicaSet{}, []AnalysisRun{}
	}
	switch kind {
	case "Rollout":
		if u := v.rollout(); u != nil {
			st := watch.ReadRollout(u)
			ro.Phase, ro.Message, ro.Step, ro.Steps, ro.Aborted = st.Phase, st.Message, st.Step, st.Steps, st.Abort
			if st.Steps > 0 {
				ro.SetWeight = st.Weight
			}
			paused, _, _ := unstructured.NestedBool(u.Object, "spec", "paused")
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "pauseConditions")
			ro.Paused = paused || len(conds) > 0
		}
	case "Deployment":
		if d := v.deployment(); d != nil {
			ro.Phase = "Progressing"
			if d.Status.UpdatedReplicas == d.Status.Replicas && d.Status.AvailableReplicas == d.Status.Replicas && d.Status.ObservedGeneration >= d.Generation {
				ro.Phase = "Healthy"
			}
		}
	}
	return ro, v.replicaSets(), v.analysisRuns()
}

// replicaSets lists the ReplicaSets that have or want pods, oldest first,
// with their pods.
func (v *view) replicaSets() []ReplicaSet {
	objs, _ := v.rss.ByNamespace(v.ns).List(labels.Everything())
	podObjs, _ := v.pods.ByNamespace(v.ns).List(labels.Everything())
	byOwner := map[string][]Pod{}
	for _, o := range podObjs {
		p, ok := o.(*corev1.Pod)
		if !ok {
			continue
		}
		for _, ref := range p.OwnerReferences {
			if ref.Kind == "ReplicaSet" {
				byOwner[ref.Name] = append(byOwner[ref.Name], podView(p))
			}
		}
	}
	type item struct {
		rs      ReplicaSet
		created time.Time
	}
	var items []item
	for _, o := range objs {
		rs, ok := o.(*appsv1.ReplicaSet)
		if !ok {
			continue
		}
		pods := byOwner[rs.Name]
		want := int32(0)
		if rs.Spec.Replicas != nil {
			want = *rs.Spec.Replicas
		}
		if want == 0 && len(pods) == 0 {
			continue
		}
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
		tag := ""
		if cv, err := catalog.Resolve(watch.Image(rs.Spec.Template.Spec)); err == nil {
			tag = cv.Tag
		}
		if pods == nil {
			pods = []Pod{}
		}
		items = append(items, item{ReplicaSet{Name: rs.Name, Version: tag, Replicas: want, Ready: rs.Status.ReadyReplicas, Pods: pods}, rs.CreationTimestamp.Time})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].created.Before(items[j].created) })
	out := make([]ReplicaSet, len(items))
	for i, it := range items {
		out[i] = it.rs
	}
	return out
}

func podView(p *corev1.Pod) Pod {
	st := watch.PodStatus(p)
	return Pod{Name: p.Name, Phase: st.Phase, Ready: st.Ready, Restarts: st.Restarts, Waiting: st.Waiting, Gone: st.Terminating}
}

// analysisRuns lists the newest analysis runs with their newest
// measurements, oldest first.
func (v *view) analysisRuns() []AnalysisRun {
	objs, _ := v.runs.ByNamespace(v.ns).List(labels.Everything())
	var us []*unstructured.Unstructured
	for _, o := range objs {
		if u, ok := o.(*unstructured.Unstructured); ok {
			us = append(us, u)
		}
	}
	sort.Slice(us, func(i, j int) bool {
		ti, tj := us[i].GetCreationTimestamp().Time, us[j].GetCreationTimestamp().Time
		if ti.Equal(tj) {
			return us[i].GetName() < us[j].GetName()
		}
		return ti.Before(tj)
	})
	if len(us) > analysisRunsShown {
		us = us[len(us)-analysisRunsShown:]
	}
	out := []AnalysisRun{}
	for _, u := range us {
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		run := AnalysisRun{Name: u.GetName(), Phase: phase, Measurements: []Measurement{}}
		for _, m := range watch.ReadMeasurements(u) {
			value, expl := readValue(m.Value, m.Message)
			run.Measurements = append(run.Measurements, Measurement{Metric: m.Metric, Phase: m.Phase, Value: value, Explanation: expl, At: measurementTime(m)})
		}
		sort.SliceStable(run.Measurements, func(i, j int) bool { return run.Measurements[i].At.Before(run.Measurements[j].At) })
		if n := len(run.Measurements); n > measurementsShown {
			run.Measurements = run.Measurements[n-measurementsShown:]
		}
		out = append(out, run)
	}
	return out
}

// readValue reads a measurement's value: the analysis endpoint's answer
// (a Verdict as JSON, which Argo's web provider keeps whole) gives its main
// measure and explanation; any other value (a PromQL result) is shown as
// it is, with Argo's message.
func readValue(value, message string) (string, string) {
	var v analyzer.Verdict
	if strings.HasPrefix(value, "{") && json.Unmarshal([]byte(value), &v) == nil && v.Verdict != "" {
		expl := v.Explanation
		if message != "" {
			expl = strings.TrimSpace(message + " " + expl)
		}
		return strconv.FormatFloat(v.Value, 'g', 4, 64), expl
	}
	return value, strings.TrimSpace(message)
}

// measurementTime is when a measurement finished, else when it started.
func measurementTime(m watch.RawMeasurement) time.Time {
	for _, v := range []string{m.FinishedAt, m.StartedAt} {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	return time.Time{}
}
