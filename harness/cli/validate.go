package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/harness/scenario"
)

func newValidateCmd() *cobra.Command {
	var only string
	var list bool
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check scenario files and count the runs they expand to",
		Long: `Read scenario files, the *.yaml and *.yml files of directories (not their
subdirectories) and run set files (kind RunSet, e.g. scenarios/sets/pr.yaml),
validate them strictly and print "ok: N scenarios, M runs",
where the runs are the matrix scenario × strategy × analyzer × seed. On invalid
input print every problem as FILE:LINE: FIELD: MESSAGE and exit with status 2.
The schema is in docs/scenarios.md.` + catalogHelp(),
		Example: `  blastradius validate scenarios/
  blastradius validate scenarios/high-error-rate.yaml --list
  blastradius validate scenarios/sets/pr.yaml --list
  blastradius validate scenarios/ --only strategy=canary-analysis,analyzer=threshold`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := scenario.ParseFilter(only)
			if err != nil {
				return &exitError{code: ExitHarness, err: fmt.Errorf("--only: %w", err)}
			}
			plan, err := scenario.PlanRuns(args, scenario.PlanOptions{Only: filter})
			if err != nil {
				errs := scenario.Errors(err)
				for _, e := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				return &exitError{code: ExitHarness, err: fmt.Errorf("invalid scenarios: %d %s", len(errs), validatePlural(len(errs), "error", "errors"))}
			}
			scenarios, runs := plan.Scenarios, plan.Runs
			if list {
				for _, r := range runs {
					fmt.Fprintln(cmd.OutOrStdout(), r.ID)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d %s, %d %s\n",
				len(scenarios), validatePlural(len(scenarios), "scenario", "scenarios"),
				len(runs), validatePlural(len(runs), "run", "runs"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&only, "only", "", "count only the runs matching strategy=a,b,analyzer=c,scenario=x")
	f.BoolVar(&list, "list", false, "print the ID of every run, one per line")
	return cmd
}

func validatePlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
