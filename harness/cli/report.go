package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/reports"
)

func newReportCmd() *cobra.Command {
	var baseline string
	var same bool
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Write report.html, junit.xml and summary.md from a run set's results.json",
		Long: `Read DIR/results.json (as written by blastradius run) and write beside it
report.html (a self-contained page: scoreboard, one timeline per run),
junit.xml (one test case per run) and summary.md (for a pull-request comment
or $GITHUB_STEP_SUMMARY).

With --baseline OLD_DIR the runs are compared with OLD_DIR/results.json, run
by run (matched by run ID) and per group of repetitions (same scenario,
strategy and analyzer, different seeds). A group regresses when its mean
failed requests or time to detect exceed the baseline's by more than the
noise seen across repetitions (the largest of 2 standard deviations, 10% of
the baseline mean and a small floor), or when its share of wrong verdicts
(detected -> missed, promoted -> false-alarm) grows beyond the baseline's.
The comparison goes into summary.md and report.html. With --same-verdicts,
any run of the same ID whose verdict differs from the baseline's, better or
worse, is a regression too: that checks that a faster time scale (the PR set)
reaches the verdicts of the default one (the full set), seed by seed.

Exit status: 0 when the reports were written (and, with --baseline, nothing
regressed); 1 on a regression against the baseline; 2 when the results could
not be read or the reports not written. Failed expectations alone do not
change the status: blastradius run reports those.`,
		Example: `  blastradius report out
  blastradius report out --baseline baseline-out
  blastradius report out-pr --baseline out-full --same-verdicts
  cat out/summary.md >> "$GITHUB_STEP_SUMMARY"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if same && baseline == "" {
				return &exitError{code: ExitHarness, err: errors.New("--same-verdicts: needs --baseline")}
			}
			return writeReports(cmd.OutOrStdout(), args[0], baseline, same)
		},
	}
	cmd.Flags().StringVar(&baseline, "baseline", "", "directory (or results.json) of a previous run set to compare with; a regression exits with status 1")
	cmd.Flags().BoolVar(&same, "same-verdicts", false, "with --baseline: every run found in both must have the baseline's verdict")
	return cmd
}

func writeReports(out io.Writer, path, baselinePath string, sameVerdicts bool) error {
	f, err := results.Read(path)
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	dir := path
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir = filepath.Dir(path)
	}
	var base *results.File
	if baselinePath != "" {
		if base, err = results.Read(baselinePath); err != nil {
			return &exitError{code: ExitHarness, err: fmt.Errorf("--baseline: %w", err)}
		}
	}
	cmp := reports.Compare(base, f)
	if err := reports.Write(dir, f, cmp); err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	for _, name := range []string{reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile} {
		fmt.Fprintln(out, filepath.Join(dir, name))
	}
	if cmp == nil {
		return nil
	}
	regs := cmp.Regressions()
	if sameVerdicts {
		regs = append(regs, cmp.VerdictChanges()...)
	}
	if len(regs) == 0 {
		fmt.Fprintf(out, "no regression against %s: %d runs matched, %d new, %d gone\n", baselinePath, len(cmp.Runs), len(cmp.Added), len(cmp.Removed))
		return nil
	}
	fmt.Fprintf(out, "regression against %s:\n", baselinePath)
	for _, r := range regs {
		fmt.Fprintln(out, "  "+printable(r))
	}
	return &exitError{code: ExitExpectation, err: fmt.Errorf("%d regression(s) against the baseline %s", len(regs), baselinePath)}
}

// printable drops control characters (terminal escapes) from text that came
// from a results file.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
