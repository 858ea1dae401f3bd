// Package local is the embedded platform: a real Kubernetes control plane
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) and the real
// Argo Rollouts controller run as local processes built from their Go modules
// by `make tools`; a node agent runs pods as local processes, each on its own
// loopback IP; NodePort Services are reached on 127.0.0.1.
package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/blastradius/blastradius/demoapp/catalog"
	demoimage "github.com/blastradius/blastradius/demoapp/image"
	"github.com/blastradius/blastradius/harness/internal/klogfile"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/platform/local/node"
)

const (
	nodeName      = "blastradius-local"
	serviceCIDR   = "10.96.0.0/16"
	serviceIP     = "10.96.0.1" // the apiserver's own Service IP, first of the range
	argoNamespace = "argo-rollouts"
	clusterName   = "blastradius-local"
	stopGrace     = 10 * time.Second
	readyTimeout  = 2 * time.Minute
)

// Tools are the binaries `make tools` builds, in start order.
var Tools = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "prometheus", "rollouts-controller", "kubectl", "kubectl-argo-rollouts", "traefik"}

// Options configures a local cluster.
type Options struct {
	// BinDir holds the tools and the demo app (default: $BLASTRADIUS_BIN, else ./bin).
	BinDir string
	// DataDir holds certificates, logs, etcd data and pod logs
	// (default: .blastradius/local). It is wiped at Up and removed at Down.
	DataDir string
	// Log receives progress messages (default: discarded).
	Log io.Writer
	// FailureLogs is where a failed Up copies the logs before it stops
	// what it started (see ExportLogs); nowhere if empty.
	FailureLogs string
	// CrashLoopBackoff is the node agent's first restart delay (default 10s, as the kubelet).
	CrashLoopBackoff time.Duration
	// MetricPlugins are configured in Argo before its controller starts.
	MetricPlugins []platform.MetricPlugin
	// StepPlugins are configured in Argo the same way.
	StepPlugins []platform.MetricPlugin
	// ImageAliases let pods name other images than the demo app's: each
	// alias's To must be a demo app image (checked by Up).
	ImageAliases []platform.ImageAlias
	// StartDelay holds each container's first start (node.Config.StartDelay).
	StartDelay time.Duration
}

// Cluster is one local cluster.
type Cluster struct {
	opts       Options
	log        *slog.Logger
	kubeconfig string
	rest       *rest.Config
	client     kubernetes.Interface
	promURL    string // set once Prometheus is ready
	routerURL  string // set once Traefik is ready
	attached   bool   // another process runs the cluster: see Attach

	// Timings of the last Up, for the benchmark and the progress line.
	Timings Timings

	slotLock *os.File // held while up; see takeSlot
	dataLock *os.File // held while up; see lockDataDir
	klogFile *os.File // client-go's log while up; closed by Down

	mu        sync.Mutex
	procs     []*proc
	cancel    context.CancelFunc // stops the node agent and the service proxy
	inproc    sync.WaitGroup
	inprocMu  sync.Mutex
	inprocErr error
}

// Timings measure Up from its start.
type Timings struct {
	ControlPlaneReady time.Duration // apiserver answers /readyz
	NodeReady         time.Duration // controller-manager, scheduler, node Ready
	ArgoReady         time.Duration // Argo controller started its workers
	PrometheusReady   time.Duration // Prometheus answers /-/ready
}

// New returns a local cluster; nothing runs until Up.
func New(opts Options) *Cluster {
	if opts.BinDir == "" {
		opts.BinDir = os.Getenv("BLASTRADIUS_BIN")
	}
	if opts.BinDir == "" {
		opts.BinDir = "bin"
	}
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(".blastradius", "local")
	}
	if abs, err := filepath.Abs(opts.BinDir); err == nil {
		opts.BinDir = abs
	}
	if abs, err := filepath.Abs(opts.DataDir); err == nil {
		opts.DataDir = abs
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	return &Cluster{opts: opts, log: slog.New(slog.NewTextHandler(opts.Log, nil)),
		kubeconfig: filepath.Join(opts.DataDir, "kubeconfig")}
}

var _ platform.Platform = (*Cluster)(nil)

// Name implements platform.Platform.
func (c *Cluster) Name() string { return Name }

// Kubeconfig is the admin kubeconfig's path.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// RESTConfig is the admin client configuration; nil before Up.
func (c *Cluster) RESTConfig() *rest.Config { return c.rest }

// DataDir is where the cluster keeps its files.
func (c *Cluster) DataDir() string { return c.opts.DataDir }

func (c *Cluster) bin(name string) string { return filepath.Join(c.opts.BinDir, name) }

// checkTools names the make target for any missing tool.
func (c *Cluster) checkTools() error {
	var missing []string
	for _, t := range append(append([]string(nil), Tools...), "demoapp") {
		if fi, err := os.Stat(c.bin(t)); err != nil || fi.IsDir() {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing in %s: %s; build them with `make tools` (and `make build` for demoapp)",
			c.opts.BinDir, strings.Join(missing, ", "))
	}
	return nil
}

// Up starts the cluster and returns once it is ready. On error everything
// started so far is stopped again.
func (c *Cluster) Up(ctx context.Context) (err error) {
	if c.attached {
		return nil
	}
	if err := c.checkTools(); err != nil {
		return err
	}
	if err := c.checkImageAliases(); err != nil {
		return err
	}
	// A fresh cluster every time; whatever a killed run left goes first,
	// but never what a live one runs.
	lock, err := lockDataDir(c.opts.DataDir)
	if err != nil {
		return err
	}
	c.dataLock = lock
	if err := cleanup(c.opts.DataDir, dataLockName); err != nil {
		c.releaseDataDir()
		return err
	}
	// From here on a failure, in any stage, stops whatever was started.
	defer func() {
		if err == nil {
			return
		}
		if c.opts.FailureLogs != "" {
			if xerr := c.ExportLogs(context.WithoutCancel(ctx), c.opts.FailureLogs); xerr == nil {
				err = fmt.Errorf("%w (the cluster's logs are kept in %s)", err, c.opts.FailureLogs)
			}
		}
		_ = c.Down(context.Background())
	}()
	u := &upState{start: time.Now()}
	for _, stage := range []upStage{
		c.prepare,
		c.startEtcd,
		c.startAPIServer,
		c.connect,
		c.installManifests,
		c.startControllers,
		c.startPrometheus,
		c.startNode,
		c.startArgo,
		c.startTraefik,
		c.waitArgo,
		c.waitPrometheus,
		c.waitTraefik,
	} {
		if err := stage(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// upStage is one step of Up. Stages run in order, each once the previous
// one succeeded; what they start is recorded on the Cluster, so that Down
// stops it whichever stage fails.
type upStage func(ctx context.Context, u *upState) error

// upState is what the stages of one Up hand on to later ones.
type upState struct {
	start time.Time // Up's start, that Timings count from
	slot  int       // see takeSlot
	pki   *pki
	ports upPorts

	etcdURL, apiURL string
	argoVersion     string
	traefikVersion  string
	traefikToken    string // the service account token Traefik reads with
}

// upPorts are the loopback ports the cluster's components listen on.
type upPorts struct {
	etcd, etcdPeer, api, controllerManager, scheduler, kubelet, argoMetrics, argoHealthz, prometheus int
	traefik, traefikPing                                                                             int
}

// prepare takes a slot, creates the certificates and picks the ports.
func (c *Cluster) prepare(_ context.Context, u *upState) error {
	slot, err := c.takeSlot()
	if err != nil {
		return err
	}
	u.slot = slot
	u.pki, err = newPKI(filepath.Join(c.opts.DataDir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	ports, err := freePorts(11)
	if err != nil {
		return err
	}
	u.ports = upPorts{
		etcd: ports[0], etcdPeer: ports[1], api: ports[2], controllerManager: ports[3],
		scheduler: ports[4], kubelet: ports[5], argoMetrics: ports[6], argoHealthz: ports[7], prometheus: ports[8],
		traefik: ports[9], traefikPing: ports[10],
	}
	return nil
}

// startEtcd starts etcd and waits for /health.
func (c *Cluster) startEtcd(ctx context.Context, u *upState) error {
	u.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", u.ports.etcd)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", u.ports.etcdPeer)
	if err := c.start("etcd", nil,
		"--name=default", "--data-dir="+filepath.Join(c.opts.DataDir, "etcd"),
		"--listen-client-urls="+u.etcdURL, "--advertise-client-urls="+u.etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--log-level=warn",
		// A throwaway cluster: durability buys nothing and fsync costs seconds.
		"--unsafe-no-fsync=true", "--snapshot-count=100000",
	); err != nil {
		return err
	}
	return c.waitHTTP(ctx, "etcd", u.etcdURL+"/health", nil)
}

// startAPIServer starts kube-apiserver, writes the admin kubeconfig and
// waits for /readyz.
func (c *Cluster) startAPIServer(ctx context.Context, u *upState) error {
	p := u.pki
	u.apiURL = fmt.Sprintf("https://127.0.0.1:%d", u.ports.api)
	if err := c.start("kube-apiserver", nil,
		"--etcd-servers="+u.etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", u.ports.api),
		"--tls-cert-file="+p.serverCert, "--tls-private-key-file="+p.serverKey,
		"--client-ca-file="+p.caCert,
		// Aggregation is unused, but without a request-header CA every
		// component logs an error about it once a second.
		"--requestheader-client-ca-file="+p.caCert, "--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--kubelet-client-certificate="+p.adminCert, "--kubelet-client-key="+p.adminKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.saPub, "--service-account-signing-key-file="+p.saKey,
		"--service-cluster-ip-range="+serviceCIDR,
		fmt.Sprintf("--service-node-port-range=%d-%d", nodePortBase+u.slot*nodePortsPerSlot, nodePortBase+(u.slot+1)*nodePortsPerSlot-1),
		"--authorization-mode=Node,RBAC", "--allow-privileged=true",
		"--enable-priority-and-fairness=false", "--profiling=false",
		"--endpoint-reconciler-type=none", // no kube-proxy: the kubernetes Service is not reachable anyway
	); err != nil {
		return err
	}
	admin := &clientcmdapi.AuthInfo{ClientCertificateData: p.adminCertPEM, ClientKeyData: p.adminKeyPEM}
	if err := writeKubeconfig(c.kubeconfig, u.apiURL, p.caPEM, "admin", admin, metav1.NamespaceDefault); err != nil {
		return err
	}
	adminTLS, err := tls.X509KeyPair(p.adminCertPEM, p.adminKeyPEM)
	if err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, "kube-apiserver", u.apiURL+"/readyz", &adminTLS); err != nil {
		return err
	}
	c.Timings.ControlPlaneReady = time.Since(u.start)
	c.progress("control plane API ready in %s", c.Timings.ControlPlaneReady.Round(100*time.Millisecond))
	return nil
}

// startControllers starts kube-controller-manager and kube-scheduler and
// waits for both. They authenticate with the admin kubeconfig; the
// controller-manager still hands each controller its own service account.
func (c *Cluster) startControllers(ctx context.Context, u *upState) error {
	p := u.pki
	if err := c.start("kube-controller-manager", nil,
		"--kubeconfig="+c.kubeconfig, "--authentication-kubeconfig="+c.kubeconfig, "--authorization-kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", u.ports.controllerManager),
		"--leader-elect=false", "--use-service-account-credentials=true",
		"--service-account-private-key-file="+p.saKey, "--root-ca-file="+p.caCert,
		"--cluster-signing-cert-file="+p.caCert, "--cluster-signing-key-file="+p.caKey,
		// No endpoint controllers: the API refuses the pods' loopback
		// addresses in Endpoints and EndpointSlices, so the service proxy
		// selects ready pods itself.
		"--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller,"+
			"-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller",
		"--profiling=false",
	); err != nil {
		return err
	}
	if err := c.start("kube-scheduler", nil,
		"--kubeconfig="+c.kubeconfig, "--authentication-kubeconfig="+c.kubeconfig, "--authorization-kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", u.ports.scheduler), "--leader-elect=false", "--profiling=false",
	); err != nil {
		return err
	}
	insecure := &tls.Config{InsecureSkipVerify: true} // self-signed serving certs on loopback
	for name, port := range map[string]int{"kube-controller-manager": u.ports.controllerManager, "kube-scheduler": u.ports.scheduler} {
		if err := c.waitHTTPS(ctx, name, fmt.Sprintf("https://127.0.0.1:%d/healthz", port), insecure); err != nil {
			return err
		}
	}
	return nil
}

// connect builds the admin client that the in-process node agent and
// service proxy share. They run in this process, so client-go's klog lines
// (events it could not post, retries) go to their log, not the terminal.
func (c *Cluster) connect(context.Context, *upState) (err error) {
	if f, err := os.OpenFile(filepath.Join(c.opts.DataDir, "logs", "node-agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		klogfile.To(f)
		c.klogFile = f
	}
	c.rest, err = restConfig(c.kubeconfig)
	if err != nil {
		return err
	}
	c.client, err = kubernetes.NewForConfig(c.rest)
	return err
}

// Client-side rate limits of every client of the cluster (the node agent
// and service proxy, the runner, the analysis endpoint, the demo). client-go's
// defaults (5 requests/s, bursts of 10, per client) are meant for many
// clients sharing a remote API server; here one node agent reports every
// pod's status, and at the defaults its updates waited about 1 s each
// whenever a run's pods started, which delayed readiness, and so Argo's
// steps, by seconds. The API server is on loopback, and its own limits
// (max-requests-inflight, priority and fairness) still apply.
const (
	clientQPS   = 200
	clientBurst = 400
)

func restConfig(kubeconfig string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = clientQPS, clientBurst
	return rc, nil
}

// startNode runs the node agent and the service proxy in this process,
// until Down cancels them, and waits for the node to be Ready.
func (c *Cluster) startNode(ctx context.Context, u *upState) error {
	bgCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	// The node agent's own client has no client-side limit at all: every
	// pod status update goes out when it happens, as readiness is what
	// Argo's steps wait for. The API server's own limits still apply.
	nodeRC := rest.CopyConfig(c.rest)
	nodeRC.QPS = -1
	nodeClient, err := kubernetes.NewForConfig(nodeRC)
	if err != nil {
		return err
	}
	agent, err := node.New(node.Config{
		NodeName:    nodeName,
		Client:      nodeClient,
		ListenAddr:  fmt.Sprintf("127.0.0.1:%d", u.ports.kubelet),
		TLSCertPEM:  u.pki.serverCertPEM,
		TLSKeyPEM:   u.pki.serverKeyPEM,
		DataDir:     filepath.Join(c.opts.DataDir, "node"),
		Images:      c.resolveImage,
		PodIPFirst:  netip.AddrFrom4([4]byte{127, byte(podIPBase + u.slot), 0, 1}),
		PodIPLast:   netip.AddrFrom4([4]byte{127, byte(podIPBase + u.slot), 255, 254}),
		BackoffBase: c.opts.CrashLoopBackoff,
		StartDelay:  c.opts.StartDelay,
	})
	if err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	c.goInproc("node agent", func() error { return agent.Run(bgCtx) })
	proxy := newServiceProxy(c.client, c.log)
	c.goInproc("service proxy", func() error { return proxy.run(bgCtx) })
	if err := c.waitNodeReady(ctx); err != nil {
		return err
	}
	c.Timings.NodeReady = time.Since(u.start)
	return nil
}

// installManifests applies Argo Rollouts' and Traefik's CRDs and RBAC
// before kube-controller-manager starts. Its garbage collector learns of
// resources at start and then only at its rediscovery every 30 s (fixed in
// kube-controller-manager): CRDs installed after it would leave a deleted
// Rollout's ReplicaSets and pods behind for up to 30 s, which on a cluster
// where Argo was installed earlier never happens.
func (c *Cluster) installManifests(ctx context.Context, u *upState) (err error) {
	if u.argoVersion, err = c.installArgo(ctx); err != nil {
		return err
	}
	u.traefikVersion, u.traefikToken, err = c.installTraefik(ctx)
	return err
}

// startArgo starts the controller as a process (installManifests
// installed its CRDs and RBAC).
func (c *Cluster) startArgo(ctx context.Context, u *upState) error {
	argoKubeconfig, err := c.argoKubeconfig(ctx, u.pki, u.apiURL)
	if err != nil {
		return err
	}
	// KUBECONFIG too: the controller's metric plugins, its children, read
	// the cluster with its identity, never the user's kubeconfig.
	return c.start("rollouts-controller", []string{"POD_NAMESPACE=" + argoNamespace, "KUBECONFIG=" + argoKubeconfig},
		"--kubeconfig="+argoKubeconfig, "--leader-elect=false", "--loglevel=info",
		fmt.Sprintf("--metricsPort=%d", u.ports.argoMetrics), fmt.Sprintf("--healthzPort=%d", u.ports.argoHealthz),
	)
}

// waitArgo waits until the Argo controller runs its workers.
func (c *Cluster) waitArgo(ctx context.Context, u *upState) error {
	if err := c.waitHTTP(ctx, "rollouts-controller", fmt.Sprintf("http://127.0.0.1:%d/healthz", u.ports.argoHealthz), nil); err != nil {
		return err
	}
	// Healthz answers before the informers have synced; the controller logs
	// this line once its workers run.
	if err := c.waitLog(ctx, "rollouts-controller", "Started controller"); err != nil {
		return err
	}
	c.Timings.ArgoReady = time.Since(u.start)
	c.progress("Argo Rollouts %s ready %s after the node (cluster up in %s)", u.argoVersion,
		(c.Timings.ArgoReady - c.Timings.NodeReady).Round(100*time.Millisecond), c.Timings.ArgoReady.Round(100*time.Millisecond))
	return nil
}

// Down stops everything Up started, in reverse order, and removes the data dir.
func (c *Cluster) Down(ctx context.Context) error {
	if c.attached {
		return nil
	}
	c.mu.Lock()
	procs := c.procs
	c.procs = nil
	cancel := c.cancel
	c.cancel = nil
	c.promURL = ""
	c.routerURL = ""
	c.mu.Unlock()

	// Argo first, so that it does not react to pods going away.
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i].name == "rollouts-controller" {
			procs[i].stop(stopGrace)
		}
	}
	if cancel != nil {
		cancel() // node agent stops every pod process, the proxy closes its ports
		c.inproc.Wait()
	}
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(stopGrace)
	}
	if c.klogFile != nil {
		// No handle left on a file the data dir's removal deletes; what
		// the last pod goroutines still log (events the stopped
		// broadcaster cannot post) goes nowhere, not to the terminal.
		klogfile.Discard()
		c.klogFile.Close()
		c.klogFile = nil
	}
	c.inprocMu.Lock()
	err := c.inprocErr
	c.inprocMu.Unlock()
	_ = os.RemoveAll(shortTmpDir(c.opts.DataDir))
	if rmErr := os.RemoveAll(c.opts.DataDir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	c.releaseDataDir()
	if c.slotLock != nil {
		c.slotLock.Close() // releases the lock
		c.slotLock = nil
	}
	return err
}

func (c *Cluster) goInproc(name string, run func() error) {
	c.inproc.Add(1)
	go func() {
		defer c.inproc.Done()
		if err := run(); err != nil {
			c.log.Error(name+" stopped", "err", err)
			c.inprocMu.Lock()
			c.inprocErr = errors.Join(c.inprocErr, fmt.Errorf("%s: %w", name, err))
			c.inprocMu.Unlock()
		}
	}()
}

func (c *Cluster) start(name string, env []string, args ...string) error {
	bin, err := filepath.EvalSymlinks(c.bin(name))
	if err != nil {
		return err
	}
	p, err := startProc(c.opts.DataDir, name, bin, args, env)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return nil
}

func (c *Cluster) proc(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (c *Cluster) progress(format string, args ...any) {
	fmt.Fprintf(c.opts.Log, format+"\n", args...)
}

// resolveImage maps a pod's image to the demo app binary and the version's
// image config env: the same references run on kind as real images. An
// aliased image runs its alias's version with the alias's env appended; any
// other image fails, which the node agent reports as a failed pull.
func (c *Cluster) resolveImage(image string) (node.Executable, error) {
	ref, env := image, []string(nil)
	if a, ok := platform.ResolveAlias(c.opts.ImageAliases, image); ok {
		ref, env = a.To, a.Env
	}
	if demoimage.Repository(ref) == demoimage.HarnessRepository {
		// The harness's own image (in-cluster load workers): the harness binary.
		return node.Executable{Path: c.bin("blastradius"), Env: env}, nil
	}
	v, err := catalog.Resolve(ref)
	if err != nil {
		if ref != image {
			return node.Executable{}, fmt.Errorf("image %q, an alias of %w", image, err)
		}
		return node.Executable{}, err
	}
	return node.Executable{Path: c.bin("demoapp"), Env: append(v.ImageEnv(), env...)}, nil
}

// checkImageAliases checks that every alias names a demo app image.
func (c *Cluster) checkImageAliases() error {
	for _, a := range c.opts.ImageAliases {
		if _, err := catalog.Resolve(a.To); err != nil {
			return fmt.Errorf("image alias %s: %w", a, err)
		}
	}
	return nil
}

// LoadImages checks that each image is one the node agent can run: on this
// platform an image is the demo app binary plus the catalog's env, directly
// or through an alias.
func (c *Cluster) LoadImages(_ context.Context, images ...string) error {
	for _, img := range images {
		if _, err := c.resolveImage(img); err != nil {
			return err
		}
	}
	return nil
}

// Image is ref: the node agent runs the project's images by name.
func (c *Cluster) Image(ref string) string { return ref }

// InClusterServiceURL is ServiceURL: the pods share the host's network, so
// the node port on 127.0.0.1 reaches the Service from them too.
func (c *Cluster) InClusterServiceURL(ctx context.Context, namespace, name string) (string, error) {
	return c.ServiceURL(ctx, namespace, name)
}

// InClusterRouterURL is RouterURL, for the same reason.
func (c *Cluster) InClusterRouterURL(ctx context.Context) (string, error) { return c.RouterURL(ctx) }

// ServiceURL returns http://127.0.0.1:<nodePort> for the Service's first port.
func (c *Cluster) ServiceURL(ctx context.Context, namespace, name string) (string, error) {
	if c.client == nil {
		return "", errors.New("cluster is not up")
	}
	svc, err := c.client.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			return fmt.Sprintf("http://127.0.0.1:%d", p.NodePort), nil
		}
	}
	return "", fmt.Errorf("service %s/%s has no node port: use type NodePort", namespace, name)
}

// PodURL is http://<podIP>:<port>: pods listen on their own loopback IPs.
func (c *Cluster) PodURL(_ context.Context, pod *corev1.Pod, port int) (string, error) {
	if pod.Status.PodIP == "" {
		return "", fmt.Errorf("pod %s/%s has no IP yet", pod.Namespace, pod.Name)
	}
	return "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)), nil
}

// Versions reports what the apiserver and the Argo controller say they are.
func (c *Cluster) Versions(ctx context.Context) (string, string, error) {
	if c.client == nil {
		return "", "", errors.New("cluster is not up")
	}
	v, err := c.client.Discovery().ServerVersion()
	if err != nil {
		return "", "", err
	}
	argo, err := argoVersion(ctx, c.bin("rollouts-controller"))
	return v.GitVersion, argo, err
}

// writeKubeconfig writes a one-context kubeconfig for this cluster.
func writeKubeconfig(path, server string, caPEM []byte, user string, auth *clientcmdapi.AuthInfo, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = auth
	cfg.Contexts[clusterName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user, Namespace: namespace}
	cfg.CurrentContext = clusterName
	return clientcmd.WriteToFile(*cfg, path)
}

func (c *Cluster) waitHTTP(ctx context.Context, name, url string, cert *tls.Certificate) error {
	var tc *tls.Config
	if cert != nil {
		tc = &tls.Config{Certificates: []tls.Certificate{*cert}, InsecureSkipVerify: true}
	}
	return c.waitHTTPS(ctx, name, url, tc)
}

// waitHTTPS polls url until it answers 200, the process exits, or time runs out.
func (c *Cluster) waitHTTPS(ctx context.Context, name, url string, tc *tls.Config) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	defer client.CloseIdleConnections()
	p := c.proc(name)
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		if p != nil {
			if done, err := p.exited(); done {
				return false, fmt.Errorf("exited (%v)", err)
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		msg := fmt.Sprintf("%s not ready: %v", name, err)
		if p != nil {
			msg += fmt.Sprintf("\nlast lines of %s:\n%s", p.logPath, p.logTail(15))
		}
		return errors.New(msg)
	}
	return nil
}

func (c *Cluster) waitLog(ctx context.Context, name, line string) error {
	p := c.proc(name)
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, readyTimeout, true, func(context.Context) (bool, error) {
		if done, err := p.exited(); done {
			return false, fmt.Errorf("%s exited (%v):\n%s", name, err, p.logTail(15))
		}
		data, _ := os.ReadFile(p.logPath)
		return strings.Contains(string(data), line), nil
	})
}

func (c *Cluster) waitNodeReady(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		n, err := c.client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("node %s not ready: %w", nodeName, err)
	}
	return nil
}

// Several clusters can run side by side (a `cluster up` for a demo and a
// `blastradius run`): each holds a slot, a lock file, that gives it its own
// pod addresses and node ports. The lock goes with the process, however it
// ends.
const (
	slots            = 8
	podIPBase        = 10 // pods of slot s live in 127.(10+s).0.0/16
	nodePortBase     = 30000
	nodePortsPerSlot = 340 // 8 slots within the default 30000-32767
)

func (c *Cluster) takeSlot() (int, error) {
	for s := range slots {
		f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("blastradius-local-slot-%d.lock", s)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return 0, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		c.slotLock = f
		return s, nil
	}
	return 0, fmt.Errorf("%d local clusters already run on this machine; stop one with `blastradius cluster down`", slots)
}

// freePorts reserves n distinct free ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// dataLockName is the file in a data dir that its cluster holds locked.
const dataLockName = "lock"

// lockDataDir takes dataDir for this process, or says which process has it:
// two clusters in one data dir would end each other's processes (cleanup
// takes what it finds there for a killed run's leftovers). The lock goes
// with the process, so a killed run's data dir is free again.
func lockDataDir(dataDir string) (*os.File, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dataDir, dataLockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := io.ReadAll(f)
		f.Close()
		return nil, fmt.Errorf("the data dir %s is in use by another cluster (pid %s): give this one another data dir, or stop that one",
			dataDir, strings.TrimSpace(string(owner)))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

func (c *Cluster) releaseDataDir() {
	if c.dataLock != nil {
		c.dataLock.Close() // releases the lock; Down removed the file with the dir
		c.dataLock = nil
	}
}

// Cleanup ends what a killed run left in dataDir (control-plane processes and
// pod processes, found through their pid files) and removes the directory.
func Cleanup(dataDir string) error { return cleanup(dataDir, "") }

// cleanup is Cleanup, keeping the entry named keep (if any) of dataDir.
func cleanup(dataDir, keep string) error {
	if _, err := killLeftovers(filepath.Join(dataDir, "pids")); err != nil {
		return err
	}
	if err := node.CleanupLeftovers(filepath.Join(dataDir, "node")); err != nil {
		return err
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		_ = os.RemoveAll(shortTmpDir(abs))
	}
	if keep == "" {
		return os.RemoveAll(dataDir)
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if e.Name() != keep {
			if err := os.RemoveAll(filepath.Join(dataDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
