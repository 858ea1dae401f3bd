package node

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

// runAgent starts an agent against client and waits until it is ready. The
// returned stop cancels it and waits for Run to return.
func runAgent(t *testing.T, cfg Config) (*Agent, func()) {
	t.Helper()
	a, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-errc:
		cancel()
		t.Fatalf("agent exited before ready: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("agent not ready")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			assert.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("agent did not stop")
		}
	}
	t.Cleanup(stop)
	return a, stop
}

func waitPod(t *testing.T, c kubernetes.Interface, name string, within time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(within)
	var pod *corev1.Pod
	for time.Now().Before(deadline) {
		p, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			pod = p
			if cond(p) {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("pod %s: %s not reached within %v; last: %+v", name, what, within, pod)
	return nil
}

// TestAgentWithFakeAPI runs the whole agent (virtual-kubelet included)
// against client-go's fake clientset: registration, pods, status, logs
// through the kubelet API, deletion, shutdown and adoption by a new run.
func TestAgentWithFakeAPI(t *testing.T) {
	bin := demoapp(t)
	client := fake.NewClientset()
	first, last := testIPRange()
	dataDir := t.TempDir()
	cfg := Config{
		Client: client, ListenAddr: "127.0.0.1:0", DataDir: dataDir, Images: demoImages(bin),
		PodIPFirst: first, PodIPLast: last, BackoffBase: 100 * time.Millisecond, ShutdownGrace: 2 * time.Second,
	}
	a, stop := runAgent(t, cfg)

	node, err := client.CoreV1().Nodes().Get(t.Context(), DefaultNodeName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, node.Spec.Taints, "ordinary pods must schedule here")
	var ready corev1.NodeCondition
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c
		}
	}
	assert.Equal(t, corev1.ConditionTrue, ready.Status)
	assert.Contains(t, node.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"})
	_, port, _ := net.SplitHostPort(a.Addr())
	assert.Equal(t, port, strconv.Itoa(int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)))
	assert.Equal(t, DefaultKubeletVersion, node.Status.NodeInfo.KubeletVersion)
	assert.Equal(t, int64(maxPods), node.Status.Capacity.Pods().Value())
	assert.Positive(t, node.Status.Allocatable.Memory().Value())
	assert.Eventually(t, func() bool {
		_, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(t.Context(), DefaultNodeName, metav1.GetOptions{})
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "node lease")

	pod := demoPod("web", "blastradius/demoapp:purple", withEnv("TERMINATION_DELAY", "0s"))
	pod.Spec.NodeName = DefaultNodeName
	_, err = client.CoreV1().Pods("default").Create(t.Context(), pod, metav1.CreateOptions{})
	require.NoError(t, err)
	got := waitPod(t, client, "web", 20*time.Second, "ready", func(p *corev1.Pod) bool { return isReady(&p.Status) })
	assert.Equal(t, corev1.PodRunning, got.Status.Phase)
	firstID := got.Status.ContainerStatuses[0].ContainerID

	// kubectl logs goes through the apiserver to this endpoint.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + a.Addr() + "/containerLogs/default/web/app?tailLines=1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, 1, strings.Count(string(body), "\n"), string(body))

	// A stopping agent leaves its pods in the API (a kubelet that goes away
	// does not delete them) and a new run adopts them.
	stop()
	assert.Empty(t, leftoverProcesses(testTmp), "every pod process stopped with the agent")
	got, err = client.CoreV1().Pods("default").Get(t.Context(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.PodRunning, got.Status.Phase, "shutdown is not reported as the pod ending")

	_, _ = runAgent(t, cfg)
	got = waitPod(t, client, "web", 20*time.Second, "ready again", func(p *corev1.Pod) bool {
		return isReady(&p.Status) && p.Status.ContainerStatuses[0].ContainerID != firstID
	})
	assert.Equal(t, corev1.PodRunning, got.Status.Phase)

	// The fake API has no graceful deletion: the object goes at once, and VK
	// tells the provider, which stops the processes.
	require.NoError(t, client.CoreV1().Pods("default").Delete(t.Context(), "web", metav1.DeleteOptions{}))
	assert.Eventually(t, func() bool { return len(leftoverProcesses(testTmp)) == 0 }, 10*time.Second, 50*time.Millisecond,
		"a deleted pod's processes stop")
}
