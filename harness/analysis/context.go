package analysis

import (
	"context"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/blastradius/blastradius/harness/analyzer"
)

// Bounds on the logs read for an analysis's Context.
const (
	contextLogPods  = 2   // per version
	contextLogTail  = 300 // lines read per pod
	contextLogLines = 40  // lines kept per version
)

var rolloutGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

// readContext is what the external analyzers see besides the counters:
// the release (namespace, rollout, hashes, app), the rollout's step and
// set weight (with a dynamic client), and both versions' recent logs.
// Whatever cannot be read stays unknown: the analysis goes on without it.
func (s *Server) readContext(ctx context.Context, q Query, t float64) analyzer.Context {
	c := analyzer.Unknown
	c.T, c.Namespace, c.CandidateHash, c.StableHash = t, q.Namespace, q.Hash, q.StableHash
	s.readRollout(ctx, &c)
	for _, v := range []struct{ version, hash string }{{"stable", q.StableHash}, {"candidate", q.Hash}} {
		if v.hash == "" {
			continue
		}
		lines, oom := s.podLogs(ctx, q.Namespace, v.hash, &c)
		c.Logs = append(c.Logs, analyzer.Logs{Version: v.version, Lines: lines, OOMKills: oom})
	}
	return c
}

// readRollout fills the rollout's name, step, steps and set weight.
func (s *Server) readRollout(ctx context.Context, c *analyzer.Context) {
	if s.cfg.Dynamic == nil {
		return
	}
	list, err := s.cfg.Dynamic.Resource(rolloutGVR).Namespace(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		return
	}
	ro := list.Items[0].Object
	for i := range list.Items { // the one whose candidate this is, if several
		if h, _, _ := unstructured.NestedString(list.Items[i].Object, "status", "currentPodHash"); h == c.CandidateHash {
			ro = list.Items[i].Object
			break
		}
	}
	c.Rollout, _, _ = unstructured.NestedString(ro, "metadata", "name")
	steps, _, _ := unstructured.NestedSlice(ro, "spec", "strategy", "canary", "steps")
	c.Steps = len(steps)
	idx, found, _ := unstructured.NestedInt64(ro, "status", "currentStepIndex")
	if !found {
		return
	}
	c.Step = int(idx)
	if w, ok, _ := unstructured.NestedInt64(ro, "status", "canary", "weights", "canary", "weight"); ok {
		c.SetWeight = float64(w)
		return
	}
	c.SetWeight = setWeightAt(steps, int(idx))
}

// setWeightAt is the weight the canary steps before idx set: the last
// setWeight among them, 100 once every step is done.
func setWeightAt(steps []any, idx int) float64 {
	if len(steps) == 0 {
		return -1 // blue-green: no weights
	}
	if idx >= len(steps) {
		return 100
	}
	w := 0.0
	for _, st := range steps[:idx+1] {
		m, _ := st.(map[string]any)
		if v, ok, _ := unstructured.NestedInt64(m, "setWeight"); ok {
			w = float64(v)
		}
	}
	return w
}

// podLogs are the recent log lines of up to contextLogPods pods of hash,
// oldest first: their error lines when there are any (the demo app logs
// every request at info), else their tail; and the OOM kills of all its
// pods' containers.
func (s *Server) podLogs(ctx context.Context, ns, hash string, c *analyzer.Context) ([]string, *int) {
	pods, err := s.cfg.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: HashLabel + "=" + hash})
	if err != nil {
		return nil, nil
	}
	oom := 0
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			for _, st := range []corev1.ContainerState{cs.State, cs.LastTerminationState} {
				if st.Terminated != nil && st.Terminated.Reason == "OOMKilled" {
					oom++
				}
			}
		}
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	var out []string
	n := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if c.App == "" {
			c.App = p.Labels["app"]
		}
		if n == contextLogPods || p.Status.Phase == corev1.PodPending {
			continue
		}
		tail := int64(contextLogTail)
		data, err := s.cfg.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		if err != nil || len(data) == 0 {
			continue
		}
		n++
		out = append(out, Excerpt(string(data), contextLogLines/contextLogPods)...)
	}
	return out, &oom
}

// Excerpt keeps a log's error lines if it has any, else its tail, at most
// n lines, oldest first. The log is the demo app's (external text): its
// JSON lines are matched for their level, not parsed.
func Excerpt(log string, n int) []string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	var errs []string
	for _, l := range lines {
		if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, `"level":"FATAL"`) {
			errs = append(errs, l)
		}
	}
	if len(errs) > 0 {
		lines = errs
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
