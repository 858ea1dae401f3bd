package cli

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis/agent"
	"github.com/blastradius/blastradius/harness/bench"
)

// A set that names llm and agent without their endpoints is refused before
// any cluster starts, one line per problem.
func TestRunRefusesUnconfiguredExternalAnalyzers(t *testing.T) {
	for _, k := range []string{"OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY", "AGENT_URL"} {
		t.Setenv(k, "")
	}
	var stdout, stderr bytes.Buffer
	err := runScenarios(context.Background(), &stdout, &stderr, runOptions{platform: "local", out: t.TempDir(), parallel: 1},
		[]string{filepath.Join("..", "..", "scenarios", "ai-plumbing")}, nil)
	require.Error(t, err)
	assert.Equal(t, ExitHarness, exitCode(err))
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	assert.Equal(t, []string{
		"llm: no base URL (set OPENAI_BASE_URL or --llm-base-url)",
		"llm: no model (set OPENAI_MODEL or --llm-model)",
		"agent: no base URL (set AGENT_URL or --agent-url)",
	}, lines)
	assert.NotContains(t, stderr.String(), "starting the", "no cluster was started")
}

func TestAISettings(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("sk-from-file\n"), 0o600))

	o := aiOptions{baseURL: "https://user:pw@example.invalid/v1", model: "m", keyFile: keyFile, record: filepath.Join(dir, "tape")}
	s, err := o.settings()
	require.NoError(t, err)
	assert.Equal(t, "sk-from-file", string(s.LLM.APIKey), "the file wins over the environment")
	require.NoError(t, o.startRecording(s))
	manifest, err := os.ReadFile(filepath.Join(dir, "tape", "tape.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(manifest), "pw")
	assert.NotContains(t, string(manifest), "sk-from")

	// A replay takes what was asked from the recording's manifest.
	r := aiOptions{replay: filepath.Join(dir, "tape")}
	t.Setenv("OPENAI_BASE_URL", "")
	t.Setenv("OPENAI_MODEL", "")
	s, err = r.settings()
	require.NoError(t, err)
	assert.Equal(t, "https://example.invalid/v1", s.LLM.BaseURL)
	assert.Equal(t, "m", s.LLM.Model)
	require.NotNil(t, s.Tape)
	assert.True(t, s.Tape.Replay)

	bad := aiOptions{record: dir, replay: dir, policy: "yolo", keyFile: filepath.Join(dir, "missing")}
	_, err = bad.settings()
	require.Error(t, err)
	for _, want := range []string{"--llm-policy", "--llm-api-key-file", "give one, not both"} {
		assert.Contains(t, err.Error(), want)
	}
}

// The bench replays traces through llm and agent: recorded once against the
// scripted servers (hand-written answers), then replayed with the servers
// gone, for the same confusion matrices; a request not in the recording is
// an error.
func TestBenchRecordsAndReplaysAIAnalyzers(t *testing.T) {
	for _, k := range []string{"OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY", "AGENT_URL"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	corpus, tapeDir := filepath.Join(dir, "corpus"), filepath.Join(dir, "tape")
	_, err := run(t, "bench", "generate", "--out", corpus, "--cases", "12", "--seed", "3")
	require.NoError(t, err)

	model, ag := &scriptedModel{}, &scriptedAgent{}
	ms := httptest.NewServer(model)
	as := httptest.NewServer(&agent.Handler{Agent: "scripted", Analyze: ag.analyze})
	out, err := run(t, "bench", "analyzers", "--corpus", corpus, "--out", filepath.Join(dir, "rec"),
		"--llm-base-url", ms.URL+"/v1", "--llm-model", "scripted-test", "--agent-url", as.URL, "--llm-record", tapeDir)
	ms.Close()
	as.Close()
	require.NoError(t, err)
	assert.Contains(t, out, "llm")
	assert.Contains(t, out, "agent")
	require.NotEmpty(t, model.all(), "the model was asked")

	_, err = run(t, "bench", "analyzers", "--corpus", corpus, "--out", filepath.Join(dir, "play"), "--llm-replay", tapeDir)
	require.NoError(t, err, "every request was recorded")
	rec, err := bench.Load(filepath.Join(dir, "rec", "bench.json"))
	require.NoError(t, err)
	play, err := bench.Load(filepath.Join(dir, "play", "bench.json"))
	require.NoError(t, err)
	byName := func(r *bench.Result, name string) bench.Metrics {
		for _, m := range r.Analyzers {
			if m.Name == name {
				return m
			}
		}
		t.Fatalf("no %s in bench.json", name)
		return bench.Metrics{}
	}
	for _, name := range []string{"llm", "agent"} {
		a, b := byName(rec, name), byName(play, name)
		assert.Equal(t, a.Confusion, b.Confusion, name)
		assert.Equal(t, a.Verdicts, b.Verdicts, name)
		assert.Positive(t, a.Verdicts, name)
	}

	// Another corpus asks other questions: not recorded, a clear error.
	other := filepath.Join(dir, "other")
	_, err = run(t, "bench", "generate", "--out", other, "--cases", "4", "--seed", "99")
	require.NoError(t, err)
	_, err = run(t, "bench", "analyzers", "--corpus", other, "--out", filepath.Join(dir, "miss"), "--llm-replay", tapeDir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not recorded")
}
