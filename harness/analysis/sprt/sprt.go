// Package sprt is Wald's sequential probability ratio test on the
// candidate's error rate against the stable's, run continuously: each time
// the test accepts "no increase" it starts over, so an increase that begins
// late is still caught (the repeated SPRT behind Page's CUSUM).
package sprt

import (
	"context"
	"fmt"
	"math"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/stats"
)

// Name is the analyzer's catalog name.
const Name = "sprt"

// FloorFraction sets the least error rate H0 assumes: EffectSize times
// this. A stable with no errors (or very few) would otherwise make H0 say
// errors are (nearly) impossible, and one or two stray candidate errors
// just after a restart would fail a good candidate. At half the effect size
// (1% by default, H1 then 3%) one error weighs log 3 = 1.1 against the
// upper boundary's log 16 = 2.77, so it takes three errors close together,
// and the rate at which the ratio drifts neither way (1.8%) is near p0 +
// EffectSize: the test looks for the increase it was asked to look for.
// Measured on 10 req/s candidates (200 seeds): a floor of a tenth of the
// effect size failed 18% of good candidates at 0.1% errors within ten
// minutes, half the effect size none.
const FloorFraction = 0.5

// Analyzer is the sprt analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() analyzer.Analyzer { return Analyzer{} }

// Name is "sprt".
func (Analyzer) Name() string { return Name }

// Analyze runs the test over the candidate's steps, from its first point
// to Now, in time order. Before each candidate step, H0's rate p0 is the
// stable's error rate over the same range up to that step (at least
// EffectSize·FloorFraction), H1's is p0 + EffectSize; the step's requests
// and errors move the log-likelihood ratio. Reaching log((1−β)/α) fails
// the candidate (and, the path depending on the prefix only, every later
// analysis fails too); reaching log(β/(1−α)) accepts H0 and restarts the
// ratio at 0 from the next step. Value is the log-likelihood ratio: at the
// crossing when failed, else the current one.
func (Analyzer) Analyze(_ context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	p := in.Params.WithDefaults()
	if _, err := stats.NewSPRT(0.5, 0.75, p.Alpha, p.Beta); err != nil {
		return analyzer.Verdict{}, err
	}
	if !(p.EffectSize > 0 && p.EffectSize < 1) {
		return analyzer.Verdict{}, fmt.Errorf("sprt: effectSize %v not in (0, 1)", p.EffectSize)
	}
	cand, stable, v, ok := Scope(in, p)
	if !ok {
		return v, nil
	}
	floor := p.EffectSize * FloorFraction

	var (
		llr                  float64
		test                 stats.SPRT
		stableReq, stableErr float64 // stable so far
		cycleReq, cycleErr   float64 // candidate since the last restart
		cycleStart           = cand[0].T - in.Step
		restarts             int
		j                    int
	)
	for _, c := range cand {
		for j < len(stable) && stable[j].T <= c.T+in.Step/2 {
			stableReq, stableErr = stableReq+stable[j].Requests, stableErr+stable[j].Errors
			j++
		}
		if stableReq <= 0 || c.Requests <= 0 {
			continue
		}
		p0 := max(stableErr/stableReq, floor)
		p1 := min(p0+p.EffectSize, (1+p0)/2)
		var err error
		if test, err = stats.NewSPRT(p0, p1, p.Alpha, p.Beta); err != nil {
			return v, err // cannot happen: 0 < p0 < p1 < 1, α and β checked
		}
		var d stats.Decision
		llr, d = test.Update(llr, c.Requests, c.Errors)
		cycleReq, cycleErr = cycleReq+c.Requests, cycleErr+c.Errors
		switch d {
		case stats.AcceptH1:
			v.Verdict, v.Value, v.Confidence, v.Category = analyzer.Fail, llr, 1-p.Alpha, results.RootCauseErrorRate
			v.Explanation = fmt.Sprintf("log-likelihood ratio %.2f ≥ %.2f at t=%gs: candidate %s since t=%gs against p0 %s (stable %s), p1 %s; %d restarts before it",
				llr, test.Upper(), c.T, rate(cycleErr, cycleReq), cycleStart, pct(p0), rate(stableErr, stableReq), pct(p1), restarts)
			return v, nil
		case stats.AcceptH0:
			llr, restarts, cycleReq, cycleErr, cycleStart = 0, restarts+1, 0, 0, c.T
		}
	}
	if test.P0 == 0 {
		v.Verdict, v.Explanation = analyzer.Inconclusive, "no step with both candidate and stable requests"
		return v, nil
	}
	v.Verdict, v.Value = analyzer.Pass, llr
	v.Confidence = min(max((test.Upper()-llr)/(test.Upper()-test.Lower()), 0), 1)
	v.Explanation = fmt.Sprintf("log-likelihood ratio %.2f in (%.2f, %.2f) at t=%gs: candidate %s since t=%gs against p0 %s (stable %s), p1 %s; %d restarts",
		llr, test.Lower(), test.Upper(), in.Now, rate(cycleErr, cycleReq), cycleStart, pct(test.P0), rate(stableErr, stableReq), pct(test.P1), restarts)
	return v, nil
}

// Scope is the analysis range the cumulative analyzers (kayenta, sprt,
// sequential) share: the candidate's points from its first to Now, and the
// stable's over the same time range. v has the candidate's requests and
// p99 over the range; ok is false, with v the inconclusive verdict, when
// the candidate has fewer than MinRequests requests or the stable none.
func Scope(in analyzer.Input, p analyzer.Params) (cand, stable []analyzer.Point, v analyzer.Verdict, ok bool) {
	cand = in.Candidate
	if len(cand) == 0 {
		v.Verdict, v.Explanation = analyzer.Inconclusive, "no candidate data yet"
		return nil, nil, v, false
	}
	start := cand[0].T - in.Step/2
	i := 0
	for i < len(in.Stable) && in.Stable[i].T < start {
		i++
	}
	stable = in.Stable[i:]
	c := analyzer.Sum(cand, math.Inf(-1), in.Now)
	s := analyzer.Sum(stable, math.Inf(-1), in.Now)
	v.Requests, v.P99 = c.Requests, zeroNaN(c.Quantile(0.99, in.Bounds))
	since := fmt.Sprintf("since t=%gs", cand[0].T-in.Step)
	switch {
	case c.Requests < float64(max(p.MinRequests, 1)):
		v.Verdict = analyzer.Inconclusive
		v.Explanation = fmt.Sprintf("%.0f candidate requests %s, need %d", c.Requests, since, max(p.MinRequests, 1))
		return nil, nil, v, false
	case s.Requests <= 0:
		v.Verdict = analyzer.Inconclusive
		v.Explanation = "no stable requests " + since + " to compare with"
		return nil, nil, v, false
	}
	return cand, stable, v, true
}

func rate(errs, reqs float64) string {
	if reqs <= 0 {
		return "no requests"
	}
	return fmt.Sprintf("%s (%.0f/%.0f)", pct(errs/reqs), errs, reqs)
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func zeroNaN(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return f
}
