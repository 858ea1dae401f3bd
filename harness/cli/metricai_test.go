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

	"github.com/blastradius/blastradius/harness/analysis/metricai"
	"github.com/blastradius/blastradius/harness/scenario"
)

// writeScenario writes a scenario gated by the given analyzers under
// canary-analysis, with plain canary beside it, and returns its directory.
func writeScenario(t *testing.T, analyzers string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mai.yaml"), []byte(`apiVersion: blastradius.dev/v1
kind: Scenario
metadata: {name: mai}
spec:
  stable: blue
  candidate: bad-green
  strategies: [canary-analysis, canary]
  analyzers: `+analyzers+`
`), 0o644))
	return dir
}

// Without --metric-ai-plugin each run gated by metric-ai is skipped with
// one line saying why; the other runs stay.
func TestSkipPluginRunsWithoutBinary(t *testing.T) {
	scs, err := scenario.LoadAll(writeScenario(t, "[metric-ai, threshold]"))
	require.NoError(t, err)
	specs := scenario.Expand(scs, scenario.Filter{}, 0, nil)
	require.Len(t, specs, 3)

	var w bytes.Buffer
	kept := (&aiOptions{}).skipPluginRuns(&w, specs)
	var ids []string
	for _, s := range kept {
		ids = append(ids, s.ID)
	}
	assert.Equal(t, []string{"mai/canary-analysis/threshold/seed-1", "mai/canary/none/seed-1"}, ids)
	assert.Equal(t, "skip mai/canary-analysis/metric-ai/seed-1: metric-ai runs the real argoproj-labs/metric-ai Argo plugin, and no binary was given (--metric-ai-plugin PATH)\n",
		w.String())

	// With a binary nothing is skipped (and at most one warning is said).
	w.Reset()
	kept = (&aiOptions{metricAIPlugin: "/bin/true"}).skipPluginRuns(&w, specs)
	assert.Len(t, kept, 3)
	assert.LessOrEqual(t, strings.Count(w.String(), "\n"), 1)
	assert.NotContains(t, w.String(), "skip ")
}

// A set whose every run needs the plugin runs nothing, starts no cluster,
// and is not an error: each run says why it was skipped.
func TestRunSkipsEveryPluginRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runScenarios(context.Background(), &stdout, &stderr, runOptions{platform: "local", out: t.TempDir(), parallel: 1,
		only: "strategy=canary-analysis"}, []string{writeScenario(t, "[metric-ai]")}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"skip mai/canary-analysis/metric-ai/seed-1: metric-ai runs the real argoproj-labs/metric-ai Argo plugin, and no binary was given (--metric-ai-plugin PATH)",
		"nothing to run: every run was skipped",
	}, strings.Split(strings.TrimSpace(stderr.String()), "\n"))
	assert.NotContains(t, stderr.String(), "starting the", "no cluster was started")
}

// The plugin's path becomes absolute (Argo copies it from its own working
// directory); a path that is no executable file, or a backing that cannot
// answer the plugin, is refused with one line each.
func TestMetricAISettings(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "metric-ai")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	t.Chdir(dir)

	o := aiOptions{metricAIPlugin: "metric-ai"}
	s, err := o.settings()
	require.NoError(t, err)
	assert.Equal(t, bin, s.MetricAIPlugin)
	assert.Equal(t, metricai.DefaultBacking, s.MetricAIBacking)
	plugins, backing := o.metricAI()
	require.Len(t, plugins, 1)
	assert.Equal(t, metricai.Plugin(bin), plugins[0])
	assert.Equal(t, "threshold", backing)

	none, backing := (&aiOptions{}).metricAI()
	assert.Empty(t, none, "no plugin without the flag")
	assert.Empty(t, backing)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o644))
	for _, bad := range []aiOptions{
		{metricAIPlugin: filepath.Join(dir, "missing")},
		{metricAIPlugin: filepath.Join(dir, "data")},
		{metricAIPlugin: dir},
		{metricAIPlugin: bin, metricAIBacking: "metric-ai"},
		{metricAIPlugin: bin, metricAIBacking: "nope"},
	} {
		_, err := bad.settings()
		require.Error(t, err, "%+v", bad)
		assert.Equal(t, 1, len(strings.Split(err.Error(), "\n")), err.Error())
		assert.Regexp(t, `^--metric-ai-(plugin|backing): `, err.Error())
	}

	// The endpoint serves the backing, not metric-ai: an external backing
	// must be configured like any gating external analyzer.
	for _, k := range []string{"OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY", "AGENT_URL"} {
		t.Setenv(k, "")
	}
	served, err := (&aiOptions{metricAIPlugin: bin}).externals([]string{"metric-ai"})
	require.NoError(t, err)
	assert.Empty(t, served, "threshold is builtin: nothing external to build, and never metric-ai itself")
	_, err = (&aiOptions{metricAIPlugin: bin, metricAIBacking: "llm"}).externals([]string{"metric-ai"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "llm: no base URL")
}
