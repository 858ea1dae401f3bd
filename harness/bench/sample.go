package bench

import (
	"math"
	"math/rand/v2"
)

// The generator's samplers. math/rand/v2 has uniform and normal variates
// only; these build counts on them. Large counts use the normal
// approximation (docs/bench.md says where), which is what keeps the
// generator at a few microseconds per point.

// poisson draws a Poisson count of mean lambda: Knuth's product of uniforms
// below 30, the rounded normal approximation above.
func poisson(r *rand.Rand, lambda float64) float64 {
	switch {
	case !(lambda > 0):
		return 0
	case lambda < 30:
		limit, prod, k := math.Exp(-lambda), r.Float64(), 0
		for prod > limit {
			prod *= r.Float64()
			k++
		}
		return float64(k)
	}
	return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64()))
}

// binomial draws a Binomial(n, p) count: Bernoulli trials below 40 trials,
// inversion of the probability function while n·min(p,1-p) < 10, the
// rounded normal approximation beyond.
func binomial(r *rand.Rand, n, p float64) float64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(r, n, 1-p)
	case n < 40:
		k := 0.0
		for i := 0.0; i < n; i++ {
			if r.Float64() < p {
				k++
			}
		}
		return k
	case n*p < 10:
		u := r.Float64()
		q := 1 - p
		pk := math.Exp(n * math.Log1p(-p)) // P(0)
		k := 0.0
		for u > pk && k < n {
			u -= pk
			pk *= (n - k) / (k + 1) * p / q
			k++
		}
		return k
	}
	sd := math.Sqrt(n * p * (1 - p))
	return math.Min(n, math.Max(0, math.Round(n*p+sd*r.NormFloat64())))
}

// lognormal is a latency distribution: ln(latency) ~ N(Mu, Sigma²).
type lognormal struct{ Mu, Sigma float64 }

// bins are the probabilities of the intervals (0, b0], (b0, b1], …,
// (b_last, ∞) and the mean latency within each.
func (l lognormal) bins(bounds []float64) (prob, mean []float64) {
	n := len(bounds) + 1
	prob, mean = make([]float64, n), make([]float64, n)
	cdf := func(x float64) float64 { return normCDF((math.Log(x) - l.Mu) / l.Sigma) }
	// E[X; X <= x] = exp(mu + sigma²/2) Φ((ln x - mu - sigma²)/sigma)
	partial := func(x float64) float64 {
		return math.Exp(l.Mu+l.Sigma*l.Sigma/2) * normCDF((math.Log(x)-l.Mu-l.Sigma*l.Sigma)/l.Sigma)
	}
	lowC, lowE := 0.0, 0.0
	total := math.Exp(l.Mu + l.Sigma*l.Sigma/2)
	for i := range n {
		hiC, hiE := 1.0, total
		if i < len(bounds) {
			hiC, hiE = cdf(bounds[i]), partial(bounds[i])
		}
		prob[i] = hiC - lowC
		if prob[i] > 1e-12 {
			mean[i] = (hiE - lowE) / prob[i]
		} else if i < len(bounds) {
			mean[i] = bounds[i]
		} else {
			mean[i] = bounds[len(bounds)-1]
		}
		lowC, lowE = hiC, hiE
	}
	return prob, mean
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// multinomial spreads n observations over bins of the given probabilities
// by conditional binomials, into out.
func multinomial(r *rand.Rand, n float64, prob, out []float64) {
	mass := 1.0
	for i, p := range prob {
		if i == len(prob)-1 || mass <= 0 {
			out[i] = n
			n = 0
			continue
		}
		c := binomial(r, n, math.Min(1, p/mass))
		out[i] = c
		n -= c
		mass -= p
	}
}

// newRand is the generator's stream for one seed and case.
func newRand(seed uint64, i int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(i))) }
