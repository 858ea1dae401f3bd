package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// writeTable prints every test with its status, time and reason, then the
// counts.
func writeTable(w io.Writer, r report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tTIME\tTEST\tREASON")
	for _, t := range r.Tests {
		status := t.Status
		if t.SkipList {
			status += " (list)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, seconds(t), t.Test, t.Reason)
	}
	tw.Flush()
	fmt.Fprintln(w, counts(r))
}

func counts(r report) string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped of %d tests in %s", r.Passed, r.Failed, r.Skipped, len(r.Tests), fmtDuration(r.Seconds))
	if r.Incomplete != "" {
		s += " (incomplete: " + r.Incomplete + ")"
	}
	return s
}

func seconds(t result) string {
	if t.Status == statusSkipped && t.Seconds == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs", t.Seconds)
}

func fmtDuration(s float64) string {
	m := int(s) / 60
	return fmt.Sprintf("%dm%02ds", m, int(s)-60*m)
}

// writeMarkdown is summary.md: the counts, then failures, skips and passes.
func writeMarkdown(w io.Writer, r report) {
	fmt.Fprintf(w, "# Argo Rollouts %s e2e suite on the local platform\n\n", r.ArgoRollouts)
	fmt.Fprintf(w, "%s, started %s.\n\n`%s`\n", counts(r), r.Started.Format(time.RFC3339), r.Command)
	section := func(title, status string, skipList *bool) {
		var rows []result
		for _, t := range r.Tests {
			if t.Status == status && (skipList == nil || t.SkipList == *skipList) {
				rows = append(rows, t)
			}
		}
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(w, "\n## %s (%d)\n\n| Test | Time | Reason |\n|---|---|---|\n", title, len(rows))
		for _, t := range rows {
			fmt.Fprintf(w, "| `%s` | %s | %s |\n", t.Test, seconds(t), mdCell(t.Reason))
		}
	}
	yes, no := true, false
	section("Failed", statusFailed, nil)
	section("Skipped by the skip list", statusSkipped, &yes)
	section("Skipped by the tests themselves", statusSkipped, &no)
	section("Passed", statusPassed, nil)
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
