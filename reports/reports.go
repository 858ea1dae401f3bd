// Package reports renders a run set's results.json for people and for CI:
// report.html (a self-contained page with the scoreboard and one timeline
// chart per run), junit.xml (one test case per run) and summary.md (for a
// pull-request comment or $GITHUB_STEP_SUMMARY), with an optional comparison
// against a baseline run set.
//
// Reports read only the results File they are given: never the environment,
// the network or other files, so nothing but the results can leak into them.
// Everything that came from the cluster or the demo app (version names,
// Argo's messages, analyzer answers, pod logs, scenario descriptions) is
// treated as untrusted text and escaped for the format it goes into.
package reports

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/blastradius/blastradius/harness/results"
)

// The files a report writes beside results.json. The names are fixed: CI
// workflows and scripts refer to them.
const (
	HTMLFile     = "report.html"
	JUnitFile    = "junit.xml"
	MarkdownFile = "summary.md"
)

// WriteAll writes report.html, junit.xml and summary.md of f into dir,
// compared with baseline when it is not nil. Use Compare and Write instead to
// act on the comparison (a regression) too.
func WriteAll(dir string, f *results.File, baseline *results.File) error {
	return Write(dir, f, Compare(baseline, f))
}

// Write writes the three files of f into dir; cmp may be nil. Each file is
// written through a temp file and renamed, so a reader never sees half a
// report.
func Write(dir string, f *results.File, cmp *Comparison) error {
	if f == nil {
		return fmt.Errorf("reports: no results")
	}
	outputs := []struct {
		name   string
		render func(io.Writer) error
	}{
		{HTMLFile, func(w io.Writer) error { return HTML(w, f, cmp) }},
		{JUnitFile, func(w io.Writer) error { return JUnit(w, f) }},
		{MarkdownFile, func(w io.Writer) error { return Markdown(w, f, cmp) }},
	}
	for _, o := range outputs {
		var buf bytes.Buffer
		if err := o.render(&buf); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		if err := results.WriteAtomic(filepath.Join(dir, o.name), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// Run statuses: a run's verdict, or StatusError when the harness failed it
// (its scores then mean nothing).
const StatusError = "error"

// Status is the verdict of r, or StatusError.
func Status(r *results.Run) string {
	switch {
	case r.Error != "":
		return StatusError
	case r.Verdict == "":
		return string(results.VerdictInconclusive)
	}
	return string(r.Verdict)
}

// Verdict classes, against ground truth.
const (
	classCorrect      = "correct"      // detected, promoted
	classWrong        = "wrong"        // missed, false-alarm
	classInconclusive = "inconclusive" // nothing to judge
	classError        = "error"        // the harness failed the run
)

// verdictClass sorts a status into correct, wrong, inconclusive or error.
func verdictClass(status string) string {
	switch results.Verdict(status) {
	case results.VerdictDetected, results.VerdictPromoted:
		return classCorrect
	case results.VerdictMissed, results.VerdictFalseAlarm:
		return classWrong
	case results.VerdictInconclusive:
		return classInconclusive
	}
	return classError
}

// Version colors. A demo app version is a color with an optional variant
// prefix ("bad-green", "slow-orange"): its color is the last dash-separated
// part. A variant is drawn in its color with a darker stroke and a hatch so
// that it stays apart from the healthy version of the same color.
var palette = map[string]string{
	"blue":   "#3b82f6",
	"green":  "#22c55e",
	"yellow": "#eab308",
	"orange": "#f97316",
	"red":    "#ef4444",
	"purple": "#a855f7",
}

const (
	unknownColor      = "#64748b" // a version that is not a demo app color
	unattributedColor = "#94a3b8" // requests no version answered
)

// versionColor returns the fill color of a version and whether it is a
// variant (a prefixed tag).
func versionColor(version string) (color string, variant bool) {
	name := strings.ToLower(version)
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		name, variant = name[i+1:], true
	}
	if c, ok := palette[name]; ok {
		return c, variant
	}
	return unknownColor, variant
}

// darker scales a #rrggbb color towards black.
func darker(hex string) string {
	var r, g, b int
	if _, err := fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b); err != nil {
		return hex
	}
	f := func(c int) int { return int(math.Round(float64(c) * 0.6)) }
	return fmt.Sprintf("#%02x%02x%02x", f(r), f(g), f(b))
}

// clip shortens s to at most n runes, saying how much was cut. Invalid
// UTF-8 becomes U+FFFD so that every format gets well-formed text.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if n == 0 {
			cut = i
			break
		}
		n--
	}
	return s[:cut] + fmt.Sprintf("… (%d more bytes)", len(s)-cut)
}

// secs formats optional seconds; "–" when not applicable.
func secs(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f", *p)
}

// runLabel is a run's name within its scenario: strategy/analyzer/seed-N.
func runLabel(r *results.Run) string {
	return fmt.Sprintf("%s/%s/seed-%d", r.Strategy, r.Analyzer, r.Seed)
}

// failedExpectations lists the expectations of r that did not hold.
func failedExpectations(r *results.Run) []results.Expectation {
	var out []results.Expectation
	for _, e := range r.Expectations {
		if !e.OK {
			out = append(out, e)
		}
	}
	return out
}

// totals counts a run set by verdict class.
type totals struct {
	Runs, Correct, Wrong, Inconclusive, Errors, ExpectationsFailed int
	FailedRequests, TotalRequests                                  int64
}

func countTotals(f *results.File) totals {
	var t totals
	for i := range f.Runs {
		r := &f.Runs[i]
		t.Runs++
		switch verdictClass(Status(r)) {
		case classCorrect:
			t.Correct++
		case classWrong:
			t.Wrong++
		case classInconclusive:
			t.Inconclusive++
		default:
			t.Errors++
		}
		if r.Failed() {
			t.ExpectationsFailed++
		}
		if r.Error == "" {
			t.FailedRequests += r.BlastRadius.FailedRequests
			t.TotalRequests += r.BlastRadius.TotalRequests
		}
	}
	return t
}

// scenarioGroup is the runs of one scenario, in file order.
type scenarioGroup struct {
	Name string
	Runs []*results.Run
}

// byScenario groups runs by scenario in order of first appearance.
func byScenario(f *results.File) []scenarioGroup {
	var out []scenarioGroup
	idx := map[string]int{}
	for i := range f.Runs {
		r := &f.Runs[i]
		j, ok := idx[r.Scenario]
		if !ok {
			j = len(out)
			idx[r.Scenario] = j
			out = append(out, scenarioGroup{Name: r.Scenario})
		}
		out[j].Runs = append(out[j].Runs, r)
	}
	return out
}
