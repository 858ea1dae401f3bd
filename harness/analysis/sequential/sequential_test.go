package sequential

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis/sprt"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

func canary(seed uint64, steps int, share func(t int) int, stableRate, candRate float64) analyzer.Input {
	return sprt.Synthetic(seed, steps, share, sprt.Constant(stableRate), sprt.Constant(candRate))
}

func tenPercent(int) int { return 10 }

// weights is a canary's weight steps: 10%, 25%, 50% a minute each.
func weights(t int) int { return []int{10, 25, 50}[min((t-1)/60, 2)] }

func analyze(t *testing.T, in analyzer.Input) analyzer.Verdict {
	t.Helper()
	v, err := New().Analyze(context.Background(), in)
	require.NoError(t, err)
	t.Log(v.Verdict, " ", v.Explanation)
	return v
}

func TestName(t *testing.T) { assert.Equal(t, "sequential", New().Name()) }

func TestRegressionFails(t *testing.T) {
	v := analyze(t, canary(1, 120, tenPercent, 0.005, 0.10))
	assert.Equal(t, analyzer.Fail, v.Verdict)
	assert.GreaterOrEqual(t, v.Value, 20.0)
	assert.GreaterOrEqual(t, v.Confidence, 0.95)
	assert.Equal(t, results.RootCauseErrorRate, v.Category, "it tests error counts only")
}

func TestEqualVersionsPass(t *testing.T) {
	assert.Equal(t, analyzer.Pass, analyze(t, canary(2, 180, weights, 0.01, 0.01)).Verdict)
	// Anytime-valid: over many seeds and three weights, at most alpha of
	// good candidates ever fail (with a binomial margin).
	fails := 0
	for seed := range uint64(400) {
		v, err := New().Analyze(context.Background(), canary(seed+100, 180, weights, 0.01, 0.01))
		require.NoError(t, err)
		if v.Verdict == analyzer.Fail {
			fails++
		}
	}
	t.Logf("%d of 400 good candidates failed", fails)
	assert.LessOrEqual(t, fails, 20+13) // 400·0.05 + 3·sqrt(400·0.05·0.95)
}

func TestZeroErrorsPass(t *testing.T) {
	v := analyze(t, canary(3, 120, tenPercent, 0, 0))
	assert.Equal(t, analyzer.Pass, v.Verdict)
	assert.Equal(t, 1.0, v.Value)
}

func TestTooLittleData(t *testing.T) {
	v := analyze(t, canary(4, 1, tenPercent, 0, 0.5))
	assert.Equal(t, analyzer.Inconclusive, v.Verdict)
	assert.Contains(t, v.Explanation, "need 20")
	in := canary(4, 60, tenPercent, 0, 0.5)
	in.Stable = nil
	assert.Equal(t, analyzer.Inconclusive, analyze(t, in).Verdict)
}

// TestFailStays: once the test rejects, every later analysis fails too,
// even when the candidate recovers.
func TestFailStays(t *testing.T) {
	in := canary(5, 300, tenPercent, 0.005, 0.005)
	for i := 30; i < 40; i++ {
		in.Candidate[i].Errors = 5
	}
	for _, now := range []float64{40, 100, 300} {
		at := in
		at.Now = now
		at.Stable, at.Candidate = analyzer.Upto(in.Stable, now), analyzer.Upto(in.Candidate, now)
		v := analyze(t, at)
		assert.Equal(t, analyzer.Fail, v.Verdict, "at %v", now)
	}
}

func TestDeterministic(t *testing.T) {
	in := canary(6, 300, weights, 0.01, 0.015)
	assert.Equal(t, analyze(t, in), analyze(t, in))
}
