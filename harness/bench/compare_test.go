package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis/threshold"
	"github.com/blastradius/blastradius/harness/analyzer"
)

func metrics(name string, tp, fn, fp, tn int, ttd, ttdLo, ttdHi, lost, lostLo, lostHi float64) Metrics {
	return Metrics{
		Name: name, Good: fp + tn, Bad: tp + fn, Cases: tp + fn + fp + tn,
		Confusion:                 Confusion{TP: tp, FN: fn, FP: fp, TN: tn},
		MedianTimeToDetectSeconds: ptr(ttd), MedianTimeToDetectCI: &Interval{ttdLo, ttdHi},
		MedianFailedBeforeDetect: ptr(lost), MedianFailedBeforeDetectCI: &Interval{lostLo, lostHi},
	}
}

func TestCompareFlagsRegressionsNotNoise(t *testing.T) {
	old := &Result{Analyzers: []Metrics{
		metrics("x", 240, 60, 12, 288, 10, 9, 11, 20, 18, 22),
		metrics("gone", 10, 0, 0, 10, 5, 5, 5, 1, 1, 1),
	}}
	noise := &Result{Analyzers: []Metrics{
		metrics("x", 234, 66, 15, 285, 10.8, 9.8, 12, 21, 19, 23),
		metrics("gone", 10, 0, 0, 10, 5, 5, 5, 1, 1, 1),
		metrics("new", 0, 10, 10, 0, 50, 50, 50, 9, 9, 9),
	}}
	assert.Empty(t, Compare(old, noise), "noise is not a regression; a new analyzer is not compared")
	assert.Empty(t, Compare(old, old))

	planted := &Result{Analyzers: []Metrics{metrics("x", 180, 120, 40, 260, 15, 14, 16, 20.5, 18, 23)}}
	regs := Compare(old, planted)
	var names []string
	for _, r := range regs {
		names = append(names, r.Analyzer+"/"+r.Metric)
		assert.NotEmpty(t, r.String())
	}
	assert.Equal(t, []string{"x/recall", "x/precision", "x/falseAlarmRate", "x/medianTimeToDetectSeconds", "gone/missing"}, names)
	assert.InDelta(t, 0.8, regs[0].Old, 1e-12)
	assert.InDelta(t, 0.6, regs[0].New, 1e-12)
	assert.Positive(t, regs[0].Margin)
	// the median's margin is at least 10%, however tight the intervals
	tight := &Result{Analyzers: []Metrics{metrics("x", 240, 60, 12, 288, 10.9, 10.9, 10.9, 20, 20, 20)}}
	old.Analyzers[0].MedianTimeToDetectCI = &Interval{10, 10}
	assert.Empty(t, Compare(&Result{Analyzers: old.Analyzers[:1]}, tight))
}

// blunted is threshold with its first 30 s of failures turned into passes:
// a planted regression in time to detect and recall.
type blunted struct{ analyzer.Analyzer }

func (b blunted) Analyze(ctx context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	v, err := b.Analyzer.Analyze(ctx, in)
	if v.Verdict == analyzer.Fail && in.Now < lead+30 {
		v.Verdict = analyzer.Pass
	}
	return v, err
}

// Two corpora from different seeds differ by noise only; a blunted
// analyzer on the same corpus is a regression.
func TestCompareOnGeneratedCorpora(t *testing.T) {
	dir := t.TempDir()
	corpus := func(seed uint64) []string {
		p := filepath.Join(dir, "c"+string(rune('0'+seed))+".ndjson")
		require.NoError(t, os.WriteFile(p, generate(t, 400, seed), 0o644))
		return []string{p}
	}
	a, b := corpus(1), corpus(2)
	ctx := context.Background()
	oldRes, err := Run(ctx, a, []analyzer.Analyzer{threshold.New()})
	require.NoError(t, err)
	noise, err := Run(ctx, b, []analyzer.Analyzer{threshold.New()})
	require.NoError(t, err)
	assert.Empty(t, Compare(oldRes, noise), "another seed")

	worse, err := Run(ctx, a, []analyzer.Analyzer{blunted{threshold.New()}})
	require.NoError(t, err)
	regs := Compare(oldRes, worse)
	require.NotEmpty(t, regs)
	metrics := map[string]bool{}
	for _, r := range regs {
		metrics[r.Metric] = true
	}
	assert.True(t, metrics["medianTimeToDetectSeconds"], "%v", regs)
}

// Root-cause accuracy regresses like the other rates: a drop beyond two
// standard errors of the two-proportion test, over the cases that named a
// category; a baseline without such cases compares nothing.
func TestCompareRootCauseAccuracy(t *testing.T) {
	withRC := func(named, correct int) *Result {
		m := metrics("x", 240, 60, 12, 288, 10, 9, 11, 20, 18, 22)
		m.RootCauseNamed, m.RootCauseCorrect, m.RootCauseAccuracy = named, correct, ratio(correct, named)
		return &Result{Analyzers: []Metrics{m}}
	}
	old := withRC(200, 180)
	assert.Empty(t, Compare(old, withRC(200, 172)), "90% -> 86%: noise")
	regs := Compare(old, withRC(200, 150))
	require.Len(t, regs, 1)
	assert.Equal(t, "rootCauseAccuracy", regs[0].Metric)
	assert.InDelta(t, 0.9, regs[0].Old, 1e-12)
	assert.InDelta(t, 0.75, regs[0].New, 1e-12)
	assert.Empty(t, Compare(withRC(0, 0), withRC(200, 10)), "no baseline cases: not compared")
	assert.Empty(t, Compare(old, withRC(0, 0)), "no cases now: not compared")
}
