package cli

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/bench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Score the analyzers offline on trace corpora",
		Long: `Replay analysis traces (recorded by runs, or synthesised from stated models)
through every analyzer of the catalog, in accelerated time, and score them:
precision, recall, false alarms, time to detect and failed requests before
detection. Models and metrics: docs/bench.md.`,
	}
	cmd.AddCommand(newBenchGenerateCmd(), newBenchAnalyzersCmd())
	return cmd
}

func newBenchGenerateCmd() *cobra.Command {
	var out string
	var cases int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "generate --out DIR",
		Short: "Write a synthetic trace corpus, DIR/synthetic.ndjson.gz",
		Long: `Synthesise N traces from the models of docs/bench.md into DIR/synthetic.ndjson.gz.
The same seed gives the same bytes, and case i is the same whatever N is.`,
		Example: `  blastradius bench generate --out harness/bench/corpus --cases 600 --seed 1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || cases < 1 {
				return &exitError{code: ExitHarness, err: errors.New("need --out DIR and --cases N >= 1")}
			}
			path := filepath.Join(out, "synthetic.ndjson.gz")
			counts, err := writeSynthetic(path, cases, seed)
			if err != nil {
				return &exitError{code: ExitHarness, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d traces (%d good, %d bad), seed %d\n", path, cases, counts.Good, counts.Bad, seed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write synthetic.ndjson.gz into")
	f.IntVar(&cases, "cases", 600, "number of traces")
	f.Uint64Var(&seed, "seed", 1, "seed of the generator")
	return cmd
}

// writeSynthetic writes the corpus to path through a temporary file, so a
// failed or interrupted run leaves no half corpus behind.
func writeSynthetic(path string, cases int, seed uint64) (bench.Counts, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return bench.Counts{}, err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return bench.Counts{}, err
	}
	counts, err := func() (bench.Counts, error) {
		gz, err := gzip.NewWriterLevel(f, gzip.BestCompression)
		if err != nil {
			return bench.Counts{}, err
		}
		bw := bufio.NewWriter(gz)
		c, err := bench.Generate(bw, cases, seed)
		for _, step := range []func() error{bw.Flush, gz.Close, f.Sync} {
			if err == nil {
				err = step()
			}
		}
		return c, err
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return counts, err
}

func newBenchAnalyzersCmd() *cobra.Command {
	var corpus, out, baseline string
	var ai aiOptions
	cmd := &cobra.Command{
		Use:   "analyzers --corpus DIR[,DIR...] --out OUT",
		Short: "Replay a corpus through every analyzer; write OUT/bench.json and OUT/bench.html",
		Long: `Replay every trace of the corpus (*.ndjson and *.ndjson.gz files, found
recursively in each directory, or named) through every builtin analyzer of the
catalog, and through llm and agent when they are configured (best from a
recording: --llm-replay DIR answers every call from it, so a regression bench
of an AI analyzer costs nothing once recorded), and write OUT/bench.json and OUT/bench.html. With --baseline, compare with an
earlier bench.json and exit with status 1 if any analyzer got worse beyond
noise (docs/bench.md). Bad input (a corpus or baseline that cannot be read)
exits with status 2, naming the file and line.`,
		Example: `  blastradius bench analyzers --corpus harness/bench/corpus --out out/bench
  blastradius bench analyzers --corpus harness/bench/corpus,out/traces --out out/bench --baseline old/bench.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if corpus == "" || out == "" {
				return &exitError{code: ExitHarness, err: errors.New("need --corpus DIR[,DIR...] and --out OUT")}
			}
			var old *bench.Result
			if baseline != "" {
				var err error
				if old, err = bench.Load(baseline); err != nil {
					return &exitError{code: ExitHarness, err: fmt.Errorf("--baseline: %w", err)}
				}
			}
			var paths []string
			for p := range strings.SplitSeq(corpus, ",") {
				if p = strings.TrimSpace(p); p != "" {
					paths = append(paths, p)
				}
			}
			externals, err := ai.externals(ai.configured())
			if err != nil {
				return &exitError{code: ExitHarness, err: err}
			}
			res, err := bench.Run(cmd.Context(), paths, append(analysis.Builtin(), externals...))
			if err != nil {
				return &exitError{code: ExitHarness, err: err}
			}
			res.Environment.Harness = Version
			if err := res.Write(out); err != nil {
				return &exitError{code: ExitHarness, err: err}
			}
			w := cmd.OutOrStdout()
			printBench(w, res)
			fmt.Fprintf(w, "wrote %s and %s\n", filepath.Join(out, "bench.json"), filepath.Join(out, "bench.html"))
			if old == nil {
				return nil
			}
			regs := bench.Compare(old, res)
			if len(regs) == 0 {
				fmt.Fprintf(w, "no regression against %s\n", baseline)
				return nil
			}
			for _, r := range regs {
				fmt.Fprintln(cmd.ErrOrStderr(), "regression:", r)
			}
			return &exitError{code: ExitExpectation, err: fmt.Errorf("%d regressions against %s", len(regs), baseline)}
		},
	}
	f := cmd.Flags()
	f.StringVar(&corpus, "corpus", "", "trace files or directories, comma-separated")
	f.StringVar(&out, "out", "", "directory for bench.json and bench.html")
	f.StringVar(&baseline, "baseline", "", "an earlier bench.json to compare with")
	ai.register(f)
	_ = f.MarkHidden("shadow-external") // the bench asks every analyzer it has on every trace
	return cmd
}

// printBench prints the per-analyzer summary table; the root-cause and AI
// columns only when some analyzer has a value for them.
func printBench(w io.Writer, r *bench.Result) {
	fmt.Fprintf(w, "%d traces (%d good, %d bad), %.0f traces/min on %d workers\n",
		r.Corpus.Traces, r.Corpus.Good, r.Corpus.Bad, r.Environment.TracesPerMinute, r.Environment.Workers)
	rootCause, ai := r.HasRootCause(), r.HasAI()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "analyzer\tprecision\trecall\tfalse alarms\tmedian detect s\tmedian failed\tvs sprt\tns/verdict\t"
	if rootCause {
		head += "root cause\t"
	}
	if ai {
		head += "AI calls\t$/decision\tmean s\tp95 s\tfailed calls\t"
	}
	fmt.Fprintln(tw, head)
	f := func(p *float64, format string, scale float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf(format, *p*scale)
	}
	for _, m := range r.Analyzers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t", m.Name,
			f(m.Precision, "%.3f", 1), f(m.Recall, "%.3f", 1), f(m.FalseAlarmRate, "%.3f", 1),
			f(m.MedianTimeToDetectSeconds, "%.1f", 1), f(m.MedianFailedBeforeDetect, "%.1f", 1),
			f(m.SPRTRatio, "%.2f", 1), m.CostNanosPerVerdict)
		if rootCause {
			fmt.Fprintf(tw, "%s\t", f(m.RootCauseAccuracy, "%.3f", 1))
		}
		switch {
		case ai && m.AI != nil:
			failed := 0
			for _, n := range m.AI.Failures {
				failed += n
			}
			fmt.Fprintf(tw, "%d\t%.4f\t%.2f\t%.2f\t%d\t", m.AI.Calls, m.AI.CostPerDecisionUSD, m.AI.MeanLatencySeconds, m.AI.P95LatencySeconds, failed)
		case ai:
			fmt.Fprint(tw, "-\t-\t-\t-\t-\t")
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
