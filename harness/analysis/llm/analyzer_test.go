package llm

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// testInput is testEvidence's input, with a Context: the rollout at step 1
// (25%) and logs of both versions, the candidate's with an injection.
func testInput() analyzer.Input {
	in := analyzer.Input{Now: 20, Step: 1, Bounds: []float64{0.05, 0.1, 0.5, 1},
		Params: analyzer.Params{MaxErrorRate: 0.05}}
	for i := 1; i <= 20; i++ {
		in.Stable = append(in.Stable, analyzer.Point{T: float64(i), Requests: 10, Buckets: []float64{8, 10, 10, 10}, Latencies: 10, Pods: 2, Ready: 2})
		if i > 10 {
			in.Candidate = append(in.Candidate, analyzer.Point{T: float64(i), Requests: 10, Errors: 3, Buckets: []float64{2, 5, 10, 10}, Latencies: 10, Pods: 1, Ready: 1})
		}
	}
	in.Context = analyzer.Context{T: 20, Namespace: "ns", Step: 1, Steps: 4, SetWeight: 25, Logs: []analyzer.Logs{
		{Version: "stable", Lines: []string{"GET /api 200"}},
		{Version: "candidate", Lines: []string{"GET /api 500", injection}, OOMKills: &two},
	}}
	return in
}

var two = 2

func newTestAnalyzer(t *testing.T, f *fakeServer) *Analyzer {
	c := f.client(t, nil)
	return &Analyzer{client: c}
}

func TestAnalyzerMapsAnAnswer(t *testing.T) {
	f := newFake(t, reply{content: failAnswer})
	v, err := newTestAnalyzer(t, f).Analyze(context.Background(), testInput())
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != analyzer.Fail || v.Category != results.RootCauseErrorRate || v.Confidence != 0.95 || v.AI == nil {
		t.Fatalf("verdict: %+v", v)
	}
	if !strings.HasPrefix(v.AI.Model, "test-model") || v.AI.Policy != results.PolicyInconclusive || v.AI.Raw != failAnswer || v.AI.Remediation != "abort" {
		t.Fatalf("call record: %+v", v.AI)
	}
	if v.Requests != 100 {
		t.Fatalf("requests: %v", v.Requests)
	}
	// What the model was shown: the step, the weight and both logs, the
	// candidate's injection only inside untrustedLogs.
	user := f.requests()[0].body["messages"].([]any)[1].(map[string]any)["content"].(string)
	var p struct {
		Evidence struct {
			Step   int     `json:"rolloutStep"`
			Weight float64 `json:"candidateWeightPct"`
		} `json:"evidence"`
		Logs map[string][]string `json:"untrustedLogs"`
	}
	if !strings.Contains(user, `"oomKills": 2`) {
		t.Fatalf("the candidate's OOM kills are not in the prompt: %s", user)
	}
	if err := json.Unmarshal([]byte(user), &p); err != nil {
		t.Fatal(err)
	}
	if p.Evidence.Step != 1 || p.Evidence.Weight != 25 || len(p.Logs["stable"]) != 1 || p.Logs["candidate"][0] != injection {
		t.Fatalf("prompt: %s", user)
	}
}

func TestAnalyzerSkipsTheCallOnTooFewRequests(t *testing.T) {
	f := newFake(t, reply{content: passAnswer})
	in := testInput()
	in.Params.MinRequests = 1000
	v, err := newTestAnalyzer(t, f).Analyze(context.Background(), in)
	if err != nil || v.Verdict != analyzer.Inconclusive || v.AI != nil || len(f.requests()) != 0 {
		t.Fatalf("verdict %+v, err %v, %d requests", v, err, len(f.requests()))
	}
}

// The query's policy, budget and chaos override the configuration: each
// chaos mode ends as the client's own handling of that failure makes it.
func TestAnalyzerUnderChaos(t *testing.T) {
	for _, tc := range []struct {
		chaos   results.Chaos
		policy  results.FailurePolicy
		verdict results.AnalysisVerdict
		failure string
	}{
		{results.ChaosDown, results.PolicyFailOpen, analyzer.Pass, FailureTransport},
		{results.ChaosSlow, results.PolicyFailClosed, analyzer.Fail, FailureTimeout},
		{results.ChaosRateLimited, "", analyzer.Inconclusive, FailureRateLimited},
		{results.ChaosServerError, results.PolicyFailOpen, analyzer.Pass, FailureServer},
		{results.ChaosGarbage, results.PolicyFailClosed, analyzer.Fail, FailureUnparseable},
		{results.ChaosNoPromote, results.PolicyFailOpen, analyzer.Pass, FailureUnparseable},
		// The tolerant parser reads JSON in prose and in fences: the answer stands.
		{results.ChaosProse, results.PolicyFailOpen, analyzer.Fail, ""},
		{results.ChaosFenced, results.PolicyFailOpen, analyzer.Fail, ""},
	} {
		t.Run(string(tc.chaos), func(t *testing.T) {
			f := newFake(t, reply{content: failAnswer})
			in := testInput()
			in.Params.Chaos, in.Params.Policy, in.Params.Budget = tc.chaos, tc.policy, 3*time.Second
			start := time.Now()
			v, err := newTestAnalyzer(t, f).Analyze(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if v.Verdict != tc.verdict || v.AI.Failure != tc.failure || v.AI.Chaos != tc.chaos {
				t.Fatalf("verdict %s failure %q chaos %q: %s", v.Verdict, v.AI.Failure, v.AI.Chaos, v.Explanation)
			}
			if tc.policy != "" && v.AI.Policy != tc.policy {
				t.Fatalf("policy %q", v.AI.Policy)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Fatalf("took %v, past the 3s budget", d)
			}
			if tc.failure != "" && !strings.Contains(v.Explanation, string(v.Verdict)) {
				t.Fatalf("explanation names no verdict: %s", v.Explanation)
			}
		})
	}
}
