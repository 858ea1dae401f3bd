package stats

import "math"

// RateRatioTest is an anytime-valid, one-sided test that the candidate's
// error rate is above the stable's, needing no effect size, after Lindon,
// Sanden & Shirikian, "Rapid Regression Detection in Software Deployments
// through Sequential Testing" (KDD 2022) and Lindon & Malek,
// "Anytime-valid inference for multinomial count data" (NeurIPS 2022).
//
// Conditional on the n errors both versions made in a step, the
// candidate's share of them is Binomial(n, ρ) when both have the same error
// rate, ρ being the candidate's share of that step's requests; when the
// candidate's rate is θ times the stable's, it is Binomial(n, q) with q =
// ρθ/(ρθ + 1 − ρ). The test's statistic is the Bayes factor of "θ > 1"
// against "θ = 1", the likelihood ratio mixed over a prior on θ fixed in
// advance. Under H0 it is a nonnegative martingale of mean 1 whatever ρ
// does from step to step, so by Ville's inequality the chance it ever
// reaches 1/α is at most α: the test may be checked after every step, for
// as long as one likes. (With Bernoulli errors the candidate's count given
// the total is hypergeometric, which Hoeffding's convex-order inequality
// shows only lowers the ratio's mean: still valid.)
//
// Lindon et al. mix with a conjugate Beta prior on the candidate's share,
// which is exact when ρ is constant. A rollout changes ρ at every weight
// step, so the prior here is on θ, the quantity that stays put: a discrete
// prior, uniform over Grid (θ from 1.5 to 200, log-spaced). A discrete
// mixture of likelihood ratios is exactly a martingale, so nothing is lost
// to quadrature; it is one-sided because every θ is above 1. The price of
// not knowing θ is at most log(len(Grid)) nats of evidence.
//
// The zero value is ready; Observe steps in time order.
type RateRatioTest struct {
	logLR [gridSize]float64 // log-likelihood ratio of each θ in Grid
	// Candidate and Stable are the errors observed so far, in steps that
	// carried information (both versions had requests).
	Candidate, Stable float64
}

const gridSize = 16

// Grid is the prior's support: the candidate-to-stable error-rate ratios
// the mixture weighs equally.
var Grid = func() (g [gridSize]float64) {
	lo, hi := math.Log(1.5), math.Log(200)
	for i := range g {
		g[i] = math.Exp(lo + (hi-lo)*float64(i)/(gridSize-1))
	}
	return g
}()

var logGrid = func() (g [gridSize]float64) {
	for i, t := range Grid {
		g[i] = math.Log(t)
	}
	return g
}()

// Observe adds one step: the candidate's and the stable's errors, and the
// candidate's share of the step's requests (0..1). A step with no errors,
// or where one version had all the requests, carries no information.
func (t *RateRatioTest) Observe(candidateErrors, stableErrors, share float64) {
	n := candidateErrors + stableErrors
	if !(n > 0) || !(share > 0 && share < 1) {
		return
	}
	t.Candidate += candidateErrors
	t.Stable += stableErrors
	for i := range t.logLR {
		// log of (q/ρ)^c ((1−q)/(1−ρ))^s with q = ρθ/(ρθ+1−ρ).
		t.logLR[i] += candidateErrors*logGrid[i] - n*math.Log1p(share*(Grid[i]-1))
	}
}

// LogBayesFactor is the log of the mixture likelihood ratio so far: 0
// before any information.
func (t *RateRatioTest) LogBayesFactor() float64 {
	top := math.Inf(-1)
	for _, l := range t.logLR {
		top = max(top, l)
	}
	sum := 0.0
	for _, l := range t.logLR {
		sum += math.Exp(l - top)
	}
	return top + math.Log(sum/gridSize)
}

// Reject reports whether the Bayes factor has reached 1/alpha.
func (t *RateRatioTest) Reject(alpha float64) bool {
	return t.LogBayesFactor() >= -math.Log(alpha)
}

// Ratio is the grid's most likely error-rate ratio so far (for
// explanations): the θ with the largest likelihood ratio, or 1 when no θ
// in the grid beats equality.
func (t *RateRatioTest) Ratio() float64 {
	best, ratio := 0.0, 1.0
	for i, l := range t.logLR {
		if l > best {
			best, ratio = l, Grid[i]
		}
	}
	return ratio
}
