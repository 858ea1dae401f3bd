package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/router"
)

// argoModule is the Go module the controller is built from; its manifests are
// read from the module cache at run time, so they always match the binary.
const argoModule = "github.com/argoproj/argo-rollouts"

// ArgoCRDs are the custom resources the harness needs established.
var ArgoCRDs = []string{
	"rollouts.argoproj.io", "analysistemplates.argoproj.io", "clusteranalysistemplates.argoproj.io",
	"analysisruns.argoproj.io", "experiments.argoproj.io",
}

// ToolVersion runs a built tool with arg and returns the first submatch of
// line in what it prints: the release it was built from.
func ToolVersion(ctx context.Context, bin, arg string, line *regexp.Regexp) (string, error) {
	out, err := exec.CommandContext(ctx, bin, arg).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", bin, arg, err)
	}
	m := line.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s %s printed no release version; rebuild it with `make tools`", bin, arg)
	}
	return string(m[1]), nil
}

var argoVersionLine = regexp.MustCompile(`^(v\S+)`)

// argoVersion asks the built controller which release it is.
func argoVersion(ctx context.Context, bin string) (string, error) {
	return ToolVersion(ctx, bin, "--version", argoVersionLine)
}

// ArgoRelease is the release of Argo Rollouts the controller in binDir was
// built from, and that release's module directory in the module cache,
// where the platform reads Argo's manifests (and hack/conformance its e2e
// suite).
func ArgoRelease(ctx context.Context, binDir string) (version, dir string, err error) {
	if version, err = argoVersion(ctx, filepath.Join(binDir, "rollouts-controller")); err != nil {
		return "", "", err
	}
	dir, err = moduleDir(argoModule, version)
	return version, dir, err
}

// argoManifests locates install.yaml of the controller's own release in the
// module cache (make tools downloads it there to build the controller).
func argoManifests(version string) (string, error) {
	dir, err := moduleDir(argoModule, version)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "manifests", "install.yaml")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("Argo Rollouts manifests for %s not in the module cache (%s): run `make tools`", version, path)
	}
	return path, nil
}

// moduleDir is a module's directory in the module cache, where make tools
// downloaded it to build the tool.
func moduleDir(module, version string) (string, error) {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOMODCACHE: %w", err)
		}
		cache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(cache, module+"@"+version)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("%s@%s is not in the module cache (%s): run `make tools`", module, version, dir)
	}
	return dir, nil
}

// installArgo applies the release's install.yaml except the controller's
// Deployment and Service: the controller runs as a local process instead.
func (c *Cluster) installArgo(ctx context.Context) (string, error) {
	version, err := argoVersion(ctx, c.bin("rollouts-controller"))
	if err != nil {
		return "", err
	}
	path, err := argoManifests(version)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	objs, err := kube.Decode(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	var keep []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment", "Service":
			continue
		}
		if o.GetNamespace() == "" && o.GetKind() != "CustomResourceDefinition" && !strings.HasPrefix(o.GetKind(), "Cluster") {
			o.SetNamespace(argoNamespace)
		}
		keep = append(keep, o)
	}
	if err := withPlugins(keep, platform.ArgoMetricPluginsKey, c.opts.MetricPlugins); err != nil {
		return "", err
	}
	if err := withPlugins(keep, platform.ArgoStepPluginsKey, c.opts.StepPlugins); err != nil {
		return "", err
	}
	// blastradius's Traefik traffic-router plugin, when make tools built
	// it: the routed strategies' header routes and mirrors need it.
	var routers []platform.MetricPlugin
	if fi, err := os.Stat(c.bin(router.PluginBinary)); err == nil && !fi.IsDir() {
		routers = append(routers, platform.MetricPlugin{Name: router.PluginName, Path: c.bin(router.PluginBinary), Rules: router.PluginRules})
	}
	if err := withPlugins(keep, platform.ArgoTrafficRouterPluginsKey, routers); err != nil {
		return "", err
	}
	for _, p := range c.opts.MetricPlugins {
		c.progress("Argo Rollouts: metric plugin %s from %s", p.Name, p.Path)
	}
	for _, p := range c.opts.StepPlugins {
		c.progress("Argo Rollouts: step plugin %s from %s (disabled: %t)", p.Name, p.Path, p.Disabled)
	}
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: argoNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	a, err := kube.NewApplier(c.rest)
	if err != nil {
		return "", err
	}
	if err := a.Apply(ctx, keep...); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if err := a.WaitEstablished(ctx, ArgoCRDs...); err != nil {
		return "", err
	}
	return version, nil
}

// withPlugins configures plugins whose binaries are on this machine, where
// the controller runs (platform.ConfigureArgoPlugins): Argo copies each into
// plugin-bin/ under its working directory, the data dir here.
func withPlugins(objs []*unstructured.Unstructured, key string, plugins []platform.MetricPlugin) error {
	for _, p := range plugins {
		if fi, err := os.Stat(p.Path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("plugin %s: %s is not an executable file", p.Name, p.Path)
		}
	}
	return platform.ConfigureArgoPlugins(objs, key, plugins)
}

// argoKubeconfig gives the controller the argo-rollouts service account's
// identity, so it runs with exactly the RBAC of a real install.
func (c *Cluster) argoKubeconfig(ctx context.Context, p *pki, server string) (string, error) {
	token, err := c.serviceAccountToken(ctx, argoNamespace, "argo-rollouts")
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.opts.DataDir, "pki", "argo-rollouts.kubeconfig")
	return path, writeKubeconfig(path, server, p.caPEM, "argo-rollouts", &clientcmdapi.AuthInfo{Token: token}, argoNamespace)
}

// serviceAccountToken is a day-long token of a service account, for a
// component that runs as a host process with exactly a real install's RBAC.
// The service account controller may not have created the token's
// prerequisites yet, so a refusal is retried for up to 5 s.
func (c *Cluster) serviceAccountToken(ctx context.Context, namespace, account string) (string, error) {
	exp := int64((24 * time.Hour).Seconds())
	var tok *authenticationv1.TokenRequest
	var err error
	for range 50 {
		tok, err = c.client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, account,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
		if err == nil {
			return tok.Status.Token, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("token for the %s service account: %w", account, err)
}
