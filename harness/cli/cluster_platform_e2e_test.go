package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/relay"
	"github.com/blastradius/blastradius/harness/results"
)

// TestRunOnExistingCluster runs the smoke scenario with --platform cluster
// on a cluster it did not start (a local one, started here, reached only
// through its kubeconfig context): the load runs in the cluster, pods are
// reached through port-forwards, Argo calls the analysis endpoint through
// the relay pod (the default there), the run's namespace goes, the cluster
// stays, and so does nothing of the relay.
func TestRunOnExistingCluster(t *testing.T) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if testing.Short() || bin == "" {
		t.Skip("needs the tools: run `make test` (BLASTRADIUS_BIN unset or -short)")
	}
	bin, _ = filepath.Abs(bin)
	ctx := context.Background()
	existing := local.New(local.Options{BinDir: bin, DataDir: filepath.Join(t.TempDir(), "existing")})
	require.NoError(t, existing.Up(ctx))
	defer func() { assert.NoError(t, existing.Down(context.Background())) }()

	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runScenarios(ctx, &stdout, &stderr, runOptions{platform: "cluster", out: out, parallel: 1, binDir: bin, quiet: true,
		kubeContext: "blastradius-local", kubeconfig: existing.Kubeconfig(), analysisListen: "127.0.0.1:0"},
		[]string{filepath.Join("..", "..", "scenarios", "smoke")}, nil)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	assert.Contains(t, stderr.String(), "connecting to context blastradius-local")
	set, err := results.Read(out)
	require.NoError(t, err)
	require.Len(t, set.Runs, 1)
	r := set.Runs[0]
	assert.False(t, r.Failed(), "expectations: %+v", r.Expectations)
	assert.Equal(t, "cluster", set.Environment.Platform)
	assert.Equal(t, results.LoadInCluster, r.Load.Generator, "the harness does not reach an existing cluster's Services")
	assert.Equal(t, r.Load.Total, r.BlastRadius.TotalRequests+r.Excluded)

	// The cluster is still there; the run's namespace is not.
	client, err := kubernetes.NewForConfig(existing.RESTConfig())
	require.NoError(t, err)
	nss, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	require.NoError(t, err, "the cluster is up")
	for _, ns := range nss.Items {
		assert.False(t, strings.HasPrefix(ns.Name, "br-") && ns.DeletionTimestamp == nil, "namespace %s left behind", ns.Name)
		assert.False(t, ns.Name == relay.Namespace && ns.DeletionTimestamp == nil, "the relay's namespace left behind")
	}
	require.NotEmpty(t, r.Analysis, "Argo called the analysis endpoint")
	assert.Contains(t, stderr.String(), "analysis through the relay", "the user is told how Argo reaches the harness")
}

func TestRunOnExistingClusterNeedsAContext(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runScenarios(context.Background(), &stdout, &stderr, runOptions{platform: "cluster", out: t.TempDir(), parallel: 1},
		[]string{filepath.Join("..", "..", "scenarios", "smoke")}, nil)
	require.ErrorContains(t, err, "--context")
	err = runScenarios(context.Background(), &stdout, &stderr, runOptions{platform: "cluster", load: "local", out: t.TempDir(), parallel: 1},
		[]string{filepath.Join("..", "..", "scenarios", "smoke")}, nil)
	require.ErrorContains(t, err, "the load runs in the cluster")
	_, err = run(t, "cluster", "up", "--platform", "cluster")
	require.ErrorContains(t, err, "not started or stopped by blastradius")
}
