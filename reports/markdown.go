package reports

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// Markdown limits: GitHub caps a step summary at 1 MiB and a comment at
// 65536 characters, so long lists are cut.
const (
	mdCellRunes = 200 // an untrusted text in a table cell or list item
	mdMaxItems  = 50  // failed expectations, errors, comparison rows
)

var verdictEmoji = map[string]string{
	string(results.VerdictDetected):     "✅",
	string(results.VerdictPromoted):     "✅",
	string(results.VerdictMissed):       "❌",
	string(results.VerdictFalseAlarm):   "⚠️",
	string(results.VerdictInconclusive): "❔",
	StatusError:                         "💥",
}

// Markdown writes a summary of f fit for a pull-request comment or
// $GITHUB_STEP_SUMMARY: the totals, a table per scenario, failed
// expectations, harness errors and, when cmp is not nil, the comparison
// with the baseline. Untrusted text is escaped (pipes, markup, HTML) and
// folded to one line.
func Markdown(w io.Writer, f *results.File, cmp *Comparison) error {
	b := bufio.NewWriter(w)
	t := countTotals(f)
	fmt.Fprintf(b, "## blastradius: %d runs\n\n", t.Runs)
	fmt.Fprintf(b, "**%d correct** (detected or promoted), **%d wrong** (missed or false alarm), %d inconclusive, %d errors; ",
		t.Correct, t.Wrong, t.Inconclusive, t.Errors)
	if t.ExpectationsFailed == 0 {
		b.WriteString("every expectation held.\n\n")
	} else {
		fmt.Fprintf(b, "**%d runs failed an expectation**.\n\n", t.ExpectationsFailed)
	}
	if cmp != nil {
		if regs := cmp.Regressions(); len(regs) > 0 {
			fmt.Fprintf(b, "**Regression against the baseline** in %d group(s): see below.\n\n", countRegressedGroups(cmp))
		} else {
			b.WriteString("No regression against the baseline.\n\n")
		}
	}
	e := f.Environment
	fmt.Fprintf(b, "Platform %s, Kubernetes %s, Argo Rollouts %s, harness %s.\n\n",
		mdText(orDash(e.Platform)), mdText(orDash(e.Kubernetes)), mdText(orDash(e.ArgoRollouts)), mdText(orDash(e.Harness)))

	for _, sg := range byScenario(f) {
		first := sg.Runs[0]
		fmt.Fprintf(b, "### %s\n\n", mdText(sg.Name))
		fmt.Fprintf(b, "%s release %s → %s", mdText(orDash(string(first.GroundTruth))), mdText(first.Stable), mdText(first.Candidate))
		if first.Description != "" {
			fmt.Fprintf(b, ": %s", mdText(first.Description))
		}
		b.WriteString("\n\n")
		b.WriteString("| Strategy | Analyzer | Seed | Verdict | Failed requests | Users affected | Detect (s) | Recover (s) | Expectations |\n")
		b.WriteString("|---|---|---:|---|---:|---:|---:|---:|---|\n")
		for _, r := range sg.Runs {
			st := Status(r)
			failed, users := "–", "–"
			if r.Error == "" {
				failed = fmt.Sprintf("%d of %d", r.BlastRadius.FailedRequests, r.BlastRadius.TotalRequests)
				users = fmt.Sprintf("%d of %d", r.BlastRadius.UsersAffected, r.BlastRadius.UsersTotal)
			}
			fmt.Fprintf(b, "| %s | %s | %d | %s %s | %s | %s | %s | %s | %s |\n",
				mdText(r.Strategy), mdText(r.Analyzer), r.Seed, verdictEmoji[st], mdText(st), failed, users,
				secs(r.Timing.TimeToDetectSeconds), secs(r.Timing.TimeToRecoverSeconds), expectCell(r))
		}
		b.WriteString("\n")
		markdownAnalyzers(b, sg.Runs)
	}
	markdownRootCauseAndCost(b, f)

	var failed, errored []string
	for i := range f.Runs {
		r := &f.Runs[i]
		if r.Error != "" {
			errored = append(errored, fmt.Sprintf("- %s: %s", mdText(r.ID), mdText(r.Error)))
		}
		for _, e := range failedExpectations(r) {
			failed = append(failed, fmt.Sprintf("- %s: %s: %s", mdText(r.ID), mdText(e.Name), mdText(e.Message)))
		}
	}
	if len(failed) > 0 {
		b.WriteString("### Failed expectations\n\n")
		writeItems(b, failed)
	}
	if len(errored) > 0 {
		b.WriteString("### Harness errors\n\n")
		writeItems(b, errored)
	}
	if cmp != nil {
		markdownComparison(b, cmp)
	}
	return b.Flush()
}

// markdownAnalyzers is the scenario's analyzers on the same traffic: how
// often each failed, or would have failed, the release, when, and at what
// cost; nothing when no run recorded detections.
func markdownAnalyzers(b *bufio.Writer, runs []*results.Run) {
	stats := analyzerStats(runs)
	if len(stats) == 0 {
		return
	}
	b.WriteString("Analyzers on the same traffic (the gating one answered Argo, the others in shadow; medians over the runs each detected in):\n\n")
	b.WriteString("| Analyzer | Gated | Detected | Median at (s) | Median time to detect (s) | Median failed before | False alarms (good releases) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range stats {
		detected, at, ttd, failed, falseAlarms := s.cells()
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s |\n", mdText(s.Analyzer), s.Gating, detected, at, ttd, failed, falseAlarms)
	}
	b.WriteString("\n")
}

// markdownRootCauseAndCost is one line per analyzer, over every run, with
// what the scenario tables leave out: how often it named the root cause
// right when it stopped a bad release naming one, and an AI analyzer's
// calls, cost per decision, latency and models. Nothing when no analyzer
// has either.
func markdownRootCauseAndCost(b *bufio.Writer, f *results.File) {
	runs := make([]*results.Run, len(f.Runs))
	for i := range f.Runs {
		runs[i] = &f.Runs[i]
	}
	var lines []string
	for _, s := range analyzerStats(runs) {
		var parts []string
		if s.RootCauseNamed > 0 {
			parts = append(parts, fmt.Sprintf("root cause right %s of the bad releases it stopped naming one", s.rootCauseText()))
		}
		if u := s.AI; u != nil && u.Calls > 0 {
			calls := fmt.Sprintf("%d AI calls", u.Calls)
			if f := failuresText(u.Failures); f != "" {
				calls += fmt.Sprintf(" (%d failed: %s)", failedCalls(u.Failures), f)
			}
			_, cost, latency := s.aiCells()
			p := fmt.Sprintf("%s, %s per decision, mean latency %s s", mdText(calls), mdText(cost), latency)
			if models := aiModels(runs, s.Analyzer); len(models) > 0 {
				p += ", model " + strings.Join(models, ", ")
			}
			parts = append(parts, p)
		}
		if len(parts) > 0 {
			lines = append(lines, fmt.Sprintf("- **%s**: %s", mdText(s.Analyzer), strings.Join(parts, "; ")))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("### Analyzers: root cause and cost\n\n")
	writeItems(b, lines)
}

// aiModels are the models an analyzer's AI calls in runs named, escaped
// for Markdown, at most three.
func aiModels(runs []*results.Run, analyzer string) []string {
	var out []string
	add := func(name string, c *results.AICall) {
		if c != nil && name == analyzer && c.Model != "" && !slices.Contains(out, mdText(c.Model)) && len(out) < 3 {
			out = append(out, mdText(c.Model))
		}
	}
	for _, r := range runs {
		for i := range r.Analysis {
			a := &r.Analysis[i]
			add(a.Analyzer, a.AI)
			for j := range a.Shadow {
				add(a.Shadow[j].Analyzer, a.Shadow[j].AI)
			}
		}
	}
	return out
}

func countRegressedGroups(c *Comparison) int {
	n := 0
	for i := range c.Groups {
		if c.Groups[i].Regressed() {
			n++
		}
	}
	return n
}

func expectCell(r *results.Run) string {
	switch {
	case len(r.Expectations) == 0:
		return "–"
	case r.Failed():
		var names []string
		for _, e := range failedExpectations(r) {
			names = append(names, mdText(e.Name))
		}
		return "❌ " + strings.Join(names, ", ")
	}
	return "✅"
}

func writeItems(b *bufio.Writer, items []string) {
	for i, it := range items {
		if i == mdMaxItems {
			fmt.Fprintf(b, "- … and %d more\n", len(items)-mdMaxItems)
			break
		}
		b.WriteString(it + "\n")
	}
	b.WriteString("\n")
}

func markdownComparison(b *bufio.Writer, c *Comparison) {
	b.WriteString("### Comparison with the baseline\n\n")
	fmt.Fprintf(b, "Baseline: harness %s, started %s. ", mdText(orDash(c.Baseline.Harness)), fmtTime(c.Baseline.StartedAt))
	fmt.Fprintf(b, "%d runs matched by ID, %d new, %d gone. ", len(c.Runs), len(c.Added), len(c.Removed))
	fmt.Fprintf(b, "A group regresses when its mean exceeds the baseline's by more than max(%g σ, %g%% of the mean, %g requests or %g s), or when its share of wrong verdicts grows beyond the baseline's noise.\n\n",
		NoiseStdDevs, NoiseRelative*100, FailedFloor, DetectFloor)
	if regs := c.Regressions(); len(regs) > 0 {
		b.WriteString("**Regressions**\n\n")
		var items []string
		for _, r := range regs {
			items = append(items, "- "+mdText(r))
		}
		writeItems(b, items)
	}
	if len(c.Groups) > 0 {
		b.WriteString("| Group | Runs | Failed requests (baseline → now) | Δ | Limit | Detect s (baseline → now) | Wrong verdicts | Status |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|\n")
		for i := range c.Groups {
			if i == mdMaxItems {
				fmt.Fprintf(b, "\n… and %d more groups (see report.html)\n", len(c.Groups)-mdMaxItems)
				break
			}
			g := &c.Groups[i]
			status := "ok"
			if g.Regressed() {
				status = "❌ regression"
			}
			limit := "–"
			if g.FailedLimit > 0 {
				limit = fmt.Sprintf("%.1f", g.FailedLimit)
			}
			fmt.Fprintf(b, "| %s | %d → %d | %s → %s | %+.1f | %s | %s → %s | %d → %d | %s |\n",
				mdText(g.Key()), g.Old.Runs, g.New.Runs, meanSD(g.Old.FailedRequests, 1), meanSD(g.New.FailedRequests, 1),
				g.FailedDelta(), limit, meanSD(g.Old.TimeToDetectSeconds, 1), meanSD(g.New.TimeToDetectSeconds, 1),
				g.WrongOld, g.WrongNew, status)
		}
		b.WriteString("\n")
	}
	var changed []string
	for i := range c.Runs {
		d := &c.Runs[i]
		if d.VerdictChanged() {
			changed = append(changed, fmt.Sprintf("- %s: %s %s → %s %s", mdText(d.ID),
				verdictEmoji[d.OldStatus], mdText(d.OldStatus), verdictEmoji[d.NewStatus], mdText(d.NewStatus)))
		}
	}
	if len(changed) > 0 {
		b.WriteString("**Verdict changes**\n\n")
		writeItems(b, changed)
	}
}

// fmtTime formats a time for people, in UTC; "–" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "–"
	}
	return s
}

// mdText makes untrusted text inert in GitHub-flavored Markdown, in a table
// cell or anywhere else: one line, at most mdCellRunes runes, HTML
// characters as entities (no raw HTML, no comments), Markdown punctuation
// backslash-escaped (no links, images, emphasis, code, headings or table
// pipes), and @ followed by a zero-width space so that no one is mentioned.
func mdText(s string) string {
	s = clip(oneLineText(s), mdCellRunes)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '@':
			b.WriteString("@\u200b")
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '!', '|', '~', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
