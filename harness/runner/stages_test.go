package runner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/fault"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/watch"
	"github.com/blastradius/blastradius/loadgen"
)

// fakePlatform serves every Service from one HTTP server: enough for the
// steps that need no cluster.
type fakePlatform struct{ url string }

func (p fakePlatform) Name() string                                { return "fake" }
func (p fakePlatform) Up(context.Context) error                    { return nil }
func (p fakePlatform) Down(context.Context) error                  { return nil }
func (p fakePlatform) ExportLogs(context.Context, string) error    { return nil }
func (p fakePlatform) Kubeconfig() string                          { return "" }
func (p fakePlatform) RESTConfig() *rest.Config                    { return nil }
func (p fakePlatform) LoadImages(context.Context, ...string) error { return nil }
func (p fakePlatform) ServiceURL(context.Context, string, string) (string, error) {
	return p.url, nil
}
func (p fakePlatform) PodURL(context.Context, *corev1.Pod, int) (string, error) { return p.url, nil }
func (p fakePlatform) Versions(context.Context) (string, string, error)         { return "", "", nil }
func (p fakePlatform) PrometheusURL(context.Context) (string, error)            { return p.url, nil }
func (p fakePlatform) RouterURL(context.Context) (string, error)                { return p.url, nil }
func (p fakePlatform) InClusterServiceURL(context.Context, string, string) (string, error) {
	return p.url, nil
}
func (p fakePlatform) InClusterRouterURL(context.Context) (string, error) { return p.url, nil }
func (p fakePlatform) Image(ref string) string                            { return ref }

func TestLifecycleRunsStepsThenCleansUpInReverse(t *testing.T) {
	var got []string
	var lc lifecycle
	mk := func(name string, err error) step {
		return step{name, func(context.Context) error {
			got = append(got, name)
			lc.cleanup(func() { got = append(got, "undo "+name) })
			return err
		}}
	}
	err := lc.run(context.Background(), []step{mk("a", nil), mk("b", errors.New("boom")), mk("c", nil)})
	assert.EqualError(t, err, "b: boom", "the error names the step")
	assert.Equal(t, []string{"a", "b", "undo b", "undo a"}, got, "c never runs; cleanups run once, in reverse")
	var timed []string
	for _, st := range lc.stages {
		timed = append(timed, st.Name)
		assert.GreaterOrEqual(t, st.Seconds, 0.0)
	}
	assert.Equal(t, []string{"a", "b", "cleanup"}, timed, "each step that ran is timed, then the cleanups")
	lc.stages = nil

	got = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = lc.run(ctx, []step{mk("a", nil)})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, got, "a cancelled run starts nothing")
}

func testRun(t *testing.T, client *fake.Clientset, url string) *run { // client nil: an empty fake
	t.Helper()
	blue, _ := catalog.Lookup("blue")
	green, _ := catalog.Lookup("green")
	sc := &scenario.Scenario{
		Name: "t", Stable: blue, Candidate: green, GroundTruth: results.Good, Replicas: 1, Timeout: time.Minute,
		Load: scenario.LoadSpec{Profile: loadgen.ConstantProfile(200), Users: 20, SLO: time.Second, Warmup: 300 * time.Millisecond},
	}
	r := &Runner{Platform: fakePlatform{url}, OutDir: t.TempDir()}
	if client != nil {
		r.client = client
	} else {
		r.client = fake.NewClientset()
	}
	require.NoError(t, r.init())
	spec := scenario.RunSpec{ID: "t/deployment-rolling/none/seed-1", Scenario: sc, Strategy: "deployment-rolling", Analyzer: "none", Seed: 1}
	x, err := r.newRun(spec, &results.Run{Namespace: Namespace(spec.ID)})
	require.NoError(t, err)
	return x
}

func TestNamespaceStepCreatesAndCleanupDeletes(t *testing.T) {
	client := fake.NewClientset()
	x := testRun(t, client, "")
	require.NoError(t, x.createNamespace(context.Background()))
	ns, err := client.CoreV1().Namespaces().Get(context.Background(), x.ns, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "blastradius", ns.Labels["app.kubernetes.io/managed-by"])
	assert.Equal(t, x.spec.ID, ns.Annotations["blastradius.dev/run"])

	x.lc.cleanUp()
	x.r.Wait()
	_, err = client.CoreV1().Namespaces().Get(context.Background(), x.ns, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the namespace goes with the run: %v", err)
}

// TestWindowHoldsEveryRequest drives real load at a test server through the
// load, candidate and window steps, and checks that scoring the records
// with the published window counts every request sent after the candidate.
func TestWindowHoldsEveryRequest(t *testing.T) {
	var version atomic.Value
	version.Store("blue")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", version.Load().(string))
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	x := testRun(t, fake.NewClientset(), srv.URL)
	x.r.applier = nil
	ctx := context.Background()

	require.NoError(t, x.startLoad(ctx))
	require.NoError(t, x.warmUp(ctx))
	x.applied = time.Now() // applyCandidate without an API server
	x.res.Window.Start = x.applied
	version.Store("green")
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, x.closeWindow(ctx))
	require.NoError(t, x.score(ctx))
	x.lc.cleanUp()

	w := x.res.Window
	assert.False(t, w.End.Before(w.Start))
	var before, inside, outside int64
	f, err := os.Open(filepath.Join(x.r.OutDir, x.res.Records))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, loadgen.ReadRecords(f, func(rec loadgen.Record) error {
		switch {
		case rec.Time.Before(w.Start):
			before++
		case w.Contains(rec.Time):
			inside++
		default:
			outside++
		}
		return nil
	}))
	assert.Zero(t, outside, "no request sent after the window's end")
	assert.Equal(t, x.res.Load.Total, before+inside, "every request is in the records")
	assert.Equal(t, inside, x.res.BlastRadius.TotalRequests)
	assert.Equal(t, before, x.res.Excluded, "only the warm-up is excluded")
	assert.Positive(t, inside)
	assert.Equal(t, results.VerdictPromoted, x.res.Verdict, "the candidate served and nothing failed")

	events := x.w.Events()
	require.NotEmpty(t, events)
	last := events[len(events)-1]
	assert.Equal(t, results.EventLoadStopped, last.Kind)
	assert.Equal(t, w.End, last.Time, "load-stopped marks the window's end")
}

func TestDeploymentOutcome(t *testing.T) {
	three := int32(3)
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &three, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Image: "img:new"}}}}}}
	assert.Equal(t, results.Outcome(""), watch.DeploymentOutcome(d, "img:new"), "still rolling")
	d.Status = appsv1.DeploymentStatus{UpdatedReplicas: 3, Replicas: 3, AvailableReplicas: 3}
	assert.Equal(t, results.OutcomePromoted, watch.DeploymentOutcome(d, "img:new"))
	assert.Equal(t, results.Outcome(""), watch.DeploymentOutcome(d, "img:other"), "complete on another image is not a promotion")
	d.Status = appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}}
	assert.Equal(t, results.OutcomeDegraded, watch.DeploymentOutcome(d, "img:new"))
}

func TestFaultChangesAreTypedEvents(t *testing.T) {
	x := testRun(t, fake.NewClientset(), "")
	now := time.Now()
	x.faultChanged(1, results.FaultRecord{Kind: "traffic", Description: "traffic x3", InjectedAt: &now})
	x.faultChanged(1, results.FaultRecord{Kind: "traffic", Description: "traffic x3", InjectedAt: &now, ClearedAt: &now})
	ev := x.w.Events()
	require.Len(t, ev, 2)
	assert.Equal(t, results.EventFaultInjected, ev[0].Kind)
	assert.Equal(t, results.EventFaultCleared, ev[1].Kind)
	assert.Equal(t, results.FaultChange{Index: 1, Kind: "traffic", Description: "traffic x3"}, *ev[1].Fault)
}

func TestFaultsStepPlaysTheTimelineAndCleanupKeepsTheRecords(t *testing.T) {
	green, _ := catalog.Lookup("green")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cand-a", Namespace: Namespace("t/deployment-rolling/none/seed-1")},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Image: green.Image()}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	client := fake.NewClientset(pod)
	x := testRun(t, client, "")
	x.sc.Faults = []scenario.Fault{{At: 10 * time.Millisecond, PodKill: &scenario.PodKill{Target: scenario.TargetCandidate, Count: 1}}}
	x.applied = time.Now()
	require.NoError(t, x.startFaults(context.Background()))
	require.Eventually(t, func() bool { return len(x.w.Events()) == 1 }, 5*time.Second, 10*time.Millisecond)
	x.lc.cleanUp()

	require.Len(t, x.res.Faults, 1)
	assert.Equal(t, []string{"cand-a"}, x.res.Faults[0].Touched)
	ev := x.w.Events()[0]
	assert.Equal(t, results.EventFaultInjected, ev.Kind)
	assert.Equal(t, results.FaultChange{Index: 0, Kind: "pod-kill", Description: "kill 1 candidate pod(s)"}, *ev.Fault)
	_, err := client.CoreV1().Pods(pod.Namespace).Get(context.Background(), "cand-a", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the candidate pod was killed")
}

func TestDecisionStepRecordsTheDeploymentsOutcome(t *testing.T) {
	green, _ := catalog.Lookup("green")
	one := int32(1)
	x := testRun(t, nil, "")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: x.params.App, Namespace: x.ns},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Image: green.Image()}}}}},
		Status: appsv1.DeploymentStatus{UpdatedReplicas: 1, Replicas: 1, AvailableReplicas: 1}}
	x.r.client = fake.NewClientset(d)
	x.applied = time.Now()
	x.timeline = &fault.Timeline{}
	require.NoError(t, x.awaitDecision(context.Background()))
	assert.Equal(t, results.OutcomePromoted, x.res.Outcome)
	ev := x.w.Events()
	require.Len(t, ev, 1)
	assert.Equal(t, results.EventPromoted, ev[0].Kind)
}

func TestServedWithoutWaitsForAWholeSecondAfterTheDecision(t *testing.T) {
	var l liveStats
	decided := time.Now()
	sec := func(start time.Time, candidate, stable int64) loadgen.Second {
		return loadgen.Second{Start: start, Requests: candidate + stable,
			Versions: map[string]loadgen.Stats{"bad-green": {Requests: candidate}, "blue": {Requests: stable}}}
	}
	assert.False(t, l.servedWithout("bad-green", decided), "nothing seen yet")
	l.add(sec(decided.Add(-time.Second), 0, 100))
	assert.False(t, l.servedWithout("bad-green", decided), "a second sent before the decision says nothing")
	l.add(sec(decided, 3, 97))
	assert.False(t, l.servedWithout("bad-green", decided), "the candidate still answers")
	l.add(sec(decided.Add(time.Second), 0, 0))
	assert.False(t, l.servedWithout("bad-green", decided), "no request answered at all is no evidence")
	l.add(sec(decided.Add(2*time.Second), 0, 100))
	assert.True(t, l.servedWithout("bad-green", decided))
}
