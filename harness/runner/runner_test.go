package runner

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/score"
)

func TestNamespaceIsAStableDNSLabel(t *testing.T) {
	a := Namespace("high-error-rate/canary-analysis/threshold/seed-1")
	assert.Equal(t, a, Namespace("high-error-rate/canary-analysis/threshold/seed-1"))
	assert.NotEqual(t, a, Namespace("high-error-rate/canary-analysis/threshold/seed-2"))
	assert.Regexp(t, `^br-[0-9a-f]{8}$`, a)
}

func TestRolloutStateReadsStepAndWeight(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"strategy": map[string]any{"canary": map[string]any{"steps": []any{
			map[string]any{"setWeight": int64(10)}, map[string]any{"pause": map[string]any{"duration": "5s"}},
			map[string]any{"setWeight": int64(50)}, map[string]any{"pause": map[string]any{"duration": "5s"}},
		}}}},
		"status": map[string]any{"phase": "Paused", "currentStepIndex": int64(3), "abort": false,
			"stableRS": "aaa", "currentPodHash": "bbb", "readyReplicas": int64(10)},
	}}
	s := rolloutState(u)
	assert.Equal(t, "Paused", s.Phase)
	assert.Equal(t, int64(3), s.Step)
	assert.Equal(t, int64(4), s.Steps)
	assert.Equal(t, int64(50), s.Weight, "the last setWeight at or before the current step")
	assert.Equal(t, "aaa", s.StableHash)
	assert.Equal(t, "bbb", s.PodHash)

	u.Object["status"].(map[string]any)["currentStepIndex"] = int64(4)
	assert.Equal(t, int64(100), rolloutState(u).Weight, "past the last step the candidate has everything")
}

func TestScoreKindMapsOnlyWhatScoringReads(t *testing.T) {
	cases := []struct {
		ev   Event
		want score.EventKind
		ok   bool
	}{
		{Event{Kind: EvAborted}, score.EventAborted, true},
		{Event{Kind: EvDegraded}, score.EventDegraded, true},
		{Event{Kind: EvPromoted}, score.EventPromoted, true},
		{Event{Kind: EvTimeout}, score.EventRunTimedOut, true},
		{Event{Kind: EvMeasurement, Phase: "Failed"}, score.EventMeasurementFailed, true},
		{Event{Kind: EvMeasurement, Phase: "Successful"}, score.EventMeasurementSucceeded, true},
		{Event{Kind: EvMeasurement, Phase: "Inconclusive"}, "", false},
		{Event{Kind: EvMeasurement, Phase: "Error"}, "", false},
		{Event{Kind: EvFault, Message: "injected: kill 1 candidate pod(s)"}, score.EventFaultInjected, true},
		{Event{Kind: EvFault, Message: "cleared: traffic x3"}, score.EventFaultCleared, true},
		{Event{Kind: EvRollout}, "", false},
		{Event{Kind: EvPod}, "", false},
	}
	for _, c := range cases {
		k, ok := scoreKind(c.ev)
		assert.Equal(t, c.ok, ok, "%+v", c.ev)
		assert.Equal(t, c.want, k, "%+v", c.ev)
	}
}

func TestExpectations(t *testing.T) {
	maxFailed := int64(100)
	maxTTD := 30 * time.Second
	sc := &scenario.Scenario{Expect: []scenario.Expect{
		{Verdicts: []scenario.Verdict{scenario.VerdictDetected}, MaxFailedRequests: &maxFailed, MaxTimeToDetect: &maxTTD, Strategies: []string{"canary-analysis"}},
		{Verdicts: []scenario.Verdict{scenario.VerdictMissed}},
	}}
	ttd := 12.5
	good := score.Scores{Verdict: score.VerdictDetected, BlastRadius: score.BlastRadius{FailedRequests: 40}, Timing: score.Timing{TimeToDetectSeconds: &ttd}}
	got := expectations(sc, "canary-analysis", good)
	require.Len(t, got, 3)
	for _, e := range got {
		assert.True(t, e.OK, e.Message)
	}

	bad := score.Scores{Verdict: score.VerdictMissed, BlastRadius: score.BlastRadius{FailedRequests: 400}}
	got = expectations(sc, "canary-analysis", bad)
	require.Len(t, got, 3)
	assert.Equal(t, "verdict missed, want detected", got[0].Message)
	assert.False(t, got[0].OK)
	assert.Equal(t, "400 failed requests, at most 100 allowed", got[1].Message)
	assert.False(t, got[1].OK)
	assert.Equal(t, "not detected, want within 30s", got[2].Message)
	assert.False(t, got[2].OK)

	// Another strategy falls to the expectation without strategies.
	got = expectations(sc, "canary", bad)
	require.Len(t, got, 1)
	assert.True(t, got[0].OK)
	assert.Empty(t, expectations(&scenario.Scenario{}, "canary", bad))
}

func TestWorkloadKeepsOnlyTheWorkload(t *testing.T) {
	mk := func(kind string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		return u
	}
	got := workload([]*unstructured.Unstructured{mk("Service"), mk("AnalysisTemplate"), mk("Rollout")})
	require.Len(t, got, 1)
	assert.Equal(t, "Rollout", got[0].GetKind())
	assert.Len(t, workload([]*unstructured.Unstructured{mk("Service"), mk("Deployment")}), 1)
}

func TestFaultItemsLastEvent(t *testing.T) {
	x := &run{sc: &scenario.Scenario{Faults: []scenario.Fault{
		{At: 45 * time.Second, Runtime: &scenario.RuntimeFault{Target: scenario.TargetCandidate}},
		{At: 10 * time.Second, Clear: 30 * time.Second, Traffic: &scenario.TrafficChange{Factor: 2}},
	}}}
	items, last, err := x.faultItems(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, items, 2)
	assert.Equal(t, 45*time.Second, last, "an uncleared fault's own time counts, not 'never'")
	assert.Equal(t, "runtime", items[0].Fault.Kind())
	assert.Equal(t, "traffic", items[1].Fault.Kind())
}
