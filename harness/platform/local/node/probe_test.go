package node

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func httpProbe(path string, port intstr.IntOrString) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}}}
}

func TestCheckProbeHTTP(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	var gotUA, gotHeader atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA.Store(r.UserAgent())
		gotHeader.Store(r.Header.Get("X-Probe"))
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte("not yet"))
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	ports := []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}
	ctx := context.Background()

	p := httpProbe("/readyz", intstr.FromString("http")) // named port
	p.HTTPGet.HTTPHeaders = []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}}
	ok, msg := checkProbe(ctx, p, host, ports)
	assert.True(t, ok, msg)
	assert.Contains(t, gotUA.Load(), "kube-probe/")
	assert.Equal(t, "yes", gotHeader.Load())

	status.Store(http.StatusServiceUnavailable)
	ok, msg = checkProbe(ctx, httpProbe("readyz", intstr.FromInt32(int32(port))), host, nil)
	assert.False(t, ok)
	assert.Contains(t, msg, "statuscode: 503")

	status.Store(http.StatusFound)
	ok, _ = checkProbe(ctx, p, host, ports)
	assert.True(t, ok, "3xx counts as success")

	_, msg = checkProbe(ctx, httpProbe("/", intstr.FromString("nope")), host, ports)
	assert.Contains(t, msg, `port "nope" not found`)
}

func TestCheckProbeHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	p := httpProbe("/", intstr.FromInt32(int32(port)))
	p.TimeoutSeconds = 1
	start := time.Now()
	ok, _ := checkProbe(context.Background(), p, host, nil)
	assert.False(t, ok)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestCheckProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}
	ok, msg := checkProbe(context.Background(), p, "127.0.0.1", nil)
	assert.True(t, ok, msg)
	ln.Close()
	ok, _ = checkProbe(context.Background(), p, "127.0.0.1", nil)
	assert.False(t, ok)

	exec := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	ok, _ = checkProbe(context.Background(), exec, "127.0.0.1", nil)
	assert.True(t, ok, "exec probes cannot run here and count as success")
}

// scripted returns a check that answers from results, then repeats the last.
func scripted(results ...bool) func(context.Context) (bool, string) {
	var mu sync.Mutex
	i := 0
	return func(context.Context) (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		r := results[min(i, len(results)-1)]
		i++
		if r {
			return true, ""
		}
		return false, "nope"
	}
}

func runLoop(t *testing.T, spec *corev1.Probe, check func(context.Context) (bool, string), attempts int) (results []bool, failures int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	done := make(chan struct{})
	n := 0
	count := func() {
		n++
		if n == attempts {
			cancel()
		}
	}
	l := probeLoop{
		spec:   spec,
		period: 5 * time.Millisecond,
		check: func(ctx context.Context) (bool, string) {
			ok, msg := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			count()
			return ok, msg
		},
		onFailure: func(string) { mu.Lock(); failures++; mu.Unlock() },
		onResult:  func(ok bool, _ string) { mu.Lock(); results = append(results, ok); mu.Unlock() },
	}
	go func() { l.run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("probe loop did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	return results, failures
}

func TestProbeLoopThresholds(t *testing.T) {
	spec := &corev1.Probe{SuccessThreshold: 2, FailureThreshold: 3}
	// s f s s f f f s s: ready after the 2nd consecutive success, unready after 3 failures, ready again.
	results, failures := runLoop(t, spec, scripted(true, false, true, true, false, false, false, true, true), 10)
	assert.Equal(t, []bool{true, false, true}, results)
	assert.Equal(t, 4, failures)

	// A liveness-like probe failing from the start fails once the threshold is reached.
	results, _ = runLoop(t, &corev1.Probe{FailureThreshold: 2}, scripted(false), 5)
	assert.Equal(t, []bool{false}, results)
}

func TestProbeLoopInitialDelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var calls atomic.Int32
	probeLoop{
		spec:     &corev1.Probe{InitialDelaySeconds: 5},
		period:   time.Millisecond,
		check:    func(context.Context) (bool, string) { calls.Add(1); return true, "" },
		onResult: func(bool, string) {},
	}.run(ctx)
	assert.Zero(t, calls.Load(), "nothing is probed before the initial delay")
}
