// Package kayenta judges the candidate against the stable the way
// Kayenta's NetflixACAJudge does: each metric's samples (one value per
// time bucket, both versions over the same buckets) go through a
// Mann-Whitney U test, each metric is classified High, Low, Pass or
// Nodata, groups of metrics are scored and weighted into a score out of
// 100, and the score is held against the pass and marginal thresholds.
package kayenta

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/blastradius/blastradius/harness/analysis/sprt"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/stats"
)

// Name is the analyzer's catalog name.
const Name = "kayenta"

// Sampling. Kayenta compares time series sampled at a fixed interval
// (typically a minute, with thousands of requests per sample); here a step
// is a second and a 10% canary of 100 requests a second serves about 10 a
// second, so a per-step error rate is mostly 0 or 10%: too coarse to tell
// 1% from 3%. Samples are therefore sums of consecutive steps.
const (
	// SampleRequests is how many candidate requests a sample aims at:
	// enough to resolve an error rate to 2 points, few enough that a
	// 10-request-a-second candidate gets a sample every 5 s.
	SampleRequests = 50
	// MinSamples is the number of samples the buckets shrink to keep, when
	// the range has that many steps: a Mann-Whitney test on 4 samples a
	// side can never reach 98%, on 10 it can.
	MinSamples = 10
)

// Group weights, as a canary config's classifier.groupWeights: errors and
// latency count alike. The error rate is also critical, so its High fails
// the canary whatever the score.
const (
	errorsGroup  = "errors"
	latencyGroup = "latency"
)

var groupWeights = []groupWeight{{errorsGroup, 50}, {latencyGroup, 50}}

type groupWeight struct {
	group  string
	weight float64
}

// Metric classifications, as Kayenta's MetricClassificationLabel.
const (
	Pass   = "Pass"
	High   = "High"
	Low    = "Low"
	Nodata = "Nodata"
)

// Analyzer is the kayenta analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() analyzer.Analyzer { return Analyzer{} }

// Name is "kayenta".
func (Analyzer) Name() string { return Name }

// Metric is one metric's samples and classification.
type Metric struct {
	Name      string
	Group     string
	Critical  bool
	Candidate []float64 // samples, NaNs removed
	Stable    []float64
	Result    Classification
}

// Classification is a metric's label and the test behind it.
type Classification struct {
	Label string
	// Ratio is the candidate's mean over the stable's (Kayenta's
	// deviation), NaN when either mean is 0.
	Ratio float64
	Test  stats.MannWhitneyResult
	// Tested: the Mann-Whitney test ran (not Nodata, not identical data).
	Tested bool
}

// Analyze samples both versions over the range sprt.Scope gives, classifies
// the metrics and scores them. Value is the score, 0..100.
func (Analyzer) Analyze(_ context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	p := in.Params.WithDefaults()
	if !(p.Confidence > 0 && p.Confidence < 1) {
		return analyzer.Verdict{}, fmt.Errorf("kayenta: confidence %v not in (0, 1)", p.Confidence)
	}
	if !(in.Step > 0) {
		return analyzer.Verdict{}, fmt.Errorf("kayenta: step %v, want > 0", in.Step)
	}
	cand, stable, v, ok := sprt.Scope(in, p)
	if !ok {
		return v, nil
	}
	metrics, width := Samples(in, cand, stable)
	nc, ns := len(metrics[0].Candidate), len(metrics[0].Stable)
	if z := -stats.NormalQuantile((1 - p.Confidence) / 2); !reachable(nc, ns, z) {
		v.Verdict = analyzer.Inconclusive
		v.Explanation = fmt.Sprintf("%d candidate and %d stable samples of %gs: too few for a %g%% test", nc, ns, width, 100*p.Confidence)
		return v, nil
	}
	for i := range metrics {
		m := &metrics[i]
		c, err := Classify(m.Candidate, m.Stable, p.Tolerance, p.Confidence)
		if err != nil {
			return analyzer.Verdict{}, fmt.Errorf("kayenta: %s: %w", m.Name, err)
		}
		m.Result = c
	}
	score, reason := Score(metrics)
	v.Value = score
	switch {
	case score >= p.PassScore:
		v.Verdict, v.Confidence = analyzer.Pass, score/100
	case score >= p.MarginalScore:
		v.Verdict = analyzer.Inconclusive
	default:
		v.Verdict, v.Confidence, v.Category = analyzer.Fail, 1-score/100, Category(metrics)
	}
	parts := []string{fmt.Sprintf("score %g (pass ≥ %g, marginal ≥ %g)%s over %d candidate and %d stable samples of %gs",
		score, p.PassScore, p.MarginalScore, reason, nc, ns, width)}
	for _, m := range metrics {
		parts = append(parts, describe(m, p.Confidence))
	}
	v.Explanation = strings.Join(parts, "; ")
	return v, nil
}

// Samples buckets the range into samples: buckets of w steps, w the steps
// that bring the candidate SampleRequests requests at its average rate, but
// small enough for MinSamples buckets; buckets end at Now and only whole
// ones count (the oldest, partial one waits for a later analysis). Both
// versions share the buckets. A bucket gives an error-rate sample for a
// version with requests in it and a mean-latency sample for one with
// latency observations (Kayenta's "remove" NaN strategy). The latency
// metric is left out when neither version has latencies (a trace without
// histograms). Returns the metrics and the bucket width in seconds.
func Samples(in analyzer.Input, cand, stable []analyzer.Point) ([]Metric, float64) {
	steps := max(int(math.Floor((in.Now-cand[0].T)/in.Step+1e-6))+1, 1)
	var req float64
	for _, c := range cand {
		req += c.Requests
	}
	w := 1
	if req > 0 {
		w = int(math.Ceil(SampleRequests * float64(steps) / req))
	}
	w = max(min(w, steps/MinSamples), 1)
	k := steps / w
	span := float64(w) * in.Step

	type bucket struct{ req, errs, lat, latSum float64 }
	buckets := make([]bucket, 2*k)
	add := func(points []analyzer.Point, off int) {
		for _, pt := range points {
			i := int(math.Floor((in.Now-pt.T)/span + 1e-6))
			if i < 0 || i >= k {
				continue
			}
			b := &buckets[off+i]
			b.req, b.errs, b.lat, b.latSum = b.req+pt.Requests, b.errs+pt.Errors, b.lat+pt.Latencies, b.latSum+pt.LatencySum
		}
	}
	add(cand, 0)
	add(stable, k)

	errs := Metric{Name: "error rate", Group: errorsGroup, Critical: true}
	lat := Metric{Name: "mean latency", Group: latencyGroup}
	for i := k - 1; i >= 0; i-- { // oldest first
		for _, s := range []struct {
			b          bucket
			errs, lats *[]float64
		}{{buckets[i], &errs.Candidate, &lat.Candidate}, {buckets[k+i], &errs.Stable, &lat.Stable}} {
			if s.b.req > 0 {
				*s.errs = append(*s.errs, s.b.errs/s.b.req)
			}
			if s.b.lat > 0 {
				*s.lats = append(*s.lats, s.b.latSum/s.b.lat)
			}
		}
	}
	if len(lat.Candidate) == 0 && len(lat.Stable) == 0 {
		return []Metric{errs}, span
	}
	return []Metric{errs, lat}, span
}

// reachable reports whether n against m samples can reject at all: U at
// its extreme, without ties, reaches the normal quantile z.
func reachable(n, m int, z float64) bool {
	if n == 0 || m == 0 {
		return false
	}
	nm := float64(n * m)
	return (nm/2-0.5)/math.Sqrt(nm*float64(n+m+1)/12) >= z
}

// Classify is Kayenta's MannWhitneyClassifier for a metric whose direction
// is "increase" (an increase is bad, a decrease is not looked for), with
// the default effect-size thresholds (allowedIncrease and
// criticalIncrease 1.0 on the mean ratio):
//   - no samples on either side: Nodata;
//   - the same values on both sides, or one value throughout: Pass;
//   - else the Mann-Whitney test of candidate against stable at the
//     confidence level: High when the interval's lower end is above
//     tolerance × |Hodges-Lehmann estimate| and the mean ratio is at least
//     1 (or undefined); Pass otherwise.
//
// Where Kayenta adds random noise to two constant samples, the test here
// answers them exactly (stats.MannWhitney): one constant above the other is
// High.
func Classify(cand, stable []float64, tolerance, confidence float64) (Classification, error) {
	c := Classification{Label: Nodata, Ratio: 1}
	if len(cand) == 0 || len(stable) == 0 {
		return c, nil
	}
	c.Label = Pass
	if identical(cand, stable) {
		return c, nil
	}
	t, err := stats.MannWhitney(cand, stable, confidence)
	if err != nil {
		return c, err
	}
	c.Test, c.Tested = t, true
	c.Ratio = mean(cand) / mean(stable)
	if mean(cand) == 0 || mean(stable) == 0 {
		c.Ratio = math.NaN()
	}
	if t.Lower > tolerance*math.Abs(t.Estimate) && (math.IsNaN(c.Ratio) || c.Ratio >= 1) {
		c.Label = High
	}
	return c, nil
}

// identical: the same multiset of values, or a single value throughout.
func identical(a, b []float64) bool {
	if slices.Min(a) == slices.Max(a) && slices.Min(b) == slices.Max(b) && a[0] == b[0] {
		return true
	}
	if len(a) != len(b) {
		return false
	}
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func mean(s []float64) float64 {
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return sum / float64(len(s))
}

// Score is Kayenta's WeightedSumScorer: 0 when a critical metric is not
// Pass, or when half the metrics or more are Nodata; else each group
// scores the share of its classified (not Nodata) metrics that pass, a
// group with none scoring 100, and the summary is the weighted sum rounded
// to two decimals. reason says why a score was forced to 0.
func Score(metrics []Metric) (score float64, reason string) {
	nodata := 0
	for _, m := range metrics {
		if m.Critical && m.Result.Label != Pass {
			return 0, fmt.Sprintf(" (critical metric %s is %s)", m.Name, m.Result.Label)
		}
		if m.Result.Label == Nodata {
			nodata++
		}
	}
	if 2*nodata >= len(metrics) {
		return 0, fmt.Sprintf(" (%d of %d metrics without data)", nodata, len(metrics))
	}
	weights := groupWeights
	if len(metrics) == 1 {
		weights = []groupWeight{{metrics[0].Group, 100}}
	}
	for _, gw := range weights {
		group, weight := gw.group, gw.weight
		pass, total := 0, 0
		for _, m := range metrics {
			if m.Group != group || m.Result.Label == Nodata {
				continue
			}
			total++
			if m.Result.Label == Pass {
				pass++
			}
		}
		gs := 100.0
		if total > 0 {
			gs = 100 * float64(pass) / float64(total)
		}
		score += gs * weight / 100
	}
	return math.Round(score*100) / 100, ""
}

// Category is the root cause of a failed canary: that of its worst failing
// metric, the critical error rate if it is High, else the High metric
// with the largest mean ratio (an undefined ratio counting as the
// largest); empty when no metric is High (a score forced to 0 by missing
// data names no cause).
func Category(metrics []Metric) results.RootCause {
	worst, ratio := -1, math.Inf(-1)
	for i, m := range metrics {
		if m.Result.Label != High {
			continue
		}
		r := m.Result.Ratio
		if m.Critical || math.IsNaN(r) {
			r = math.Inf(1)
		}
		if worst < 0 || r > ratio {
			worst, ratio = i, r
		}
	}
	switch {
	case worst < 0:
		return ""
	case metrics[worst].Group == latencyGroup:
		return results.RootCauseLatency
	}
	return results.RootCauseErrorRate
}

// describe is one metric's part of the explanation.
func describe(m Metric, confidence float64) string {
	c := m.Result
	crit := ""
	if m.Critical {
		crit = " (critical)"
	}
	s := fmt.Sprintf("%s %s%s", m.Name, c.Label, crit)
	if c.Label == Nodata {
		return s
	}
	unit, shift, f := "ms", "ms", 1e3
	if m.Group == errorsGroup {
		unit, shift, f = "%", "pp", 100
	}
	s += fmt.Sprintf(": candidate mean %.3g%s vs stable %.3g%s", f*mean(m.Candidate), unit, f*mean(m.Stable), unit)
	if c.Tested {
		s += fmt.Sprintf(", shift %+.3g%s, %g%% CI [%+.3g, %+.3g]", f*c.Test.Estimate, shift, 100*confidence, f*c.Test.Lower, f*c.Test.Upper)
	}
	return s
}
