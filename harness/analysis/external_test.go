package analysis_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analysis/llm"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// handWritten is a chat-completions server with one hand-written answer
// (test data, not a model's judgement).
func handWritten(t *testing.T) (*httptest.Server, *int) {
	n := 0
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"1","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"{\"promote\":false,\"confidence\":0.9,\"analysis\":\"test data\",\"rootCause\":\"x\",\"category\":\"error-rate\",\"remediation\":\"y\"}"}}],"usage":{"prompt_tokens":10,"completion_tokens":5}}`)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func TestExternalAnalyzerSeesContextAndChaos(t *testing.T) {
	model, calls := handWritten(t)
	judge, err := llm.NewAnalyzer(llm.Config{BaseURL: model.URL + "/v1", Model: "m"})
	require.NoError(t, err)
	e := newEnv(t, append(analysis.Builtin(), judge)...)
	e.addPod("stable-1", "stable").serve("200", 100, 0.01)
	e.addPod("canary-1", "canary").serve("500", 30, 0.01)
	e.analyze(query("canary")) // baseline scrape
	e.advance(analyzer.Defaults.Window)
	e.pods["canary-1"].serve("500", 30, 0.01)
	e.pods["canary-1"].serve("200", 70, 0.01)
	e.pods["stable-1"].serve("200", 100, 0.01)

	q := query("canary")
	q.Analyzer = llm.Name
	v, in := e.analyze(q)
	assert.Equal(t, analysis.Fail, v.Verdict, v.Explanation)
	assert.Equal(t, results.RootCauseErrorRate, v.Category)
	assert.Equal(t, 1, *calls)
	assert.Equal(t, ns, in.Context.Namespace)
	assert.Equal(t, "canary", in.Context.CandidateHash)
	assert.Equal(t, "demo", in.Context.App)
	assert.Equal(t, -1, in.Context.Step, "no dynamic client: the step is unknown")
	require.Len(t, in.Context.Logs, 2)
	assert.Equal(t, "stable", in.Context.Logs[0].Version)
	assert.NotEmpty(t, in.Context.Logs[1].Lines, "the fake clientset's pod log")
	require.NotNil(t, in.Context.Logs[1].OOMKills, "OOM kills counted from the pods' container states")
	assert.Zero(t, *in.Context.Logs[1].OOMKills)

	// An analysisPath fault: every call fails until it ends.
	e.srv.SetChaos(ns, results.ChaosDown)
	v, _ = e.analyze(q)
	assert.Equal(t, analysis.Inconclusive, v.Verdict, v.Explanation)
	require.NotNil(t, v.AI)
	assert.Equal(t, results.ChaosDown, v.AI.Chaos)
	assert.Equal(t, llm.FailureTransport, v.AI.Failure)
	assert.Equal(t, 1, *calls, "the model was not reached")
	e.srv.SetChaos(ns, results.ChaosNone)
	v, _ = e.analyze(q)
	assert.Equal(t, analysis.Fail, v.Verdict)
	assert.Equal(t, 2, *calls)

	tr, ok := e.srv.Trace(ns, "canary", "stable")
	require.True(t, ok)
	assert.Len(t, tr.Contexts, 3, "one context per external call")
	assert.Equal(t, ns, tr.ContextAt(tr.Contexts[2].T).Namespace)
	assert.Equal(t, analyzer.Unknown, tr.ContextAt(-1))
}

func TestExternalAnalyzersShadowOnlyWhenAsked(t *testing.T) {
	model, calls := handWritten(t)
	judge, err := llm.NewAnalyzer(llm.Config{BaseURL: model.URL + "/v1", Model: "m"})
	require.NoError(t, err)
	e := newEnv(t, append(analysis.Builtin(), judge)...)
	e.addPod("stable-1", "stable").serve("200", 100, 0.01)
	e.addPod("canary-1", "canary").serve("200", 100, 0.01)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/analyze?namespace="+ns+"&hash=canary&stableHash=stable&analyzer=threshold", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	last := e.calls[len(e.calls)-1]
	assert.Len(t, last.Shadow, len(analysis.Builtin())-1)
	assert.Zero(t, *calls)
	for _, s := range last.Shadow {
		assert.NotEqual(t, llm.Name, s.Analyzer)
	}
}
