package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// eventLog is an EventRecorder that keeps "Reason: message" lines.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (e *eventLog) Event(_ runtime.Object, _, reason, msg string) {
	e.mu.Lock()
	e.events = append(e.events, reason+": "+msg)
	e.mu.Unlock()
}

func (e *eventLog) Eventf(o runtime.Object, typ, reason, format string, args ...any) {
	e.Event(o, typ, reason, fmt.Sprintf(format, args...))
}

func (e *eventLog) AnnotatedEventf(o runtime.Object, _ map[string]string, typ, reason, format string, args ...any) {
	e.Eventf(o, typ, reason, format, args...)
}

func (e *eventLog) has(prefix string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events {
		if strings.HasPrefix(ev, prefix) {
			return true
		}
	}
	return false
}

// testNode is a provider with real processes but no cluster: VK's role is
// played by the test, calling CreatePod/DeletePod and reading notifications.
type testNode struct {
	t      *testing.T
	h      *host
	prov   *provider
	events *eventLog
	client *fake.Clientset

	mu      sync.Mutex
	history map[types.UID][]*corev1.Pod // every notified pod
}

// demoImages resolves demo app images the way the local platform does.
func demoImages(bin string) ImageResolver {
	return func(image string) (Executable, error) {
		if strings.HasPrefix(image, "shell") {
			return Executable{Path: "/bin/sh"}, nil
		}
		v, err := catalog.Resolve(image)
		if err != nil {
			return Executable{}, err
		}
		return Executable{Path: bin, Env: v.ImageEnv()}, nil
	}
}

func newTestNode(t *testing.T, images ImageResolver) *testNode {
	t.Helper()
	dir := t.TempDir()
	first, last := testIPRange()
	ips, err := NewIPPool(first, last)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "pids"), 0o755))
	events := &eventLog{}
	h := &host{
		nodeName: "test-node", hostIP: nodeHostIP, dataDir: dir,
		images: images, ips: ips, spawner: newSpawner(filepath.Join(dir, "pids")),
		recorder: events, log: slog.New(slog.DiscardHandler),
		backoffBase: 100 * time.Millisecond, backoffMax: 400 * time.Millisecond,
		memoryPoll: 50 * time.Millisecond, maxLogSize: defaultLogSize,
		nodeCPU: resource.MustParse("2"), nodeMemory: resource.MustParse("1Gi"),
	}
	client := fake.NewClientset()
	n := &testNode{t: t, h: h, events: events, client: client, history: map[types.UID][]*corev1.Pod{}}
	n.prov = newProvider(t.Context(), h, client, nil)
	n.prov.NotifyPods(t.Context(), func(p *corev1.Pod) {
		n.mu.Lock()
		n.history[p.UID] = append(n.history[p.UID], p)
		n.mu.Unlock()
	})
	t.Cleanup(func() {
		n.prov.shutdown(3 * time.Second)
		h.spawner.close()
		assert.Zero(t, ips.InUse(), "every pod address is released")
		entries, _ := os.ReadDir(filepath.Join(dir, "pids"))
		assert.Empty(t, entries, "no pid file (so no process) is left")
	})
	return n
}

type podOpt func(*corev1.Pod)

func withEnv(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: kv[i], Value: kv[i+1]})
		}
	}
}

func demoPod(name, image string, opts ...podOpt) *corev1.Pod {
	grace := int64(5)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uuid.NewUUID(), Generation: 1},
		Spec: corev1.PodSpec{
			NodeName:                      "test-node",
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:  "app",
				Image: image,
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env:   []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
					PeriodSeconds: 1,
				},
			}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func (n *testNode) create(pod *corev1.Pod) *corev1.Pod {
	n.t.Helper()
	_, err := n.client.CoreV1().Pods(pod.Namespace).Create(n.t.Context(), pod, metav1.CreateOptions{})
	require.NoError(n.t, err)
	require.NoError(n.t, n.prov.CreatePod(n.t.Context(), pod.DeepCopy()))
	return pod
}

func (n *testNode) status(pod *corev1.Pod) *corev1.PodStatus {
	n.t.Helper()
	st, err := n.prov.GetPodStatus(n.t.Context(), pod.Namespace, pod.Name)
	require.NoError(n.t, err)
	return st
}

// waitStatus polls the pod's status until cond holds.
func (n *testNode) waitStatus(pod *corev1.Pod, within time.Duration, what string, cond func(*corev1.PodStatus) bool) *corev1.PodStatus {
	n.t.Helper()
	deadline := time.Now().Add(within)
	var st *corev1.PodStatus
	for time.Now().Before(deadline) {
		st = n.status(pod)
		if cond(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("%s: not reached within %v; status: %+v", what, within, st)
	return nil
}

// deleteAndWait deletes the pod as the API would (deletionTimestamp and grace
// period) and waits until the provider has forgotten it.
func (n *testNode) deleteAndWait(pod *corev1.Pod, grace int64, within time.Duration) *corev1.Pod {
	n.t.Helper()
	del := pod.DeepCopy()
	now := metav1.Now()
	del.DeletionTimestamp = &now
	del.DeletionGracePeriodSeconds = &grace
	require.NoError(n.t, n.prov.DeletePod(n.t.Context(), del))
	_, err := n.prov.GetPod(n.t.Context(), pod.Namespace, pod.Name)
	assert.Error(n.t, err, "a deleted pod is no longer offered to VK")
	require.Eventually(n.t, func() bool {
		pods, _ := n.prov.GetPods(n.t.Context())
		return len(pods) == 0
	}, within, 20*time.Millisecond, "the pod's processes did not stop")
	return n.last(pod)
}

func (n *testNode) last(pod *corev1.Pod) *corev1.Pod {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.history[pod.UID]
	if len(h) == 0 {
		return nil
	}
	return h[len(h)-1]
}

func (n *testNode) sawWaiting(pod *corev1.Pod, reason string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.history[pod.UID] {
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason == reason {
				return true
			}
		}
	}
	return false
}

func cond(st *corev1.PodStatus, typ corev1.PodConditionType) corev1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return corev1.PodCondition{}
}

func isReady(st *corev1.PodStatus) bool {
	return cond(st, corev1.PodReady).Status == corev1.ConditionTrue
}

func (n *testNode) logs(pod *corev1.Pod, opts api.ContainerLogOpts) string {
	n.t.Helper()
	rc, err := n.prov.GetContainerLogs(n.t.Context(), pod.Namespace, pod.Name, "app", opts)
	require.NoError(n.t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(n.t, err)
	return string(b)
}

func TestPodRunsAndBecomesReady(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("web", "blastradius/demoapp:green", withEnv("TERMINATION_DELAY", "0s")))

	st := n.waitStatus(pod, 15*time.Second, "ready", isReady)
	assert.Equal(t, corev1.PodRunning, st.Phase)
	assert.Equal(t, nodeHostIP, st.HostIP)
	require.NotEmpty(t, st.PodIP)
	assert.True(t, strings.HasPrefix(st.PodIP, "127."), st.PodIP)
	assert.Equal(t, []corev1.PodIP{{IP: st.PodIP}}, st.PodIPs)
	assert.NotNil(t, st.StartTime)
	assert.Equal(t, corev1.PodQOSBestEffort, st.QOSClass)
	for _, typ := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		c := cond(st, typ)
		assert.Equal(t, corev1.ConditionTrue, c.Status, typ)
		assert.False(t, c.LastTransitionTime.IsZero(), typ)
	}
	cs := st.ContainerStatuses[0]
	require.NotNil(t, cs.State.Running)
	assert.True(t, cs.Ready)
	assert.True(t, *cs.Started)
	assert.Zero(t, cs.RestartCount)
	assert.Regexp(t, `^blastradius://\d+$`, cs.ContainerID)
	assert.Equal(t, "blastradius/demoapp:green", cs.Image)
	assert.Regexp(t, `^blastradius/demoapp@sha256:[0-9a-f]{64}$`, cs.ImageID)

	// The app serves on its own address, with its image env and the downward API.
	resp, err := http.Get("http://" + net.JoinHostPort(st.PodIP, "8080") + "/color")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "green")
	assert.Contains(t, string(body), "web")

	assert.Contains(t, n.logs(pod, api.ContainerLogOpts{}), "listening")
	for _, ev := range []string{"Pulled", "Created", "Started"} {
		assert.True(t, n.events.has(ev+":"), "event %s", ev)
	}

	// Graceful deletion: SIGTERM, a clean exit, a terminal status, then the
	// object is deleted from the API with grace 0 and a UID precondition.
	final := n.deleteAndWait(pod, 5, 10*time.Second)
	require.NotNil(t, final)
	assert.Equal(t, corev1.PodSucceeded, final.Status.Phase, "SIGTERM handled, exit 0")
	term := final.Status.ContainerStatuses[0].State.Terminated
	require.NotNil(t, term)
	assert.Equal(t, int32(0), term.ExitCode)
	assert.Equal(t, "Completed", term.Reason)
	assert.False(t, isReady(&final.Status))
	assert.True(t, n.events.has("Killing: Stopping container app"))

	var deleted bool
	for _, a := range n.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetResource().Resource == "pods" && d.GetName() == "web" {
			opts := d.GetDeleteOptions()
			deleted = opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0 &&
				opts.Preconditions != nil && *opts.Preconditions.UID == pod.UID
		}
	}
	assert.True(t, deleted, "the stopped pod is deleted from the API")
	_, err = n.client.CoreV1().Pods("default").Get(t.Context(), "web", metav1.GetOptions{})
	assert.Error(t, err)
}

func TestReadinessNever(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("unready", "blastradius/demoapp:blue", withEnv("READINESS", "never")))
	n.waitStatus(pod, 15*time.Second, "running", func(st *corev1.PodStatus) bool { return st.Phase == corev1.PodRunning })
	time.Sleep(2500 * time.Millisecond) // a few readiness periods
	st := n.status(pod)
	assert.Equal(t, corev1.PodRunning, st.Phase)
	assert.False(t, isReady(st))
	c := cond(st, corev1.ContainersReady)
	assert.Equal(t, corev1.ConditionFalse, c.Status)
	assert.Equal(t, "ContainersNotReady", c.Reason)
	assert.Equal(t, "containers with unready status: [app]", c.Message)
	assert.True(t, *st.ContainerStatuses[0].Started, "started, just not ready")
	assert.True(t, n.events.has("Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503"))
}

func TestCrashLoopBackOff(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("crash", "blastradius/demoapp:crash-red"))
	st := n.waitStatus(pod, 20*time.Second, "restarted 3 times", func(st *corev1.PodStatus) bool {
		return st.ContainerStatuses[0].RestartCount >= 3
	})
	assert.Equal(t, corev1.PodRunning, st.Phase, "a crash-looping Always pod is Running, as with the kubelet")
	assert.False(t, isReady(st))
	assert.True(t, n.sawWaiting(pod, "CrashLoopBackOff"))
	last := st.ContainerStatuses[0].LastTerminationState.Terminated
	require.NotNil(t, last)
	assert.Equal(t, int32(1), last.ExitCode)
	assert.Equal(t, "Error", last.Reason)
	assert.True(t, n.events.has("BackOff: Back-off restarting failed container app"))

	prev := n.logs(pod, api.ContainerLogOpts{Previous: true})
	assert.NotEmpty(t, prev, "the previous instance's log")

	// Deleting a pod in back-off ends it at once; nothing runs.
	final := n.deleteAndWait(pod, 30, 5*time.Second)
	assert.Contains(t, []corev1.PodPhase{corev1.PodFailed, corev1.PodSucceeded}, final.Status.Phase)
	assert.Nil(t, final.Status.ContainerStatuses[0].State.Running)
	assert.Nil(t, final.Status.ContainerStatuses[0].State.Waiting)
}

func TestOOMKilled(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("leak", "blastradius/demoapp:leak-blue", withEnv("LEAK_MIB_PER_SEC", "50"), func(p *corev1.Pod) {
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	}))
	st := n.waitStatus(pod, 20*time.Second, "failed", func(st *corev1.PodStatus) bool { return st.Phase == corev1.PodFailed })
	term := st.ContainerStatuses[0].State.Terminated
	require.NotNil(t, term)
	assert.Equal(t, "OOMKilled", term.Reason)
	assert.Equal(t, int32(137), term.ExitCode)
	assert.Equal(t, corev1.PodQOSBurstable, st.QOSClass)
	n.deleteAndWait(pod, 30, 5*time.Second)
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	// The app would take 60s to drain after SIGTERM; the grace period is 2s.
	pod := n.create(demoPod("slowstop", "blastradius/demoapp:blue", withEnv("TERMINATION_DELAY", "60s")))
	n.waitStatus(pod, 15*time.Second, "ready", isReady)
	start := time.Now()
	final := n.deleteAndWait(pod, 2, 10*time.Second)
	took := time.Since(start)
	assert.Greater(t, took, 1500*time.Millisecond, "SIGTERM first, with the grace period to act on it")
	assert.Less(t, took, 6*time.Second, "SIGKILL at the end of the grace period")
	term := final.Status.ContainerStatuses[0].State.Terminated
	require.NotNil(t, term)
	assert.Equal(t, int32(137), term.ExitCode)
	assert.Equal(t, "Error", term.Reason)
	assert.Equal(t, corev1.PodFailed, final.Status.Phase)
	log, err := os.ReadFile(filepath.Join(n.h.dataDir, "pods", fmt.Sprintf("default_slowstop_%s", pod.UID), "app", "0.log"))
	require.NoError(t, err)
	assert.Contains(t, string(log), "terminating", "the app saw SIGTERM")
}

func TestUnknownImage(t *testing.T) {
	n := newTestNode(t, demoImages("/nonexistent"))
	pod := n.create(demoPod("typo", "blastradius/demoapp:no-such-tag"))
	n.waitStatus(pod, 5*time.Second, "ImagePullBackOff", func(st *corev1.PodStatus) bool {
		w := st.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ImagePullBackOff"
	})
	assert.True(t, n.sawWaiting(pod, "ErrImagePull"), "ErrImagePull comes first")
	st := n.status(pod)
	assert.Equal(t, corev1.PodPending, st.Phase)
	assert.Contains(t, st.ContainerStatuses[0].State.Waiting.Message, `no demo app version "no-such-tag"`)
	assert.True(t, n.events.has(`Failed: Failed to pull image "blastradius/demoapp:no-such-tag"`))
	assert.NotEmpty(t, st.PodIP, "the sandbox (address) exists while the image cannot be pulled")

	_, err := n.prov.GetContainerLogs(t.Context(), "default", "typo", "app", api.ContainerLogOpts{})
	assert.ErrorContains(t, err, "is waiting to start: ImagePullBackOff")

	final := n.deleteAndWait(pod, 30, 3*time.Second)
	term := final.Status.ContainerStatuses[0].State.Terminated
	require.NotNil(t, term, "a pod deleted before it ran ends terminated, so VK can finalize it")
	assert.Equal(t, reasonStatusUnknown, term.Reason)
}

func TestLivenessFailureRestarts(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("sick", "blastradius/demoapp:blue", func(p *corev1.Pod) {
		grace := int64(1)
		p.Spec.TerminationGracePeriodSeconds = &grace
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/no-such-page", Port: intstr.FromInt32(8080)}},
			InitialDelaySeconds: 1, // the app listens by then
			PeriodSeconds:       1,
			FailureThreshold:    1,
		}
	}))
	n.waitStatus(pod, 20*time.Second, "restarted by liveness", func(st *corev1.PodStatus) bool {
		return st.ContainerStatuses[0].RestartCount >= 1
	})
	assert.True(t, n.events.has("Killing: Container app failed liveness probe, will be restarted"))
	last := n.status(pod).ContainerStatuses[0].LastTerminationState.Terminated
	require.NotNil(t, last)
	assert.Contains(t, last.Message, "failed liveness probe")
	assert.True(t, n.events.has("Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 404"))
	n.deleteAndWait(pod, 2, 10*time.Second)
}

func TestInitContainersAndCompletion(t *testing.T) {
	n := newTestNode(t, demoImages("/nonexistent"))
	pod := n.create(demoPod("job", "shell", func(p *corev1.Pod) {
		p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "shell", Command: []string{"sh", "-c", "echo setting up"}}}
		c := &p.Spec.Containers[0]
		c.Command = []string{"sh", "-c", `echo "hello from $POD_NAME at $POD_IP"`}
		c.ReadinessProbe = nil
	}))
	st := n.waitStatus(pod, 10*time.Second, "succeeded", func(st *corev1.PodStatus) bool { return st.Phase == corev1.PodSucceeded })
	require.Len(t, st.InitContainerStatuses, 1)
	assert.Equal(t, "Completed", st.InitContainerStatuses[0].State.Terminated.Reason)
	assert.Equal(t, corev1.ConditionTrue, cond(st, corev1.PodInitialized).Status)
	assert.Equal(t, "PodCompleted", cond(st, corev1.PodReady).Reason)
	assert.Regexp(t, `^hello from job at 127\.\d+\.\d+\.\d+\n$`, n.logs(pod, api.ContainerLogOpts{}))
	assert.Zero(t, n.h.ips.InUse(), "a finished pod gives its address back")
	n.deleteAndWait(pod, 30, 3*time.Second)
}

func TestFailingInitContainerWithNever(t *testing.T) {
	n := newTestNode(t, demoImages("/nonexistent"))
	pod := n.create(demoPod("broken", "shell", func(p *corev1.Pod) {
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "shell", Command: []string{"sh", "-c", "exit 7"}}}
		p.Spec.Containers[0].Command = []string{"sh", "-c", "echo never runs"}
	}))
	st := n.waitStatus(pod, 10*time.Second, "failed", func(st *corev1.PodStatus) bool { return st.Phase == corev1.PodFailed })
	assert.Equal(t, int32(7), st.InitContainerStatuses[0].State.Terminated.ExitCode)
	assert.Equal(t, corev1.ConditionFalse, cond(st, corev1.PodInitialized).Status)
	n.deleteAndWait(pod, 30, 3*time.Second)
}

func TestPodRemovedFromAPIIsNotDeletedAgain(t *testing.T) {
	// VK calls DeletePod without a deletionTimestamp when the object is
	// already gone (force deletion): stop, but do not call the API.
	n := newTestNode(t, demoImages("/nonexistent"))
	pod := n.create(demoPod("gone", "shell", func(p *corev1.Pod) {
		p.Spec.Containers[0].Command = []string{"sleep", "300"}
		p.Spec.Containers[0].ReadinessProbe = nil
	}))
	n.waitStatus(pod, 5*time.Second, "running", func(st *corev1.PodStatus) bool { return st.Phase == corev1.PodRunning })
	got, err := n.prov.GetPod(t.Context(), "default", "gone")
	require.NoError(t, err)
	require.NoError(t, n.prov.DeletePod(t.Context(), got))
	require.Eventually(t, func() bool {
		pods, _ := n.prov.GetPods(t.Context())
		return len(pods) == 0
	}, 5*time.Second, 20*time.Millisecond)
	for _, a := range n.client.Actions() {
		assert.NotEqual(t, "delete", a.GetVerb(), "no API deletion for a pod the API no longer has")
	}
}

func TestUpdatePodImageRestartsContainer(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("upd", "blastradius/demoapp:blue", func(p *corev1.Pod) {
		grace := int64(1)
		p.Spec.TerminationGracePeriodSeconds = &grace
	}))
	n.waitStatus(pod, 15*time.Second, "ready", isReady)
	newer := pod.DeepCopy()
	newer.Labels = map[string]string{"role": "canary"}
	newer.Spec.Containers[0].Image = "blastradius/demoapp:green"
	require.NoError(t, n.prov.UpdatePod(t.Context(), newer))
	st := n.waitStatus(pod, 15*time.Second, "restarted with the new image", func(st *corev1.PodStatus) bool {
		cs := st.ContainerStatuses[0]
		return cs.RestartCount == 1 && cs.Ready && cs.Image == "blastradius/demoapp:green"
	})
	assert.NotNil(t, st)
	got, err := n.prov.GetPod(t.Context(), "default", "upd")
	require.NoError(t, err)
	assert.Equal(t, "canary", got.Labels["role"], "metadata updates show up")
	n.deleteAndWait(pod, 2, 10*time.Second)
}

// Shutdown stops everything promptly, even an app that ignores SIGTERM.
func TestShutdownStopsEverything(t *testing.T) {
	self, _ := os.Executable()
	images := func(string) (Executable, error) {
		return Executable{Path: self, Args: []string{filepath.Join(testTmp, "helper-ignore-term")}, Env: []string{helperEnv + "=ignore-term"}}, nil
	}
	n := newTestNode(t, images)
	var pods []*corev1.Pod
	for i := range 3 {
		pods = append(pods, n.create(demoPod(fmt.Sprintf("stubborn-%d", i), "x", func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = nil })))
	}
	for _, p := range pods {
		n.waitStatus(p, 5*time.Second, "running", func(st *corev1.PodStatus) bool { return st.Phase == corev1.PodRunning })
	}
	start := time.Now()
	n.prov.shutdown(time.Second)
	assert.Less(t, time.Since(start), 4*time.Second)
	pods2, _ := n.prov.GetPods(context.Background())
	assert.Empty(t, pods2)
}
