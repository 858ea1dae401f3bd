package reports

// What the reports make of the analyzers' detections: every analyzer
// answered the same measurements of a run, the gating one to Argo and the
// others in shadow, and each record says when the analyzer failed, or
// would have failed, the release under the run's failure limit.

import (
	"fmt"
	"slices"
	"sort"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/results"
)

// maxAnalyzerRunes bounds an analyzer's name: it comes from results.json,
// which may have been edited by hand.
const maxAnalyzerRunes = 40

// analyzerOrder sorts analyzer names in catalog order, then any other
// name (an older or hand-edited file) in order of first appearance.
func analyzerOrder(names []string) []string {
	var out []string
	for _, n := range analysis.Names() {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// hasShadow reports whether any analysis call of r carries shadow answers.
func hasShadow(r *results.Run) bool {
	for i := range r.Analysis {
		if len(r.Analysis[i].Shadow) > 0 {
			return true
		}
	}
	return false
}

// detectionsOf indexes r's detections by analyzer; the first record wins.
func detectionsOf(r *results.Run) map[string]*results.Detection {
	out := map[string]*results.Detection{}
	for i := range r.Detections {
		d := &r.Detections[i]
		if _, ok := out[d.Analyzer]; !ok {
			out[d.Analyzer] = d
		}
	}
	return out
}

// detectionNames are the analyzers of r's detections, in file order.
func detectionNames(r *results.Run) []string {
	var out []string
	for _, d := range r.Detections {
		if !slices.Contains(out, d.Analyzer) {
			out = append(out, d.Analyzer)
		}
	}
	return out
}

// detectedAt is when d failed the release, in seconds since r's candidate
// was applied; false when it never did.
func detectedAt(r *results.Run, d *results.Detection) (float64, bool) {
	switch {
	case d.AtSeconds != nil:
		return *d.AtSeconds, true
	case d.DetectedAt != nil && !r.AppliedAt.IsZero():
		return d.DetectedAt.Sub(r.AppliedAt).Seconds(), true
	}
	return 0, false
}

// detectionText is "t=12.3s (45 failed)", "t=12.3s" without the count, or
// "—" when the analyzer never failed the release.
func detectionText(r *results.Run, d *results.Detection) string {
	at, ok := detectedAt(r, d)
	if !ok {
		return "—"
	}
	s := fmt.Sprintf("t=%.1fs", at)
	if d.FailedBeforeDetect != nil {
		s += fmt.Sprintf(" (%d failed)", *d.FailedBeforeDetect)
	}
	return s
}

// detectionTitle says in a sentence what d means, for a hover.
func detectionTitle(r *results.Run, d *results.Detection) string {
	name := clip(d.Analyzer, maxAnalyzerRunes)
	role := "in shadow"
	if d.Gating {
		role = "gating"
	}
	at, ok := detectedAt(r, d)
	if !ok {
		return fmt.Sprintf("%s (%s) did not fail the release: %d of %d measurements failed", name, role, d.Failed, d.Measurements)
	}
	verb := "would have failed"
	if d.Gating {
		verb = "failed"
	}
	s := fmt.Sprintf("%s (%s) %s the release at %.1fs: %d of %d measurements failed", name, role, verb, at, d.Failed, d.Measurements)
	if d.TimeToDetectSeconds != nil {
		s += fmt.Sprintf(", %.1fs after the onset", *d.TimeToDetectSeconds)
	}
	if d.FailedBeforeDetect != nil {
		s += fmt.Sprintf(", %d failed requests sent before", *d.FailedBeforeDetect)
	}
	return s
}

// scenarioAnalyzers are the analyzers with a detection record in any of
// runs, in catalog order.
func scenarioAnalyzers(runs []*results.Run) []string {
	var names []string
	for _, r := range runs {
		for _, n := range detectionNames(r) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return analyzerOrder(names)
}

// analyzerStat sums up one analyzer over the runs of a scenario: the same
// traffic judged by every analyzer.
type analyzerStat struct {
	Analyzer string
	Gating   int // runs it gated
	Runs     int // runs with its record
	Detected int // runs where it failed, or would have failed, the release
	// Medians over the runs it detected in; nil when none has the value.
	MedianAt, MedianDetect, MedianFailedBefore *float64
	GoodRuns, FalseAlarms                      int // runs of a good release, and those it failed
}

// analyzerStats sums up every analyzer of runs; runs the harness failed
// are left out (their numbers mean nothing).
func analyzerStats(runs []*results.Run) []analyzerStat {
	var out []analyzerStat
	for _, name := range scenarioAnalyzers(runs) {
		s := analyzerStat{Analyzer: name}
		var at, ttd, failed []float64
		for _, r := range runs {
			if r.Error != "" {
				continue
			}
			d := detectionsOf(r)[name]
			if d == nil {
				continue
			}
			s.Runs++
			if d.Gating {
				s.Gating++
			}
			good := r.GroundTruth == results.Good
			if good {
				s.GoodRuns++
			}
			t, ok := detectedAt(r, d)
			if !ok {
				continue
			}
			s.Detected++
			if good {
				s.FalseAlarms++
			}
			at = append(at, t)
			if d.TimeToDetectSeconds != nil {
				ttd = append(ttd, *d.TimeToDetectSeconds)
			}
			if d.FailedBeforeDetect != nil {
				failed = append(failed, float64(*d.FailedBeforeDetect))
			}
		}
		if s.Runs == 0 {
			continue
		}
		s.MedianAt, s.MedianDetect, s.MedianFailedBefore = median(at), median(ttd), median(failed)
		out = append(out, s)
	}
	return out
}

// median of xs; nil when empty.
func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &m
}

// cells are an analyzerStat as text: detected n/N, the medians and
// the false alarms ("–" without a good release).
func (s analyzerStat) cells() (detected, at, ttd, failed, falseAlarms string) {
	detected = fmt.Sprintf("%d/%d", s.Detected, s.Runs)
	at, ttd = secs(s.MedianAt), secs(s.MedianDetect)
	failed = "–"
	if s.MedianFailedBefore != nil {
		failed = fmt.Sprintf("%g", *s.MedianFailedBefore)
	}
	falseAlarms = "–"
	if s.GoodRuns > 0 {
		falseAlarms = fmt.Sprintf("%d of %d", s.FalseAlarms, s.GoodRuns)
	}
	return
}
