// Package sequential is an anytime-valid sequential test on the error
// counts of both versions (stats.RateRatioTest, after Lindon, Sanden &
// Shirikian, KDD 2022): it may look after every step for as long as the
// rollout lasts and still keeps its false-alarm probability within Alpha,
// and it needs no effect size.
package sequential

import (
	"context"
	"fmt"
	"math"

	"github.com/blastradius/blastradius/harness/analysis/sprt"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/stats"
)

// Name is the analyzer's catalog name.
const Name = "sequential"

// Analyzer is the sequential analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() analyzer.Analyzer { return Analyzer{} }

// Name is "sequential".
func (Analyzer) Name() string { return Name }

// Analyze feeds the test every step of the range (sprt.Scope) in time
// order: the candidate's and the stable's errors in the step, and the
// candidate's share of the step's requests. The candidate fails once the
// Bayes factor for "its error rate is higher" reaches 1/Alpha, at any step
// so far, so a failed prefix stays failed. Value is the Bayes factor: at
// that step when failed, else the current one.
func (Analyzer) Analyze(_ context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	p := in.Params.WithDefaults()
	if !(p.Alpha > 0 && p.Alpha < 1) {
		return analyzer.Verdict{}, fmt.Errorf("sequential: alpha %v not in (0, 1)", p.Alpha)
	}
	cand, stable, v, ok := sprt.Scope(in, p)
	if !ok {
		return v, nil
	}
	var (
		test               stats.RateRatioTest
		candReq, stableReq float64
		candErr, stableErr float64
		supLog             = 0.0
		threshold          = -math.Log(p.Alpha)
		j                  int
	)
	for _, c := range cand {
		// The stable's point of the same step, if it has one.
		for j < len(stable) && stable[j].T < c.T-in.Step/2 {
			j++
		}
		var s analyzer.Point
		if j < len(stable) && stable[j].T <= c.T+in.Step/2 {
			s = stable[j]
		}
		candReq, candErr = candReq+c.Requests, candErr+c.Errors
		stableReq, stableErr = stableReq+s.Requests, stableErr+s.Errors
		if c.Errors+s.Errors <= 0 || c.Requests+s.Requests <= 0 {
			continue // no information: the Bayes factor stays
		}
		test.Observe(c.Errors, s.Errors, c.Requests/(c.Requests+s.Requests))
		l := test.LogBayesFactor()
		supLog = max(supLog, l)
		if l >= threshold {
			v.Verdict, v.Value, v.Confidence, v.Category = analyzer.Fail, bayes(l), 1-math.Exp(-l), results.RootCauseErrorRate
			v.Explanation = fmt.Sprintf("Bayes factor %.3g ≥ 1/α = %.3g at t=%gs: candidate errors %s, stable %s, candidate rate ≈ %.3g× the stable's",
				bayes(l), 1/p.Alpha, c.T, rate(candErr, candReq), rate(stableErr, stableReq), test.Ratio())
			return v, nil
		}
	}
	l := test.LogBayesFactor()
	v.Verdict, v.Value = analyzer.Pass, bayes(l)
	// The anytime-valid p-value: how well equal error rates still fit.
	v.Confidence = math.Exp(-supLog)
	v.Explanation = fmt.Sprintf("Bayes factor %.3g < 1/α = %.3g (max %.3g) at t=%gs: candidate errors %s, stable %s",
		bayes(l), 1/p.Alpha, bayes(supLog), in.Now, rate(candErr, candReq), rate(stableErr, stableReq))
	return v, nil
}

// bayes is exp(l), kept finite for JSON.
func bayes(l float64) float64 { return math.Exp(min(l, 700)) }

func rate(errs, reqs float64) string {
	if reqs <= 0 {
		return "none (no requests)"
	}
	return fmt.Sprintf("%.2f%% (%.0f/%.0f)", 100*errs/reqs, errs, reqs)
}
