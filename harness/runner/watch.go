package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
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

// Event kinds recorded by the watcher and the runner.
const (
	EvRollout     = "rollout"      // phase, step or abort changed
	EvAborted     = "aborted"      // Argo aborted the rollout
	EvDegraded    = "degraded"     // the rollout went Degraded without an abort
	EvPromoted    = "promoted"     // the candidate became the stable version
	EvMeasurement = "measurement"  // an analysis measurement completed
	EvAnalysisRun = "analysis-run" // an AnalysisRun changed phase
	EvReplicaSet  = "replicaset"   // replica counts changed
	EvPod         = "pod"          // a pod's phase, readiness or restarts changed
	EvFault       = "fault"        // a fault was injected or cleared
	EvCandidate   = "candidate"    // the candidate was applied
	EvLoad        = "load"         // load started or stopped
	EvTimeout     = "timeout"      // the run hit its timeout
)

// Event is one timestamped observation, as it goes into results.json.
type Event = results.Event

var (
	rolloutGVR     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}
	analysisRunGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysisruns"}
)

// RolloutState is the part of a Rollout's status the runner acts on.
type RolloutState struct {
	Phase, Message       string
	Step, Steps          int64
	Abort                bool
	StableHash, PodHash  string
	ObservedGeneration   string
	Weight               int64
	Replicas, ReadyCount int64
}

func rolloutState(u *unstructured.Unstructured) RolloutState {
	var s RolloutState
	s.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
	s.Message, _, _ = unstructured.NestedString(u.Object, "status", "message")
	s.Step, _, _ = unstructured.NestedInt64(u.Object, "status", "currentStepIndex")
	s.Abort, _, _ = unstructured.NestedBool(u.Object, "status", "abort")
	s.StableHash, _, _ = unstructured.NestedString(u.Object, "status", "stableRS")
	s.PodHash, _, _ = unstructured.NestedString(u.Object, "status", "currentPodHash")
	s.ObservedGeneration, _, _ = unstructured.NestedString(u.Object, "status", "observedGeneration")
	s.Replicas, _, _ = unstructured.NestedInt64(u.Object, "status", "replicas")
	s.ReadyCount, _, _ = unstructured.NestedInt64(u.Object, "status", "readyReplicas")
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

// watcher records what happens in one namespace, with informers so that no
// change between polls is missed.
type watcher struct {
	ns  string
	app string

	mu      sync.Mutex
	events  []Event
	rollout RolloutState
	seen    map[string]string // object -> last summary, to record changes only
	meas    map[string]bool   // measurements already recorded
	onEvent func(Event)
}

func newWatcher(ns, app string, onEvent func(Event)) *watcher {
	return &watcher{ns: ns, app: app, seen: map[string]string{}, meas: map[string]bool{}, onEvent: onEvent}
}

// Add records an event made by the runner itself.
func (w *watcher) Add(e Event) {
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
func (w *watcher) Events() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := append([]Event(nil), w.events...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].Time.Before(ev[j].Time) })
	return ev
}

// Rollout is the latest observed rollout state.
func (w *watcher) Rollout() RolloutState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rollout
}

// changed records an event when an object's summary differs from the last.
func (w *watcher) changed(kind, object, summary string) {
	w.mu.Lock()
	last, ok := w.seen[kind+"/"+object]
	w.seen[kind+"/"+object] = summary
	w.mu.Unlock()
	if !ok || last != summary {
		w.Add(Event{Kind: kind, Object: object, Message: summary})
	}
}

// run starts the informers and returns once their caches have synced.
func (w *watcher) run(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface) {
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(w.ns))
	df := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, w.ns, nil)
	handle := func(inf cache.SharedIndexInformer, fn func(obj any)) {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: fn, UpdateFunc: func(_, o any) { fn(o) },
		})
	}
	handle(f.Core().V1().Pods().Informer(), func(o any) {
		if p, ok := o.(*corev1.Pod); ok {
			w.changed(EvPod, p.Name, podSummary(p))
		}
	})
	handle(f.Apps().V1().ReplicaSets().Informer(), func(o any) {
		if rs, ok := o.(*appsv1.ReplicaSet); ok {
			w.changed(EvReplicaSet, rs.Name, fmt.Sprintf("%s replicas %d ready %d", image(rs.Spec.Template.Spec), rs.Status.Replicas, rs.Status.ReadyReplicas))
		}
	})
	handle(df.ForResource(rolloutGVR).Informer(), func(o any) {
		if u, ok := o.(*unstructured.Unstructured); ok && u.GetName() == w.app {
			s := rolloutState(u)
			w.mu.Lock()
			w.rollout = s
			w.mu.Unlock()
			w.changed(EvRollout, u.GetName(), fmt.Sprintf("phase %s step %d/%d weight %d abort %t %s", s.Phase, s.Step, s.Steps, s.Weight, s.Abort, s.Message))
		}
	})
	handle(df.ForResource(analysisRunGVR).Informer(), func(o any) {
		if u, ok := o.(*unstructured.Unstructured); ok {
			w.analysisRun(u)
		}
	})
	f.Start(ctx.Done())
	df.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	df.WaitForCacheSync(ctx.Done())
}

func (w *watcher) analysisRun(u *unstructured.Unstructured) {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	w.changed(EvAnalysisRun, u.GetName(), "phase "+phase)
	results, _, _ := unstructured.NestedSlice(u.Object, "status", "metricResults")
	for _, r := range results {
		m, _ := r.(map[string]any)
		metric, _ := m["name"].(string)
		ms, _ := m["measurements"].([]any)
		for _, x := range ms {
			meas, _ := x.(map[string]any)
			mphase, _ := meas["phase"].(string)
			started, _ := meas["startedAt"].(string)
			finished, _ := meas["finishedAt"].(string)
			if finished == "" || mphase == "" || mphase == "Running" || mphase == "Pending" {
				continue
			}
			key := u.GetName() + "/" + metric + "/" + started
			w.mu.Lock()
			dup := w.meas[key]
			w.meas[key] = true
			w.mu.Unlock()
			if dup {
				continue
			}
			value, _ := meas["value"].(string)
			msg, _ := meas["message"].(string)
			at, err := time.Parse(time.RFC3339, finished)
			if err != nil {
				at = time.Now()
			}
			w.Add(Event{Time: at, Kind: EvMeasurement, Object: u.GetName() + "/" + metric, Phase: mphase, Value: value, Message: strings.TrimSpace(mphase + " " + msg)})
		}
	}
}

func podSummary(p *corev1.Pod) string {
	ready := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	var restarts int32
	state := ""
	for _, s := range p.Status.ContainerStatuses {
		restarts += s.RestartCount
		if s.State.Waiting != nil {
			state = s.State.Waiting.Reason
		}
	}
	deleting := ""
	if p.DeletionTimestamp != nil {
		deleting = " terminating"
	}
	return fmt.Sprintf("%s %s ready %t restarts %d %s%s", image(p.Spec), p.Status.Phase, ready, restarts, state, deleting)
}

func image(spec corev1.PodSpec) string {
	if len(spec.Containers) == 0 {
		return ""
	}
	return spec.Containers[0].Image
}
