// Package watch records what happens in one namespace as typed events:
// pods, ReplicaSets, the Rollout and its AnalysisRuns with each
// measurement, from informers so that no change between polls is missed.
// The runner scores a run from them; the live demo draws them.
package watch

import (
	"context"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/blastradius/blastradius/harness/results"
)

// Event is one timestamped observation, as it goes into results.json.
type Event = results.Event

var (
	RolloutGVR     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}
	AnalysisRunGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysisruns"}
)

// RolloutState is the part of a Rollout's status the harness acts on: what
// results.json records, and the hashes that tell stable from candidate.
type RolloutState struct {
	results.RolloutStatus
	StableHash, PodHash string
	// Inconclusive: Argo paused the rollout on an inconclusive analysis
	// (pause condition InconclusiveAnalysisRun), for a person to decide.
	Inconclusive bool
}

// pauseInconclusive is Argo's PauseReasonInconclusiveAnalysis.
const pauseInconclusive = "InconclusiveAnalysisRun"

// ReadRollout reads a Rollout object's state.
func ReadRollout(u *unstructured.Unstructured) RolloutState {
	var s RolloutState
	s.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
	s.Message, _, _ = unstructured.NestedString(u.Object, "status", "message")
	s.Step, _, _ = unstructured.NestedInt64(u.Object, "status", "currentStepIndex")
	s.Abort, _, _ = unstructured.NestedBool(u.Object, "status", "abort")
	s.StableHash, _, _ = unstructured.NestedString(u.Object, "status", "stableRS")
	s.PodHash, _, _ = unstructured.NestedString(u.Object, "status", "currentPodHash")
	s.Replicas, _, _ = unstructured.NestedInt64(u.Object, "status", "replicas")
	s.ReadyReplicas, _, _ = unstructured.NestedInt64(u.Object, "status", "readyReplicas")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "pauseConditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["reason"] == pauseInconclusive {
			s.Inconclusive = true
		}
	}
	steps, _, _ := unstructured.NestedSlice(u.Object, "spec", "strategy", "canary", "steps")
	s.Steps = int64(len(steps))
	// The weight in effect: the last setWeight at or before the current step.
	for i := int64(0); i < s.Step && i < s.Steps; i++ {
		if m, ok := steps[i].(map[string]any); ok {
			if w, ok := m["setWeight"].(int64); ok {
				s.Weight = w
			}
		}
	}
	if s.Step >= s.Steps && s.Steps > 0 {
		s.Weight = 100
	}
	return s
}

// Watcher records what happens in one namespace.
type Watcher struct {
	ns  string
	app string

	mu      sync.Mutex
	events  []Event
	rollout RolloutState
	seen    map[string]any  // kind/object -> last recorded state, to record changes only
	meas    map[string]bool // measurements already recorded
	onEvent func(Event)
}

// New watches namespace ns, whose workload is named app; onEvent, when
// set, is told of every event as it is recorded.
func New(ns, app string, onEvent func(Event)) *Watcher {
	return &Watcher{ns: ns, app: app, seen: map[string]any{}, meas: map[string]bool{}, onEvent: onEvent}
}

// Add records an event made by the runner itself.
func (w *Watcher) Add(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	w.mu.Lock()
	w.events = append(w.events, e)
	w.mu.Unlock()
	if w.onEvent != nil {
		w.onEvent(e)
	}
}

// Events returns everything recorded, in time order.
func (w *Watcher) Events() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := append([]Event(nil), w.events...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].Time.Before(ev[j].Time) })
	return ev
}

// Rollout is the latest observed rollout state.
func (w *Watcher) Rollout() RolloutState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rollout
}

// changed records e when the object's state (a comparable value: the
// event's payload) differs from the last one recorded.
func (w *Watcher) changed(e Event, state any) {
	key := string(e.Kind) + "/" + e.Object
	w.mu.Lock()
	last, ok := w.seen[key]
	w.seen[key] = state
	w.mu.Unlock()
	if !ok || last != state {
		w.Add(e)
	}
}

// Run starts the informers and returns once their caches have synced.
func (w *Watcher) Run(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface) {
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(w.ns))
	df := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, w.ns, nil)
	handle := func(inf cache.SharedIndexInformer, fn func(obj any)) {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: fn, UpdateFunc: func(_, o any) { fn(o) },
		})
	}
	handle(f.Core().V1().Pods().Informer(), func(o any) {
		if p, ok := o.(*corev1.Pod); ok {
			st := PodStatus(p)
			w.changed(Event{Kind: results.EventPod, Object: p.Name, Pod: &st}, st)
		}
	})
	handle(f.Apps().V1().ReplicaSets().Informer(), func(o any) {
		if rs, ok := o.(*appsv1.ReplicaSet); ok {
			st := results.ReplicaSetStatus{Image: Image(rs.Spec.Template.Spec), Replicas: rs.Status.Replicas, ReadyReplicas: rs.Status.ReadyReplicas}
			w.changed(Event{Kind: results.EventReplicaSet, Object: rs.Name, ReplicaSet: &st}, st)
		}
	})
	handle(df.ForResource(RolloutGVR).Informer(), func(o any) {
		if u, ok := o.(*unstructured.Unstructured); ok && u.GetName() == w.app {
			s := ReadRollout(u)
			w.mu.Lock()
			w.rollout = s
			w.mu.Unlock()
			st := s.RolloutStatus
			w.changed(Event{Kind: results.EventRollout, Object: u.GetName(), Rollout: &st}, st)
		}
	})
	handle(df.ForResource(AnalysisRunGVR).Informer(), func(o any) {
		if u, ok := o.(*unstructured.Unstructured); ok {
			w.analysisRun(u)
		}
	})
	f.Start(ctx.Done())
	df.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	df.WaitForCacheSync(ctx.Done())
}

func (w *Watcher) analysisRun(u *unstructured.Unstructured) {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	st := results.AnalysisRunStatus{Phase: phase}
	w.changed(Event{Kind: results.EventAnalysisRun, Object: u.GetName(), AnalysisRun: &st}, st)
	for _, m := range ReadMeasurements(u) {
		if m.FinishedAt == "" || m.Phase == "" || m.Phase == "Running" || m.Phase == "Pending" {
			continue
		}
		key := u.GetName() + "/" + m.Metric + "/" + m.StartedAt
		w.mu.Lock()
		dup := w.meas[key]
		w.meas[key] = true
		w.mu.Unlock()
		if dup {
			continue
		}
		at, err := time.Parse(time.RFC3339, m.FinishedAt)
		if err != nil {
			at = time.Now()
		}
		w.Add(Event{Time: at, Kind: results.EventMeasurement, Object: u.GetName() + "/" + m.Metric, Measurement: &results.Measurement{
			AnalysisRun: u.GetName(), Metric: m.Metric, Phase: results.MeasurementPhase(m.Phase), Value: m.Value, Message: m.Message}})
	}
}

// RawMeasurement is one measurement of an AnalysisRun as Argo wrote it.
type RawMeasurement struct {
	Metric, Phase, Value, Message string
	StartedAt, FinishedAt         string // RFC 3339; empty until set
}

// ReadMeasurements lists an AnalysisRun's measurements, metric by metric.
func ReadMeasurements(u *unstructured.Unstructured) []RawMeasurement {
	var out []RawMeasurement
	metrics, _, _ := unstructured.NestedSlice(u.Object, "status", "metricResults")
	for _, r := range metrics {
		m, _ := r.(map[string]any)
		metric, _ := m["name"].(string)
		ms, _ := m["measurements"].([]any)
		for _, x := range ms {
			meas, _ := x.(map[string]any)
			rm := RawMeasurement{Metric: metric}
			rm.Phase, _ = meas["phase"].(string)
			rm.Value, _ = meas["value"].(string)
			rm.Message, _ = meas["message"].(string)
			rm.StartedAt, _ = meas["startedAt"].(string)
			rm.FinishedAt, _ = meas["finishedAt"].(string)
			out = append(out, rm)
		}
	}
	return out
}

// PodStatus is what the harness records of a pod.
func PodStatus(p *corev1.Pod) results.PodStatus {
	st := results.PodStatus{Image: Image(p.Spec), Phase: string(p.Status.Phase), Terminating: p.DeletionTimestamp != nil}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			st.Ready = true
		}
	}
	for _, s := range p.Status.ContainerStatuses {
		st.Restarts += s.RestartCount
		if s.State.Waiting != nil {
			st.Waiting = s.State.Waiting.Reason
		}
	}
	return st
}

// Image is the first container's image of a pod spec: the version it runs.
func Image(spec corev1.PodSpec) string {
	if len(spec.Containers) == 0 {
		return ""
	}
	return spec.Containers[0].Image
}
