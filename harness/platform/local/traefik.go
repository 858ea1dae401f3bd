package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/kube"
)

// Traefik runs beside the control plane as one more supervised process: its
// Kubernetes CRD provider watches IngressRoutes and TraefikServices through
// the API server with the identity of the service account its own RBAC
// manifest binds, and it serves one entrypoint on 127.0.0.1. Kubernetes
// refuses loopback pod IPs in EndpointSlices, so routes reach Services
// through their node port (Traefik's nodePortLB), which the node's service
// proxy serves on 127.0.0.1, the node's InternalIP.
const (
	traefikModule = "github.com/traefik/traefik/v3"
	traefikDir    = "traefik"
	// TraefikEntryPoint is the entrypoint routes name.
	TraefikEntryPoint = "web"
	// TraefikAccount is the service account the module's RBAC manifest binds.
	TraefikAccount   = "traefik-ingress-controller"
	TraefikNamespace = "default"
)

// TraefikCRDs are the custom resources routes are made of.
var TraefikCRDs = []string{"ingressroutes.traefik.io", "traefikservices.traefik.io", "middlewares.traefik.io"}

// The module's manifests, relative to its directory: the CRDs and the
// ClusterRole and its binding, as Traefik's docs install them.
var traefikManifests = []string{
	"docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml",
	"docs/content/reference/dynamic-configuration/kubernetes-crd-rbac.yml",
}

var traefikVersionLine = regexp.MustCompile(`(?m)^Version:\s+(v\S+)`)

// traefikVersion asks the built binary which release it is.
func traefikVersion(ctx context.Context, bin string) (string, error) {
	return ToolVersion(ctx, bin, "version", traefikVersionLine)
}

// TraefikRelease is the release the Traefik in binDir was built from, and
// that release's CRDs and RBAC, read from its module in the module cache.
// The RBAC binds TraefikAccount in TraefikNamespace.
func TraefikRelease(ctx context.Context, binDir string) (version string, objs []*unstructured.Unstructured, err error) {
	version, err = traefikVersion(ctx, filepath.Join(binDir, "traefik"))
	if err != nil {
		return "", nil, err
	}
	dir, err := moduleDir(traefikModule, version)
	if err != nil {
		return "", nil, err
	}
	for _, m := range traefikManifests {
		path := filepath.Join(dir, m)
		f, err := os.Open(path)
		if err != nil {
			return "", nil, fmt.Errorf("Traefik manifests for %s: %w: run `make tools`", version, err)
		}
		o, err := kube.Decode(f)
		f.Close()
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", path, err)
		}
		objs = append(objs, o...)
	}
	return version, objs, nil
}

// installTraefik applies the release's CRDs and RBAC from the module cache
// and returns a token of the service account they bind.
func (c *Cluster) installTraefik(ctx context.Context) (version, token string, err error) {
	version, objs, err := TraefikRelease(ctx, c.opts.BinDir)
	if err != nil {
		return "", "", err
	}
	a, err := kube.NewApplier(c.rest)
	if err != nil {
		return "", "", err
	}
	if err := a.Apply(ctx, objs...); err != nil {
		return "", "", fmt.Errorf("Traefik %s manifests: %w", version, err)
	}
	if err := a.WaitEstablished(ctx, TraefikCRDs...); err != nil {
		return "", "", err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: TraefikAccount, Namespace: TraefikNamespace}}
	if _, err := c.client.CoreV1().ServiceAccounts(TraefikNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", "", err
	}
	token, err = c.serviceAccountToken(ctx, TraefikNamespace, TraefikAccount)
	return version, token, err
}

// startTraefik starts Traefik (installManifests installed its CRDs and
// RBAC). Traefik
// reads its static configuration from one source only (a file, the flags or
// the environment), so all of it goes in a file, readable by its owner
// alone since it holds the token.
func (c *Cluster) startTraefik(ctx context.Context, u *upState) error {
	dir := filepath.Join(c.opts.DataDir, traefikDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := yaml.Marshal(map[string]any{
		"global": map[string]any{"checkNewVersion": false, "sendAnonymousUsage": false},
		"entryPoints": map[string]any{
			TraefikEntryPoint: map[string]any{"address": fmt.Sprintf("127.0.0.1:%d", u.ports.traefik)},
			"traefik":         map[string]any{"address": fmt.Sprintf("127.0.0.1:%d", u.ports.traefikPing)},
		},
		"ping": map[string]any{"entryPoint": "traefik"},
		"providers": map[string]any{"kubernetesCRD": map[string]any{
			"endpoint":         u.apiURL,
			"token":            u.traefikToken,
			"certAuthFilePath": u.pki.caCert,
			// Rollouts change weights every few seconds: apply each at once.
			"throttleDuration": "0s",
		}},
		"log": map[string]any{"level": "INFO", "noColor": true},
	})
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "traefik.yml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return err
	}
	return c.start("traefik", []string{"GOMAXPROCS=1"}, "--configFile="+path)
}

// waitTraefik waits for /ping and records the entrypoint's URL.
func (c *Cluster) waitTraefik(ctx context.Context, u *upState) error {
	if err := c.waitHTTP(ctx, "traefik", fmt.Sprintf("http://127.0.0.1:%d/ping", u.ports.traefikPing), nil); err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", u.ports.traefik)
	if err := os.WriteFile(filepath.Join(c.opts.DataDir, traefikDir, "url"), []byte(url+"\n"), 0o644); err != nil {
		return err
	}
	c.routerURL = url
	c.progress("Traefik %s ready at %s", u.traefikVersion, url)
	return nil
}

// RouterURL is Traefik's entrypoint, where routed strategies' load goes.
func (c *Cluster) RouterURL(context.Context) (string, error) {
	if c.routerURL == "" {
		return "", errors.New("cluster is not up")
	}
	return c.routerURL, nil
}

// RouterURLIn is the router URL of the cluster running with dataDir, for
// commands that run beside the cluster's own process.
func RouterURLIn(dataDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, traefikDir, "url"))
	if err != nil {
		return "", fmt.Errorf("no Traefik URL: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
