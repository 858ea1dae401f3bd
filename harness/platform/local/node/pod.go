package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
)

// This file is the pod state machine: one podRunner per pod, one goroutine
// per container running the kubelet's loop (resolve image, start, probe,
// restart with back-off), and the status computed from it the way the
// kubelet computes it.

// host is what all pods of the node share.
type host struct {
	nodeName   string
	hostIP     string
	dataDir    string // pods/<namespace>_<name>_<uid>/ lives here
	images     ImageResolver
	ips        *IPPool
	spawner    *spawner
	recorder   record.EventRecorder
	log        *slog.Logger
	configMaps corev1listers.ConfigMapLister // nil without a cluster
	secrets    corev1listers.SecretLister

	backoffBase, backoffMax time.Duration
	memoryPoll              time.Duration
	maxLogSize              int64
	startDelay              time.Duration // see Config.StartDelay
	nodeCPU, nodeMemory     resource.Quantity
}

const (
	// The kubelet never gives a container less than this to stop, even when
	// the pod is force-deleted with a grace period of 0.
	minStopGrace        = 2 * time.Second
	defaultStopGrace    = 30 * time.Second
	containerIDScheme   = "blastradius://"
	reasonStatusUnknown = "ContainerStatusUnknown"
)

// podRunner runs one pod.
type podRunner struct {
	h     *host
	key   string // namespace/name
	uid   types.UID
	ip    netip.Addr // allocated address; invalid for host-network pods
	podIP string
	dir   string

	mu        sync.Mutex
	pod       *corev1.Pod // latest object from the API; replaced, never mutated
	startTime metav1.Time
	conds     map[corev1.PodConditionType]corev1.PodCondition
	inits     []*container
	ctrs      []*container
	initDone  bool
	terminal  bool          // no container will run again
	stopBy    time.Time     // SIGKILL deadline; zero until a stop is requested
	stopGen   chan struct{} // closed and replaced whenever stopBy moves

	deleted      chan struct{} // closed once the pod is deleted (or the agent stops)
	deleteOnce   sync.Once
	deleteObject bool // remove the API object once stopped; guarded by mu
	objectGone   bool // the API object no longer exists; guarded by mu

	stopCh   chan struct{} // closed on the first stop request
	dirty    chan struct{} // status changed since the last notification
	done     chan struct{} // every container loop has returned
	notified chan struct{} // the final status has been handed to notify
	notify   func() func(*corev1.Pod)
}

// container is the state of one container across its instances.
type container struct {
	p    *podRunner
	name string
	init bool

	// Guarded by p.mu.
	st       corev1.ContainerStatus
	lastTerm *corev1.ContainerStateTerminated
	insts    []*instance

	restart chan restartRequest // kill the current instance and start over
}

// instance is one start of a container: one process, one log file.
type instance struct {
	logPath string
	proc    *proc    // nil if it could not be started
	env     []string // for exec
	dir     string
	image   string        // the image's program, for exec
	ended   chan struct{} // closed when the process has exited
}

type restartRequest struct {
	reason string // event message
	grace  time.Duration
}

func newPodRunner(h *host, pod *corev1.Pod, ip netip.Addr, notify func() func(*corev1.Pod)) *podRunner {
	p := &podRunner{
		h:         h,
		key:       pod.Namespace + "/" + pod.Name,
		uid:       pod.UID,
		ip:        ip,
		podIP:     h.hostIP,
		dir:       filepath.Join(h.dataDir, "pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)),
		pod:       pod,
		startTime: metav1.Now(),
		conds:     map[corev1.PodConditionType]corev1.PodCondition{},
		stopGen:   make(chan struct{}),
		stopCh:    make(chan struct{}),
		deleted:   make(chan struct{}),
		dirty:     make(chan struct{}, 1),
		done:      make(chan struct{}),
		notified:  make(chan struct{}),
		notify:    notify,
	}
	if ip.IsValid() {
		p.podIP = ip.String()
	}
	if st := pod.Status.StartTime; st != nil {
		p.startTime = *st // adopted after an agent restart: the pod is not new
	}
	waiting := "ContainerCreating"
	if len(pod.Spec.InitContainers) > 0 {
		waiting = "PodInitializing"
	}
	mk := func(c corev1.Container, init bool) *container {
		return &container{
			p: p, name: c.Name, init: init,
			st: corev1.ContainerStatus{
				Name:  c.Name,
				Image: c.Image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting}},
			},
			restart: make(chan restartRequest, 1),
		}
	}
	for _, c := range pod.Spec.InitContainers {
		p.inits = append(p.inits, mk(c, true))
	}
	for _, c := range pod.Spec.Containers {
		p.ctrs = append(p.ctrs, mk(c, false))
	}
	return p
}

func (p *podRunner) start() {
	go p.notifyLoop()
	go p.run()
	p.changed()
}

func (p *podRunner) run() {
	defer func() {
		p.finish()
		if p.ip.IsValid() {
			p.h.ips.Release(p.ip)
		}
		close(p.done)
	}()
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.h.log.Error("pod directory", "pod", p.key, "err", err)
	}
	// Init containers run one at a time, each to success, before the app.
	for _, c := range p.inits {
		if !c.run() {
			return // stopped, or failed for good (restartPolicy Never)
		}
	}
	p.mu.Lock()
	p.initDone = true
	for _, c := range p.ctrs {
		if w := c.st.State.Waiting; w != nil && w.Reason == "PodInitializing" {
			c.st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
	}
	p.mu.Unlock()
	p.changed()
	var wg sync.WaitGroup
	for _, c := range p.ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run()
		}()
	}
	wg.Wait()
}

// finish marks the pod terminal. Containers that never got to run are
// reported as the kubelet does for a terminated pod, so no status is left
// waiting forever (VK only finalizes pods whose containers are not running).
func (p *podRunner) finish() {
	p.mu.Lock()
	p.terminal = true
	for _, c := range p.allContainers() {
		if c.st.State.Waiting == nil {
			continue
		}
		if c.lastTerm != nil {
			c.st.State = corev1.ContainerState{Terminated: c.lastTerm.DeepCopy()}
		} else {
			c.st.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137,
				Reason:   reasonStatusUnknown,
				Message:  "The container could not be located when the pod was terminated",
			}}
		}
		c.st.Ready = false
	}
	p.mu.Unlock()
	p.changed()
}

// stop asks every container to stop: SIGTERM now, SIGKILL after grace. A
// later call may only bring the deadline forward, as a shorter deletion
// grace period does for the kubelet.
func (p *podRunner) stop(grace time.Duration) {
	by := time.Now().Add(grace)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopBy.IsZero() && !by.Before(p.stopBy) {
		return
	}
	first := p.stopBy.IsZero()
	p.stopBy = by
	close(p.stopGen)
	p.stopGen = make(chan struct{})
	if first {
		close(p.stopCh)
	}
}

// markDeleted records that the pod is deleted. objectExists means its API
// object is still there (terminating) and must be removed once stopped;
// otherwise it is gone already and there is nobody to report status to.
func (p *podRunner) markDeleted(objectExists bool) {
	p.mu.Lock()
	if objectExists {
		p.deleteObject = true
	} else if !p.deleteObject {
		p.objectGone = true
	}
	p.mu.Unlock()
	p.deleteOnce.Do(func() { close(p.deleted) })
}

func (p *podRunner) mustDeleteObject() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleteObject
}

func (p *podRunner) stopping() bool {
	select {
	case <-p.stopCh:
		return true
	default:
		return false
	}
}

// stopDeadline returns the SIGKILL deadline (zero if none) and a channel
// closed when it moves.
func (p *podRunner) stopDeadline() (time.Time, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopBy, p.stopGen
}

// update takes a new version of the pod from the API. A changed image
// restarts its container, as the kubelet does; other changes (labels,
// annotations) only show in the next status.
func (p *podRunner) update(pod *corev1.Pod) {
	p.mu.Lock()
	old := p.pod
	if olderThan(pod, old) {
		// Updates come from VK's workers and from the gate watch; a late
		// one must not bring back an older object.
		p.mu.Unlock()
		return
	}
	p.pod = pod
	for _, c := range p.allContainers() {
		o, n := findContainer(old, c.name), findContainer(pod, c.name)
		if o != nil && n != nil && o.Image != n.Image {
			c.st.Image = n.Image
			c.requestRestart(restartRequest{
				reason: fmt.Sprintf("Container %s definition changed, will be restarted", c.name),
				grace:  podGrace(pod),
			})
		}
	}
	p.mu.Unlock()
	p.changed()
}

// olderThan compares resource versions, which the API server makes from
// etcd revisions; anything that does not parse is taken as new.
func olderThan(a, b *corev1.Pod) bool {
	ra, errA := strconv.ParseUint(a.ResourceVersion, 10, 64)
	rb, errB := strconv.ParseUint(b.ResourceVersion, 10, 64)
	return errA == nil && errB == nil && ra < rb
}

func (p *podRunner) changed() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// notifyLoop hands status changes to the provider's callback, coalescing
// bursts; the callback may block (VK waits for its informer), so it runs
// here and never under a lock.
func (p *podRunner) notifyLoop() {
	defer close(p.notified)
	for {
		select {
		case <-p.dirty:
			p.emit()
		case <-p.done:
			p.emit()
			return
		}
	}
}

func (p *podRunner) emit() {
	p.mu.Lock()
	gone := p.objectGone
	p.mu.Unlock()
	if cb := p.notify(); cb != nil && !gone {
		cb(p.snapshot())
	}
}

// snapshot returns the pod with its current status.
func (p *podRunner) snapshot() *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod := p.pod.DeepCopy()
	pod.Status = p.statusLocked()
	return pod
}

func (p *podRunner) status() corev1.PodStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statusLocked()
}

func (p *podRunner) event(c *container, typ, reason, format string, args ...any) {
	p.mu.Lock()
	pod := p.pod
	p.mu.Unlock()
	ref := &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1",
		Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
	}
	if c != nil {
		field := "spec.containers"
		if c.init {
			field = "spec.initContainers"
		}
		ref.FieldPath = fmt.Sprintf("%s{%s}", field, c.name)
	}
	p.h.recorder.Eventf(ref, typ, reason, format, args...)
}

// allContainers lists init containers, then app containers.
func (p *podRunner) allContainers() []*container {
	return append(append([]*container{}, p.inits...), p.ctrs...)
}

// podGrace is the pod's termination grace period.
func podGrace(pod *corev1.Pod) time.Duration {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return defaultStopGrace
}

// deletionGrace is how long the pod gets to stop when deleted: the deletion's
// grace period if set, else the pod's, never below the kubelet's minimum.
func deletionGrace(pod *corev1.Pod) time.Duration {
	g := podGrace(pod)
	if d := pod.DeletionGracePeriodSeconds; d != nil {
		g = time.Duration(*d) * time.Second
	}
	return max(g, minStopGrace)
}

// --- containers ---

func (c *container) spec() (*corev1.Pod, *corev1.Container) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	pod := c.p.pod
	return pod, findContainer(pod, c.name)
}

func (c *container) set(f func(st *corev1.ContainerStatus)) {
	c.p.mu.Lock()
	f(&c.st)
	c.p.mu.Unlock()
	c.p.changed()
}

func (c *container) requestRestart(r restartRequest) {
	select {
	case c.restart <- r:
	default: // one pending request is enough
	}
}

// wait sleeps for d; it returns false if the pod is stopping. A restart
// request (e.g. a new image) cuts the wait short.
func (c *container) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.p.stopCh:
		return false
	case <-t.C:
	case <-c.restart:
	}
	return !c.p.stopping()
}

// run is the kubelet's container loop. It returns when the container will
// not run again, reporting whether its last run succeeded.
func (c *container) run() bool {
	h := c.p.h
	restarts := newBackoff(h.backoffBase, h.backoffMax)
	pulls := newBackoff(h.backoffBase, h.backoffMax)
	if h.startDelay > 0 && !c.wait(h.startDelay) {
		return false
	}
	for {
		if c.p.stopping() {
			return false
		}
		pod, spec := c.spec()
		exe, err := h.images(spec.Image)
		if err != nil {
			if !c.pullFailed(spec.Image, err, pulls.pull()) {
				return false
			}
			continue
		}
		pulls.reset()

		inst, err := c.startInstance(pod, spec, exe)
		var cfgErr *envConfigError
		if errors.As(err, &cfgErr) {
			c.set(func(st *corev1.ContainerStatus) {
				st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: cfgErr.Error()}}
			})
			c.p.event(c, corev1.EventTypeWarning, "Failed", "Error: %s", cfgErr.Error())
			if !c.wait(max(h.backoffBase, time.Second)) {
				return false
			}
			continue
		}

		var term *corev1.ContainerStateTerminated
		if err != nil {
			// The runtime's answer to an exec failure: terminated with 128.
			now := metav1.Now()
			term = &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: now, FinishedAt: now}
			c.p.event(c, corev1.EventTypeWarning, "Failed", "Error: %s", err.Error())
		} else {
			term = c.supervise(inst, pod, spec)
		}
		c.p.mu.Lock()
		c.st.State = corev1.ContainerState{Terminated: term}
		c.st.Ready = false
		started := false
		c.st.Started = &started
		c.lastTerm = term
		policy := c.p.pod.Spec.RestartPolicy
		c.p.mu.Unlock()
		c.p.changed()

		if c.p.stopping() {
			return term.ExitCode == 0
		}
		if !shouldRestart(policy, term.ExitCode, c.init) {
			return term.ExitCode == 0
		}
		ran := term.FinishedAt.Sub(term.StartedAt.Time)
		if delay := restarts.next(ran); delay > 0 {
			c.set(func(st *corev1.ContainerStatus) {
				st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
					Reason:  "CrashLoopBackOff",
					Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.name, pod.Name, pod.Namespace, pod.UID),
				}}
				st.LastTerminationState = corev1.ContainerState{Terminated: term.DeepCopy()}
			})
			c.p.event(c, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.name, pod.Name, pod.Namespace, pod.UID)
			if !c.wait(delay) {
				return term.ExitCode == 0
			}
		}
	}
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int32, init bool) bool {
	switch {
	case policy == corev1.RestartPolicyNever:
		return false
	case init || policy == corev1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// pullFailed reports an image the resolver refused the way the kubelet
// reports a failed pull: ErrImagePull, then ImagePullBackOff until the retry.
func (c *container) pullFailed(image string, err error, retryIn time.Duration) bool {
	msg := err.Error()
	c.set(func(st *corev1.ContainerStatus) {
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: msg}}
	})
	c.p.event(c, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %s", image, msg)
	c.p.event(c, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
	first := min(retryIn/2, time.Second)
	if !c.wait(first) {
		return false
	}
	c.set(func(st *corev1.ContainerStatus) {
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "ImagePullBackOff",
			Message: fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", image, msg),
		}}
	})
	c.p.event(c, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", image)
	c.p.event(c, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
	return c.wait(retryIn - first)
}

// startInstance starts the next instance of the container. An
// *envConfigError means nothing was started and the spec must be retried;
// any other error is a start failure that counts as a (failed) instance.
func (c *container) startInstance(pod *corev1.Pod, spec *corev1.Container, exe Executable) (*instance, error) {
	h := c.p.h
	env, vars, err := containerEnv(envInput{
		Pod: pod, Container: spec, PodIP: c.p.podIP, HostIP: h.hostIP, ImageEnv: exe.Env,
		ConfigMaps: h.configMaps, Secrets: h.secrets, NodeCPU: h.nodeCPU, NodeMemory: h.nodeMemory,
	})
	if err != nil {
		var cfgErr *envConfigError
		if !errors.As(err, &cfgErr) {
			err = &envConfigError{msg: err.Error()}
		}
		return nil, err
	}
	c.p.event(c, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", spec.Image)

	c.p.mu.Lock()
	n := len(c.insts)
	c.p.mu.Unlock()
	dir := exe.Dir
	if dir == "" {
		dir = c.p.dir
	}
	inst := &instance{
		logPath: filepath.Join(c.p.dir, c.name, fmt.Sprintf("%d.log", n)),
		env:     env,
		dir:     dir,
		image:   exe.Path,
		ended:   make(chan struct{}),
	}
	var p *proc
	prog, argv, err := commandLine(exe, spec, vars, pathOf(env))
	if err == nil {
		var limit int64
		if q, ok := spec.Resources.Limits[corev1.ResourceMemory]; ok {
			limit = q.Value()
		}
		p, err = h.spawner.start(procSpec{
			Path: prog, Argv: argv, Env: env, Dir: dir,
			LogPath: inst.logPath, MaxLogSize: h.maxLogSize,
			MemoryLimit: limit, MemoryPoll: h.memoryPoll,
		})
	}
	if err != nil {
		// Still an instance: `kubectl logs` of it is empty, not an error.
		_ = os.MkdirAll(filepath.Dir(inst.logPath), 0o755)
		if f, ferr := os.OpenFile(inst.logPath, os.O_CREATE|os.O_WRONLY, 0o644); ferr == nil {
			f.Close()
		}
		close(inst.ended)
	} else {
		inst.proc = p
		go func() {
			<-p.done
			close(inst.ended)
		}()
	}
	imageID := exe.ImageID
	if imageID == "" {
		imageID = deriveImageID(spec.Image, exe)
	}
	c.p.event(c, corev1.EventTypeNormal, "Created", "Created container: %s", c.name)

	c.p.mu.Lock()
	c.insts = append(c.insts, inst)
	c.st.RestartCount = int32(len(c.insts) - 1)
	c.st.Image = spec.Image
	c.st.ImageID = imageID
	if c.lastTerm != nil {
		c.st.LastTerminationState = corev1.ContainerState{Terminated: c.lastTerm.DeepCopy()}
	}
	if p != nil {
		c.st.ContainerID = fmt.Sprintf("%s%d", containerIDScheme, p.pid)
		c.st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(p.started)}}
	} else {
		c.st.ContainerID = ""
	}
	c.p.mu.Unlock()
	c.p.changed()
	if err != nil {
		return inst, err
	}
	c.p.event(c, corev1.EventTypeNormal, "Started", "Started container %s", c.name)
	h.log.Debug("container started", "pod", c.p.key, "container", c.name, "pid", p.pid, "ip", c.p.podIP)
	return inst, nil
}

// deriveImageID makes a stable digest reference for an image whose resolver
// gave no ID: the same executable, args and env give the same ID.
func deriveImageID(image string, exe Executable) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		return image
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00%q", exe.Path, exe.Args, exe.Env)
	repo := image
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		repo = image[:i]
	}
	return repo + "@sha256:" + hex.EncodeToString(h.Sum(nil))
}

// supervise watches a running instance: probes, memory, restart requests and
// the pod's stop. It returns how the instance ended.
func (c *container) supervise(inst *instance, pod *corev1.Pod, spec *corev1.Container) *corev1.ContainerStateTerminated {
	p := inst.proc
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	c.postStart(ctx, &wg, inst, spec, func() { c.startProbes(ctx, &wg, inst, spec) })

	var killedFor string
	select {
	case <-p.done:
	case r := <-c.restart:
		c.p.event(c, corev1.EventTypeNormal, "Killing", "%s", r.reason)
		killedFor = r.reason
		c.kill(inst, spec, time.Now().Add(r.grace))
	case <-c.p.stopCh:
		c.p.event(c, corev1.EventTypeNormal, "Killing", "Stopping container %s", c.name)
		c.kill(inst, spec, time.Time{})
	}
	cancel()
	wg.Wait()
	// A request raised while this instance was ending must not kill the next one.
	select {
	case <-c.restart:
	default:
	}

	ex := p.status()
	term := &corev1.ContainerStateTerminated{
		ExitCode:    int32(ex.Code),
		Signal:      int32(ex.Signal),
		StartedAt:   metav1.NewTime(ex.StartedAt),
		FinishedAt:  metav1.NewTime(ex.EndedAt),
		ContainerID: fmt.Sprintf("%s%d", containerIDScheme, p.pid),
	}
	switch {
	case ex.OOMKilled:
		term.Reason = "OOMKilled"
	case ex.Code == 0:
		term.Reason = "Completed"
	default:
		term.Reason = "Error"
	}
	// Why we killed it, where `kubectl describe` shows it next to the exit.
	term.Message = killedFor
	c.p.h.log.Debug("container exited", "pod", c.p.key, "container", c.name, "pid", p.pid, "code", ex.Code, "reason", term.Reason)
	return term
}

// startProbes starts the container's probers. Without a startup probe the
// container counts as started at once; without a readiness probe it is ready
// once started, as with the kubelet.
func (c *container) startProbes(ctx context.Context, wg *sync.WaitGroup, inst *instance, spec *corev1.Container) {
	target := c.probeTarget(inst, spec)
	check := func(pr *corev1.Probe) func(context.Context) (bool, string) {
		return func(ctx context.Context) (bool, string) { return checkProbe(ctx, pr, target) }
	}
	unhealthy := func(kind string) func(string) {
		return func(msg string) {
			c.p.event(c, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, msg)
		}
	}
	killFor := func(kind string, pr *corev1.Probe) func(bool, string) {
		return func(ok bool, _ string) {
			if ok {
				return
			}
			grace := podGrace(c.p.podNow())
			if pr.TerminationGracePeriodSeconds != nil {
				grace = time.Duration(*pr.TerminationGracePeriodSeconds) * time.Second
			}
			c.requestRestart(restartRequest{
				reason: fmt.Sprintf("Container %s failed %s probe, will be restarted", c.name, kind),
				grace:  grace,
			})
		}
	}
	goLoop := func(ctx context.Context, l probeLoop) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(ctx)
		}()
	}
	afterStart := func() {
		c.setInstance(inst, func(st *corev1.ContainerStatus) {
			t := true
			st.Started = &t
			st.Ready = spec.ReadinessProbe == nil
		})
		if pr := spec.LivenessProbe; pr != nil {
			goLoop(ctx, probeLoop{spec: pr, check: check(pr), onFailure: unhealthy("Liveness"), onResult: killFor("liveness", pr)})
		}
		if pr := spec.ReadinessProbe; pr != nil {
			goLoop(ctx, probeLoop{spec: pr, check: check(pr), onFailure: unhealthy("Readiness"), onResult: func(ok bool, _ string) {
				c.setInstance(inst, func(st *corev1.ContainerStatus) { st.Ready = ok })
			}})
		}
	}
	pr := spec.StartupProbe
	if pr == nil {
		afterStart()
		return
	}
	c.setInstance(inst, func(st *corev1.ContainerStatus) {
		f := false
		st.Started = &f
	})
	sctx, scancel := context.WithCancel(ctx)
	goLoop(sctx, probeLoop{spec: pr, check: check(pr), onFailure: unhealthy("Startup"), onResult: func(ok bool, msg string) {
		if !ok {
			killFor("startup", pr)(false, msg)
			return
		}
		scancel() // a startup probe stops once it has succeeded
		afterStart()
	}})
}

// setInstance changes the status only while inst is the running instance, so
// a late probe result cannot mark a dead container ready.
func (c *container) setInstance(inst *instance, f func(st *corev1.ContainerStatus)) {
	c.p.mu.Lock()
	current := len(c.insts) > 0 && c.insts[len(c.insts)-1] == inst && c.st.State.Running != nil
	if current {
		f(&c.st)
	}
	c.p.mu.Unlock()
	if current {
		c.p.changed()
	}
}

func (p *podRunner) podNow() *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pod
}

// kill stops an instance: the preStop hook, SIGTERM to the process group, SIGKILL at the deadline. The
// deadline is the earlier of killBy (zero: none) and the pod's stop deadline,
// re-evaluated whenever the latter moves.
func (c *container) kill(inst *instance, spec *corev1.Container, killBy time.Time) {
	p := inst.proc
	effective := func() (time.Time, <-chan struct{}) {
		stopBy, moved := c.p.stopDeadline()
		d := killBy
		if !stopBy.IsZero() && (d.IsZero() || stopBy.Before(d)) {
			d = stopBy
		}
		return d, moved
	}
	if spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil {
		d, _ := effective()
		c.preStop(inst, spec, d)
	}
	p.signal(syscall.SIGTERM)
	for {
		d, moved := effective()
		t := time.NewTimer(time.Until(d))
		select {
		case <-p.done:
			t.Stop()
			return
		case <-t.C:
			p.signal(syscall.SIGKILL)
			<-p.done
			return
		case <-moved:
			t.Stop()
		}
	}
}

// --- status ---

// statusLocked computes the pod status the kubelet would report.
func (p *podRunner) statusLocked() corev1.PodStatus {
	pod := p.pod
	st := corev1.PodStatus{
		HostIP:             p.h.hostIP,
		HostIPs:            []corev1.HostIP{{IP: p.h.hostIP}},
		PodIP:              p.podIP,
		PodIPs:             []corev1.PodIP{{IP: p.podIP}},
		StartTime:          p.startTime.DeepCopy(),
		QOSClass:           pod.Status.QOSClass,
		NominatedNodeName:  pod.Status.NominatedNodeName,
		ObservedGeneration: pod.Generation,
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	for _, c := range p.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, c.statusLocked())
	}
	for _, c := range p.ctrs {
		st.ContainerStatuses = append(st.ContainerStatuses, c.statusLocked())
	}
	st.Phase = podPhase(pod.Spec.RestartPolicy, st.InitContainerStatuses, st.ContainerStatuses, p.terminal)

	var unready, uninitialized []string
	for _, c := range p.inits {
		if t := c.st.State.Terminated; t == nil || t.ExitCode != 0 {
			uninitialized = append(uninitialized, c.name)
		}
	}
	for _, c := range p.ctrs {
		if !c.st.Ready {
			unready = append(unready, c.name)
		}
	}
	completed := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed

	p.setCond(&st, corev1.PodReadyToStartContainers, !completed, "", "")
	if p.initDone || len(uninitialized) == 0 {
		p.setCond(&st, corev1.PodInitialized, true, "", "")
	} else {
		p.setCond(&st, corev1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(uninitialized, " ")))
	}
	containersReady := len(unready) == 0 && p.initDone
	reason, msg := "", ""
	switch {
	case completed:
		reason = "PodCompleted"
	case !containersReady:
		reason, msg = "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	p.setCond(&st, corev1.ContainersReady, containersReady, reason, msg)
	ready, gateReason, gateMsg := containersReady, reason, msg
	if containersReady {
		if missing := unmetReadinessGates(pod); len(missing) > 0 {
			ready, gateReason = false, "ReadinessGatesNotReady"
			gateMsg = fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", missing[0])
		}
	}
	p.setCond(&st, corev1.PodReady, ready, gateReason, gateMsg)

	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: p.startTime}
	owned := map[corev1.PodConditionType]bool{
		corev1.PodReadyToStartContainers: true, corev1.PodInitialized: true,
		corev1.ContainersReady: true, corev1.PodReady: true, corev1.PodScheduled: true,
	}
	for _, c := range pod.Status.Conditions {
		switch {
		case c.Type == corev1.PodScheduled:
			scheduled = c
		case !owned[c.Type]:
			// Others' conditions (DisruptionTarget, readiness gates) are kept.
			st.Conditions = append(st.Conditions, c)
		}
	}
	st.Conditions = append(st.Conditions, scheduled)
	return st
}

func (p *podRunner) setCond(st *corev1.PodStatus, typ corev1.PodConditionType, ok bool, reason, msg string) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	c, found := p.conds[typ]
	if !found || c.Status != status {
		c = corev1.PodCondition{Type: typ, Status: status, LastTransitionTime: metav1.Now()}
	}
	c.Reason, c.Message = reason, msg
	c.ObservedGeneration = p.pod.Generation
	p.conds[typ] = c
	st.Conditions = append(st.Conditions, c)
}

func (c *container) statusLocked() corev1.ContainerStatus {
	s := *c.st.DeepCopy()
	if s.Started == nil {
		f := false
		s.Started = &f
	}
	return s
}

func unmetReadinessGates(pod *corev1.Pod) []string {
	var missing []string
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			missing = append(missing, string(g.ConditionType))
		}
	}
	return missing
}

// podPhase follows the kubelet's rules: Pending until every container has
// started; Running while any runs or will be restarted; Succeeded/Failed once
// nothing will run again (terminal), or per the restart policy.
func podPhase(policy corev1.RestartPolicy, inits, ctrs []corev1.ContainerStatus, terminal bool) corev1.PodPhase {
	pendingInit := false
	for _, s := range inits {
		last := s.State.Terminated
		if last == nil && s.State.Waiting != nil {
			last = s.LastTerminationState.Terminated
		}
		switch {
		case s.State.Running != nil || last == nil:
			pendingInit = true
		case last.ExitCode != 0 && policy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		}
	}
	if pendingInit {
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, s := range ctrs {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			stopped++
			if s.LastTerminationState.Terminated.ExitCode == 0 {
				succeeded++
			}
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		if terminal || policy == corev1.RestartPolicyNever {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if policy == corev1.RestartPolicyOnFailure && stopped == succeeded {
			return corev1.PodSucceeded
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// qosClass is the apiserver's QoS classification, for pods whose status
// lacks it (it is immutable once set, so the API's value always wins).
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	hasAny, guaranteed := false, true
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				hasAny = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !hasAny:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
