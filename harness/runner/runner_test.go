package runner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/harness/watch"
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
	s := watch.ReadRollout(u)
	assert.Equal(t, "Paused", s.Phase)
	assert.Equal(t, int64(3), s.Step)
	assert.Equal(t, int64(4), s.Steps)
	assert.Equal(t, int64(50), s.Weight, "the last setWeight at or before the current step")
	assert.Equal(t, "aaa", s.StableHash)
	assert.Equal(t, "bbb", s.PodHash)
	assert.False(t, s.Inconclusive, "a step's pause is Argo's own")

	status := u.Object["status"].(map[string]any)
	status["pauseConditions"] = []any{map[string]any{"reason": "CanaryPauseStep", "startTime": "2026-12-01T13:00:00Z"}}
	assert.False(t, watch.ReadRollout(u).Inconclusive)
	status["pauseConditions"] = []any{map[string]any{"reason": "InconclusiveAnalysisRun", "startTime": "2026-12-01T13:00:00Z"}}
	assert.True(t, watch.ReadRollout(u).Inconclusive, "paused for a person: the run's decision")
	delete(status, "pauseConditions")

	u.Object["status"].(map[string]any)["currentStepIndex"] = int64(4)
	assert.Equal(t, int64(100), watch.ReadRollout(u).Weight, "past the last step the candidate has everything")
}

func TestExpectations(t *testing.T) {
	maxFailed := int64(100)
	maxTTD := 30 * time.Second
	sc := &scenario.Scenario{Expect: []scenario.Expect{
		{Verdicts: []results.Verdict{results.VerdictDetected}, MaxFailedRequests: &maxFailed, MaxTimeToDetect: &maxTTD, Strategies: []string{"canary-analysis"}},
		{Verdicts: []results.Verdict{results.VerdictMissed}},
	}}
	ttd := 12.5
	good := results.Scores{Verdict: results.VerdictDetected, BlastRadius: results.BlastRadius{FailedRequests: 40}, Timing: results.Timing{TimeToDetectSeconds: &ttd}}
	got := expectations(sc, "canary-analysis", good)
	require.Len(t, got, 3)
	for _, e := range got {
		assert.True(t, e.OK, e.Message)
	}

	bad := results.Scores{Verdict: results.VerdictMissed, BlastRadius: results.BlastRadius{FailedRequests: 400}}
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
	got := strategy.Workload([]*unstructured.Unstructured{mk("Service"), mk("AnalysisTemplate"), mk("Rollout")})
	require.Len(t, got, 1)
	assert.Equal(t, "Rollout", got[0].GetKind())
	assert.Len(t, strategy.Workload([]*unstructured.Unstructured{mk("Service"), mk("Deployment")}), 1)
}

func TestFaultItemsLastEvent(t *testing.T) {
	sc := &scenario.Scenario{Faults: []scenario.Fault{
		{At: 45 * time.Second, Runtime: &scenario.RuntimeFault{Target: scenario.TargetCandidate}},
		{At: 10 * time.Second, Clear: 30 * time.Second, Traffic: &scenario.TrafficChange{Factor: 2}},
	}}
	items, last, err := faultItems(sc)
	require.NoError(t, err)
	require.Len(t, items, 2)
	assert.Equal(t, 45*time.Second, last, "an uncleared fault's own time counts, not 'never'")
	assert.Equal(t, "runtime", items[0].Fault.Kind())
	assert.Equal(t, "traffic", items[1].Fault.Kind())

	sc.RunTimeScale = 0.5
	items, last, err = faultItems(sc)
	require.NoError(t, err)
	assert.Equal(t, 22500*time.Millisecond, last, "a run's time scale compresses the timeline")
	assert.Equal(t, 5*time.Second, items[1].At)
	assert.Equal(t, 15*time.Second, items[1].Clear)
}
