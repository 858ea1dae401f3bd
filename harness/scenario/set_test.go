package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func named(name string) string { return strings.Replace(head, "name: t", "name: "+name, 1) }

func TestPlanRunsFromASet(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", named("a"))
	write(t, dir, "b.yaml", named("b"))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sets"), 0o755))
	set := write(t, filepath.Join(dir, "sets"), "pr.yaml", `apiVersion: blastradius.dev/v1
kind: RunSet
metadata:
  name: pr
spec:
  timeScale: 0.5
  runs:
  - scenarios: [../a.yaml]
    only: strategy=canary,canary-analysis
  - scenarios: [..]
    only: strategy=canary-analysis,blue-green
`)
	require.True(t, IsSetFile(set))
	require.False(t, IsSetFile(filepath.Join(dir, "a.yaml")))
	require.False(t, IsSetFile(dir))

	plan, err := PlanRuns([]string{set}, PlanOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"a/canary/none/seed-1",
		"a/canary-analysis/threshold/seed-1",
		"a/blue-green/none/seed-1", // a/canary-analysis again is not run twice
		"b/canary-analysis/threshold/seed-1",
		"b/blue-green/none/seed-1",
	}, ids(plan.Runs))
	for i, r := range plan.Runs {
		assert.Equal(t, i, r.Index)
		assert.Equal(t, 0.5, r.Scenario.RunTimeScale, "the set's time scale")
	}
	assert.Len(t, plan.Scenarios, 2, "a file named twice is one scenario")

	// The command line narrows the set and overrides its scale and repeat.
	only, err := ParseFilter("scenario=b")
	require.NoError(t, err)
	plan, err = PlanRuns([]string{set}, PlanOptions{Only: only, Repeat: 2, TimeScale: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"b/canary-analysis/threshold/seed-1", "b/canary-analysis/threshold/seed-2",
		"b/blue-green/none/seed-1", "b/blue-green/none/seed-2",
	}, ids(plan.Runs))
	assert.Equal(t, 2.0, plan.Runs[0].Scenario.RunTimeScale)

	// Plain files and directories still plan as before.
	plan, err = PlanRuns([]string{dir}, PlanOptions{})
	require.NoError(t, err)
	assert.Len(t, plan.Runs, 12)
	assert.Equal(t, 0.0, plan.Runs[0].Scenario.RunTimeScale, "no run scale: the scenario as written")
}

func TestPlanRunsRefusesOneScenarioAtTwoScales(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.yaml", named("a"))
	set := write(t, dir, "set.yml", `apiVersion: blastradius.dev/v1
kind: RunSet
metadata: {name: s}
spec:
  timeScale: 0.5
  runs:
  - scenarios: [a.yaml]
`)
	_, err := PlanRuns([]string{set, a}, PlanOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "named twice with different time scales (0.5 and its own)")
	_, err = PlanRuns([]string{set, a}, PlanOptions{TimeScale: 0.5})
	assert.NoError(t, err, "one scale for all on the command line")
}

func TestLoadSetErrorsNameFileLineAndField(t *testing.T) {
	path := write(t, t.TempDir(), "bad.yaml", `apiVersion: blastradius.dev/v1
kind: RunSet
metadata:
  name: Bad_Name
spec:
  timeScale: 0
  repeat: 0
  color: blue
  runs:
  - scenarios: []
  - only: strategy=warp
  - scenarios: [x.yaml]
    only: strategy=warp
`)
	_, err := LoadSet(path)
	require.Error(t, err)
	var got []string
	for _, e := range Errors(err) {
		got = append(got, strings.ReplaceAll(e.Error(), path, "FILE"))
	}
	assert.Equal(t, []string{
		`FILE:4: metadata.name: must be a DNS label (lowercase letters, digits and '-'), got "Bad_Name"`,
		`FILE:6: spec.timeScale: must be greater than 0 and at most 10, got 0`,
		`FILE:7: spec.repeat: must be between 1 and 100, got 0`,
		`FILE:8: spec.color: unknown field`,
		`FILE:10: spec.runs[0].scenarios: must name at least one scenario file or directory`,
		`FILE:11: spec.runs[1].scenarios: required`,
		`FILE:13: spec.runs[2].only: "strategy=warp": unknown strategy "warp" (known: ` + strings.Join(strategy.Names(), ", ") + `)`,
	}, got)

	_, err = PlanRuns([]string{path}, PlanOptions{})
	require.Error(t, err, "a bad set is refused before any scenario is read")
}

// The shipped sets plan: the PR set gives every strategy, and every
// builtin analyzer gating at least once; the full set is every run of
// scenarios/ and scenarios/routed/, three seeds each.
func TestShippedSets(t *testing.T) {
	dir := filepath.Join("..", "..", "scenarios")
	pr, err := PlanRuns([]string{filepath.Join(dir, "sets", "pr.yaml")}, PlanOptions{})
	require.NoError(t, err)
	strategies, analyzers := map[string]bool{}, map[string]bool{}
	for _, r := range pr.Runs {
		strategies[r.Strategy], analyzers[r.Analyzer] = true, true
	}
	for _, s := range strategy.Names() {
		assert.True(t, strategies[s], "the PR set runs %s", s)
	}
	for _, a := range []string{"threshold", "prometheus", "kayenta", "sprt", "sequential"} {
		assert.True(t, analyzers[a], "the PR set gates with %s", a)
	}

	full, err := PlanRuns([]string{filepath.Join(dir, "sets", "full.yaml")}, PlanOptions{})
	require.NoError(t, err)
	each, err := PlanRuns([]string{dir, filepath.Join(dir, "routed")}, PlanOptions{Repeat: 3})
	require.NoError(t, err)
	assert.Equal(t, ids(each.Runs), ids(full.Runs))
	for _, r := range pr.Runs {
		assert.Contains(t, ids(full.Runs), r.ID, "every PR run is a nightly run too, seed for seed")
	}
}
