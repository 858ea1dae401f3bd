package sprt

import (
	"math/rand/v2"

	"github.com/blastradius/blastradius/harness/analyzer"
)

// Synthetic is a deterministic canary for the comparing analyzers' tests:
// steps 1-second points of 100 requests, share(t) of them the candidate's,
// every request failing independently with its version's rate at t. No
// latencies.
func Synthetic(seed uint64, steps int, share func(t int) int, stableRate, candRate func(t int) float64) analyzer.Input {
	r := rand.New(rand.NewPCG(seed, 7))
	errs := func(n int, p float64) (e float64) {
		for range n {
			if r.Float64() < p {
				e++
			}
		}
		return e
	}
	in := analyzer.Input{Now: float64(steps), Step: 1, Params: analyzer.Params{}.WithDefaults()}
	for t := 1; t <= steps; t++ {
		c := share(t)
		in.Stable = append(in.Stable, analyzer.Point{T: float64(t), Requests: float64(100 - c), Errors: errs(100-c, stableRate(t))})
		in.Candidate = append(in.Candidate, analyzer.Point{T: float64(t), Requests: float64(c), Errors: errs(c, candRate(t))})
	}
	return in
}

// Constant is a rate that does not change.
func Constant(p float64) func(int) float64 { return func(int) float64 { return p } }
