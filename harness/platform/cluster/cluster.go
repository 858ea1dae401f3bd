// Package cluster is the platform of an existing Kubernetes cluster, named
// by a kubeconfig context: a team's staging cluster with Argo Rollouts
// installed. It never creates or deletes the cluster; Up checks that Argo
// Rollouts is there and says what is missing. Runs work in namespaces of
// their own that the runner removes. The harness reaches pods through the
// API server (port-forward), never their addresses, so the users' load
// runs in the cluster (in-cluster load workers).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	demoimage "github.com/blastradius/blastradius/demoapp/image"
	"github.com/blastradius/blastradius/harness/internal/klogfile"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/platform/forward"
)

// Name is the platform's name in the registry and on the command line.
const Name = "cluster"

// ArgoCRDs are the custom resources a run needs Argo Rollouts to serve.
var ArgoCRDs = []string{
	"rollouts.argoproj.io", "analysistemplates.argoproj.io", "clusteranalysistemplates.argoproj.io",
	"analysisruns.argoproj.io", "experiments.argoproj.io",
}

// argoVersion is the API version of Argo's resources the harness writes.
const argoVersion = "v1alpha1"

// ErrNotFromHarness is returned for addresses the harness cannot reach
// on this platform: the cluster's Services and router, from outside.
var ErrNotFromHarness = errors.New("not reachable from the harness on an existing cluster: the load runs in the cluster (--load in-cluster)")

func init() {
	platform.Register(Name, func(o platform.Options) (platform.Platform, error) {
		return New(o), nil
	})
}

// Cluster is an existing cluster.
type Cluster struct {
	opts       platform.Options
	kubeconfig string // a file with the context alone, in the data dir
	rest       *rest.Config
	client     kubernetes.Interface
	argo       string // the controller's image tag
	klog       *os.File
	forwards   *forward.Forwarder
	mu         sync.Mutex
}

// New returns the platform for o.Context; Up connects and checks it.
func New(o platform.Options) *Cluster {
	if o.DataDir == "" {
		o.DataDir = filepath.Join(".blastradius", Name)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return &Cluster{opts: o}
}

// Name implements platform.Platform.
func (c *Cluster) Name() string { return Name }

// Up connects to the context and checks that Argo Rollouts is installed
// and running. It creates nothing in the cluster; on failure it leaves
// nothing behind here either.
func (c *Cluster) Up(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = c.Down(context.WithoutCancel(ctx))
		}
	}()
	if c.opts.Context == "" {
		return errors.New("--platform cluster runs releases on a real cluster: name its kubeconfig context with --context " +
			"(the current context is never taken by default)")
	}
	if err := os.MkdirAll(c.opts.DataDir, 0o755); err != nil {
		return err
	}
	if f, err := os.OpenFile(filepath.Join(c.opts.DataDir, "client.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		klogfile.To(f) // client-go's retries and port-forward errors: not for the terminal
		c.klog = f
	}
	if err := c.connect(); err != nil {
		return err
	}
	v, err := c.client.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("context %s: the API server does not answer: %w", c.opts.Context, err)
	}
	fmt.Fprintf(c.opts.Log, "context %s: Kubernetes %s at %s\n", c.opts.Context, v.GitVersion, c.rest.Host)
	if err := c.checkArgo(ctx); err != nil {
		return fmt.Errorf("context %s: %w", c.opts.Context, err)
	}
	if c.argo != "" {
		fmt.Fprintf(c.opts.Log, "context %s: Argo Rollouts %s running\n", c.opts.Context, c.argo)
	}
	if c.opts.Registry != "" {
		fmt.Fprintf(c.opts.Log, "images from %s\n", c.opts.Registry)
	}
	c.forwards = forward.New(c.rest, c.client)
	return nil
}

// connect loads the context from the kubeconfig and writes a kubeconfig of
// that context alone for whoever needs a file (kubectl).
func (c *Cluster) connect() error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if c.opts.Kubeconfig != "" {
		rules.ExplicitPath = c.opts.Kubeconfig
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.opts.Context})
	raw, err := loader.RawConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if _, ok := raw.Contexts[c.opts.Context]; !ok {
		names := make([]string, 0, len(raw.Contexts))
		for n := range raw.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("kubeconfig has no context %q (it has: %s)", c.opts.Context, strings.Join(names, ", "))
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		return fmt.Errorf("context %s: %w", c.opts.Context, err)
	}
	// A shared cluster: a polite client, though above client-go's 5/s.
	cfg.QPS, cfg.Burst = 50, 100
	c.rest = cfg
	if c.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	raw.CurrentContext = c.opts.Context
	if err := clientcmdapi.MinifyConfig(&raw); err != nil {
		return err
	}
	c.kubeconfig = filepath.Join(c.opts.DataDir, "kubeconfig")
	return clientcmd.WriteToFile(raw, c.kubeconfig)
}

// checkArgo checks that Argo's CRDs are established and serve the version
// the harness writes, and that a controller runs; the error says what is
// missing and how to install it.
func (c *Cluster) checkArgo(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(c.rest)
	if err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	var missing []string
	for _, n := range ArgoCRDs {
		u, err := crds.Get(ctx, n, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, n)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading CRD %s: %w", n, err)
		}
		if problem := crdProblem(u.Object); problem != "" {
			missing = append(missing, n+" ("+problem+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("Argo Rollouts is not installed as the harness needs it: %s; install it with "+
			"`kubectl create namespace argo-rollouts && kubectl apply -n argo-rollouts -f "+
			"https://github.com/argoproj/argo-rollouts/releases/latest/download/install.yaml`", strings.Join(missing, ", "))
	}
	deps, err := c.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=argo-rollouts"})
	if err != nil {
		return fmt.Errorf("looking for the Argo Rollouts controller: %w", err)
	}
	for _, d := range deps.Items {
		if d.Status.ReadyReplicas > 0 && len(d.Spec.Template.Spec.Containers) > 0 {
			c.argo = imageTag(d.Spec.Template.Spec.Containers[0].Image)
			return nil
		}
	}
	if len(deps.Items) == 0 {
		// Installed some other way (a local control plane runs it as a
		// process): Argo's CRDs are there, and whether a controller acts
		// on them shows in the first rollout. Say so, do not guess.
		fmt.Fprintf(c.opts.Log, "context %s: Argo Rollouts' CRDs are installed; no controller Deployment (label app.kubernetes.io/name=argo-rollouts) "+
			"is: taking it to run outside the cluster's workloads\n", c.opts.Context)
		return nil
	}
	return fmt.Errorf("the Argo Rollouts controller (deployment %s/%s) has no ready replica", deps.Items[0].Namespace, deps.Items[0].Name)
}

// crdProblem is why a CRD cannot serve the harness: not established, or
// not serving the version the harness writes; "" if fine.
func crdProblem(crd map[string]any) string {
	conds, _, _ := unstructured.NestedSlice(crd, "status", "conditions")
	established := false
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			established = true
		}
	}
	if !established {
		return "not established"
	}
	versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if m["name"] == argoVersion && m["served"] == true {
			return ""
		}
	}
	return "does not serve " + argoVersion
}

// imageTag is the tag of an image reference ("" without one).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[i+1:]
	}
	return ""
}

// Down closes the port-forwards. The cluster and everything in it stay;
// the runner removes its namespaces.
func (c *Cluster) Down(context.Context) error {
	if c.forwards != nil {
		c.forwards.CloseAll()
		c.forwards = nil
	}
	if c.klog != nil {
		klogfile.Discard()
		c.klog.Close()
		c.klog = nil
	}
	return os.RemoveAll(c.opts.DataDir)
}

// ExportLogs copies the Argo Rollouts controller's logs to dir.
func (c *Cluster) ExportLogs(ctx context.Context, dir string) error {
	if c.client == nil {
		return errors.New("not connected")
	}
	pods, err := c.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=argo-rollouts"})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	tail := int64(20000)
	for _, p := range pods.Items {
		data, err := c.client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("logs of %s/%s: %w", p.Namespace, p.Name, err))
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, p.Namespace+"_"+p.Name+".log"), data, 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Kubeconfig is a kubeconfig of the context alone.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// RESTConfig implements platform.Platform.
func (c *Cluster) RESTConfig() *rest.Config { return c.rest }

// LoadImages checks that the registry has each image: the nodes pull them
// from there. Without a registry the nodes are taken to have them.
func (c *Cluster) LoadImages(ctx context.Context, images ...string) error {
	if c.opts.Registry == "" {
		return nil
	}
	for _, img := range images {
		ref, err := name.ParseReference(c.Image(img))
		if err != nil {
			return fmt.Errorf("image %s: %w", img, err)
		}
		if _, err := remote.Head(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("image %s is not in %s (push the images: blastradius images push --registry %s): %w",
				img, c.opts.Registry, c.opts.Registry, err)
		}
	}
	return nil
}

// Image is ref in the platform's registry, if it has one.
func (c *Cluster) Image(ref string) string { return demoimage.InRegistry(c.opts.Registry, ref) }

// ServiceURL is not available: the harness is outside the cluster.
func (c *Cluster) ServiceURL(context.Context, string, string) (string, error) {
	return "", ErrNotFromHarness
}

// InClusterServiceURL reaches a Service from the cluster's pods: by its DNS
// name where the cluster runs DNS (a kube-system/kube-dns Service), else
// through its node port on a Ready node's InternalIP.
func (c *Cluster) InClusterServiceURL(ctx context.Context, namespace, svcName string) (string, error) {
	svc, err := c.client.CoreV1().Services(namespace).Get(ctx, svcName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if len(svc.Spec.Ports) == 0 {
		return "", fmt.Errorf("service %s/%s has no port", namespace, svcName)
	}
	port := svc.Spec.Ports[0]
	if _, err := c.client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{}); err == nil {
		return fmt.Sprintf("http://%s.%s.svc:%d", svcName, namespace, port.Port), nil
	}
	if port.NodePort == 0 {
		return "", fmt.Errorf("service %s/%s: the cluster has no DNS (kube-system/kube-dns) and the service no node port", namespace, svcName)
	}
	ip, err := c.nodeIP(ctx)
	if err != nil {
		return "", err
	}
	return "http://" + ip + ":" + strconv.Itoa(int(port.NodePort)), nil
}

// nodeIP is the InternalIP of a Ready node.
func (c *Cluster) nodeIP(ctx context.Context) (string, error) {
	nodes, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, n := range nodes.Items {
		ready := false
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		for _, a := range n.Status.Addresses {
			if ready && a.Type == corev1.NodeInternalIP {
				return a.Address, nil
			}
		}
	}
	return "", errors.New("no Ready node with an InternalIP")
}

// InClusterRouterURL: no router is configured on this platform yet.
func (c *Cluster) InClusterRouterURL(context.Context) (string, error) {
	return "", errors.New("the cluster platform has no L7 router configured: routed strategies do not run on it yet")
}

// RouterURL: see InClusterRouterURL.
func (c *Cluster) RouterURL(ctx context.Context) (string, error) { return c.InClusterRouterURL(ctx) }

// PodURL reaches a pod's port through a port-forward of the API server.
func (c *Cluster) PodURL(ctx context.Context, pod *corev1.Pod, port int) (string, error) {
	return c.forwards.URL(ctx, pod, port) // a nil Forwarder says it is not connected
}

// Versions reports the API server's version and the controller's tag.
func (c *Cluster) Versions(context.Context) (string, string, error) {
	if c.client == nil {
		return "", "", errors.New("not connected")
	}
	v, err := c.client.Discovery().ServerVersion()
	if err != nil {
		return "", "", err
	}
	return v.GitVersion, c.argo, nil
}

// PrometheusURL is the Prometheus the user named (--prometheus-url), which
// both Argo's controller and the harness must reach.
func (c *Cluster) PrometheusURL(context.Context) (string, error) {
	if c.opts.PrometheusURL == "" {
		return "", errors.New("no Prometheus given for the cluster (--prometheus-url)")
	}
	return c.opts.PrometheusURL, nil
}
