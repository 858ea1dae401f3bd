package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/platform/kind"
	"github.com/blastradius/blastradius/harness/results"
)

// TestRunOnKind runs scenarios/kind on a real kind cluster, when the host
// can make one: a running container engine and the node image at hand
// (nothing is pulled here): kind's pinned image, or the one
// BLASTRADIUS_KIND_NODE_IMAGE names (hack/kindnode/build.sh makes one
// without pulling). Otherwise it skips with one line naming what was
// missing.
func TestRunOnKind(t *testing.T) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if testing.Short() || bin == "" {
		t.Skip("needs the tools: run `make test` (BLASTRADIUS_BIN unset or -short)")
	}
	nodeImage := os.Getenv("BLASTRADIUS_KIND_NODE_IMAGE")
	pre := kind.RunPreflight(context.Background(), nodeImage)
	if err := pre.Check(); err != nil {
		t.Skip("kind: " + err.Error())
	}
	if !pre.ImagePresent {
		t.Skipf("kind: the node image %s is not in %s's image store, and these tests pull nothing", pre.NodeImage, pre.Engine)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runScenarios(context.Background(), &stdout, &stderr, runOptions{platform: kind.Name, out: out, parallel: 1, binDir: bin, quiet: true,
		clusterName: "blastradius-e2e", nodeImage: nodeImage, analysisListen: "127.0.0.1:0"},
		[]string{filepath.Join("..", "..", "scenarios", "kind")}, nil)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	set, err := results.Read(out)
	require.NoError(t, err)
	require.Len(t, set.Runs, 5)
	for _, r := range set.Runs {
		assert.False(t, r.Failed(), "%s: %+v", r.ID, r.Expectations)
		assert.Equal(t, r.Load.Total, r.BlastRadius.TotalRequests+r.Excluded, "%s: every request is accounted for", r.ID)
	}
}
