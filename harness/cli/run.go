package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/runner"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/reports"
)

type runOptions struct {
	platform string
	out      string
	only     string
	repeat   int
	seed     int64
	parallel int
	binDir   string
	quiet    bool
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [FILE|DIR...]",
		Short: "Run scenarios on a fresh cluster and score every run",
		Long: `Run the matrix scenario × strategy × analyzer × seed of the given scenario
files and directories (default: scenarios/) on a cluster started for the
purpose, and write DIR/results.json (see docs/scoring.md).

Exit status: 0 when every run completed and every expectation held; 1 when an
expectation failed; 2 when the harness itself failed.` + catalogHelp(),
		Example: `  blastradius run scenarios/ --out out
  blastradius run scenarios/high-error-rate.yaml --only strategy=canary-analysis --repeat 3`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"scenarios"}
			}
			var seed *int64
			if cmd.Flags().Changed("seed") {
				seed = &o.seed
			}
			return runScenarios(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args, seed)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.platform, "platform", local.Name, platformHelp())
	f.StringVar(&o.out, "out", "out", "output directory for results.json and per-run records")
	f.StringVar(&o.only, "only", "", "run only these, e.g. strategy=canary,canary-analysis,analyzer=threshold,scenario=good-release")
	f.IntVar(&o.repeat, "repeat", 0, "repetitions per run, overriding the scenarios' repeat")
	f.Int64Var(&o.seed, "seed", 1, "first seed, overriding the scenarios' seeds")
	f.IntVar(&o.parallel, "parallel", 1, "runs at once (each in its own namespace)")
	f.StringVar(&o.binDir, "bin", "", "directory of the tools built by make tools (default: $BLASTRADIUS_BIN, else ./bin)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no per-second progress lines")
	return cmd
}

func runScenarios(ctx context.Context, stdout, stderr io.Writer, o runOptions, args []string, seed *int64) error {
	if err := platform.Check(o.platform); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--platform: %w", err)}
	}
	if o.parallel < 1 {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--parallel: must be at least 1, got %d", o.parallel)}
	}
	filter, err := scenario.ParseFilter(o.only)
	if err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--only: %w", err)}
	}
	scenarios, err := scenario.LoadAll(args...)
	if err != nil {
		for _, e := range scenario.Errors(err) {
			fmt.Fprintln(stderr, e)
		}
		return &exitError{code: ExitHarness, err: errors.New("invalid scenarios")}
	}
	if err := filter.Check(scenarios); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--only: %w", err)}
	}
	specs := scenario.Expand(scenarios, filter, o.repeat, seed)
	if len(specs) == 0 {
		return &exitError{code: ExitHarness, err: errors.New("no run matches")}
	}

	var mu sync.Mutex
	say := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(stderr, line)
	}
	set := &results.File{SchemaVersion: results.SchemaVersion, Environment: results.Environment{
		Platform: o.platform, Harness: Version, GoVersion: runtime.Version(), StartedAt: time.Now(), Args: os.Args[1:],
	}}

	// A cluster of its own, gone when the command ends, however it ends.
	dataDir := filepath.Join(".blastradius", "run-"+o.platform)
	cluster, err := platform.New(o.platform, platform.Options{BinDir: o.binDir, DataDir: dataDir, Log: stderr})
	if err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--platform: %w", err)}
	}
	say(fmt.Sprintf("starting the %s cluster for %d runs ...", o.platform, len(specs)))
	if err := cluster.Up(ctx); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("cluster: %w", err)}
	}
	defer func() {
		down, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := cluster.Down(down); err != nil {
			say("cluster down: " + err.Error())
		}
	}()
	set.Environment.Kubernetes, set.Environment.ArgoRollouts, _ = cluster.Versions(ctx)
	client, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	srv := analysis.NewServer(analysis.Config{Client: client, PodURL: cluster.PodURL})
	url, err := srv.Start(ctx)
	if err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("analysis endpoint: %w", err)}
	}
	defer srv.Close()

	r := &runner.Runner{Platform: cluster, Analysis: srv, AnalysisURL: url, OutDir: o.out}
	if !o.quiet {
		r.Progress = say
	}
	runs := make([]results.Run, len(specs))
	done := make([]bool, len(specs))
	var harnessErr error
	save := func() error {
		mu.Lock()
		defer mu.Unlock()
		set.Runs = set.Runs[:0]
		for i := range runs {
			if done[i] {
				set.Runs = append(set.Runs, runs[i])
			}
		}
		set.Environment.FinishedAt = time.Now()
		return results.Write(o.out, set)
	}
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	for i, spec := range specs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			say(fmt.Sprintf("run %d/%d: %s", i+1, len(specs), spec.ID))
			res, err := r.Run(ctx, spec)
			mu.Lock()
			runs[i], done[i] = *res, true
			if err != nil {
				harnessErr = errors.Join(harnessErr, fmt.Errorf("%s: %w", spec.ID, err))
			}
			mu.Unlock()
			say(fmt.Sprintf("run %d/%d: %s: %s", i+1, len(specs), spec.ID, oneLine(res)))
			if err := save(); err != nil {
				say("write results: " + err.Error())
			}
		}()
	}
	wg.Wait()
	if err := save(); err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	if err := reports.WriteAll(o.out, set, nil); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("reports: %w", err)}
	}
	printSummary(stdout, set)
	fmt.Fprintf(stdout, "\nresults: %s\nreport:  %s\n", filepath.Join(o.out, results.FileName), filepath.Join(o.out, reports.HTMLFile))
	if ctx.Err() != nil {
		return &exitError{code: ExitHarness, err: errors.New("interrupted")}
	}
	if harnessErr != nil {
		return &exitError{code: ExitHarness, err: harnessErr}
	}
	for i := range set.Runs {
		if set.Runs[i].Failed() {
			return &exitError{code: ExitExpectation, err: errors.New("an expectation failed")}
		}
	}
	return nil
}

func oneLine(r *results.Run) string {
	if r.Error != "" {
		return "error: " + r.Error
	}
	s := fmt.Sprintf("%s (%s), %d failed of %d requests, %d users hurt", r.Verdict, r.Outcome,
		r.BlastRadius.FailedRequests, r.BlastRadius.TotalRequests, r.BlastRadius.UsersAffected)
	if r.Failed() {
		s += ", EXPECTATION FAILED"
	}
	return s
}

// printSummary prints the table of scores, one row per run.
func printSummary(w io.Writer, set *results.File) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tSTRATEGY\tANALYZER\tSEED\tTRUTH\tVERDICT\tFAILED\tCANDIDATE FAILED\tUSERS HURT\tDETECT (s)\tRECOVER (s)\tEXPECT")
	for _, r := range set.Runs {
		verdict := string(r.Verdict)
		if r.Error != "" {
			verdict = "error"
		}
		expect := "-"
		if len(r.Expectations) > 0 {
			expect = "ok"
			if r.Failed() {
				expect = "FAILED"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Scenario, r.Strategy, r.Analyzer, r.Seed,
			r.GroundTruth, verdict, r.BlastRadius.FailedRequests, r.BlastRadius.CandidateFailedRequests,
			r.BlastRadius.UsersAffected, secs(r.Timing.TimeToDetectSeconds), secs(r.Timing.TimeToRecoverSeconds), expect)
	}
	tw.Flush()
}

func secs(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *p)
}
