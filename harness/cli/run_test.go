package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/results"
)

// TestRunSmokeScenario runs the short smoke scenario end to end on the local
// platform: a bad release under canary-analysis must be detected by Argo
// through the threshold analyzer, and every request accounted for.
func TestRunSmokeScenario(t *testing.T) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if testing.Short() || bin == "" {
		t.Skip("needs the tools: run `make test` (BLASTRADIUS_BIN unset or -short)")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runScenarios(context.Background(), &stdout, &stderr,
		runOptions{platform: "local", out: out, parallel: 1, binDir: bin, quiet: true},
		[]string{filepath.Join("..", "..", "scenarios", "smoke")}, nil)
	require.NoError(t, err, "stderr:\n%s", stderr.String())

	set, err := results.Read(out)
	require.NoError(t, err)
	require.Len(t, set.Runs, 1)
	r := set.Runs[0]
	assert.Equal(t, "smoke", r.Scenario)
	assert.Equal(t, "canary-analysis", r.Strategy)
	assert.Equal(t, "bad", r.GroundTruth)
	assert.Equal(t, "detected", string(r.Verdict))
	assert.Equal(t, "aborted", r.Outcome)
	assert.Positive(t, r.BlastRadius.CandidateFailedRequests)
	assert.NotNil(t, r.Timing.TimeToDetectSeconds)
	assert.False(t, r.Failed(), "expectations: %+v", r.Expectations)
	assert.Equal(t, r.Load.Total, r.BlastRadius.TotalRequests+r.Excluded, "every request is accounted for")
	assert.NotEmpty(t, set.Environment.Kubernetes)
	assert.FileExists(t, filepath.Join(out, r.Records))
	assert.Contains(t, stdout.String(), "smoke")
	for _, f := range []string{"report.html", "junit.xml", "summary.md"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
}
