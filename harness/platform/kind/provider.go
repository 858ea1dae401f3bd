package kind

import (
	"context"
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/blastradius/blastradius/harness/platform"
)

// Provider adapts a kind cluster made by this platform to e2e-framework:
// tests use envfuncs.CreateClusterWithOpts and envfuncs.DestroyCluster with
// it as with e2e-framework's own kind provider, which drives kind's CLI;
// this one drives kind's Go API and loads the project's images and Argo.
type Provider struct {
	opts    platform.Options
	cluster *Cluster
}

var _ types.E2EClusterProviderWithImageLoader = (*Provider)(nil)

// NewProvider returns an e2e-framework cluster provider for kind.
func NewProvider(opts platform.Options) *Provider { return &Provider{opts: opts} }

// SetDefaults names the cluster DefaultCluster unless WithName says otherwise.
func (p *Provider) SetDefaults() types.E2EClusterProvider {
	if p.opts.ClusterName == "" {
		p.opts.ClusterName = DefaultCluster
	}
	return p
}

// WithName sets the kind cluster's name.
func (p *Provider) WithName(name string) types.E2EClusterProvider {
	p.opts.ClusterName = name
	return p
}

// WithVersion sets the node image (a kindest/node reference).
func (p *Provider) WithVersion(image string) types.E2EClusterProvider {
	p.opts.NodeImage = image
	return p
}

// WithPath sets the directory holding the tools (bin/).
func (p *Provider) WithPath(path string) types.E2EClusterProvider { p.opts.BinDir = path; return p }

// WithOpts applies ClusterOpts.
func (p *Provider) WithOpts(opts ...types.ClusterOpts) types.E2EClusterProvider {
	for _, o := range opts {
		o(p)
	}
	return p
}

// Create makes (or, with Reuse, takes) the cluster and returns its kubeconfig.
func (p *Provider) Create(ctx context.Context, _ ...string) (string, error) {
	p.cluster = New(p.opts)
	if err := p.cluster.Up(ctx); err != nil {
		return "", err
	}
	return p.cluster.Kubeconfig(), nil
}

// CreateWithConfig refuses a config file: the platform renders its own
// (the node port mappings are what its Services rely on).
func (p *Provider) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	if configFile != "" {
		return "", fmt.Errorf("the kind platform renders its own cluster config (got %s)", configFile)
	}
	return p.Create(ctx)
}

// Cluster is the platform, nil before Create.
func (p *Provider) Cluster() *Cluster { return p.cluster }

// GetKubeconfig is the kubeconfig path.
func (p *Provider) GetKubeconfig() string {
	if p.cluster == nil {
		return ""
	}
	return p.cluster.Kubeconfig()
}

// GenerateKubeconfig is GetKubeconfig.
func (p *Provider) GenerateKubeconfig(...string) (string, error) { return p.GetKubeconfig(), nil }

// GetKubectlContext is kind's context name for the cluster.
func (p *Provider) GetKubectlContext() string { return "kind-" + p.opts.ClusterName }

// ExportLogs is kind's log collection.
func (p *Provider) ExportLogs(ctx context.Context, dest string) error {
	if p.cluster == nil {
		return errors.New("kind: no cluster")
	}
	return p.cluster.ExportLogs(ctx, dest)
}

// Destroy deletes the cluster (a reused one stays).
func (p *Provider) Destroy(ctx context.Context) error {
	if p.cluster == nil {
		return nil
	}
	return p.cluster.Down(ctx)
}

// WaitForControlPlane returns at once: Create waited for the nodes and Argo.
func (p *Provider) WaitForControlPlane(context.Context, klient.Client) error { return nil }

// KubernetesRestConfig is the admin client configuration.
func (p *Provider) KubernetesRestConfig() *rest.Config {
	if p.cluster == nil {
		return nil
	}
	return p.cluster.RESTConfig()
}

// LoadImage builds one of the project's images and loads it into the nodes.
func (p *Provider) LoadImage(ctx context.Context, image string, _ ...string) error {
	if p.cluster == nil {
		return errors.New("kind: no cluster")
	}
	return p.cluster.LoadImages(ctx, image)
}

// LoadImageArchive loads an image archive (`blastradius images build`, or
// any docker-archive) into every node.
func (p *Provider) LoadImageArchive(_ context.Context, archivePath string, _ ...string) error {
	if p.cluster == nil || p.cluster.provider == nil {
		return errors.New("kind: no cluster")
	}
	if _, err := os.Stat(archivePath); err != nil {
		return err
	}
	return p.cluster.loadArchive(archivePath)
}
