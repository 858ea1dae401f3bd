package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/pkg/types"
)

// Provider adapts a local cluster to e2e-framework, so that tests use
// envfuncs.CreateClusterWithOpts and envfuncs.DestroyCluster exactly as they
// do with kind.
type Provider struct {
	name    string
	opts    Options
	cluster *Cluster
}

var _ types.E2EClusterProviderWithImageLoader = (*Provider)(nil)

// NewProvider returns an e2e-framework cluster provider for the local platform.
func NewProvider(opts Options) *Provider { return &Provider{opts: opts} }

// WithOptions returns a ClusterOpts that replaces the provider's Options.
func WithOptions(opts Options) types.ClusterOpts {
	return func(p types.E2EClusterProvider) {
		if lp, ok := p.(*Provider); ok {
			lp.opts = opts
		}
	}
}

// SetDefaults names the cluster "local" unless WithName says otherwise.
func (p *Provider) SetDefaults() types.E2EClusterProvider {
	if p.name == "" {
		p.name = "local"
	}
	return p
}

// WithName sets the cluster name; each name has its own data dir.
func (p *Provider) WithName(name string) types.E2EClusterProvider { p.name = name; return p }

// WithVersion is accepted for interface compatibility: the version is the one
// `make tools` built, and Create checks nothing else is asked for.
func (p *Provider) WithVersion(string) types.E2EClusterProvider { return p }

// WithPath sets the directory holding the tools.
func (p *Provider) WithPath(path string) types.E2EClusterProvider { p.opts.BinDir = path; return p }

// WithOpts applies ClusterOpts such as WithOptions.
func (p *Provider) WithOpts(opts ...types.ClusterOpts) types.E2EClusterProvider {
	for _, o := range opts {
		o(p)
	}
	return p
}

// Create starts the cluster and returns its kubeconfig path.
func (p *Provider) Create(ctx context.Context, _ ...string) (string, error) {
	opts := p.opts
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(".blastradius", p.name)
	}
	p.cluster = New(opts)
	if err := p.cluster.Up(ctx); err != nil {
		return "", err
	}
	return p.cluster.Kubeconfig(), nil
}

// CreateWithConfig is Create: the local platform takes no config file.
func (p *Provider) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	if configFile != "" {
		return "", fmt.Errorf("local platform takes no cluster config file (got %s)", configFile)
	}
	return p.Create(ctx)
}

// Cluster is the running cluster, nil before Create.
func (p *Provider) Cluster() *Cluster { return p.cluster }

// GetKubeconfig is the kubeconfig path.
func (p *Provider) GetKubeconfig() string {
	if p.cluster == nil {
		return ""
	}
	return p.cluster.Kubeconfig()
}

// GenerateKubeconfig is GetKubeconfig: the file does not change while up.
func (p *Provider) GenerateKubeconfig(...string) (string, error) { return p.GetKubeconfig(), nil }

// GetKubectlContext is the kubeconfig's only context.
func (p *Provider) GetKubectlContext() string { return clusterName }

// ExportLogs copies every component's log into dest.
func (p *Provider) ExportLogs(_ context.Context, dest string) error {
	if p.cluster == nil {
		return fmt.Errorf("cluster %s is not up", p.name)
	}
	src := filepath.Join(p.cluster.DataDir(), "logs")
	return os.CopyFS(dest, os.DirFS(src))
}

// Destroy stops everything and removes the data dir.
func (p *Provider) Destroy(ctx context.Context) error {
	if p.cluster == nil {
		return nil
	}
	return p.cluster.Down(ctx)
}

// WaitForControlPlane returns at once: Create already waited for the
// control plane, the node and Argo Rollouts.
func (p *Provider) WaitForControlPlane(context.Context, klient.Client) error { return nil }

// KubernetesRestConfig is the admin client configuration.
func (p *Provider) KubernetesRestConfig() *rest.Config {
	if p.cluster == nil {
		return nil
	}
	return p.cluster.RESTConfig()
}

// LoadImage checks the image is one the node agent can run.
func (p *Provider) LoadImage(ctx context.Context, image string, _ ...string) error {
	if p.cluster == nil {
		return fmt.Errorf("cluster %s is not up", p.name)
	}
	return p.cluster.LoadImages(ctx, image)
}

// LoadImageArchive checks that every image in a tarball (as written by
// `blastradius images build`) is one the node agent can run.
func (p *Provider) LoadImageArchive(ctx context.Context, archivePath string, _ ...string) error {
	if p.cluster == nil {
		return fmt.Errorf("cluster %s is not up", p.name)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archivePath) })
	if err != nil {
		return fmt.Errorf("%s: %w", archivePath, err)
	}
	for _, d := range m {
		if err := p.cluster.LoadImages(ctx, d.RepoTags...); err != nil {
			return fmt.Errorf("%s: %w", archivePath, err)
		}
	}
	return nil
}
