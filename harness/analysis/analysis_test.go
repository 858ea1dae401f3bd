package analysis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analysis/threshold"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

const ns = "br-test"

// bounds are the fake pods' histogram buckets (plus +Inf).
var bounds = []float64{0.01, 0.1, 0.5, 1}

// fakePod serves a demo app's /metrics with counters the test moves.
type fakePod struct {
	mu      sync.Mutex
	start   time.Time
	codes   map[string]float64
	counts  []float64 // per bucket, not cumulative; the last is +Inf
	sum     float64
	scrapes int
	status  int // answer with this status instead of metrics, if set
	srv     *httptest.Server
}

func (f *fakePod) serve(code string, n int, latency float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes[code] += float64(n)
	i := 0
	for i < len(bounds) && latency > bounds[i] {
		i++
	}
	f.counts[i] += float64(n)
	f.sum += float64(n) * latency
}

// restart is a new process: counters from zero.
func (f *fakePod) restart(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.start, f.codes, f.counts, f.sum = at, map[string]float64{"200": 0, "500": 0}, make([]float64, len(bounds)+1), 0
}

func (f *fakePod) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scrapes++
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	fmt.Fprintf(w, "# TYPE %s counter\n", analysis.MetricRequests)
	for code, n := range f.codes {
		fmt.Fprintf(w, "%s{code=%q,color=\"green\",version=\"v2\"} %g\n", analysis.MetricRequests, code, n)
	}
	fmt.Fprintf(w, "# TYPE %s histogram\n", analysis.MetricDuration)
	cum := 0.0
	for i, n := range f.counts {
		cum += n
		le := "+Inf"
		if i < len(bounds) {
			le = fmt.Sprint(bounds[i])
		}
		fmt.Fprintf(w, "%s_bucket{version=\"v2\",le=%q} %g\n", analysis.MetricDuration, le, cum)
	}
	fmt.Fprintf(w, "%s_sum{version=\"v2\"} %g\n%s_count{version=\"v2\"} %g\n", analysis.MetricDuration, f.sum, analysis.MetricDuration, cum)
	fmt.Fprintf(w, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n", float64(f.start.UnixMilli())/1000)
}

// env is a fake cluster of fake pods, a fake clock and a Server over them.
type env struct {
	t      *testing.T
	mu     sync.Mutex
	now    time.Time
	pods   map[string]*fakePod
	client *fake.Clientset
	srv    *analysis.Server
	calls  []analysis.Call
}

func newEnv(t *testing.T, analyzers ...analysis.Analyzer) *env {
	e := &env{t: t, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), pods: map[string]*fakePod{}, client: fake.NewClientset()}
	e.srv = analysis.NewServer(analysis.Config{
		Client:    e.client,
		Analyzers: analyzers,
		Now:       e.clock,
		PodURL: func(_ context.Context, pod *corev1.Pod, port int) (string, error) {
			assert.Equal(t, 8080, port)
			if pod.Status.PodIP == "" {
				return "", fmt.Errorf("no pod IP yet")
			}
			return e.pods[pod.Name].srv.URL, nil
		},
		OnCall: func(c analysis.Call) { e.calls = append(e.calls, c) },
	})
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// addPod adds a running, ready pod whose process started an hour ago.
func (e *env) addPod(name, hash string) *fakePod {
	f := &fakePod{}
	f.restart(e.clock().Add(-time.Hour))
	f.srv = httptest.NewServer(f)
	e.t.Cleanup(f.srv.Close)
	e.pods[name] = f
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name + "-uid"),
			Labels: map[string]string{"app": "demo", analysis.HashLabel: hash}},
		Status: corev1.PodStatus{PodIP: "127.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	_, err := e.client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
	require.NoError(e.t, err)
	return f
}

func query(hash string) analysis.Query {
	return analysis.Query{Namespace: ns, Hash: hash, StableHash: "stable", Analyzer: "threshold", Params: analyzer.Defaults}
}

// total sums every point of a series.
func total(ps []analyzer.Point) analyzer.Point { return analyzer.Sum(ps, math.Inf(-1), math.Inf(1)) }

func (e *env) analyze(q analysis.Query) (analysis.Verdict, analysis.Input) {
	e.t.Helper()
	v, w, err := e.srv.Analyze(context.Background(), q)
	require.NoError(e.t, err)
	return v, w
}

func TestErrorRateFails(t *testing.T) {
	e := newEnv(t)
	a, b, s := e.addPod("demo-canary-a", "canary"), e.addPod("demo-canary-b", "canary"), e.addPod("demo-stable", "stable")
	v, _ := e.analyze(query("canary"))
	assert.Equal(t, analysis.Inconclusive, v.Verdict, "no history yet")

	e.advance(10 * time.Second)
	a.serve("200", 95, 0.005)
	a.serve("500", 5, 0.005)
	b.serve("200", 100, 0.005)
	b.serve("503", 10, 0.005)
	s.serve("500", 1000, 0.005) // the stable's errors are not the candidate's
	v, w := e.analyze(query("canary"))
	assert.Equal(t, analysis.Fail, v.Verdict, v.Explanation)
	assert.InDelta(t, 15.0/210, v.Value, 1e-9)
	assert.Equal(t, 210.0, v.Requests)
	assert.Equal(t, 1.0, v.Confidence)
	assert.Contains(t, v.Explanation, "error rate 7.14% (15/210) > 5.00% over 10s on 2 candidate pods")
	assert.Equal(t, 1000.0, total(w.Stable).Errors, "the stable's series is there for comparing analyzers")
}

func TestLatencyFails(t *testing.T) {
	e := newEnv(t)
	a := e.addPod("demo-canary-a", "canary")
	e.analyze(query("canary"))
	e.advance(10 * time.Second)
	a.serve("200", 100, 0.8)
	q := query("canary")
	q.MaxP99 = 500 * time.Millisecond
	v, _ := e.analyze(q)
	assert.Equal(t, analysis.Fail, v.Verdict)
	assert.InDelta(t, 0.5+0.5*99/100, v.P99, 1e-9, "interpolated within (0.5, 1]")
	assert.Equal(t, 0.0, v.Value)
	assert.Contains(t, v.Explanation, "p99 995ms > 500ms")
}

func TestPass(t *testing.T) {
	e := newEnv(t)
	a := e.addPod("demo-canary-a", "canary")
	e.analyze(query("canary"))
	e.advance(10 * time.Second)
	a.serve("200", 198, 0.005)
	a.serve("500", 2, 0.005)
	v, _ := e.analyze(query("canary"))
	assert.Equal(t, analysis.Pass, v.Verdict, v.Explanation)
	assert.InDelta(t, 0.01, v.Value, 1e-9)
	assert.InDelta(t, 0.0099, v.P99, 1e-9)
	assert.Equal(t, 200.0, v.Requests)
	assert.Equal(t, "error rate 1.00% (2/200), p99 10ms over 10s on 1 candidate pods", v.Explanation)
}

func TestInconclusive(t *testing.T) {
	e := newEnv(t)
	v, w := e.analyze(query("canary"))
	assert.Equal(t, analysis.Inconclusive, v.Verdict)
	assert.Equal(t, "no candidate data yet", v.Explanation)
	assert.Empty(t, w.Candidate)

	few := e.addPod("demo-canary-few", "canary")
	e.analyze(query("canary"))
	e.advance(10 * time.Second)
	few.serve("500", 10, 0.005) // all errors, but too few to judge
	v, _ = e.analyze(query("canary"))
	assert.Equal(t, analysis.Inconclusive, v.Verdict)
	assert.Equal(t, 10.0, v.Requests)
	assert.Equal(t, 1.0, v.Value, "measured values are reported even when inconclusive")
	assert.Equal(t, 0.0, v.Confidence)
	assert.Contains(t, v.Explanation, "10 requests over 10s on 1 candidate pods, need 20")

	// A crash-looping candidate: unreachable, no data.
	down := e.addPod("demo-crashing-a", "crashing")
	down.status = http.StatusServiceUnavailable
	_, err := e.client.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "demo-crashing-b", Namespace: ns, UID: "b", Labels: map[string]string{analysis.HashLabel: "crashing"}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	e.analyze(query("crashing"))
	e.advance(10 * time.Second)
	v, w = e.analyze(query("crashing"))
	assert.Equal(t, analysis.Inconclusive, v.Verdict)
	assert.Contains(t, v.Explanation, "demo-crashing-a: GET /metrics: 503 Service Unavailable")
	assert.Contains(t, v.Explanation, "demo-crashing-b: no pod IP yet")
	require.Len(t, w.Pods, 2)
	assert.True(t, w.Pods[0].Ready)
	assert.False(t, w.Pods[1].Ready)
}

func TestCounterReset(t *testing.T) {
	e := newEnv(t)
	a := e.addPod("demo-canary-a", "canary")
	a.serve("200", 1000, 0.005)
	a.serve("500", 100, 0.005)
	e.analyze(query("canary"))

	e.advance(5 * time.Second)
	a.restart(e.clock().Add(-time.Second))
	a.serve("200", 40, 0.005)
	e.analyze(query("canary"))

	e.advance(5 * time.Second)
	a.serve("200", 58, 0.005)
	a.serve("500", 2, 0.005)
	v, w := e.analyze(query("canary"))
	assert.Equal(t, 100.0, v.Requests, "40 after the restart + 60 since")
	assert.InDelta(t, 0.02, v.Value, 1e-9)
	assert.Equal(t, analysis.Pass, v.Verdict)
	assert.Equal(t, 1, total(w.Candidate).Restarts)
	assert.Equal(t, 100.0, total(w.Candidate).Latencies)

	// A restart seen only in the start time: every counter happens to be higher.
	e.advance(5 * time.Second)
	a.restart(e.clock().Add(-time.Second))
	a.serve("200", 600, 0.005)
	a.serve("500", 5, 0.005)
	e.advance(5 * time.Second)
	v, w = e.analyze(query("canary"))
	assert.Equal(t, 605.0, v.Requests)
	assert.Equal(t, 2, total(w.Candidate).Restarts)
}

// TestWindowSelection: a window sums the points (scrape-to-scrape deltas)
// that end within it.
func TestWindowSelection(t *testing.T) {
	e := newEnv(t)
	a := e.addPod("demo-canary-a", "canary")
	e.analyze(query("canary"))
	for k := 1; k <= 6; k++ { // 10, 20, ... 60 requests in successive 5 s
		e.advance(5 * time.Second)
		a.serve("200", 10*k, 0.005)
		e.analyze(query("canary"))
	}
	for _, tc := range []struct {
		window   time.Duration
		requests float64
	}{
		{10 * time.Second, 50 + 60},
		{20 * time.Second, 30 + 40 + 50 + 60},
		{7 * time.Second, 50 + 60}, // points at 25 s and 30 s end within (23 s, 30 s]
		{time.Hour, 210},
		{time.Second, 60},
		{12500 * time.Millisecond, 40 + 50 + 60},
	} {
		q := query("canary")
		q.Window = tc.window
		v, w := e.analyze(q)
		assert.Equal(t, tc.requests, v.Requests, "window %v", tc.window)
		assert.Equal(t, 30.0, w.Now)
		assert.Len(t, w.Candidate, 7, "one point per collect, the calls at 30 s merged")
	}
}

// TestYoungPodFirstCall: a pod that started within the window has all its
// counts in the window, even before it was ever scraped; an old pod does not.
func TestYoungPodFirstCall(t *testing.T) {
	e := newEnv(t)
	young := e.addPod("demo-canary-young", "canary")
	young.restart(e.clock().Add(-4 * time.Second))
	young.serve("200", 30, 0.005)
	old := e.addPod("demo-canary-old", "canary")
	old.serve("200", 5000, 0.005)
	v, w := e.analyze(query("canary"))
	assert.Equal(t, 30.0, v.Requests)
	assert.Equal(t, analysis.Pass, v.Verdict)
	assert.Equal(t, 2, w.Candidate[0].Pods, "the old pod is scraped, as a baseline")

	// Started 15 s before the series began, beyond YoungPod (10 s): its
	// counts may predate the namespace, so its first scrape is a baseline.
	e2 := newEnv(t)
	p := e2.addPod("demo-canary-a", "canary")
	p.restart(e2.clock().Add(-15 * time.Second))
	p.serve("200", 30, 0.005)
	v, _ = e2.analyze(query("canary"))
	assert.Equal(t, 0.0, v.Requests)
}

// TestDeletedPodCounts: a candidate pod deleted mid-window (an abort) still
// contributes what it served while it lived.
func TestDeletedPodCounts(t *testing.T) {
	e := newEnv(t)
	a, b := e.addPod("demo-canary-a", "canary"), e.addPod("demo-canary-b", "canary")
	e.analyze(query("canary"))
	e.advance(4 * time.Second)
	a.serve("500", 50, 0.005)
	b.serve("200", 50, 0.005)
	e.analyze(query("canary"))
	require.NoError(t, e.client.CoreV1().Pods(ns).Delete(context.Background(), "demo-canary-a", metav1.DeleteOptions{}))
	e.advance(4 * time.Second)
	b.serve("200", 50, 0.005)
	v, _ := e.analyze(query("canary"))
	assert.Equal(t, 150.0, v.Requests)
	assert.Equal(t, analysis.Fail, v.Verdict)
}

// recorder is an Analyzer that keeps the inputs it was given.
type recorder struct{ windows []analysis.Input }

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Analyze(_ context.Context, w analysis.Input) (analysis.Verdict, error) {
	r.windows = append(r.windows, w)
	return analysis.Verdict{Verdict: analysis.Pass, Value: math.NaN(), Explanation: "recorded"}, nil
}

func get(t *testing.T, h http.Handler, target string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return rec, body
}

func TestHandler(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, threshold.New(), rec)
	a := e.addPod("demo-canary-a", "canary")
	e.addPod("demo-stable-a", "stable")
	e.analyze(query("canary"))
	e.advance(10 * time.Second)
	a.serve("200", 100, 0.005)

	resp, body := get(t, e.srv, "/analyze?namespace=br-test&hash=canary&stableHash=stable&analyzer=threshold&maxErrorRate=0.05&maxP99=500ms&window=10s")
	require.Equal(t, http.StatusOK, resp.Code)
	assert.Equal(t, "application/json", resp.Header().Get("Content-Type"))
	assert.InDelta(t, 0.0099, body["p99"], 1e-12)
	delete(body, "p99")
	assert.Equal(t, map[string]any{
		"verdict": "pass", "value": 0.0, "requests": 100.0, "confidence": 1.0, "cost": 0.0,
		"explanation": "error rate 0.00% (0/100), p99 10ms over 10s on 1 candidate pods",
	}, body)

	calls := e.srv.Calls()
	require.Len(t, calls, 1, "Analyze called directly is not an HTTP call")
	c := calls[0]
	assert.Equal(t, http.StatusOK, c.Status)
	want := analyzer.Defaults
	want.MaxErrorRate, want.MaxP99, want.Window = 0.05, 500*time.Millisecond, 10*time.Second
	assert.Equal(t, analysis.Query{Namespace: ns, Hash: "canary", StableHash: "stable", Analyzer: "threshold", Params: want}, c.Query)
	assert.Equal(t, analysis.Pass, c.Verdict.Verdict)
	assert.Equal(t, 1, c.Candidates)
	assert.Equal(t, 10.0, c.Now)
	require.Len(t, rec.windows, 1, "the recorder answered in shadow")
	assert.Equal(t, []results.ShadowAnswer{{Analyzer: "recorder", Verdict: analysis.Pass, Explanation: "recorded"}}, c.Shadow)
	assert.Equal(t, e.clock(), c.Time)
	assert.Equal(t, calls, e.calls, "OnCall sees every call")

	// Thresholds in seconds, a plugged-in analyzer, NaN kept out of the JSON.
	resp, body = get(t, e.srv, "/analyze?namespace=br-test&hash=canary&stableHash=stable&analyzer=recorder&maxP99=0.25&window=2.5&minRequests=7")
	require.Equal(t, http.StatusOK, resp.Code, body)
	assert.Equal(t, 0.0, body["value"])
	require.Len(t, rec.windows, 2)
	w := rec.windows[1]
	want = analyzer.Defaults
	want.MaxP99, want.Window, want.MinRequests = 250*time.Millisecond, 2500*time.Millisecond, 7
	assert.Equal(t, want, w.Params)
	assert.Len(t, w.Candidate, 2, "the baseline at 0 s and the delta at 10 s")
	assert.Len(t, w.Stable, 2)
	assert.Equal(t, 100.0, total(w.Candidate).Requests)
	assert.Equal(t, "threshold", e.srv.Calls()[1].Shadow[0].Analyzer)
}

func TestQueryValidation(t *testing.T) {
	e := newEnv(t)
	ok := url.Values{"namespace": {"br-test"}, "hash": {"abc123"}, "stableHash": {"def456"}, "analyzer": {"threshold"}}
	for _, tc := range []struct{ param, value, want string }{
		{"namespace", "", `query parameter "namespace": required`},
		{"namespace", "Not_A_Namespace", `query parameter "namespace"`},
		{"hash", "", `query parameter "hash": required`},
		{"hash", "a,b", `query parameter "hash": "a,b" is not a pod-template hash`},
		{"hash", "{{args.canary-hash}}", `query parameter "hash"`},
		{"stableHash", "x y", `query parameter "stableHash"`},
		{"analyzer", "", `query parameter "analyzer": required`},
		{"analyzer", "oracle", `query parameter "analyzer": unknown analyzer "oracle" (known: `},
		{"maxErrorRate", "abc", `query parameter "maxErrorRate"`},
		{"maxErrorRate", "1.5", `query parameter "maxErrorRate": "1.5" is not a number in [0,1]`},
		{"confidence", "0", `query parameter "confidence": "0" is not a number in (0,1]`},
		{"alpha", "0.7", `query parameter "alpha": "0.7" is not a number in (0,0.5]`},
		{"effectSize", "-1", `query parameter "effectSize"`},
		{"marginalScore", "99", `query parameter "marginalScore": 99 is above passScore 95`},
		{"scrapeInterval", "0", `query parameter "scrapeInterval"`},
		{"maxP99", "-1s", `query parameter "maxP99"`},
		{"window", "0", `query parameter "window": "0" is not a positive duration`},
		{"window", "1h", `query parameter "window": 1h0m0s is longer than the 10m0s of history kept`},
		{"minRequests", "0", `query parameter "minRequests"`},
	} {
		q := url.Values{}
		for k, v := range ok {
			q[k] = v
		}
		q.Set(tc.param, tc.value)
		resp, body := get(t, e.srv, "/analyze?"+q.Encode())
		assert.Equal(t, http.StatusBadRequest, resp.Code, tc)
		assert.True(t, strings.HasPrefix(fmt.Sprint(body["error"]), tc.want), "%v: %v", tc, body["error"])
	}
	calls := e.srv.Calls()
	require.NotEmpty(t, calls)
	assert.Equal(t, http.StatusBadRequest, calls[0].Status)
	assert.NotEmpty(t, calls[0].Error)

	// stableHash is optional.
	q := url.Values{"namespace": {"br-test"}, "hash": {"abc123"}, "analyzer": {"threshold"}}
	resp, body := get(t, e.srv, "/analyze?"+q.Encode())
	assert.Equal(t, http.StatusOK, resp.Code)
	assert.Equal(t, "inconclusive", body["verdict"])

	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/other", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	rec = httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/analyze", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// TestDemoappMetrics parses the real demo app's exposition.
func TestDemoappMetrics(t *testing.T) {
	assert.Equal(t, demoapp.MetricRequests, analysis.MetricRequests)
	assert.Equal(t, demoapp.MetricDuration, analysis.MetricDuration)

	app, err := demoapp.New(demoapp.Config{
		Color: "green", Version: "bad-green", Seed: 1, Faults: demoapp.Faults{ErrorRate: 0.3},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Stderr: io.Discard, Exit: func(int) {},
	})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)

	client := fake.NewClientset(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-x", Namespace: ns, UID: "x", Labels: map[string]string{analysis.HashLabel: "x"}},
		Status:     corev1.PodStatus{PodIP: "127.0.0.1"},
	})
	s := analysis.NewServer(analysis.Config{Client: client, PodURL: func(context.Context, *corev1.Pod, int) (string, error) { return srv.URL, nil }})
	q := query("x")
	q.StableHash = ""
	_, w, err := s.Analyze(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, w.Pods, 1)
	require.Empty(t, w.Pods[0].ScrapeError)

	for range 200 {
		resp, err := http.Get(srv.URL + "/color")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	v, w, err := s.Analyze(context.Background(), q)
	require.NoError(t, err)
	assert.Equal(t, 200.0, v.Requests)
	assert.Equal(t, 200.0, total(w.Candidate).Latencies)
	assert.InDelta(t, 0.3, v.Value, 0.12)
	assert.Equal(t, analysis.Fail, v.Verdict)
}

// TestStartAndWatch runs the real server and background scraping.
func TestStartAndWatch(t *testing.T) {
	pod := &fakePod{}
	pod.restart(time.Now().Add(-time.Hour))
	pod.srv = httptest.NewServer(pod)
	t.Cleanup(pod.srv.Close)
	port := pod.srv.Listener.Addr().(*net.TCPAddr).Port
	client := fake.NewClientset(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-a", Namespace: ns, UID: "a", Labels: map[string]string{analysis.HashLabel: "canary"}},
		Status:     corev1.PodStatus{PodIP: "127.0.0.1"},
	})
	// The default PodURL: http://<podIP>:<MetricsPort>.
	s := analysis.NewServer(analysis.Config{Client: client, MetricsPort: port, ScrapeInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, err := s.Start(ctx)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)

	scrapes := func() int { pod.mu.Lock(); defer pod.mu.Unlock(); return pod.scrapes }
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, scrapes(), "nothing is scraped before a call or a watch")
	unwatch := s.Watch(ns, analyzer.Defaults)
	require.Eventually(t, func() bool { return scrapes() >= 3 }, 5*time.Second, 5*time.Millisecond)
	unwatch()
	unwatch()

	pod.serve("200", 100, 0.005)
	resp, err := http.Get(base + "/analyze?namespace=br-test&hash=canary&analyzer=threshold&window=1s")
	require.NoError(t, err)
	defer resp.Body.Close()
	var v analysis.Verdict
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	assert.Equal(t, analysis.Pass, v.Verdict, v.Explanation)
	assert.Equal(t, 100.0, v.Requests)

	require.NoError(t, s.Close())
	_, err = http.Get(base + "/analyze")
	assert.Error(t, err, "closed")
	_, err = s.Start(ctx)
	assert.Error(t, err)
}

// TestTraceReplaysTheCalls: the exported trace, replayed, gives every
// analyzer the answers the endpoint gave (gating and shadow).
func TestTraceReplaysTheCalls(t *testing.T) {
	e := newEnv(t)
	c, s := e.addPod("demo-canary-a", "canary"), e.addPod("demo-stable-a", "stable")
	e.analyze(query("canary"))
	for k := range 8 {
		e.advance(5 * time.Second)
		c.serve("200", 50, 0.005)
		c.serve("500", k, 0.3)
		s.serve("200", 450, 0.005)
		s.serve("500", 1, 0.005)
		resp, _ := get(t, e.srv, "/analyze?namespace=br-test&hash=canary&stableHash=stable&analyzer=threshold&maxErrorRate=0.08&window=10s")
		require.Equal(t, http.StatusOK, resp.Code)
	}
	tr, ok := e.srv.Trace(ns, "canary", "stable")
	require.True(t, ok)
	tr.ID, tr.GroundTruth = "t", results.Bad
	require.NoError(t, tr.Validate())
	require.Len(t, tr.Analyses, 8)
	assert.Equal(t, 40.0, tr.Analyses[7])
	calls := e.srv.Calls()
	for _, a := range analysis.Builtin() {
		d, err := analyzer.Replay(context.Background(), tr, a)
		require.NoError(t, err)
		for i, c := range calls {
			want := c.Verdict
			if a.Name() != "threshold" {
				j := slices.IndexFunc(c.Shadow, func(s results.ShadowAnswer) bool { return s.Analyzer == a.Name() })
				require.GreaterOrEqual(t, j, 0, a.Name())
				want = analysis.Verdict{Verdict: c.Shadow[j].Verdict, Value: c.Shadow[j].Value, Explanation: c.Shadow[j].Explanation}
			}
			assert.Equal(t, want.Verdict, d.Verdicts[i].Verdict, "%s at %v", a.Name(), tr.Analyses[i])
			assert.InDelta(t, want.Value, d.Verdicts[i].Value, 1e-9, "%s at %v", a.Name(), tr.Analyses[i])
		}
	}
	// Round trip through a trace file.
	path := filepath.Join(t.TempDir(), "trace.ndjson.gz")
	require.NoError(t, analyzer.WriteTraces(path, tr))
	var back []*analyzer.Trace
	require.NoError(t, analyzer.ReadTraces(path, func(t *analyzer.Trace) error { back = append(back, t); return nil }))
	require.Len(t, back, 1)
	assert.Equal(t, tr.Candidate, back[0].Candidate)
	assert.True(t, tr.Start.Equal(back[0].Start))
}
