package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analysis/metricai"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
)

// buildStandin builds testdata/metricai-standin, a TEST STAND-IN for the
// metric-ai plugin (not the real plugin, which the Go module proxy does not
// serve), against the Argo Rollouts release in bin/: a throwaway module
// with Argo's own go.mod and go.sum (its requirements and replace
// directives, so the RPC types are the controller's), built with the
// toolchain that release needs, from the module cache.
func buildStandin(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "rollouts-controller"), "--version").Output()
	require.NoError(t, err, "rollouts-controller --version")
	version := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	toolchain := cmpOr(os.Getenv("ARGO_TOOLCHAIN"), "go1.27.3") // as hack/tools/build.sh
	goEnv := func(args ...string) *exec.Cmd {
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+toolchain, "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
		return cmd
	}
	dl := goEnv("mod", "download", "-json", "github.com/argoproj/argo-rollouts@"+version)
	dl.Dir = t.TempDir()
	raw, err := dl.Output()
	require.NoError(t, err, "go mod download argo-rollouts@%s", version)
	var mod struct{ Dir, Sum, GoModSum string }
	require.NoError(t, json.Unmarshal(raw, &mod))

	dir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(mod.Dir, "go.mod"))
	require.NoError(t, err)
	gosum, err := os.ReadFile(filepath.Join(mod.Dir, "go.sum"))
	require.NoError(t, err)
	gomod = []byte(strings.Replace(string(gomod), "module github.com/argoproj/argo-rollouts\n", "module blastradius.test/metricai-standin\n", 1) +
		"\nrequire github.com/argoproj/argo-rollouts " + version + "\n")
	gosum = append(gosum, []byte("github.com/argoproj/argo-rollouts "+version+" "+mod.Sum+"\n"+
		"github.com/argoproj/argo-rollouts "+version+"/go.mod "+mod.GoModSum+"\n")...)
	src, err := os.ReadFile(filepath.Join("testdata", "metricai-standin", "main.go"))
	require.NoError(t, err)
	for name, data := range map[string][]byte{"go.mod": gomod, "go.sum": gosum, "main.go": src} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	exe := filepath.Join(t.TempDir(), "metricai-standin")
	build := goEnv("build", "-trimpath", "-o", exe, ".")
	build.Dir = dir
	msg, err := build.CombinedOutput()
	require.NoError(t, err, "building the stand-in:\n%s", msg)
	return exe
}

// TestRunMetricAIPluginEndToEnd runs scenarios/metric-ai on the local
// platform with --metric-ai-plugin pointing at a TEST STAND-IN for the
// metric-ai plugin (testdata/metricai-standin: it walks the plugin's agent
// path as its sources describe it; nothing here is evidence of how the real
// plugin behaves). What it checks is the wiring: Argo loads the plugin from
// its file:// location at start-up; the plugin, run by the controller with
// its identity, reads the pods and their logs (the ClusterRole rules) and
// asks the endpoint's agent API for the backing analyzer (threshold), whose
// answers it relays; Argo aborts the bad release and promotes the good one
// on those measurements; the run's metric-ai verdicts are Argo's
// measurements, the agent calls are the run's analysis calls, and the
// other analyzers replay the trace at Argo's measurement times.
func TestRunMetricAIPluginEndToEnd(t *testing.T) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if testing.Short() || bin == "" {
		t.Skip("needs the tools: run `make test` (BLASTRADIUS_BIN unset or -short)")
	}
	standin := buildStandin(t, bin)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runScenarios(context.Background(), &stdout, &stderr,
		runOptions{platform: "local", out: out, parallel: 2, binDir: bin, quiet: true, ai: aiOptions{metricAIPlugin: standin}},
		[]string{filepath.Join("..", "..", "scenarios", "metric-ai")}, nil)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	assert.Contains(t, stderr.String(), "Argo Rollouts: metric plugin argoproj-labs/metric-ai from "+standin)
	assert.NotContains(t, stderr.String(), "skip ")
	set, err := results.Read(out)
	require.NoError(t, err)
	require.Len(t, set.Runs, 2)
	for _, r := range set.Runs {
		t.Run(r.ID, func(t *testing.T) {
			assert.Equal(t, metricai.Name, r.Analyzer)
			want, outcome := results.VerdictPromoted, results.OutcomePromoted
			if r.GroundTruth == results.Bad {
				want, outcome = results.VerdictDetected, results.OutcomeAborted
			}
			assert.Equal(t, want, r.Verdict, "expectations: %+v", r.Expectations)
			assert.Equal(t, outcome, r.Outcome)
			assert.False(t, r.Failed(), "expectations: %+v", r.Expectations)
			assertRecomputes(t, filepath.Join(out, r.Records), r)

			// Argo measured through the plugin: Successful or Failed as
			// the plugin set them, never the web provider's JSON verdict.
			phases := map[results.MeasurementPhase]int{}
			for _, e := range r.Events {
				if e.Kind == results.EventMeasurement {
					assert.Equal(t, strategy.MetricName, e.Measurement.Metric)
					assert.NotContains(t, e.Measurement.Value, "verdict", "a plugin's value, not the endpoint's JSON")
					phases[e.Measurement.Phase]++
				}
			}
			if r.GroundTruth == results.Bad {
				assert.Positive(t, phases[results.MeasurementFailed], "%v", phases)
			} else {
				assert.Positive(t, phases[results.MeasurementSuccessful], "%v", phases)
				assert.Zero(t, phases[results.MeasurementFailed], "%v", phases)
			}

			// The plugin's agent calls reached the backing analyzer.
			require.NotEmpty(t, r.Analysis, "the plugin asked the endpoint's agent API")
			for _, c := range r.Analysis {
				assert.Equal(t, metricai.DefaultBacking, c.Analyzer)
				assert.NotEmpty(t, c.Hash, "the canary selector pinned the pod-template hash")
				assert.NotEmpty(t, c.StableHash)
				assert.Len(t, c.Shadow, len(analysis.Builtin())-1, "every other builtin analyzer answered in shadow")
			}

			byName := map[string]results.Detection{}
			for _, d := range r.Detections {
				byName[d.Analyzer] = d
				assert.Equal(t, d.Analyzer == metricai.Name, d.Gating, d.Analyzer)
			}
			gate, ok := byName[metricai.Name]
			require.True(t, ok, "a detection for metric-ai from Argo's measurements")
			assert.Positive(t, gate.Measurements)
			_, ok = byName[metricai.DefaultBacking]
			assert.True(t, ok, "the backing analyzer replayed at Argo's measurement times")
			if r.GroundTruth == results.Bad {
				require.NotNil(t, gate.DetectedAt, "metric-ai failed the release")
				require.NotNil(t, gate.FailedBeforeDetect)
			} else {
				assert.Nil(t, gate.DetectedAt)
			}
			assert.NotEmpty(t, r.Trace)
		})
	}
}
