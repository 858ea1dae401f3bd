package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/analysis/agent"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// scriptedModel is an OpenAI-compatible chat-completions server for the
// plumbing test. NOTHING HERE IS A MODEL'S JUDGEMENT: every answer is
// written by hand below, and which one it sends is chosen by one fixed rule
// (the candidate's error rate in the evidence above 5%: abort, else
// promote), so the test can check that Argo acts on a fail answer and on a
// pass answer. It records every request for the shape checks.
type scriptedModel struct {
	mu       sync.Mutex
	requests []scriptedRequest
}

type scriptedRequest struct {
	Auth string
	Body map[string]any
	User string // the user message's content
}

// The hand-written answers.
const (
	scriptedAbort   = `{"promote": false, "confidence": 0.9, "analysis": "scripted answer (written by hand, not a model): the candidate's error rate is above 5%", "rootCause": "the candidate answers 5xx", "category": "error-rate", "remediation": "abort and roll back"}`
	scriptedPromote = `{"promote": true, "confidence": 0.8, "analysis": "scripted answer (written by hand, not a model): the candidate looks like the stable", "rootCause": "", "category": "none", "remediation": "none"}`
)

func (m *scriptedModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	user := ""
	msgs, _ := body["messages"].([]any)
	for _, x := range msgs {
		if mm, _ := x.(map[string]any); mm["role"] == "user" {
			user, _ = mm["content"].(string)
		}
	}
	m.mu.Lock()
	m.requests = append(m.requests, scriptedRequest{Auth: r.Header.Get("Authorization"), Body: body, User: user})
	m.mu.Unlock()

	var payload struct {
		Evidence struct {
			Candidate struct {
				ErrorRate *float64 `json:"errorRate"`
			} `json:"candidate"`
		} `json:"evidence"`
	}
	_ = json.Unmarshal([]byte(user), &payload)
	answer := scriptedPromote
	if er := payload.Evidence.Candidate.ErrorRate; er != nil && *er > 0.05 {
		answer = scriptedAbort
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "scripted", "object": "chat.completion", "created": 0, "model": "scripted-by-hand",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": answer}}},
		"usage": map[string]any{"prompt_tokens": len(user) / 4, "completion_tokens": len(answer) / 4, "total_tokens": (len(user) + len(answer)) / 4},
	})
}

func (m *scriptedModel) all() []scriptedRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]scriptedRequest(nil), m.requests...)
}

// scriptedAgent answers the A2A API by hand, by the same fixed rule on the
// canary error rate the agent analyzer's prompt states. Not a model.
type scriptedAgent struct {
	mu       sync.Mutex
	requests []agent.Request
}

var promptErrorRate = regexp.MustCompile(`canary \d+ requests, ([0-9.]+)% 5xx`)

func (a *scriptedAgent) analyze(_ context.Context, req agent.Request) (agent.Response, error) {
	a.mu.Lock()
	a.requests = append(a.requests, req)
	a.mu.Unlock()
	if m := promptErrorRate.FindStringSubmatch(req.Prompt); m != nil {
		if pct, _ := strconv.ParseFloat(m[1], 64); pct > 5 {
			return agent.Response{Promote: false, Confidence: 90, Analysis: "scripted answer (by hand, not an agent): canary error rate above 5%",
				RootCause: "error-rate: the canary answers 5xx", Remediation: "abort"}, nil
		}
	}
	return agent.Response{Promote: true, Confidence: 80, Analysis: "scripted answer (by hand, not an agent): canary looks healthy", RootCause: "none"}, nil
}

// TestRunAIAnalyzersEndToEnd runs scenarios/ai-plumbing on the local
// platform with llm and agent pointed at the scripted servers above: Argo
// aborts the bad release on their fail answers and promotes the good one
// on their pass answers; under chaos (429 on every call) with failOpen the
// bad release goes out. It checks the request shapes the real services
// expect, that the injected log line reaches the prompt only as labelled
// untrusted data, and that the API key appears in no output.
func TestRunAIAnalyzersEndToEnd(t *testing.T) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if testing.Short() || bin == "" {
		t.Skip("needs the tools: run `make test` (BLASTRADIUS_BIN unset or -short)")
	}
	model, ag := &scriptedModel{}, &scriptedAgent{}
	ms := httptest.NewServer(model)
	defer ms.Close()
	as := httptest.NewServer(&agent.Handler{Agent: "scripted", Analyze: ag.analyze})
	defer as.Close()
	const key = "sk-scripted-test-key-0123456789"
	t.Setenv("OPENAI_API_KEY", key)

	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	o := runOptions{platform: "local", out: out, parallel: 2, binDir: bin, quiet: true,
		ai: aiOptions{baseURL: ms.URL + "/v1", model: "scripted-test", agentURL: as.URL, promptPrice: 2.5, completionPrice: 10}}
	err := runScenarios(context.Background(), &stdout, &stderr, o, []string{filepath.Join("..", "..", "scenarios", "ai-plumbing")}, nil)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	set, err := results.Read(out)
	require.NoError(t, err)
	require.Len(t, set.Runs, 5)

	for _, r := range set.Runs {
		ttd := "-"
		if r.Timing.TimeToDetectSeconds != nil {
			ttd = fmt.Sprintf("%.1fs", *r.Timing.TimeToDetectSeconds)
		}
		t.Logf("%s: %s, %s, time to detect %s, %d of %d requests failed, %d analysis calls",
			r.ID, r.Verdict, r.Outcome, ttd, r.BlastRadius.FailedRequests, r.BlastRadius.TotalRequests, len(r.Analysis))
		for _, d := range r.Detections {
			if d.AI != nil {
				t.Logf("  %s: %d calls, failures %v, %d+%d tokens, $%.5f, mean latency %.3fs, category %q, rootCauseCorrect %v",
					d.Analyzer, d.AI.Calls, d.AI.Failures, d.AI.PromptTokens, d.AI.CompletionTokens, d.AI.CostUSD, d.AI.MeanLatencySeconds, d.Category, deref(d.RootCauseCorrect))
			}
		}
		t.Run(r.ID, func(t *testing.T) {
			assert.False(t, r.Failed(), "expectations: %+v", r.Expectations)
			require.NotEmpty(t, r.Analysis, "Argo called the endpoint")
			var answered, failed int
			for _, c := range r.Analysis {
				assert.Equal(t, r.Analyzer, c.Analyzer)
				if c.Verdict == results.AnalysisInconclusive && c.AI == nil {
					continue // too few requests yet: nobody was asked
				}
				require.NotNil(t, c.AI, "an AI call record")
				assert.Positive(t, c.AI.LatencySeconds)
				if c.AI.Failure != "" {
					failed++
					assert.Equal(t, "rate-limited", c.AI.Failure)
					assert.Equal(t, results.PolicyFailOpen, c.AI.Policy)
					assert.Equal(t, results.ChaosRateLimited, c.AI.Chaos)
					assert.Equal(t, results.AnalysisPass, c.Verdict, "failOpen")
					continue
				}
				answered++
				if r.Analyzer == "llm" {
					assert.Positive(t, c.AI.PromptTokens)
					assert.Positive(t, c.AI.CostUSD)
				}
				if c.Verdict == results.AnalysisFail {
					assert.Equal(t, results.RootCauseErrorRate, c.Category)
				}
			}
			switch r.Scenario {
			case "ai-chaos-fail-open":
				assert.Equal(t, results.VerdictMissed, r.Verdict)
				assert.Equal(t, results.OutcomePromoted, r.Outcome)
				assert.Positive(t, failed)
				assert.Zero(t, answered, "chaos answered every call")
			case "ai-bad":
				assert.Equal(t, results.VerdictDetected, r.Verdict)
				assert.Equal(t, results.OutcomeAborted, r.Outcome)
				require.NotNil(t, r.RootCauseCorrect)
				assert.True(t, *r.RootCauseCorrect, "the scripted category is the inject- variant's")
			case "ai-good":
				assert.Equal(t, results.VerdictPromoted, r.Verdict)
				assert.Nil(t, r.RootCauseCorrect)
			}
			var gating *results.Detection
			for i := range r.Detections {
				if r.Detections[i].Gating {
					gating = &r.Detections[i]
				}
			}
			require.NotNil(t, gating)
			require.NotNil(t, gating.AI, "AI usage summed")
			assert.Positive(t, gating.AI.Calls)
			if r.Analyzer == "llm" {
				require.NotEmpty(t, r.Trace)
				require.NoError(t, analyzer.ReadTraces(filepath.Join(out, r.Trace), func(tr *analyzer.Trace) error {
					assert.NotEmpty(t, tr.Contexts, "the trace keeps what the model was shown")
					return nil
				}))
			}
		})
	}

	// The requests the scripted model saw: the shape OpenAI expects.
	reqs := model.all()
	require.NotEmpty(t, reqs)
	sawInjection, sawStep := false, false
	for _, q := range reqs {
		assert.Equal(t, "Bearer "+key, q.Auth)
		assert.Equal(t, "scripted-test", q.Body["model"])
		rf, _ := q.Body["response_format"].(map[string]any)
		assert.Equal(t, "json_schema", rf["type"])
		msgs, _ := q.Body["messages"].([]any)
		require.Len(t, msgs, 2)
		assert.Equal(t, "system", msgs[0].(map[string]any)["role"])
		var user struct {
			Note     string              `json:"note"`
			Evidence json.RawMessage     `json:"evidence"`
			Logs     map[string][]string `json:"untrustedLogs"`
		}
		require.NoError(t, json.Unmarshal([]byte(q.User), &user))
		assert.Contains(t, user.Note, "untrusted")
		assert.NotContains(t, string(user.Evidence), "Ignore previous instructions", "logs only under untrustedLogs")
		for _, l := range user.Logs["candidate"] {
			if strings.Contains(l, catalog.Injection[:40]) {
				sawInjection = true
			}
		}
		var ev struct {
			Step   int     `json:"rolloutStep"`
			Weight float64 `json:"candidateWeightPct"`
		}
		require.NoError(t, json.Unmarshal(user.Evidence, &ev))
		if ev.Step >= 0 && (ev.Weight == 25 || ev.Weight == 50) {
			sawStep = true
		}
	}
	assert.True(t, sawInjection, "the inject- candidate's log line reached the prompt, as untrusted data")
	assert.True(t, sawStep, "the rollout's step and weight reached the prompt")

	ag.mu.Lock()
	require.NotEmpty(t, ag.requests)
	for _, q := range ag.requests {
		assert.Equal(t, agent.UserID, q.UserID)
		assert.NotEmpty(t, q.Context.Namespace)
		assert.Contains(t, q.Context.CanarySelector, "rollouts-pod-template-hash=")
		assert.Contains(t, q.Context.StableSelector, "rollouts-pod-template-hash=")
	}
	ag.mu.Unlock()

	// The key is in no output.
	require.NoError(t, filepath.Walk(out, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		assert.NotContains(t, string(data), key, fmt.Sprintf("%s holds the API key", path))
		return nil
	}))
	assert.NotContains(t, stdout.String()+stderr.String(), key)
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}
