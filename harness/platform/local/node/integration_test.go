package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// TestAgentWithRealAPIServer runs the agent against etcd and kube-apiserver
// from bin/ (no scheduler: pods are created bound). It checks what a fake API
// cannot: graceful deletion ends with the object gone as soon as the
// processes have exited, and `kubectl logs` reaches the kubelet API through
// the apiserver with its default address preferences.
func TestAgentWithRealAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	binDir, _ := filepath.Abs("../../../../bin")
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			t.Skipf("%s not built (make bins): %v", b, err)
		}
	}
	bin := demoapp(t)
	client, restCfg := startAPIServer(t, binDir)

	first, last := testIPRange()
	_, _ = runAgent(t, Config{
		Client: client, ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), Images: demoImages(bin),
		PodIPFirst: first, PodIPLast: last, ShutdownGrace: 2 * time.Second,
	})
	ctx := t.Context()

	quick := demoPod("quick", "blastradius/demoapp:blue", withEnv("TERMINATION_DELAY", "0s"))
	slow := demoPod("slow", "blastradius/demoapp:green", withEnv("TERMINATION_DELAY", "60s"))
	for _, p := range []*corev1.Pod{quick, slow} {
		p.UID, p.Generation, p.Status = "", 0, corev1.PodStatus{}
		p.Spec.NodeName = DefaultNodeName
		p.Spec.TerminationGracePeriodSeconds = nil // the default 30s
		_, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, name := range []string{"quick", "slow"} {
		got := waitPod(t, client, name, 30*time.Second, "ready", func(p *corev1.Pod) bool { return isReady(&p.Status) })
		assert.Equal(t, corev1.PodRunning, got.Status.Phase)
	}

	// kubectl logs: apiserver -> kubelet API (Hostname address first by default).
	raw, err := client.CoreV1().Pods("default").GetLogs("quick", &corev1.PodLogOptions{Container: "app"}).DoRaw(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(raw), "listening")

	// Events read as a kubelet's.
	assert.Eventually(t, func() bool {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=quick"})
		if err != nil {
			return false
		}
		reasons := map[string]bool{}
		for _, e := range evs.Items {
			reasons[e.Reason] = true
			assert.NotEqual(t, "ProviderCreateSuccess", e.Reason)
		}
		return reasons["Pulled"] && reasons["Created"] && reasons["Started"]
	}, 10*time.Second, 200*time.Millisecond, "Pulled, Created and Started events")
	node, err := client.CoreV1().Nodes().Get(ctx, DefaultNodeName, metav1.GetOptions{})
	require.NoError(t, err)
	for _, taint := range node.Spec.Taints {
		// The TaintNodesByCondition admission plugin taints every new node;
		// the node lifecycle controller (not running here) lifts it once the
		// node is Ready. Nothing else may taint it.
		assert.Equal(t, corev1.TaintNodeNotReady, taint.Key)
	}

	checkReadinessGate(t, client)
	checkKubectlExec(t, restCfg)

	// Default grace period of 30s, but the app exits at once on SIGTERM: the
	// pod must be gone in seconds, not after 30.
	start := time.Now()
	require.NoError(t, client.CoreV1().Pods("default").Delete(ctx, "quick", metav1.DeleteOptions{}))
	waitGone(t, client, "quick", 10*time.Second)
	t.Logf("graceful deletion of a cooperative pod took %v", time.Since(start))

	// A pod that does not exit on SIGTERM is killed at the end of its grace period.
	start = time.Now()
	grace := int64(3)
	require.NoError(t, client.CoreV1().Pods("default").Delete(ctx, "slow", metav1.DeleteOptions{GracePeriodSeconds: &grace}))
	waitGone(t, client, "slow", 15*time.Second)
	took := time.Since(start)
	assert.Greater(t, took, 2*time.Second)
	t.Logf("deletion with a 3s grace period took %v", took)
}

func waitGone(t *testing.T, c kubernetes.Interface, name string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		_, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("pod %s still in the API after %v", name, within)
}

// startAPIServer starts etcd and kube-apiserver for the test and returns an
// admin client.
func startAPIServer(t *testing.T, binDir string) (kubernetes.Interface, *rest.Config) {
	t.Helper()
	dir := t.TempDir()
	ports := freePorts(t, 3)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	saKey, saPub := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	require.NoError(t, os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	require.NoError(t, os.WriteFile(saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644))
	token := "node-agent-test-token"
	tokens := filepath.Join(dir, "tokens.csv")
	require.NoError(t, os.WriteFile(tokens, []byte(token+",admin,admin,system:masters\n"), 0o600))

	startBin(t, filepath.Join(binDir, "etcd"), filepath.Join(dir, "etcd.log"),
		"--name=default", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--log-level=warn", "--unsafe-no-fsync=true")
	startBin(t, filepath.Join(binDir, "kube-apiserver"), filepath.Join(dir, "apiserver.log"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", ports[2]),
		"--cert-dir="+filepath.Join(dir, "certs"), "--token-auth-file="+tokens,
		"--authorization-mode=AlwaysAllow",
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file="+saPub,
		"--service-account-signing-key-file="+saKey, "--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount", // no controller-manager to create service accounts
		"--enable-priority-and-fairness=false", "--profiling=false", "--endpoint-reconciler-type=none")

	cfg := &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", ports[2]),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             100, Burst: 200,
	}
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	hc, err := rest.HTTPClientFor(cfg)
	require.NoError(t, err)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := hc.Get(cfg.Host + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "apiserver.log"))
			t.Fatalf("kube-apiserver not ready: %v\n%s", err, tail(string(log), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	hc.CloseIdleConnections()
	return client, cfg
}

// startBin runs a control plane binary until the test ends.
func startBin(t *testing.T, path, logPath string, args ...string) {
	t.Helper()
	logf, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// freePorts returns n distinct free ports (all held until all are picked).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// checkReadinessGate: a pod with a readiness gate is Ready once another
// controller sets the gate's condition through the status subresource, and
// not before; nothing else about the pod changes.
func checkReadinessGate(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx := t.Context()
	const gate corev1.PodConditionType = "blastradius.dev/gate"
	p := demoPod("gated", "blastradius/demoapp:blue")
	p.UID, p.Generation, p.Status = "", 0, corev1.PodStatus{}
	p.Spec.NodeName = DefaultNodeName
	p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: gate}}
	_, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	got := waitPod(t, client, "gated", 30*time.Second, "containers ready", func(p *corev1.Pod) bool {
		return cond(&p.Status, corev1.ContainersReady).Status == corev1.ConditionTrue
	})
	time.Sleep(time.Second) // a status round-trip later it is still not Ready
	got, err = client.CoreV1().Pods("default").Get(ctx, "gated", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ReadinessGatesNotReady", cond(&got.Status, corev1.PodReady).Reason)

	got.Status.Conditions = append(got.Status.Conditions, corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
	_, err = client.CoreV1().Pods("default").UpdateStatus(ctx, got, metav1.UpdateOptions{})
	require.NoError(t, err)
	waitPod(t, client, "gated", 10*time.Second, "Ready once the gate is True", func(p *corev1.Pod) bool { return isReady(&p.Status) })
	require.NoError(t, client.CoreV1().Pods("default").Delete(ctx, "gated", metav1.DeleteOptions{}))
	waitGone(t, client, "gated", 10*time.Second)
}

// checkExec: `kubectl exec` through the apiserver's exec subresource runs the
// command beside the container and returns its output and exit code.
func checkKubectlExec(t *testing.T, cfg *rest.Config) {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("quick").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "app", Command: []string{"sh", "-c", "echo $COLOR; exit 4"}, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(cfg, http.MethodPost, req.URL())
	require.NoError(t, err)
	var out, errOut bytes.Buffer
	err = exec.StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
	var exitErr utilexec.ExitError
	require.ErrorAs(t, err, &exitErr, "stderr: %s", errOut.String())
	assert.Equal(t, 4, exitErr.ExitStatus())
	assert.Equal(t, "blue\n", out.String())
}
