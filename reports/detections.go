package reports

// What the reports make of the analyzers' detections: every analyzer
// answered the same measurements of a run, the gating one to Argo and the
// others in shadow, and each record says when the analyzer failed, or
// would have failed, the release under the run's failure limit.

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

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
	// RootCauseNamed counts the bad releases it detected naming a root
	// cause (Detection.RootCauseCorrect set), RootCauseCorrect those it
	// named right.
	RootCauseNamed, RootCauseCorrect int
	// AI sums an AI analyzer's calls over the runs; nil without any.
	AI *results.AIUsage
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
			if d.AI != nil {
				s.AI = addUsage(s.AI, *d.AI)
			}
			if d.RootCauseCorrect != nil && r.GroundTruth == results.Bad {
				s.RootCauseNamed++
				if *d.RootCauseCorrect {
					s.RootCauseCorrect++
				}
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

// addUsage adds u into sum (a new sum when nil) and returns it: calls,
// failures, tokens and cost add up, the mean latency is weighted by calls.
func addUsage(sum *results.AIUsage, u results.AIUsage) *results.AIUsage {
	if sum == nil {
		sum = &results.AIUsage{}
	}
	if n := sum.Calls + u.Calls; n > 0 {
		sum.MeanLatencySeconds = (sum.MeanLatencySeconds*float64(sum.Calls) + u.MeanLatencySeconds*float64(u.Calls)) / float64(n)
		sum.Calls = n
	}
	sum.MaxLatencySeconds = max(sum.MaxLatencySeconds, u.MaxLatencySeconds)
	sum.PromptTokens += u.PromptTokens
	sum.CompletionTokens += u.CompletionTokens
	sum.CostUSD += u.CostUSD
	for k, n := range u.Failures {
		if sum.Failures == nil {
			sum.Failures = map[string]int{}
		}
		sum.Failures[k] += n
	}
	return sum
}

// rootCauseText is how often the analyzer named the root cause right when
// it stopped a bad release naming one, "2/3 (66.7%)"; "–" when it never
// named one.
func (s analyzerStat) rootCauseText() string {
	if s.RootCauseNamed == 0 {
		return "–"
	}
	return fmt.Sprintf("%d/%d (%.1f%%)", s.RootCauseCorrect, s.RootCauseNamed, 100*float64(s.RootCauseCorrect)/float64(s.RootCauseNamed))
}

// aiCells are an AI analyzer's calls as text: "12 (2 failed: timeout 2)",
// the cost per decision "$0.0012" and the mean latency in seconds; "–"
// for an analyzer without calls.
func (s analyzerStat) aiCells() (calls, cost, latency string) {
	u := s.AI
	if u == nil || u.Calls == 0 {
		return "–", "–", "–"
	}
	calls = strconv.Itoa(u.Calls)
	if f := failuresText(u.Failures); f != "" {
		calls += fmt.Sprintf(" (%d failed: %s)", failedCalls(u.Failures), f)
	}
	return calls, usd(u.CostUSD / float64(u.Calls)), fmt.Sprintf("%.2f", u.MeanLatencySeconds)
}

func usd(v float64) string { return fmt.Sprintf("$%.4f", v) }

func failedCalls(failures map[string]int) int {
	n := 0
	for _, c := range failures {
		n += c
	}
	return n
}

// failuresText lists failed calls by kind, "rate-limited 1, timeout 2"
// (kinds sorted and clipped: they come from results.json); "" without any.
func failuresText(failures map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(failures)) {
		parts = append(parts, fmt.Sprintf("%s %d", clip(k, 40), failures[k]))
	}
	return strings.Join(parts, ", ")
}

// hasAI reports whether any of runs made AI calls: the AI columns have
// something to show.
func hasAI(runs []*results.Run) bool {
	for _, r := range runs {
		for i := range r.Detections {
			if r.Detections[i].AI != nil {
				return true
			}
		}
		for i := range r.Analysis {
			if r.Analysis[i].AI != nil {
				return true
			}
		}
	}
	return false
}

// hasRootCause reports whether any analyzer of runs stopped a bad release
// naming a root cause: the root-cause column has something to show.
func hasRootCause(runs []*results.Run) bool {
	for _, r := range runs {
		for i := range r.Detections {
			if r.Detections[i].RootCauseCorrect != nil && r.GroundTruth == results.Bad {
				return true
			}
		}
	}
	return false
}

// rootCauseMark is what a detection's category says: "error-rate ✓" when
// it was the bad release's root cause, "error-rate ✗" when not, the
// category alone when it was not judged (a good release), and the class
// of the mark; empty without a category.
func rootCauseMark(d *results.Detection) (text, class string) {
	if d.Category == "" {
		return "", ""
	}
	text = clip(oneLineText(string(d.Category)), 40)
	switch {
	case d.RootCauseCorrect == nil:
		return text, "rc"
	case *d.RootCauseCorrect:
		return text + " ✓", "rc right"
	}
	return text + " ✗", "rc wrong"
}
