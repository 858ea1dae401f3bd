package local

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
)

func TestPKIChainsToCA(t *testing.T) {
	p, err := newPKI(t.TempDir())
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(p.caPEM))
	parse := func(b []byte) *x509.Certificate {
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		require.NoError(t, err)
		return c
	}
	server := parse(p.serverCertPEM)
	_, err = server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	assert.NoError(t, err)
	_, err = server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "kubernetes.default.svc", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	assert.NoError(t, err)
	admin := parse(p.adminCertPEM)
	_, err = admin.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
	assert.Equal(t, []string{"system:masters"}, admin.Subject.Organization)
	for _, f := range []string{p.caKey, p.serverKey, p.adminKey, p.saKey} {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
}

func TestProcStopsGroupAndLeftoversAreKilled(t *testing.T) {
	dir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	sleep, _ = filepath.EvalSymlinks(sleep)

	p, err := startProc(dir, "sleeper", sleep, []string{"300"}, nil)
	require.NoError(t, err)
	done, _ := p.exited()
	assert.False(t, done)
	assert.FileExists(t, filepath.Join(dir, "pids", "sleeper.pid"))
	p.stop(2 * time.Second)
	done, _ = p.exited()
	assert.True(t, done)
	assert.NoFileExists(t, filepath.Join(dir, "pids", "sleeper.pid"))

	// A process recorded by a killed run is found and ended; a pid file whose
	// pid runs another binary is only removed.
	orphan := exec.Command(sleep, "300")
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, orphan.Start())
	t.Cleanup(func() { _ = orphan.Process.Kill() })
	require.NoError(t, writePidFile(filepath.Join(dir, "pids", "old.pid"), orphan.Process.Pid, sleep))
	require.NoError(t, writePidFile(filepath.Join(dir, "pids", "other.pid"), os.Getpid(), sleep))
	killed, err := killLeftovers(filepath.Join(dir, "pids"))
	require.NoError(t, err)
	require.Len(t, killed, 1)
	assert.Contains(t, killed[0], "old")
	_ = orphan.Wait()
	assert.NoError(t, syscall.Kill(os.Getpid(), 0), "this process must not be touched")
	entries, _ := os.ReadDir(filepath.Join(dir, "pids"))
	assert.Empty(t, entries)
}

// TestProcTmpDir: control-plane processes get a TMPDIR that goes with the
// cluster (Argo's plugin sockets land there), short enough for a socket.
func TestProcTmpDir(t *testing.T) {
	dir := t.TempDir()
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	sh, _ = filepath.EvalSymlinks(sh)
	p, err := startProc(dir, "tmp-user", sh, []string{"-c", `echo "tmp=$TMPDIR"`}, nil)
	require.NoError(t, err)
	<-p.done
	assert.Contains(t, p.logTail(1), "tmp="+filepath.Join(dir, "tmp"))

	long := filepath.Join(dir, strings.Repeat("d", maxTmpDir))
	got, err := procTmpDir(long)
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(got) })
	assert.Equal(t, os.TempDir(), filepath.Dir(got))
	assert.Less(t, len(got)+len("/plugin1234567890"), 108)
	require.NoError(t, os.MkdirAll(long, 0o755))
	require.NoError(t, Cleanup(long))
	assert.NoDirExists(t, got, "Cleanup removes the temp dir kept outside the data dir")
}

func TestProxySpreadsConnectionsOverReadyPods(t *testing.T) {
	backend := func(name string) (*httptest.Server, string) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(srv.Close)
		return srv, srv.Listener.Addr().String()
	}
	_, a := backend("a")
	_, b := backend("b")
	_, c := backend("c-not-ready")
	port := freeTestPort(t)
	pod := func(name, addr string, ready bool) *corev1.Pod {
		host, p, _ := net.SplitHostPort(addr)
		cp, _ := strconv.Atoi(p)
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "demo"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(cp)}}}}},
			Status:     corev1.PodStatus{PodIP: host, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
		}
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "demo"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http"), NodePort: int32(port)}}},
	}
	client := fake.NewClientset(svc, pod("a", a, true), pod("b", b, true), pod("c", c, false))
	ctx, cancel := context.WithCancel(context.Background())
	p := newServiceProxy(client, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan error)
	go func() { done <- p.run(ctx) }()

	url := "http://127.0.0.1:" + itoa(port)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	seen := map[string]int{}
	require.Eventually(t, func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 5*time.Second, 50*time.Millisecond)
	for range 200 {
		resp, err := hc.Get(url)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[string(body)]++
	}
	assert.Zero(t, seen["c-not-ready"], "a pod that is not ready gets no connection")
	assert.InDelta(t, 100, seen["a"], 30)
	assert.InDelta(t, 100, seen["b"], 30)

	// Deleting the Service closes its port.
	require.NoError(t, client.CoreV1().Services("ns").Delete(ctx, "demo", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(port), 200*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}, 5*time.Second, 50*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func freeTestPort(t *testing.T) int {
	ports, err := freePorts(1)
	require.NoError(t, err)
	return ports[0]
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestDataDirLock: a data dir in use is refused, naming its owner, and
// cleaning it for a new cluster keeps the lock; a released dir is free.
func TestDataDirLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := lockDataDir(dir)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "leftover"), nil, 0o644))
	require.NoError(t, cleanup(dir, dataLockName))
	assert.NoFileExists(t, filepath.Join(dir, "leftover"))
	assert.FileExists(t, filepath.Join(dir, dataLockName))

	_, err = lockDataDir(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("in use by another cluster (pid %d)", os.Getpid()))

	first.Close()
	second, err := lockDataDir(dir)
	require.NoError(t, err)
	second.Close()
}

func TestToolVersion(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	require.NoError(t, os.WriteFile(tool, []byte("#!/bin/sh\necho \"tool, version 1.2.3 (built here)\"\n"), 0o755))
	v, err := ToolVersion(context.Background(), tool, "--version", regexp.MustCompile(`^tool, version (\S+)`))
	require.NoError(t, err)
	assert.Equal(t, "1.2.3", v)
	_, err = ToolVersion(context.Background(), tool, "--version", regexp.MustCompile(`^Version: (\S+)`))
	assert.ErrorContains(t, err, "printed no release version; rebuild it with `make tools`")
	_, err = ToolVersion(context.Background(), filepath.Join(dir, "missing"), "--version", argoVersionLine)
	assert.ErrorContains(t, err, "missing --version")
}
