// Package stats holds the statistical tests the comparing analyzers use:
// the Mann-Whitney U test as Kayenta's NetflixACAJudge runs it (kayenta),
// Wald's sequential probability ratio test on an error rate (sprt), and an
// anytime-valid sequential test on error counts that needs no effect size
// (sequential). It depends on the standard library only, and every function
// is deterministic and cheap enough to run on every analysis of a replay.
package stats

import "math"

// NormalCDF is the standard normal distribution function Φ(z).
func NormalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}

// NormalQuantile is Φ⁻¹(p), the standard normal quantile, for 0 < p < 1
// (−Inf at 0, +Inf at 1, NaN outside).
func NormalQuantile(p float64) float64 {
	if p < 0 || p > 1 || math.IsNaN(p) {
		return math.NaN()
	}
	return -math.Sqrt2 * math.Erfcinv(2*p)
}
