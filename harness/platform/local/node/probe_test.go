package node

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
	ok, msg := checkProbe(ctx, p, probeTarget{ip: host, ports: ports})
	assert.True(t, ok, msg)
	assert.Contains(t, gotUA.Load(), "kube-probe/")
	assert.Equal(t, "yes", gotHeader.Load())

	status.Store(http.StatusServiceUnavailable)
	ok, msg = checkProbe(ctx, httpProbe("readyz", intstr.FromInt32(int32(port))), probeTarget{ip: host})
	assert.False(t, ok)
	assert.Contains(t, msg, "statuscode: 503")

	status.Store(http.StatusFound)
	ok, _ = checkProbe(ctx, p, probeTarget{ip: host, ports: ports})
	assert.True(t, ok, "3xx counts as success")

	_, msg = checkProbe(ctx, httpProbe("/", intstr.FromString("nope")), probeTarget{ip: host, ports: ports})
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
	ok, _ := checkProbe(context.Background(), p, probeTarget{ip: host})
	assert.False(t, ok)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestCheckProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}
	ok, msg := checkProbe(context.Background(), p, probeTarget{ip: "127.0.0.1"})
	assert.True(t, ok, msg)
	ln.Close()
	ok, _ = checkProbe(context.Background(), p, probeTarget{ip: "127.0.0.1"})
	assert.False(t, ok)
}

func execProbe(timeout int32, argv ...string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: argv}}, TimeoutSeconds: timeout}
}

// TestCheckProbeExec runs real commands through the spawner, with the
// container's env: exit 0 succeeds, anything else fails with the output, and
// the timeout ends the command's whole process group.
func TestCheckProbeExec(t *testing.T) {
	sp := newSpawner(t.TempDir())
	defer sp.close()
	dir := t.TempDir()
	target := probeTarget{exec: func(ctx context.Context, argv []string, out io.Writer) (int, error) {
		return sp.run(ctx, execRequest{Argv: argv, Env: []string{"PATH=" + defaultPath, "GREETING=hi"}, Dir: dir, Stdout: out, Stderr: out})
	}}
	ctx := context.Background()

	ok, msg := checkProbe(ctx, execProbe(1, "sh", "-c", `test "$GREETING" = hi && test "$PWD" = "`+dir+`"`), target)
	assert.True(t, ok, msg)

	ok, msg = checkProbe(ctx, execProbe(1, "sh", "-c", "echo not healthy; exit 3"), target)
	assert.False(t, ok)
	assert.Equal(t, "not healthy", msg)

	ok, msg = checkProbe(ctx, execProbe(1, "/bin/false"), target)
	assert.False(t, ok)
	assert.Contains(t, msg, "exited with 1")

	ok, msg = checkProbe(ctx, execProbe(1, "no-such-program-here"), target)
	assert.False(t, ok)
	assert.Contains(t, msg, "executable file not found")

	pidFile := filepath.Join(dir, "child.pid")
	start := time.Now()
	ok, msg = checkProbe(ctx, execProbe(1, "sh", "-c", "sleep 30 & echo $! > "+pidFile+"; wait"), target)
	assert.False(t, ok)
	assert.Contains(t, msg, "timed out after 1s")
	assert.Less(t, time.Since(start), 3*time.Second)
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	child, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	require.Eventually(t, func() bool { return syscall.Kill(child, 0) != nil }, 2*time.Second, 20*time.Millisecond,
		"the command's children go with it")

	ok, msg = checkProbe(ctx, execProbe(1, "true"), probeTarget{})
	assert.False(t, ok, "without a container to run beside, an exec probe fails")
	assert.Contains(t, msg, "running container")
}

func TestCheckProbeGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port}}}
	target := probeTarget{ip: "127.0.0.1"}

	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	ok, msg := checkProbe(context.Background(), p, target)
	assert.True(t, ok, msg)

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	ok, msg = checkProbe(context.Background(), p, target)
	assert.False(t, ok)
	assert.Contains(t, msg, "NOT_SERVING")
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
