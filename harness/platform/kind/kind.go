// Package kind is the platform of real kind clusters, made through kind's
// Go API (sigs.k8s.io/kind/pkg/cluster), not its CLI: nodes are containers
// of a container engine, images are loaded into them without a registry,
// and NodePort Services are mapped to 127.0.0.1 as on the local platform.
//
// Up runs the preflight (engine, cgroup version, node image), makes the
// cluster from a rendered config (or reuses one by name, said out loud),
// and installs Argo Rollouts from the pinned module's install.yaml,
// Prometheus and Traefik (addons.go). Every image but the node's is built
// in Go from bin/ and loaded into every node in parallel, so nothing is
// pulled but the node image. Pods are reached through port-forwards,
// Services at their node ports on 127.0.0.1, and the harness's analysis
// endpoint through the relay (harness/relay).
package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/blastradius/blastradius/demoapp/catalog"
	demoimage "github.com/blastradius/blastradius/demoapp/image"
	"github.com/blastradius/blastradius/harness/internal/klogfile"
	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/platform/forward"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/router"
)

// Name is the platform's name in the registry and on the command line.
const Name = "kind"

// DefaultCluster is the kind cluster's name unless one is given.
const DefaultCluster = "blastradius"

func init() {
	platform.Register(Name, func(o platform.Options) (platform.Platform, error) { return New(o), nil })
}

// Cluster is one kind cluster.
type Cluster struct {
	opts     platform.Options
	name     string
	pre      Preflight
	provider *cluster.Provider
	reused   bool // an existing cluster: Down leaves it
	created  bool

	kubeconfig string
	rest       *rest.Config
	client     kubernetes.Interface
	argo       string
	// promVersion and routerURL are set once Prometheus and Traefik run.
	promVersion string
	routerURL   string
	forwards    *forward.Forwarder
	klog        *os.File
}

// New returns the platform; Up makes (or reuses) the cluster.
func New(o platform.Options) *Cluster {
	if o.DataDir == "" {
		o.DataDir = filepath.Join(".blastradius", Name)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	n := o.ClusterName
	if n == "" {
		n = DefaultCluster
	}
	return &Cluster{opts: o, name: n}
}

// Name implements platform.Platform.
func (c *Cluster) Name() string { return Name }

func (c *Cluster) say(format string, args ...any) { fmt.Fprintf(c.opts.Log, format+"\n", args...) }

// Up checks the host, makes or reuses the cluster and installs Argo
// Rollouts. On failure it keeps the logs
// (FailureLogs) and removes what it made.
func (c *Cluster) Up(ctx context.Context) (err error) {
	c.pre = RunPreflight(ctx, c.opts.NodeImage)
	c.say("kind: %s", c.pre)
	if err := c.pre.Check(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.opts.DataDir, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if c.created && c.opts.FailureLogs != "" && c.hasNodes() && c.provider.CollectLogs(c.name, c.opts.FailureLogs) == nil {
				c.say("kind: the cluster's logs are in %s", c.opts.FailureLogs)
			}
			_ = c.Down(context.WithoutCancel(ctx))
		}
	}()
	logf, err := os.OpenFile(filepath.Join(c.opts.DataDir, "kind.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	c.klog = logf
	klogfile.To(logf)
	engine, err := cluster.DetectNodeProvider()
	if err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	c.provider = cluster.NewProvider(engine, cluster.ProviderWithLogger(newLogger(logf)))
	c.kubeconfig = filepath.Join(c.opts.DataDir, "kubeconfig")
	if err := c.createOrReuse(); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	// The project's images are loaded as they are asked for (LoadImages:
	// what the runs need), not all 60 versions up front.
	if err := c.installArgo(ctx); err != nil {
		return fmt.Errorf("kind: Argo Rollouts: %w", err)
	}
	if err := c.installPrometheus(ctx); err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	if err := c.installTraefik(ctx); err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	c.forwards = forward.New(c.rest, c.client)
	return nil
}

// hasNodes reports whether the cluster got as far as a node: only then
// has kind logs to collect.
func (c *Cluster) hasNodes() bool {
	ns, err := c.provider.ListNodes(c.name)
	return err == nil && len(ns) > 0
}

// createOrReuse makes the cluster, or takes the existing one of that name
// when Reuse is set, and says which.
func (c *Cluster) createOrReuse() error {
	existing, err := c.provider.List()
	if err != nil {
		return fmt.Errorf("kind: listing clusters: %w", err)
	}
	if slices.Contains(existing, c.name) {
		if !c.opts.Reuse {
			return fmt.Errorf("kind: a cluster named %s exists already: delete it (`kind delete cluster --name %s`) or reuse it (--reuse)", c.name, c.name)
		}
		c.reused = true
		c.say("kind: reusing the existing cluster %s as it is (down leaves it)", c.name)
		return c.provider.ExportKubeConfig(c.name, c.kubeconfig, false)
	}
	c.say("kind: creating cluster %s (node ports %s on 127.0.0.1) ...", c.name, NodePorts)
	start := time.Now()
	c.created = true
	if err := c.provider.Create(c.name,
		cluster.CreateWithV1Alpha4Config(Config(c.name, c.pre.NodeImage, NodePorts)),
		cluster.CreateWithKubeconfigPath(c.kubeconfig),
		cluster.CreateWithWaitForReady(3*time.Minute),
		cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false),
	); err != nil {
		return fmt.Errorf("kind: creating cluster %s: %w", c.name, err)
	}
	c.say("kind: cluster %s ready in %s", c.name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func (c *Cluster) connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.rest = cfg
	c.client, err = kubernetes.NewForConfig(cfg)
	return err
}

// installArgo applies the controller's release's install.yaml from the
// module cache with the controller's image built from bin/ and loaded into
// the nodes under the release's image name (quay.io/argoproj/argo-rollouts
// at the release's tag, taken if present): nothing is pulled. The image
// carries the plugins Argo is to load (its ConfigMap names them inside it).
func (c *Cluster) installArgo(ctx context.Context) error {
	version, dir, err := local.ArgoRelease(ctx, c.bin())
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "manifests", "install.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	objs, err := kube.DecodeBytes(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	controllerImage := ArgoImage + ":" + version
	found := false
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			if err := setImage(o, controllerImage); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			found = true
		}
		if o.GetNamespace() == "" && o.GetKind() != "CustomResourceDefinition" && !strings.HasPrefix(o.GetKind(), "Cluster") {
			o.SetNamespace(argoNamespace)
		}
	}
	if !found {
		return fmt.Errorf("%s: no controller Deployment", path)
	}
	plugins := c.argoPlugins()
	for _, key := range []string{platform.ArgoMetricPluginsKey, platform.ArgoStepPluginsKey, platform.ArgoTrafficRouterPluginsKey} {
		if err := platform.ConfigureArgoPlugins(objs, key, plugins.byKey[key]); err != nil {
			return err
		}
	}
	img, err := buildController(c.bin(), version, plugins.files)
	if err != nil {
		return err
	}
	if err := c.loadImages(ctx, imageSet{controllerImage: img}); err != nil {
		return err
	}
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: argoNamespace}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		return err
	}
	if err := c.apply(ctx, objs, local.ArgoCRDs...); err != nil {
		return err
	}
	if err := c.waitReady(ctx, argoNamespace, "argo-rollouts"); err != nil {
		return err
	}
	c.argo = version
	c.say("kind: Argo Rollouts %s ready (controller image %s built from bin/rollouts-controller)", version, controllerImage)
	return nil
}

// Argo's controller as install.yaml runs it: its image's repository, its
// namespace, and the working directory under which it mounts plugin-bin/
// (an emptyDir: the root filesystem is read-only).
const (
	ArgoImage      = "quay.io/argoproj/argo-rollouts"
	argoNamespace  = "argo-rollouts"
	argoWorkingDir = "/home/argo-rollouts"
	pluginsDir     = "/plugins"
)

// buildController builds the controller's image from binDir's, with the
// plugins (files by their path in the image) it is to load, run as
// install.yaml expects: a non-root user, in argoWorkingDir.
func buildController(binDir, version string, files map[string]string) (v1.Image, error) {
	return demoimage.BuildProgram(demoimage.Program{Binary: filepath.Join(binDir, "rollouts-controller"), What: "rollouts-controller",
		Entrypoint: "/bin/rollouts-controller", WorkingDir: argoWorkingDir, Files: files,
		Labels: map[string]string{"org.opencontainers.image.version": version}})
}

// argoPluginSet is what the controller's image carries and its ConfigMap
// lists: files by their path in the image, plugins by ConfigMap key.
type argoPluginSet struct {
	files map[string]string
	byKey map[string][]platform.MetricPlugin
}

// argoPlugins are blastradius's Traefik traffic-router plugin, when make
// build built it, and the metric and step plugins the platform was given,
// each at /plugins/<namespace>-<name> in the controller's image.
func (c *Cluster) argoPlugins() argoPluginSet {
	set := argoPluginSet{files: map[string]string{}, byKey: map[string][]platform.MetricPlugin{}}
	add := func(key string, p platform.MetricPlugin) {
		inImage := pluginsDir + "/" + strings.ReplaceAll(p.Name, "/", "-")
		set.files[inImage] = p.Path
		p.Path = inImage
		set.byKey[key] = append(set.byKey[key], p)
	}
	if fi, err := os.Stat(filepath.Join(c.bin(), router.PluginBinary)); err == nil && !fi.IsDir() {
		add(platform.ArgoTrafficRouterPluginsKey, platform.MetricPlugin{Name: router.PluginName, Path: filepath.Join(c.bin(), router.PluginBinary), Rules: router.PluginRules})
	}
	for _, p := range c.opts.MetricPlugins {
		add(platform.ArgoMetricPluginsKey, p)
	}
	for _, p := range c.opts.StepPlugins {
		add(platform.ArgoStepPluginsKey, p)
	}
	return set
}

// setImage points a Deployment's first container at image, taken from the
// node when present (install.yaml says Always, which would pull).
func setImage(o *unstructured.Unstructured, image string) error {
	cs, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if err != nil || len(cs) == 0 {
		return fmt.Errorf("deployment %s has no containers", o.GetName())
	}
	c0, ok := cs[0].(map[string]any)
	if !ok {
		return fmt.Errorf("deployment %s: container is not an object", o.GetName())
	}
	c0["image"], c0["imagePullPolicy"] = image, string(corev1.PullIfNotPresent)
	return unstructured.SetNestedSlice(o.Object, cs, "spec", "template", "spec", "containers")
}

func (c *Cluster) bin() string {
	if c.opts.BinDir != "" {
		return c.opts.BinDir
	}
	if b := os.Getenv("BLASTRADIUS_BIN"); b != "" {
		return b
	}
	return "bin"
}

// Down deletes the cluster Up created (a reused one stays) and removes
// the data dir.
func (c *Cluster) Down(context.Context) error {
	var errs []error
	if c.forwards != nil {
		c.forwards.CloseAll()
		c.forwards = nil
	}
	if c.created && !c.reused && c.provider != nil {
		if err := c.provider.Delete(c.name, c.kubeconfig); err != nil {
			errs = append(errs, fmt.Errorf("kind: deleting cluster %s: %w", c.name, err))
		}
		c.created = false
	}
	if c.klog != nil {
		klogfile.Discard()
		c.klog.Close()
		c.klog = nil
	}
	errs = append(errs, os.RemoveAll(c.opts.DataDir))
	return errors.Join(errs...)
}

// ExportLogs is kind's own log collection (nodes, containers, kubelet).
func (c *Cluster) ExportLogs(_ context.Context, dir string) error {
	if c.provider == nil {
		return errors.New("kind: no cluster")
	}
	return c.provider.CollectLogs(c.name, dir)
}

// Kubeconfig implements platform.Platform.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// RESTConfig implements platform.Platform.
func (c *Cluster) RESTConfig() *rest.Config { return c.rest }

// LoadImages builds the project's images (demo app versions, the harness's
// own) and loads them into every node, in one archive.
func (c *Cluster) LoadImages(ctx context.Context, images ...string) error {
	set := imageSet{}
	var demoLayer v1.Layer // every version's: compressed once
	for _, ref := range images {
		if demoimage.Repository(ref) == demoimage.HarnessRepository {
			img, err := demoimage.BuildHarness(filepath.Join(c.bin(), "blastradius"))
			if err != nil {
				return err
			}
			set[ref] = img
			continue
		}
		v, err := catalog.Resolve(ref)
		if err != nil {
			return err
		}
		if demoLayer == nil {
			if demoLayer, err = demoimage.BinaryLayer(filepath.Join(c.bin(), "demoapp")); err != nil {
				return err
			}
		}
		if set[ref], err = demoimage.Build(v, demoLayer); err != nil {
			return err
		}
	}
	return c.loadImages(ctx, set)
}

// imageSet is images by the reference the nodes are to know them by.
type imageSet map[string]v1.Image

// loadImages writes the images as one archive (a layer they share is in it
// once: the demo app's versions share theirs), then loads it into every
// node at once, one reader each.
func (c *Cluster) loadImages(ctx context.Context, images imageSet) error {
	if len(images) == 0 {
		return nil
	}
	f, err := os.CreateTemp(c.opts.DataDir, "images-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := writeArchive(images, f); err != nil {
		return err
	}
	if err := c.loadArchive(f.Name()); err != nil {
		return fmt.Errorf("images %s: %w", strings.Join(slices.Sorted(maps.Keys(images)), ", "), err)
	}
	return ctx.Err()
}

// loadArchive loads an image archive into every node at once, one reader
// each.
func (c *Cluster) loadArchive(path string) error {
	ns, err := c.provider.ListInternalNodes(c.name)
	if err != nil {
		return err
	}
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Go(func() { errs[i] = loadInto(n, path) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeArchive writes images as one image archive (docker save's format,
// which kind and docker load read), a layer they share in it once.
func writeArchive(images imageSet, w io.Writer) error {
	refs := make(map[name.Reference]v1.Image, len(images))
	for ref, img := range images {
		tag, err := name.NewTag(ref)
		if err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		refs[tag] = img
	}
	if err := tarball.MultiRefWrite(refs, w); err != nil {
		return fmt.Errorf("images %s: %w", strings.Join(slices.Sorted(maps.Keys(images)), ", "), err)
	}
	return nil
}

func loadInto(n nodes.Node, path string) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := nodeutils.LoadImageArchive(n, r); err != nil {
		return fmt.Errorf("node %s: %w", n.String(), err)
	}
	return nil
}

// Image is ref: the images are loaded into the nodes under their names.
func (c *Cluster) Image(ref string) string { return ref }

// ServiceURL is http://127.0.0.1:<nodePort>: the node port range is mapped
// to the host's loopback.
func (c *Cluster) ServiceURL(ctx context.Context, namespace, svcName string) (string, error) {
	svc, err := c.client.CoreV1().Services(namespace).Get(ctx, svcName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			if !NodePorts.Contains(p.NodePort) {
				return "", fmt.Errorf("service %s/%s: node port %d is outside the mapped range %s", namespace, svcName, p.NodePort, NodePorts)
			}
			return "http://127.0.0.1:" + strconv.Itoa(int(p.NodePort)), nil
		}
	}
	return "", fmt.Errorf("service %s/%s has no node port", namespace, svcName)
}

// InClusterServiceURL is the Service's DNS name: kind runs CoreDNS.
func (c *Cluster) InClusterServiceURL(ctx context.Context, namespace, svcName string) (string, error) {
	svc, err := c.client.CoreV1().Services(namespace).Get(ctx, svcName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if len(svc.Spec.Ports) == 0 {
		return "", fmt.Errorf("service %s/%s has no port", namespace, svcName)
	}
	return fmt.Sprintf("http://%s.%s.svc:%d", svcName, namespace, svc.Spec.Ports[0].Port), nil
}

// RouterURL is Traefik's entrypoint at its node port on 127.0.0.1.
func (c *Cluster) RouterURL(context.Context) (string, error) {
	if c.routerURL == "" {
		return "", errors.New("kind: no cluster")
	}
	return c.routerURL, nil
}

// InClusterRouterURL is Traefik's Service by its DNS name.
func (c *Cluster) InClusterRouterURL(ctx context.Context) (string, error) {
	if _, err := c.RouterURL(ctx); err != nil {
		return "", err
	}
	return RouterInClusterURL, nil
}

// PrometheusURL is Prometheus's Service by its DNS name: where Argo's
// prometheus provider, in the cluster, queries (the harness does not).
// People reach it at its node port (PrometheusNodePort) on 127.0.0.1.
func (c *Cluster) PrometheusURL(context.Context) (string, error) {
	if c.promVersion == "" {
		return "", errors.New("kind: no cluster")
	}
	return PrometheusInClusterURL, nil
}

// PodURL reaches a pod through a port-forward: the nodes' network is the
// engine's, not the host's loopback.
func (c *Cluster) PodURL(ctx context.Context, pod *corev1.Pod, port int) (string, error) {
	return c.forwards.URL(ctx, pod, port) // a nil Forwarder says it is not connected
}

// Versions reports the API server's version and Argo's release.
func (c *Cluster) Versions(context.Context) (string, string, error) {
	if c.client == nil {
		return "", "", errors.New("kind: no cluster")
	}
	v, err := c.client.Discovery().ServerVersion()
	if err != nil {
		return "", "", err
	}
	return v.GitVersion, c.argo, nil
}
