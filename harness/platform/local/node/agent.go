// Package node is the node agent of the local platform: a kubelet built on
// virtual-kubelet that registers one Ready node and runs every pod bound to
// it as local processes, each pod on its own loopback address.
//
// Layers, bottom up: process.go starts, signals and reaps one container
// instance (own process group, Pdeathsig, pid files, RSS limit) and logs.go
// keeps its output in CRI log format; exec.go runs a command beside a
// container and hooks.go uses it for exec probes, lifecycle hooks and
// `kubectl exec`; probe.go checks probes; pod.go is the kubelet's pod and
// container state machine and status; provider.go is the virtual-kubelet
// glue; this file wires the agent together.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Executable is what an image runs on this node: a local program.
type Executable struct {
	Path string   // the entrypoint, an absolute path
	Args []string // the image's default arguments (its CMD)
	Env  []string // the image config's environment, KEY=VALUE
	Dir  string   // working directory; default: the pod's directory under DataDir
	// ImageID is reported as status.containerStatuses[].imageID; default: a
	// digest reference derived from the image and the executable.
	ImageID string
}

// ImageResolver maps an image reference to what to run. An error is reported
// on the pod as a failed pull (ErrImagePull, then ImagePullBackOff).
type ImageResolver func(image string) (Executable, error)

// Config configures the agent. Zero values get the defaults documented on
// each field.
type Config struct {
	NodeName string               // default "blastradius-local"
	Client   kubernetes.Interface // required
	// ListenAddr is the kubelet API address (logs, port-forward), on
	// 127.0.0.1 since that is the node's address; default "127.0.0.1:10250".
	// Port 0 picks a free port, registered as the node's kubelet port.
	ListenAddr string
	// TLSCertPEM and TLSKeyPEM are the kubelet API serving certificate;
	// default: a self-signed one for 127.0.0.1.
	TLSCertPEM, TLSKeyPEM []byte
	DataDir               string        // pod logs and pid files; required
	Images                ImageResolver // required

	// The pod address range, inclusive; default 127.1.0.1 - 127.1.255.254.
	PodIPFirst, PodIPLast netip.Addr

	// CrashLoopBackOff and image pull back-off: default 10s doubling to 5m,
	// as the kubelet.
	BackoffBase, BackoffMax time.Duration

	KubeletVersion string            // default "v1.34.5-blastradius"
	NodeLabels     map[string]string // extra node labels

	// ShutdownGrace bounds how long pods get to stop when ctx ends: SIGTERM,
	// then SIGKILL after min(this, the pod's grace period). Default 5s.
	ShutdownGrace time.Duration
	// MemoryPollInterval is how often RSS is checked against memory limits; default 250ms.
	MemoryPollInterval time.Duration
	// MaxLogSize rotates a container log beyond this size; default 10 MiB.
	MaxLogSize int64
	// StartDelay holds each container's first start that long, in
	// ContainerCreating, standing in for the sandbox and image set-up a
	// kubelet does before a container runs (seconds with a container
	// runtime; here a process starts in milliseconds). Restarts are not
	// delayed, as the kubelet's are not. Default 0.
	StartDelay time.Duration

	Logger *slog.Logger // default: discard
}

// Defaults.
const (
	DefaultNodeName       = "blastradius-local"
	DefaultListenAddr     = "127.0.0.1:10250"
	DefaultKubeletVersion = "v1.34.5-blastradius"
	nodeHostIP            = "127.0.0.1"
)

func (c *Config) setDefaults() error {
	if c.NodeName == "" {
		c.NodeName = DefaultNodeName
	}
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if !c.PodIPFirst.IsValid() {
		c.PodIPFirst = DefaultPodIPFirst
	}
	if !c.PodIPLast.IsValid() {
		c.PodIPLast = DefaultPodIPLast
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 10 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.KubeletVersion == "" {
		c.KubeletVersion = DefaultKubeletVersion
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 5 * time.Second
	}
	if c.MemoryPollInterval <= 0 {
		c.MemoryPollInterval = 250 * time.Millisecond
	}
	if c.MaxLogSize <= 0 {
		c.MaxLogSize = defaultLogSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Client == nil:
		return errors.New("node: Config.Client is required")
	case c.DataDir == "":
		return errors.New("node: Config.DataDir is required")
	case c.Images == nil:
		return errors.New("node: Config.Images is required")
	case (len(c.TLSCertPEM) == 0) != (len(c.TLSKeyPEM) == 0):
		return errors.New("node: set both TLSCertPEM and TLSKeyPEM, or neither")
	}
	if _, err := NewIPPool(c.PodIPFirst, c.PodIPLast); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return fmt.Errorf("node: ListenAddr: %w", err)
	}
	return nil
}

// Agent is a running node. Create it with New, then call Run once.
type Agent struct {
	cfg   Config
	ready chan struct{}
	ran   atomic.Bool

	mu   sync.Mutex
	addr string
}

// New validates cfg and returns an agent ready to Run.
func New(cfg Config) (*Agent, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, ready: make(chan struct{})}, nil
}

// Run is New followed by Agent.Run.
func Run(ctx context.Context, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// Ready is closed once the node is registered, Ready, and taking pods.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Addr is the kubelet API's address; set once Run has started listening.
func (a *Agent) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// Run registers the node and runs its pods until ctx ends. It then stops
// every pod (SIGTERM, SIGKILL after ShutdownGrace) and returns once all of
// their processes have exited. Pod objects stay in the API, as when a kubelet
// stops; a later Run adopts them again.
func (a *Agent) Run(ctx context.Context) (err error) {
	if !a.ran.CompareAndSwap(false, true) {
		return errors.New("node: Agent.Run called twice")
	}
	cfg := a.cfg
	logger := cfg.Logger.With("node", cfg.NodeName)

	pidDir, err := prepareDataDir(cfg.DataDir, logger)
	if err != nil {
		return err
	}
	ips, err := NewIPPool(cfg.PodIPFirst, cfg.PodIPLast)
	if err != nil {
		return err
	}
	sp := newSpawner(pidDir)
	defer sp.close()

	ln, err := a.listen(cfg)
	if err != nil {
		return err
	}
	defer ln.Close()

	eb, recorder := newEventRecorder(cfg)
	defer eb.Shutdown()

	spec, err := nodeObject(cfg, ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		return err
	}
	h := newHost(cfg, spec, ips, sp, recorder, logger)

	vkctx, vkcancel := context.WithCancel(vklog.WithLogger(ctx, vkLogger{logger}))
	defer vkcancel()
	vk, prov, podLister, err := newVirtualKubelet(vkctx, cfg, spec, h, recorder, ln.Addr().String())
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}

	srv := kubeletServer(prov, podLister, logger)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	go func() { _ = vk.Run(vkctx) }()
	err = a.awaitStop(ctx, vk, logger, ln.Addr().String())

	// VK stops first, so that pods stopping because the agent stops are not
	// reported (and deleted) as pods that ended.
	vkcancel()
	<-vk.Done()
	prov.shutdown(cfg.ShutdownGrace)
	logger.Info("node stopped")
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	return nil
}

// prepareDataDir creates the agent's directories, kills what a previous
// agent left running, and returns the pid file directory.
func prepareDataDir(dataDir string, logger *slog.Logger) (string, error) {
	pidDir := filepath.Join(dataDir, "pids")
	for _, d := range []string{pidDir, filepath.Join(dataDir, "pods")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	// A previous agent that was killed leaves its pods' processes behind only
	// if it died before Pdeathsig could act; they hold the pod addresses.
	if killed := killLeftovers(pidDir, 5*time.Second); len(killed) > 0 {
		logger.Info("killed processes left by a previous run", "pids", killed)
	}
	return pidDir, nil
}

// listen opens the kubelet API's TLS listener and records its address for Addr.
func (a *Agent) listen(cfg Config) (net.Listener, error) {
	tlsCfg, err := serverTLS(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", cfg.ListenAddr, tlsCfg)
	if err != nil {
		return nil, fmt.Errorf("node: kubelet API: %w", err)
	}
	a.mu.Lock()
	a.addr = ln.Addr().String()
	a.mu.Unlock()
	return ln, nil
}

// newEventRecorder posts events to the API as the node's kubelet; the
// caller shuts the broadcaster down.
func newEventRecorder(cfg Config) (record.EventBroadcaster, record.EventRecorder) {
	eb := record.NewBroadcaster()
	eb.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Client.CoreV1().Events(corev1.NamespaceAll)})
	return eb, eb.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.NodeName})
}

// newHost is what the node's pods share. The node's capacity is what the
// downward API reports for a container without a limit.
func newHost(cfg Config, spec corev1.Node, ips *IPPool, sp *spawner, recorder record.EventRecorder, logger *slog.Logger) *host {
	return &host{
		nodeName: cfg.NodeName, hostIP: nodeHostIP, dataDir: cfg.DataDir,
		images: cfg.Images, ips: ips, spawner: sp, recorder: recorder, log: logger,
		backoffBase: cfg.BackoffBase, backoffMax: cfg.BackoffMax,
		memoryPoll: cfg.MemoryPollInterval, maxLogSize: cfg.MaxLogSize, startDelay: cfg.StartDelay,
		nodeCPU: spec.Status.Capacity[corev1.ResourceCPU], nodeMemory: spec.Status.Capacity[corev1.ResourceMemory],
	}
}

// newVirtualKubelet creates the virtual-kubelet node around h. NewNode
// calls the provider constructor before it returns, so the provider and the
// pod lister it is given are set when it succeeds.
func newVirtualKubelet(ctx context.Context, cfg Config, spec corev1.Node, h *host, recorder record.EventRecorder, listenAddr string) (
	*nodeutil.Node, *provider, corev1listers.PodLister, error,
) {
	var prov *provider
	var podLister corev1listers.PodLister
	vk, err := nodeutil.NewNode(cfg.NodeName,
		func(pc nodeutil.ProviderConfig) (nodeutil.Provider, vknode.NodeProvider, error) {
			h.configMaps, h.secrets = pc.ConfigMaps, pc.Secrets
			podLister = pc.Pods
			prov = newProvider(ctx, h, cfg.Client, pc.Pods)
			return prov, staticNode{}, nil
		},
		func(nc *nodeutil.NodeConfig) error {
			nc.Client = cfg.Client
			nc.NodeSpec = spec
			nc.HTTPListenAddr = listenAddr // informational: we serve it ourselves
			// status.podIP is ours to assign, so the downward API is resolved
			// here when a container starts, not by VK before CreatePod.
			nc.SkipDownwardAPIResolution = true
			nc.EventRecorder = quietRecorder{recorder}
			nc.NumWorkers = max(4, runtime.NumCPU())
			nc.PodControllerConfigOpts = append(nc.PodControllerConfigOpts, func(pc *vknode.PodControllerConfig) error {
				_, err := pc.PodInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
					UpdateFunc: func(old, pod any) {
						o, ok1 := old.(*corev1.Pod)
						n, ok2 := pod.(*corev1.Pod)
						if ok1 && ok2 && prov != nil {
							prov.gatesChanged(o, n)
						}
					},
				})
				return err
			})
			return nil
		},
	)
	return vk, prov, podLister, err
}

// kubeletServer serves the kubelet API. It is served here rather than by VK
// so that its port is known (port 0 allowed) before the node object is
// registered.
func kubeletServer(prov *provider, podLister corev1listers.PodLister, logger *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.Handle("/", api.PodHandler(api.PodHandlerConfig{
		RunInContainer:    prov.RunInContainer,
		AttachToContainer: prov.AttachToContainer,
		GetContainerLogs:  prov.GetContainerLogs,
		GetPods:           prov.GetPods,
		GetPodsFromKubernetes: func(context.Context) ([]*corev1.Pod, error) {
			return podLister.List(labels.Everything())
		},
		GetStatsSummary:    prov.GetStatsSummary,
		GetMetricsResource: prov.GetMetricsResource,
		PortForward:        prov.PortForward,
	}, true))
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}

// awaitStop closes a.ready once VK reports the node Ready, then waits until
// ctx ends or VK stops. It returns why VK stopped, or nil if ctx ended.
func (a *Agent) awaitStop(ctx context.Context, vk *nodeutil.Node, logger *slog.Logger, kubeletAPI string) (err error) {
	select {
	case <-vk.Ready():
		logger.Info("node ready", "kubeletAPI", kubeletAPI)
		close(a.ready)
		select {
		case <-ctx.Done():
		case <-vk.Done():
			err = vk.Err()
		}
	case <-vk.Done():
		err = vk.Err()
	case <-ctx.Done():
	}
	if err == nil && ctx.Err() == nil {
		err = errors.New("node: virtual-kubelet stopped unexpectedly")
	}
	return err
}

// CleanupLeftovers kills the pod processes that an agent with this DataDir
// left behind when it was killed before it could stop them (Run does the same
// on start). Processes are recognized by their recorded command line, so a
// reused pid is never hit.
func CleanupLeftovers(dataDir string) error {
	pidDir := filepath.Join(dataDir, "pids")
	if _, err := os.Stat(pidDir); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	killLeftovers(pidDir, 5*time.Second)
	return nil
}

// quietRecorder drops VK's "Provider*Success" events, which a real kubelet
// does not emit, so `kubectl describe pod` reads as it does on a cluster.
type quietRecorder struct{ record.EventRecorder }

func quiet(eventtype, reason string) bool {
	return eventtype == corev1.EventTypeNormal && strings.HasPrefix(reason, "Provider") && strings.HasSuffix(reason, "Success")
}

func (q quietRecorder) Event(o k8sruntime.Object, eventtype, reason, msg string) {
	if !quiet(eventtype, reason) {
		q.EventRecorder.Event(o, eventtype, reason, msg)
	}
}

func (q quietRecorder) Eventf(o k8sruntime.Object, eventtype, reason, format string, args ...any) {
	if !quiet(eventtype, reason) {
		q.EventRecorder.Eventf(o, eventtype, reason, format, args...)
	}
}

func (q quietRecorder) AnnotatedEventf(o k8sruntime.Object, ann map[string]string, eventtype, reason, format string, args ...any) {
	if !quiet(eventtype, reason) {
		q.EventRecorder.AnnotatedEventf(o, ann, eventtype, reason, format, args...)
	}
}

// staticNode is the node status provider: the node is Ready from the start
// and its status never changes; VK keeps the heartbeat and the lease fresh.
type staticNode struct{}

func (staticNode) Ping(context.Context) error                           { return nil }
func (staticNode) NotifyNodeStatus(context.Context, func(*corev1.Node)) {}

// vkLogger sends virtual-kubelet's logs to slog. VK's Info is chatty (every
// pod sync), so it goes to Debug.
type vkLogger struct{ l *slog.Logger }

func (v vkLogger) Debug(a ...any)                   { v.l.Debug(fmt.Sprint(a...)) }
func (v vkLogger) Debugf(f string, a ...any)        { v.l.Debug(fmt.Sprintf(f, a...)) }
func (v vkLogger) Info(a ...any)                    { v.l.Debug(fmt.Sprint(a...)) }
func (v vkLogger) Infof(f string, a ...any)         { v.l.Debug(fmt.Sprintf(f, a...)) }
func (v vkLogger) Warn(a ...any)                    { v.l.Warn(fmt.Sprint(a...)) }
func (v vkLogger) Warnf(f string, a ...any)         { v.l.Warn(fmt.Sprintf(f, a...)) }
func (v vkLogger) Error(a ...any)                   { v.l.Error(fmt.Sprint(a...)) }
func (v vkLogger) Errorf(f string, a ...any)        { v.l.Error(fmt.Sprintf(f, a...)) }
func (v vkLogger) Fatal(a ...any)                   { v.l.Error(fmt.Sprint(a...)) }
func (v vkLogger) Fatalf(f string, a ...any)        { v.l.Error(fmt.Sprintf(f, a...)) }
func (v vkLogger) WithError(err error) vklog.Logger { return vkLogger{v.l.With("err", err)} }
func (v vkLogger) WithField(k string, val any) vklog.Logger {
	return vkLogger{v.l.With(k, val)}
}
func (v vkLogger) WithFields(f vklog.Fields) vklog.Logger {
	args := make([]any, 0, 2*len(f))
	for k, val := range f {
		args = append(args, k, val)
	}
	return vkLogger{v.l.With(args...)}
}
