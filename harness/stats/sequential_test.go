package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// binomial draws Binomial(n, p) by inversion: quick for the small means
// of error counts.
func binomial(r *rand.Rand, n int, p float64) float64 {
	if p <= 0 || n == 0 {
		return 0
	}
	u := r.Float64()
	prob := math.Pow(1-p, float64(n))
	cum, k := prob, 0
	for u > cum && k < n {
		k++
		prob *= float64(n-k+1) / float64(k) * p / (1 - p)
		cum += prob
	}
	return float64(k)
}

// deployment simulates one rollout step by step, 100 requests a second
// split between the versions (the candidate's share rising 10%, 25%, 50%
// as a canary's weights do), each request failing independently, and
// returns the first step at which the test rejects (0: never).
func deployment(seed uint64, steps int, stableRate, candidateRate, alpha float64) int {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var tt RateRatioTest
	for s := 1; s <= steps; s++ {
		cand := 10
		switch {
		case s > 2*steps/3:
			cand = 50
		case s > steps/3:
			cand = 25
		}
		ce := binomial(r, cand, candidateRate)
		se := binomial(r, 100-cand, stableRate)
		tt.Observe(ce, se, float64(cand)/100)
		if tt.Reject(alpha) {
			return s
		}
	}
	return 0
}

// TestRateRatioFalseAlarms: under the null, looking after every step of
// 2000 deployments of 300 steps, the test ever rejects in at most alpha of
// them, give or take three binomial standard deviations.
func TestRateRatioFalseAlarms(t *testing.T) {
	const runs, alpha = 2000, 0.05
	for _, rate := range []float64{0.01, 0.2} {
		alarms := 0
		for seed := range uint64(runs) {
			if deployment(seed, 300, rate, rate, alpha) > 0 {
				alarms++
			}
		}
		limit := runs*alpha + 3*math.Sqrt(runs*alpha*(1-alpha))
		t.Logf("error rate %v: %d false alarms in %d deployments (limit %.0f)", rate, alarms, runs, limit)
		assert.LessOrEqual(t, float64(alarms), limit, "error rate %v", rate)
	}
}

// TestRateRatioPower: a candidate failing 5% of requests against a stable
// failing 1% is caught in nearly every deployment, and soon.
func TestRateRatioPower(t *testing.T) {
	const runs = 500
	caught, late := 0, 0
	for seed := range uint64(runs) {
		if at := deployment(seed+1e6, 300, 0.01, 0.05, 0.05); at > 0 {
			caught++
			if at > 100 {
				late++
			}
		}
	}
	t.Logf("caught %d of %d, %d after the first 100 steps", caught, runs, late)
	assert.GreaterOrEqual(t, caught, runs*99/100)
	assert.LessOrEqual(t, late, runs/10)
}

func TestRateRatioBasics(t *testing.T) {
	var tt RateRatioTest
	assert.Equal(t, 0.0, tt.LogBayesFactor())
	assert.Equal(t, 1.0, tt.Ratio())
	// No errors, or one version alone: no information.
	tt.Observe(0, 0, 0.1)
	tt.Observe(3, 0, 1)
	tt.Observe(0, 3, 0)
	assert.Equal(t, 0.0, tt.LogBayesFactor())
	// Errors in proportion to traffic lower the factor; the candidate's
	// share of errors far above its share of traffic raises it.
	tt.Observe(1, 9, 0.1)
	assert.Less(t, tt.LogBayesFactor(), 0.0)
	for range 5 {
		tt.Observe(3, 0, 0.1)
	}
	assert.True(t, tt.Reject(0.05))
	assert.Greater(t, tt.Ratio(), 10.0)
	assert.Equal(t, 16.0, tt.Candidate)
	assert.Equal(t, 9.0, tt.Stable)
	// Exact value of one step: mean over θ of θ³/(1+0.1(θ−1))³.
	var one RateRatioTest
	one.Observe(3, 0, 0.1)
	want := 0.0
	for _, th := range Grid {
		want += math.Pow(th/(1+0.1*(th-1)), 3) / gridSize
	}
	assert.InDelta(t, math.Log(want), one.LogBayesFactor(), 1e-12)
}
