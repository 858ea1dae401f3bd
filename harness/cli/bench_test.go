package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/bench"
)

func TestBenchGenerateAndAnalyze(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	out, err := run(t, "bench", "generate", "--out", corpus, "--cases", "40", "--seed", "5")
	require.NoError(t, err)
	assert.Contains(t, out, "40 traces")
	path := filepath.Join(corpus, "synthetic.ndjson.gz")
	n := 0
	require.NoError(t, analyzer.ReadTraces(path, func(*analyzer.Trace) error { n++; return nil }))
	assert.Equal(t, 40, n)
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = run(t, "bench", "generate", "--out", corpus, "--cases", "40", "--seed", "5")
	require.NoError(t, err)
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, first, again, "the same seed writes the same file")

	res := filepath.Join(dir, "out")
	t.Setenv("OPENAI_BASE_URL", "") // a developer's model is not asked here
	t.Setenv("AGENT_URL", "")
	out, err = run(t, "bench", "analyzers", "--corpus", corpus, "--out", res)
	require.NoError(t, err)
	for _, a := range analysis.Builtin() {
		assert.Contains(t, out, a.Name())
	}
	var doc map[string]json.RawMessage
	raw, err := os.ReadFile(filepath.Join(res, "bench.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Equal(t, []string{"analyzers", "corpus", "environment", "generated", "schema", "version"}, keys(doc))
	assert.FileExists(t, filepath.Join(res, "bench.html"))

	// against itself: no regression
	baseline := filepath.Join(res, "bench.json")
	out, err = run(t, "bench", "analyzers", "--corpus", corpus, "--out", filepath.Join(dir, "again"), "--baseline", baseline)
	require.NoError(t, err)
	assert.Contains(t, out, "no regression")

	// a baseline that detected everything at once: this run regressed
	old, err := bench.Load(baseline)
	require.NoError(t, err)
	for i := range old.Analyzers {
		m := &old.Analyzers[i]
		m.Confusion.TP, m.Confusion.FN, m.Confusion.InconclusiveBad = m.Bad, 0, 0
	}
	b, err := json.Marshal(old)
	require.NoError(t, err)
	better := filepath.Join(dir, "better.json")
	require.NoError(t, os.WriteFile(better, b, 0o644))
	_, err = run(t, "bench", "analyzers", "--corpus", corpus, "--out", filepath.Join(dir, "worse"), "--baseline", better)
	assert.Equal(t, ExitExpectation, exitCode(err), "%v", err)
	assert.ErrorContains(t, err, "regressions")
}

func TestBenchBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ndjson")
	require.NoError(t, os.WriteFile(bad, []byte("\n{\"version\": 1, \"id\": \"x\"}\n"), 0o644))
	_, err := run(t, "bench", "analyzers", "--corpus", dir, "--out", filepath.Join(dir, "out"))
	assert.Equal(t, ExitHarness, exitCode(err))
	assert.ErrorContains(t, err, bad+":2:")

	_, err = run(t, "bench", "analyzers", "--corpus", filepath.Join(dir, "nothing"), "--out", filepath.Join(dir, "out"))
	assert.Equal(t, ExitHarness, exitCode(err))

	notJSON := filepath.Join(dir, "base.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("{\n\"schema\": 3\n}"), 0o644))
	_, err = run(t, "bench", "analyzers", "--corpus", dir, "--out", filepath.Join(dir, "out"), "--baseline", notJSON)
	assert.Equal(t, ExitHarness, exitCode(err))
	assert.ErrorContains(t, err, notJSON+":2:")

	_, err = run(t, "bench", "generate", "--cases", "3")
	assert.Equal(t, ExitHarness, exitCode(err))
}
