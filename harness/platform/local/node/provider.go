package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	utilexec "k8s.io/utils/exec"
)

// provider is the virtual-kubelet glue: it implements nodeutil.Provider and
// node.PodNotifier on top of podRunners.
//
// Deletion works as with a real kubelet. VK calls DeletePod when a pod gets a
// deletionTimestamp; DeletePod only starts the stop (SIGTERM, SIGKILL after
// the grace period) and returns, so VK's few workers are never blocked for a
// grace period. When every process has exited, the terminal status is pushed
// through NotifyPods, and then the provider itself deletes the pod object
// with grace period 0 and a UID precondition, as the kubelet's status manager
// does. VK alone would only force-delete after the full grace period (its
// status updates do not re-trigger its deletion check), which would keep
// every deleted pod around for 30 s.
type provider struct {
	h      *host
	client kubernetes.Interface    // nil: pods are never deleted from the API (tests)
	pods   corev1listers.PodLister // nil: do not wait for the final status to land

	ctx context.Context // lives as long as the agent; bounds API calls

	mu       sync.Mutex
	active   map[string]*podRunner    // namespace/name -> pod not being deleted
	all      map[types.UID]*podRunner // every pod with a runner, deleting or not
	notifyCb func(*corev1.Pod)
	closing  bool
	wg       sync.WaitGroup // finalizers
}

func newProvider(ctx context.Context, h *host, client kubernetes.Interface, pods corev1listers.PodLister) *provider {
	return &provider{
		h: h, client: client, pods: pods, ctx: ctx,
		active: map[string]*podRunner{},
		all:    map[types.UID]*podRunner{},
	}
}

func podKey(namespace, name string) string { return namespace + "/" + name }

// NotifyPods registers VK's status callback.
func (pv *provider) NotifyPods(_ context.Context, cb func(*corev1.Pod)) {
	pv.mu.Lock()
	pv.notifyCb = cb
	pv.mu.Unlock()
}

func (pv *provider) callback() func(*corev1.Pod) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if pv.closing {
		// On shutdown pods stop because the agent does, not because they
		// ended: their terminal status must not reach the API.
		return nil
	}
	return pv.notifyCb
}

// CreatePod starts a pod. It returns at once; progress is reported through NotifyPods.
func (pv *provider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if pv.closing {
		return errdefs.InvalidInput("node agent is shutting down")
	}
	if r := pv.active[key]; r != nil {
		if r.uid == pod.UID {
			r.update(pod)
			return nil
		}
		// A new pod under the name of one we did not see deleted: the old
		// object is gone, so its processes go too.
		delete(pv.active, key)
		r.markDeleted(false)
		r.stop(deletionGrace(r.podNow()))
	}
	if _, known := pv.all[pod.UID]; known {
		return nil // being deleted; never start it again
	}
	var ip netip.Addr
	if !pod.Spec.HostNetwork {
		var err error
		if ip, err = pv.h.ips.Allocate(key); err != nil {
			return err
		}
	}
	r := newPodRunner(pv.h, pod, ip, pv.callback)
	pv.active[key] = r
	pv.all[pod.UID] = r
	pv.wg.Add(1)
	go pv.finalize(r)
	r.start()
	return nil
}

// UpdatePod takes a changed pod spec or metadata (see podRunner.update).
func (pv *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	pv.mu.Lock()
	r := pv.active[podKey(pod.Namespace, pod.Name)]
	pv.mu.Unlock()
	if r == nil || r.uid != pod.UID {
		return errdefs.NotFoundf("pod %s/%s is not running here", pod.Namespace, pod.Name)
	}
	r.update(pod)
	return nil
}

// gatesChanged takes a pod whose readiness-gate conditions another
// controller set through the status subresource. VK passes only spec and
// metadata changes to UpdatePod, so without this a gate would be seen only
// at the pod's next unrelated update.
func (pv *provider) gatesChanged(old, pod *corev1.Pod) {
	if !gateConditionsDiffer(old, pod) {
		return
	}
	pv.mu.Lock()
	r := pv.active[podKey(pod.Namespace, pod.Name)]
	pv.mu.Unlock()
	if r != nil && r.uid == pod.UID {
		r.update(pod)
	}
}

// gateConditionsDiffer reports whether a condition named by one of the
// pod's readiness gates differs between the two versions.
func gateConditionsDiffer(old, pod *corev1.Pod) bool {
	status := func(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
		for _, c := range p.Status.Conditions {
			if c.Type == t {
				return c.Status
			}
		}
		return ""
	}
	for _, g := range pod.Spec.ReadinessGates {
		if status(old, g.ConditionType) != status(pod, g.ConditionType) {
			return true
		}
	}
	return false
}

// DeletePod starts stopping the pod and returns; see the type's comment. It
// may be called again with a shorter grace period.
func (pv *provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	pv.mu.Lock()
	r := pv.all[pod.UID]
	if r == nil && pod.UID == "" {
		r = pv.active[key]
	}
	if r != nil && pv.active[key] == r {
		delete(pv.active, key)
	}
	pv.mu.Unlock()
	if r == nil {
		// Nothing runs for it (e.g. the agent restarted, or it already ended):
		// a terminating pod can go from the API right away.
		if pod.DeletionTimestamp != nil {
			pv.deleteFromAPI(pod.Namespace, pod.Name, pod.UID)
		}
		return nil
	}
	r.markDeleted(pod.DeletionTimestamp != nil)
	r.stop(deletionGrace(pod))
	return nil
}

// finalize waits until the pod has stopped for good and has been deleted,
// then removes it from the API (if it is still there) and forgets it.
func (pv *provider) finalize(r *podRunner) {
	defer pv.wg.Done()
	<-r.notified
	<-r.deleted
	if r.mustDeleteObject() && !pv.isClosing() {
		pv.awaitFinalStatus(r)
		ns, name := splitKey(r.key)
		pv.deleteFromAPI(ns, name, r.uid)
	}
	pv.mu.Lock()
	delete(pv.all, r.uid)
	if pv.active[r.key] == r {
		delete(pv.active, r.key)
	}
	pv.mu.Unlock()
}

func (pv *provider) isClosing() bool {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	return pv.closing
}

// awaitFinalStatus waits (briefly) until the API shows that no container
// runs, so watchers see how the pod ended before it disappears.
func (pv *provider) awaitFinalStatus(r *podRunner) {
	if pv.pods == nil {
		return
	}
	ns, name := splitKey(r.key)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		pod, err := pv.pods.Pods(ns).Get(name)
		if err != nil || pod.UID != r.uid || !anyContainerRunning(pod.Status) {
			return
		}
		select {
		case <-pv.ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func anyContainerRunning(st corev1.PodStatus) bool {
	for _, s := range st.ContainerStatuses {
		if s.State.Running != nil {
			return true
		}
	}
	return false
}

func splitKey(key string) (string, string) {
	ns, name, _ := strings.Cut(key, "/")
	return ns, name
}

func (pv *provider) deleteFromAPI(ns, name string, uid types.UID) {
	if pv.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(pv.ctx, 10*time.Second)
	defer cancel()
	zero := int64(0)
	opts := metav1.DeleteOptions{GracePeriodSeconds: &zero}
	if uid != "" {
		// Never delete a successor that reuses the name (StatefulSets do).
		opts.Preconditions = metav1.NewUIDPreconditions(string(uid))
	}
	err := pv.client.CoreV1().Pods(ns).Delete(ctx, name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
		pv.h.log.Warn("deleting terminated pod", "pod", podKey(ns, name), "err", err)
	}
}

// GetPod returns a pod that runs here and is not being deleted.
func (pv *provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	pv.mu.Lock()
	r := pv.active[podKey(namespace, name)]
	pv.mu.Unlock()
	if r == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not known to the provider", namespace, name)
	}
	return r.snapshot(), nil
}

func (pv *provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := pv.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod with processes here, deleting ones included.
func (pv *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	pv.mu.Lock()
	runners := make([]*podRunner, 0, len(pv.all))
	for _, r := range pv.all {
		runners = append(runners, r)
	}
	pv.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(runners))
	for _, r := range runners {
		out = append(out, r.snapshot())
	}
	return out, nil
}

// lookup finds the pod for the kubelet API: the live one, else one still stopping.
func (pv *provider) lookup(namespace, name string) *podRunner {
	key := podKey(namespace, name)
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if r := pv.active[key]; r != nil {
		return r
	}
	var newest *podRunner
	for _, r := range pv.all {
		if r.key == key && (newest == nil || r.startTime.After(newest.startTime.Time)) {
			newest = r
		}
	}
	return newest
}

// GetContainerLogs serves `kubectl logs`.
func (pv *provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	r := pv.lookup(namespace, podName)
	if r == nil {
		return nil, errdefs.NotFoundf("pod %s/%s not found", namespace, podName)
	}
	path, ended, err := r.logTarget(containerName, opts.Previous)
	if err != nil {
		return nil, err
	}
	return openLogStream(ctx, path, resolveLogOptions(opts, time.Now()), ended), nil
}

// logTarget returns the log file of the current (or previous) instance of a
// container and a channel closed when that instance has exited.
func (p *podRunner) logTarget(name string, previous bool) (string, <-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c *container
	for _, x := range p.allContainers() {
		if x.name == name {
			c = x
		}
	}
	if c == nil {
		return "", nil, errdefs.InvalidInputf("container %s is not valid for pod %s", name, p.pod.Name)
	}
	n := len(c.insts)
	if previous {
		if n < 2 {
			return "", nil, errdefs.InvalidInputf("previous terminated container %q in pod %q not found", name, p.pod.Name)
		}
		return c.insts[n-2].logPath, c.insts[n-2].ended, nil
	}
	if n == 0 {
		reason := "ContainerCreating"
		if w := c.st.State.Waiting; w != nil {
			reason = w.Reason
		}
		return "", nil, errdefs.InvalidInputf("container %q in pod %q is waiting to start: %s", name, p.pod.Name, reason)
	}
	return c.insts[n-1].logPath, c.insts[n-1].ended, nil
}

// RunInContainer is `kubectl exec`: the command runs as a local process
// beside the container (see exec.go), without a terminal even if one is
// asked for. A non-zero exit reaches kubectl as the command's exit code.
func (pv *provider) RunInContainer(ctx context.Context, namespace, pod, container string, cmd []string, attach api.AttachIO) error {
	r := pv.lookup(namespace, pod)
	if r == nil {
		return errdefs.NotFoundf("pod %s/%s not found", namespace, pod)
	}
	c, inst := r.running(container)
	if inst == nil {
		return errdefs.InvalidInputf("container %q of pod %s/%s is not running", container, namespace, pod)
	}
	code, err := c.exec(ctx, inst, cmd, attach.Stdin(), attach.Stdout(), attach.Stderr())
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// AttachToContainer: output goes to the log file only.
func (pv *provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errdefs.InvalidInput("attach is not supported: pods on this node are plain local processes")
}

// PortForward connects the stream to the pod's address.
func (pv *provider) PortForward(ctx context.Context, namespace, pod string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	r := pv.lookup(namespace, pod)
	if r == nil {
		return errdefs.NotFoundf("pod %s/%s not found", namespace, pod)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(r.podIP, strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("port-forward to %s port %d: %w", r.key, port, err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// Closing both ends (deferred) ends the other copy.
	return nil
}

// GetStatsSummary reports memory per container (RSS), enough for `kubectl top`-like views.
func (pv *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	now := metav1.Now()
	s := &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: pv.h.nodeName, StartTime: now}}
	pv.mu.Lock()
	runners := make([]*podRunner, 0, len(pv.all))
	for _, r := range pv.all {
		runners = append(runners, r)
	}
	pv.mu.Unlock()
	for _, r := range runners {
		s.Pods = append(s.Pods, r.stats(now))
	}
	return s, nil
}

func (p *podRunner) stats(now metav1.Time) statsv1alpha1.PodStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := statsv1alpha1.PodStats{
		PodRef:    statsv1alpha1.PodReference{Name: p.pod.Name, Namespace: p.pod.Namespace, UID: string(p.uid)},
		StartTime: p.startTime,
	}
	var podMem uint64
	for _, c := range p.ctrs {
		cs := statsv1alpha1.ContainerStats{Name: c.name}
		if n := len(c.insts); n > 0 && c.insts[n-1].proc != nil && c.st.State.Running != nil {
			pr := c.insts[n-1].proc
			cs.StartTime = metav1.NewTime(pr.started)
			if rss, err := treeRSS(pr.pid); err == nil {
				v := uint64(rss)
				podMem += v
				cs.Memory = &statsv1alpha1.MemoryStats{Time: now, RSSBytes: &v, WorkingSetBytes: &v}
			}
		}
		ps.Containers = append(ps.Containers, cs)
	}
	ps.Memory = &statsv1alpha1.MemoryStats{Time: now, RSSBytes: &podMem, WorkingSetBytes: &podMem}
	return ps
}

// GetMetricsResource: no resource metrics are exported.
func (pv *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return []*dto.MetricFamily{}, nil
}

// shutdown stops every pod, SIGKILLing after at most grace, and waits until
// every process has exited. Nothing is reported to the API meanwhile.
func (pv *provider) shutdown(grace time.Duration) {
	pv.mu.Lock()
	pv.closing = true
	runners := make([]*podRunner, 0, len(pv.all))
	for _, r := range pv.all {
		runners = append(runners, r)
	}
	pv.mu.Unlock()
	for _, r := range runners {
		r.stop(min(grace, deletionGrace(r.podNow())))
	}
	for _, r := range runners {
		<-r.done
		<-r.notified
		r.markDeleted(false)
	}
	pv.wg.Wait()
}
