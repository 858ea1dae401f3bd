package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analysis/llm"
	"github.com/blastradius/blastradius/harness/platform/kind"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/strategy"
)

// TestCatalogsReachEveryReader fails when a strategy or an analyzer is added
// to its catalog but not to what users meet: the help texts, the --only
// filter, the endpoint and the docs.
func TestCatalogsReachEveryReader(t *testing.T) {
	help := commandHelp(t, "run")
	validateHelp := commandHelp(t, "validate")
	docs := readDoc(t, "scenarios.md")

	for _, s := range strategy.All() {
		name := s.Name()
		assert.NotEmpty(t, s.Description(), name)
		assert.Contains(t, help, name, "run --help lists %s", name)
		assert.Contains(t, validateHelp, name, "validate --help lists %s", name)
		assert.Contains(t, docs, "| `"+name+"` |", "docs/scenarios.md's strategy table has %s", name)
		_, err := scenario.ParseFilter("strategy=" + name)
		assert.NoError(t, err, "--only accepts %s", name)
		tr := s.Traits()
		assert.False(t, tr.Canary && tr.BlueGreen, "%s is canary-like or blue-green-like, not both", name)
		assert.Equal(t, tr.Canary || tr.BlueGreen, tr.Rollout, "%s: only an Argo Rollout walks steps or switches Services", name)
	}

	// Settings that build every analyzer; nothing is called.
	set := analysis.Settings{LLM: llm.Config{BaseURL: "http://127.0.0.1:9/v1", Model: "m"}, AgentURL: "http://127.0.0.1:9"}
	all, err := analysis.Build(set, analysis.Names()...)
	require.NoError(t, err)
	srv := analysis.NewServer(analysis.Config{Analyzers: all})
	for _, a := range analysis.Catalog() {
		built, err := a.New(set)
		require.NoError(t, err, a.Name)
		assert.Equal(t, a.Name, built.Name(), "the catalog's name is the analyzer's")
		assert.NotEmpty(t, a.Description, a.Name)
		assert.Contains(t, help, a.Name, "run --help lists %s", a.Name)
		assert.Contains(t, docs, a.Name, "docs/scenarios.md names %s", a.Name)
		_, err = scenario.ParseFilter("analyzer=" + a.Name)
		assert.NoError(t, err, "--only accepts %s", a.Name)
		assert.Contains(t, srv.Analyzers(), a.Name, "the endpoint serves %s", a.Name)
	}
	assert.Contains(t, analysis.Names(), analysis.Default)
}

// TestEveryCommandUsesThePlatformRegistry checks that each command with
// --platform answers from the registry: unknown platforms list the known,
// and kind, on a host without a running engine, says what is missing.
func TestEveryCommandUsesThePlatformRegistry(t *testing.T) {
	_, err := run(t, "cluster", "status", "--platform", "nope")
	assert.ErrorContains(t, err, `unknown platform "nope" (known: cluster, kind, local)`)
	_, err = run(t, "run", "--platform", "nope", filepath.Join("..", "..", "scenarios", "smoke"))
	assert.ErrorContains(t, err, `unknown platform "nope"`)
	if pre := kind.RunPreflight(context.Background(), ""); pre.Check() != nil {
		_, err = run(t, "run", "--platform", "kind", "--out", t.TempDir(), filepath.Join("..", "..", "scenarios", "smoke"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), pre.Check().Error(), "the preflight's reason, as it is")
	}
}

func commandHelp(t *testing.T, name string) string {
	t.Helper()
	out, err := run(t, name, "--help")
	require.NoError(t, err)
	return out
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	require.NoError(t, err)
	return strings.ReplaceAll(string(data), "\r", "")
}
