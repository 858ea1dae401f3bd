package agent_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis/agent"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// scripted serves the A2A API with one hand-written answer (test data, not
// an agent's judgement) and keeps the requests.
type scripted struct {
	mu   sync.Mutex
	reqs []agent.Request
	resp agent.Response
}

func (s *scripted) analyze(_ context.Context, r agent.Request) (agent.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	return s.resp, nil
}

func serve(t *testing.T, resp agent.Response) (*scripted, string) {
	s := &scripted{resp: resp}
	srv := httptest.NewServer(&agent.Handler{Analyze: s.analyze})
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func input() analyzer.Input {
	in := analyzer.Input{Now: 10, Step: 1, Bounds: []float64{0.1, 1}}
	for i := 1; i <= 10; i++ {
		in.Stable = append(in.Stable, analyzer.Point{T: float64(i), Requests: 30})
		in.Candidate = append(in.Candidate, analyzer.Point{T: float64(i), Requests: 10, Errors: 3})
	}
	in.Context = analyzer.Context{Namespace: "run-1", Rollout: "demo", App: "demo", CandidateHash: "abc", StableHash: "def",
		Step: 1, Steps: 4, SetWeight: 25}
	return in
}

func TestAnalyzerAsksAsThePluginDoes(t *testing.T) {
	s, url := serve(t, agent.Response{Promote: false, Confidence: 87, Analysis: "test data", RootCause: "Error-rate: 30% 5xx", Remediation: "abort"})
	a, err := agent.NewAnalyzer(agent.Client{BaseURL: url}, "")
	require.NoError(t, err)
	v, err := a.Analyze(context.Background(), input())
	require.NoError(t, err)
	assert.Equal(t, analyzer.Fail, v.Verdict)
	assert.Equal(t, results.RootCauseErrorRate, v.Category, "the category the root cause begins with")
	assert.InDelta(t, 0.87, v.Confidence, 1e-9)
	require.NotNil(t, v.AI)
	assert.Equal(t, "Error-rate: 30% 5xx", v.AI.RootCause)
	assert.Equal(t, 200, v.AI.Status)
	require.Len(t, s.reqs, 1)
	r := s.reqs[0]
	assert.Equal(t, agent.UserID, r.UserID)
	assert.Equal(t, "run-1", r.Context.Namespace)
	assert.Equal(t, "demo", r.Context.RolloutName)
	assert.Equal(t, "app=demo,rollouts-pod-template-hash=abc", r.Context.CanarySelector)
	assert.Equal(t, "app=demo,rollouts-pod-template-hash=def", r.Context.StableSelector)
	assert.Equal(t, "rollout:run-1/demo", r.MemoryID)
	assert.Contains(t, r.Prompt, "canary 100 requests, 30.00% 5xx")
	assert.Contains(t, r.Prompt, "step 1 of 4, canary weight 25%")
}

func TestAnalyzerFailurePolicy(t *testing.T) {
	_, url := serve(t, agent.Response{Promote: true, Confidence: 90, Analysis: "test data"})
	for _, tc := range []struct {
		chaos   results.Chaos
		policy  results.FailurePolicy
		verdict results.AnalysisVerdict
		failure string
	}{
		{results.ChaosDown, "", analyzer.Inconclusive, "transport"},
		{results.ChaosServerError, results.PolicyFailClosed, analyzer.Fail, "server-error"},
		{results.ChaosRateLimited, results.PolicyFailOpen, analyzer.Pass, "rate-limited"},
		{results.ChaosSlow, results.PolicyFailClosed, analyzer.Fail, "timeout"},
		{results.ChaosNoPromote, results.PolicyFailClosed, analyzer.Fail, "unparseable"},
		{results.ChaosGarbage, results.PolicyFailOpen, analyzer.Pass, "unparseable"},
		{results.ChaosFenced, results.PolicyFailClosed, analyzer.Fail, "unparseable"},
	} {
		t.Run(string(tc.chaos), func(t *testing.T) {
			a, err := agent.NewAnalyzer(agent.Client{BaseURL: url}, results.PolicyInconclusive)
			require.NoError(t, err)
			in := input()
			in.Params.Chaos, in.Params.Policy, in.Params.Budget = tc.chaos, tc.policy, 2*time.Second
			v, err := a.Analyze(context.Background(), in)
			require.NoError(t, err)
			assert.Equal(t, tc.verdict, v.Verdict, v.Explanation)
			assert.Equal(t, tc.failure, v.AI.Failure, v.Explanation)
			assert.True(t, strings.HasPrefix(v.Explanation, tc.failure), v.Explanation)
		})
	}
}

func TestAnalyzerNeedsAURL(t *testing.T) {
	_, err := agent.NewAnalyzer(agent.Client{}, "")
	assert.ErrorContains(t, err, "AGENT_URL")
	_, err = agent.NewAnalyzer(agent.Client{BaseURL: "ftp://x"}, "")
	assert.ErrorContains(t, err, "not an http(s) URL")
	assert.Equal(t, results.RootCauseOther, agent.CategoryOf("something odd"))
	assert.Equal(t, results.RootCauseLatency, agent.CategoryOf("  latency: p99 doubled"))
}
