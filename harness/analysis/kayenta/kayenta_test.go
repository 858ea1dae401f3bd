package kayenta

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

var bounds = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// version is how one version behaves: its error rate and mean latency.
type version struct{ errRate, latency float64 }

// canary builds an input of 1-second steps, 90 stable and 10 candidate
// requests a step, each failing with its version's rate and taking
// between half and one and a half times its version's mean latency.
func canary(seed uint64, steps int, stable, cand version) analyzer.Input {
	r := rand.New(rand.NewPCG(seed, 3))
	point := func(t, n int, v version) analyzer.Point {
		p := analyzer.Point{T: float64(t), Requests: float64(n), Buckets: make([]float64, len(bounds)), Pods: 1, Ready: 1}
		for range n {
			if r.Float64() < v.errRate {
				p.Errors++
			}
			l := v.latency * (0.5 + r.Float64())
			p.Latencies++
			p.LatencySum += l
			for i, b := range bounds {
				if l <= b {
					p.Buckets[i]++
				}
			}
		}
		return p
	}
	in := analyzer.Input{Now: float64(steps), Step: 1, Bounds: bounds, Params: analyzer.Params{}.WithDefaults()}
	for t := 1; t <= steps; t++ {
		in.Stable = append(in.Stable, point(t, 90, stable))
		in.Candidate = append(in.Candidate, point(t, 10, cand))
	}
	return in
}

func analyze(t *testing.T, in analyzer.Input) analyzer.Verdict {
	t.Helper()
	v, err := New().Analyze(context.Background(), in)
	require.NoError(t, err)
	t.Log(v.Verdict, " ", v.Explanation)
	assert.NotContains(t, v.Explanation, "NaN")
	assert.False(t, math.IsNaN(v.Value) || math.IsNaN(v.Confidence) || math.IsNaN(v.P99))
	return v
}

var good = version{0.005, 0.05}

func TestName(t *testing.T) { assert.Equal(t, "kayenta", New().Name()) }

func TestErrorRegressionFails(t *testing.T) {
	v := analyze(t, canary(1, 120, good, version{0.10, 0.05}))
	assert.Equal(t, analyzer.Fail, v.Verdict)
	assert.Equal(t, 0.0, v.Value)
	assert.Contains(t, v.Explanation, "critical metric error rate is High")
	assert.Equal(t, results.RootCauseErrorRate, v.Category)
}

func TestLatencyRegressionFails(t *testing.T) {
	v := analyze(t, canary(2, 120, good, version{0.005, 0.08}))
	assert.Equal(t, analyzer.Fail, v.Verdict)
	assert.Equal(t, 50.0, v.Value)
	assert.Contains(t, v.Explanation, "mean latency High")
	assert.Equal(t, results.RootCauseLatency, v.Category)
	// p99 is up to 1.5·80 ms: in the (100 ms, 250 ms] bucket, interpolated.
	assert.Greater(t, v.P99, 0.1)
	assert.LessOrEqual(t, v.P99, 0.25)
}

func TestEqualVersionsPass(t *testing.T) {
	v := analyze(t, canary(3, 120, good, good))
	assert.Equal(t, analyzer.Pass, v.Verdict)
	assert.Equal(t, 100.0, v.Value)
	assert.Equal(t, 1.0, v.Confidence)
	fails := 0
	for seed := range uint64(100) {
		v, err := New().Analyze(context.Background(), canary(seed+100, 120, good, good))
		require.NoError(t, err)
		if v.Verdict != analyzer.Pass {
			fails++
		}
	}
	// Two metrics at 98% each: about 2% of good candidates fail.
	t.Logf("%d of 100 good candidates did not pass", fails)
	assert.LessOrEqual(t, fails, 8)
}

func TestZeroErrorsPass(t *testing.T) {
	// Both error rates all zero: identical samples, Pass, no NaN.
	v := analyze(t, canary(4, 120, version{0, 0.05}, version{0, 0.05}))
	assert.Equal(t, analyzer.Pass, v.Verdict)
	assert.Contains(t, v.Explanation, "error rate Pass (critical): candidate mean 0% vs stable 0%")
	assert.False(t, math.IsNaN(v.Value))
}

func TestConstantButDifferentFails(t *testing.T) {
	// The stable never fails, the candidate fails every request: two
	// constant samples, one above the other (Kayenta would add noise).
	v := analyze(t, canary(5, 60, version{0, 0.05}, version{1, 0.05}))
	assert.Equal(t, analyzer.Fail, v.Verdict)
	assert.Contains(t, v.Explanation, "shift +100pp")
}

func TestTooLittleData(t *testing.T) {
	v := analyze(t, canary(6, 1, good, version{0.5, 0.05}))
	assert.Equal(t, analyzer.Inconclusive, v.Verdict)
	assert.Contains(t, v.Explanation, "need 20")

	// Enough requests, too few samples for a 98% test.
	v = analyze(t, canary(6, 4, good, version{0.5, 0.05}))
	assert.Equal(t, analyzer.Inconclusive, v.Verdict)
	assert.Contains(t, v.Explanation, "too few")

	in := canary(6, 60, good, good)
	in.Stable = nil
	assert.Equal(t, analyzer.Inconclusive, analyze(t, in).Verdict)
}

func TestWithoutLatencies(t *testing.T) {
	// A trace without histograms: the latency metric is left out.
	in := canary(7, 120, good, good)
	for _, ps := range [][]analyzer.Point{in.Stable, in.Candidate} {
		for i := range ps {
			ps[i].Latencies, ps[i].LatencySum, ps[i].Buckets = 0, 0, nil
		}
	}
	v := analyze(t, in)
	assert.Equal(t, analyzer.Pass, v.Verdict)
	assert.Equal(t, 100.0, v.Value)
	assert.NotContains(t, v.Explanation, "latency")
}

func TestSamples(t *testing.T) {
	in := canary(8, 120, good, good)
	ms, width := Samples(in, in.Candidate, in.Stable)
	// 10 requests a second: 5-second samples, 24 of them.
	assert.Equal(t, 5.0, width)
	require.Len(t, ms, 2)
	assert.Len(t, ms[0].Candidate, 24)
	assert.Len(t, ms[0].Stable, 24)
	// Early on, samples shrink to keep ten.
	in = canary(8, 25, good, good)
	ms, width = Samples(in, in.Candidate, in.Stable)
	assert.Equal(t, 2.0, width)
	assert.Len(t, ms[0].Candidate, 12)
}

func TestScore(t *testing.T) {
	m := func(name, group string, critical bool, label string) Metric {
		return Metric{Name: name, Group: group, Critical: critical, Result: Classification{Label: label}}
	}
	s, _ := Score([]Metric{m("e", errorsGroup, true, Pass), m("l", latencyGroup, false, Pass)})
	assert.Equal(t, 100.0, s)
	s, _ = Score([]Metric{m("e", errorsGroup, true, Pass), m("l", latencyGroup, false, High)})
	assert.Equal(t, 50.0, s)
	s, why := Score([]Metric{m("e", errorsGroup, true, High), m("l", latencyGroup, false, Pass)})
	assert.Equal(t, 0.0, s)
	assert.Contains(t, why, "critical")
	s, why = Score([]Metric{m("e", errorsGroup, false, Pass), m("l", latencyGroup, false, Nodata)})
	assert.Equal(t, 0.0, s)
	assert.Contains(t, why, "without data")
	s, _ = Score([]Metric{m("e", errorsGroup, true, Pass)})
	assert.Equal(t, 100.0, s)
}

// The worst failing metric names the cause: the critical error rate over
// any other; among the rest the largest ratio; nothing without a High.
func TestCategory(t *testing.T) {
	m := func(group string, critical bool, label string, ratio float64) Metric {
		return Metric{Group: group, Critical: critical, Result: Classification{Label: label, Ratio: ratio}}
	}
	assert.Equal(t, results.RootCauseErrorRate, Category([]Metric{m(errorsGroup, true, High, 1.2), m(latencyGroup, false, High, 5)}))
	assert.Equal(t, results.RootCauseLatency, Category([]Metric{m(errorsGroup, true, Pass, 1), m(latencyGroup, false, High, 2)}))
	assert.Equal(t, results.RootCauseLatency, Category([]Metric{m(errorsGroup, false, High, 1.5), m(latencyGroup, false, High, math.NaN())}),
		"an undefined ratio (a stable mean of 0) counts as the largest")
	assert.Equal(t, results.RootCauseErrorRate, Category([]Metric{m(errorsGroup, false, High, 3), m(latencyGroup, false, High, 2)}))
	assert.Empty(t, Category([]Metric{m(errorsGroup, true, Nodata, 1), m(latencyGroup, false, Pass, 1)}), "forced to 0 by missing data")
}

func TestClassify(t *testing.T) {
	c, err := Classify(nil, []float64{1}, 0.25, 0.98)
	require.NoError(t, err)
	assert.Equal(t, Nodata, c.Label)
	c, _ = Classify([]float64{3, 1, 2}, []float64{1, 2, 3}, 0.25, 0.98)
	assert.Equal(t, Pass, c.Label)
	assert.False(t, c.Tested)
	c, _ = Classify([]float64{0, 0}, []float64{0, 0, 0}, 0.25, 0.98)
	assert.Equal(t, Pass, c.Label)
	// Clearly higher.
	hi := []float64{2.1, 3.4, 2.9, 4.2, 3.8, 5.0, 3.3, 4.7, 3.9, 4.4}
	lo := []float64{1.0, 1.7, 0.4, 2.2, 1.3, 0.9, 1.8, 1.1, 1.5, 0.8}
	c, _ = Classify(hi, lo, 0.25, 0.98)
	assert.Equal(t, High, c.Label)
	// Lower is not bad: direction increase.
	c, _ = Classify(lo, hi, 0.25, 0.98)
	assert.Equal(t, Pass, c.Label)
}

func TestDeterministic(t *testing.T) {
	in := canary(9, 300, good, version{0.01, 0.055})
	assert.Equal(t, analyze(t, in), analyze(t, in))
}
