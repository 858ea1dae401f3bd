package platform

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options are what every platform is built from.
type Options struct {
	// BinDir holds the tools built by make tools (default: $BLASTRADIUS_BIN,
	// else ./bin).
	BinDir string
	// DataDir holds the platform's state while it runs.
	DataDir string
	// Log receives progress messages meant for the user.
	Log io.Writer
	// FailureLogs is where Up keeps the cluster's logs (ExportLogs) when it
	// fails, before it removes what it started; nowhere if empty.
	FailureLogs string
	// MetricPlugins are Argo metric provider plugins to configure before
	// the controller starts; none by default.
	MetricPlugins []MetricPlugin
	// StepPlugins are Argo step plugins to configure the same way.
	StepPlugins []MetricPlugin
	// ImageAliases map image references pods name to images the platform
	// runs (see ImageAlias); an image neither aliased nor runnable still
	// fails to pull.
	ImageAliases []ImageAlias
	// StartDelay holds each container's first start this long where
	// containers start in milliseconds (local: processes), standing in for
	// a kubelet's sandbox and image set-up; platforms with a container
	// runtime take that time anyway and ignore it. Default 0.
	StartDelay time.Duration

	// Context names the kubeconfig context of an existing cluster
	// (platform cluster); required there, never taken from the
	// kubeconfig's current context. Kubeconfig is the file (default:
	// $KUBECONFIG, else ~/.kube/config).
	Context, Kubeconfig string
	// Registry is where an existing cluster's nodes pull the project's
	// images from (blastradius images push --registry); empty when they
	// have them already.
	Registry string
	// PrometheusURL is a Prometheus that an existing cluster's Argo
	// controller and the harness both reach; none if empty.
	PrometheusURL string

	// ClusterName names the cluster a platform makes (kind; default
	// "blastradius"); Reuse takes an existing one of that name as it is,
	// and leaves it at Down.
	ClusterName string
	Reuse       bool
	// NodeImage overrides the kind node image the preflight picks.
	NodeImage string
}

// Factory builds a platform, which Up then starts.
type Factory func(Options) (Platform, error)

// ErrNotImplemented is returned for a platform that is named but not built
// yet.
var ErrNotImplemented = errors.New("not implemented yet")

// planned are platforms named in the CLI and docs whose package is not
// written yet: New says so instead of "unknown".
var planned []string

var (
	mu       sync.Mutex
	registry = map[string]Factory{}
)

// Register adds a platform under name; a platform package registers itself
// in its init, as database/sql drivers do. Registering a name twice panics.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("platform: " + name + " registered twice")
	}
	registry[name] = f
}

// Names lists the registered platforms, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Planned lists the platforms named but not built yet.
func Planned() []string { return slices.Clone(planned) }

// New builds the named platform without starting it (Up does); an unknown
// name is an error listing the known ones.
func New(name string, o Options) (Platform, error) {
	mu.Lock()
	f, ok := registry[name]
	mu.Unlock()
	switch {
	case ok:
		return f(o)
	case slices.Contains(planned, name):
		return nil, fmt.Errorf("platform %s: %w; use --platform %s", name, ErrNotImplemented, strings.Join(Names(), " or --platform "))
	}
	return nil, fmt.Errorf("unknown platform %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Check reports whether New(name) can build a platform.
func Check(name string) error {
	_, err := New(name, Options{})
	return err
}
