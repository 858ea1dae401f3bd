package sprt

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// synthetic is a 10% canary.
func synthetic(seed uint64, steps int, stableRate, candRate func(t int) float64) analyzer.Input {
	return Synthetic(seed, steps, func(int) int { return 10 }, stableRate, candRate)
}

var constant = Constant

func analyze(t *testing.T, in analyzer.Input) analyzer.Verdict {
	t.Helper()
	v, err := New().Analyze(context.Background(), in)
	require.NoError(t, err)
	t.Log(v.Verdict, v.Explanation)
	return v
}

func TestName(t *testing.T) { assert.Equal(t, "sprt", New().Name()) }

func TestRegressionFails(t *testing.T) {
	v := analyze(t, synthetic(1, 120, constant(0.005), constant(0.10)))
	assert.Equal(t, analyzer.Fail, v.Verdict)
	assert.GreaterOrEqual(t, v.Value, 2.77)
	assert.Equal(t, 0.95, v.Confidence)
	assert.Equal(t, results.RootCauseErrorRate, v.Category, "it tests error counts only")
}

func TestEqualVersionsPass(t *testing.T) {
	v := analyze(t, synthetic(2, 120, constant(0.005), constant(0.005)))
	assert.Equal(t, analyzer.Pass, v.Verdict)
	// Over many seeds the repeated test rarely fails a good candidate in
	// two minutes (each restart spends up to alpha afresh).
	fails := 0
	for seed := range uint64(200) {
		v, err := New().Analyze(context.Background(), synthetic(seed+100, 120, constant(0.005), constant(0.005)))
		require.NoError(t, err)
		if v.Verdict == analyzer.Fail {
			fails++
		}
	}
	t.Logf("%d of 200 good candidates failed", fails)
	assert.LessOrEqual(t, fails, 20)
}

func TestZeroStableErrors(t *testing.T) {
	// A stable without errors: stray candidate errors must not fail, a
	// burst must.
	in := synthetic(3, 120, constant(0), constant(0))
	in.Candidate[50].Errors = 1
	in.Candidate[90].Errors = 2
	assert.Equal(t, analyzer.Pass, analyze(t, in).Verdict)
	in.Candidate[100].Errors = 4
	v := analyze(t, in)
	assert.Equal(t, analyzer.Fail, v.Verdict)
	assert.Contains(t, v.Explanation, "at t=101s")
}

func TestTooLittleData(t *testing.T) {
	in := synthetic(4, 1, constant(0.005), constant(0.5))
	v := analyze(t, in)
	assert.Equal(t, analyzer.Inconclusive, v.Verdict)
	assert.Contains(t, v.Explanation, "need 20")

	assert.Equal(t, analyzer.Inconclusive, analyze(t, analyzer.Input{Now: 5, Step: 1}).Verdict)

	in = synthetic(4, 60, constant(0.005), constant(0.005))
	in.Stable = nil
	v = analyze(t, in)
	assert.Equal(t, analyzer.Inconclusive, v.Verdict)
	assert.Contains(t, v.Explanation, "no stable requests")
}

// TestLateOnset: ten good minutes, then the candidate's error rate jumps
// from 0.5% to 5%; the restarts keep the test fresh enough to catch it
// within a minute (mostly 10-20 s), and every later analysis stays failed.
func TestLateOnset(t *testing.T) {
	const onset = 600
	late := func(t int) float64 {
		if t > onset {
			return 0.05
		}
		return 0.005
	}
	early, caught := 0, 0
	for seed := range uint64(20) {
		full := synthetic(seed+10, onset+120, constant(0.005), late)
		tr := &analyzer.Trace{Step: 1, Stable: full.Stable, Candidate: full.Candidate}
		for at := 10.0; at <= onset+120; at += 10 {
			tr.Analyses = append(tr.Analyses, at)
		}
		d, err := analyzer.Replay(context.Background(), tr, New())
		require.NoError(t, err)
		require.NotNil(t, d.Failed, "seed %d: the onset was never caught", seed)
		// Once failed, failed at every later analysis.
		for _, v := range d.Verdicts[int(*d.Failed/10)-1:] {
			require.Equal(t, analyzer.Fail, v.Verdict)
		}
		switch {
		case *d.Failed <= onset:
			early++ // a false alarm: each restart spends alpha afresh
		case *d.Failed <= onset+60:
			caught++
		}
	}
	t.Logf("of 20: %d false alarms before the onset, %d caught within a minute of it", early, caught)
	assert.LessOrEqual(t, early, 4)
	assert.Equal(t, 20-early, caught)
}

func TestDeterministic(t *testing.T) {
	in := synthetic(5, 300, constant(0.01), constant(0.02))
	a, b := analyze(t, in), analyze(t, in)
	assert.Equal(t, a, b)
}
