package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/loadgen"
)

type loadOptions struct {
	url        string
	rate       float64
	rateTo     float64
	period     time.Duration
	amplitude  float64
	profile    string
	duration   time.Duration
	users      int
	seed       int64
	keepAlive  bool
	timeout    time.Duration
	maxWorkers uint64
	slo        time.Duration
	headers    []string
	records    string
	asJSON     bool
	quiet      bool
}

func newLoadCmd() *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "load --url URL --rate R [--duration D]",
		Short: "Drive HTTP load at a target and attribute every request to the version that served it",
		Long: `Send GET requests to --url at the profile's rate on behalf of synthetic users
(header X-User: user-NNNN), attribute each response to the version named by its
X-Version header, and print per-version requests, failures and latency.

A request failed if it got no response, a 5xx status, or (with --slo) took
longer than the SLO. Responses without X-Version and transport errors are
unattributed. Progress goes to stderr once per second; Ctrl-C stops the run and
prints what it measured.`,
		Example: `  blastradius load --url http://127.0.0.1:8080/ --rate 200 --duration 30s
  blastradius load --url http://127.0.0.1:8080/ --rate 50 --profile linear --rate-to 500 --duration 1m --json
  blastradius load --url http://127.0.0.1:8080/ --rate 200 --profile sine --amplitude 100 --period 20s --records out/records.ndjson`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLoad(cmd, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "target URL (required); every request is a GET to it")
	f.Float64Var(&o.rate, "rate", 0, "requests per second (required): the constant rate, the linear ramp's start, or the sine's mean")
	f.StringVar(&o.profile, "profile", "constant", "rate profile: constant, linear (--rate-to) or sine (--amplitude, --period)")
	f.Float64Var(&o.rateTo, "rate-to", 0, "linear profile: requests per second at the end of --duration")
	f.Float64Var(&o.amplitude, "amplitude", 0, "sine profile: amplitude in requests per second (less than --rate)")
	f.DurationVar(&o.period, "period", 0, "sine profile: period of the wave")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send; 0 runs until interrupted")
	f.IntVar(&o.users, "users", loadgen.DefaultUsers, "number of synthetic users")
	f.Int64Var(&o.seed, "seed", 1, "seed for picking the user of each request")
	f.BoolVar(&o.keepAlive, "keepalive", false, "reuse connections; the default opens one per request, which per-connection balancing (kube-proxy) needs for a fair split")
	f.DurationVar(&o.timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout")
	f.Uint64Var(&o.maxWorkers, "max-workers", loadgen.DefaultMaxWorkers, "most requests in flight at once; above capacity the achieved rate drops instead of everything timing out")
	f.DurationVar(&o.slo, "slo", 0, "also count responses slower than this as failures (0: no latency SLO)")
	f.StringArrayVar(&o.headers, "header", nil, `extra request header "Name: value" (repeatable)`)
	f.StringVar(&o.records, "records", "", "write one NDJSON record per request to this file")
	f.BoolVar(&o.asJSON, "json", false, `print {"total","unattributed","versions":{V:{"requests","failures","p50Ms","p99Ms"}}} plus run-level fields`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no per-second progress on stderr")
	return cmd
}

// config turns flags into a loadgen.Config, with errors naming the flag.
func (o *loadOptions) config(cmd *cobra.Command) (loadgen.Config, error) {
	f := cmd.Flags()
	if o.url == "" {
		return loadgen.Config{}, errors.New("--url: required")
	}
	if !f.Changed("rate") {
		return loadgen.Config{}, errors.New("--rate: required (requests per second)")
	}
	shape, err := loadgen.ParseShape(o.profile)
	if err != nil {
		return loadgen.Config{}, fmt.Errorf("--profile: %w", err)
	}
	only := map[string]loadgen.Shape{"rate-to": loadgen.Linear, "amplitude": loadgen.Sine, "period": loadgen.Sine}
	for _, name := range []string{"rate-to", "amplitude", "period"} {
		if f.Changed(name) && shape != only[name] {
			return loadgen.Config{}, fmt.Errorf("--%s: only applies to --profile %s", name, only[name])
		}
	}
	switch {
	case shape == loadgen.Linear && !f.Changed("rate-to"):
		return loadgen.Config{}, errors.New("--rate-to: required with --profile linear")
	case shape == loadgen.Sine && !f.Changed("period"):
		return loadgen.Config{}, errors.New("--period: required with --profile sine")
	}
	if o.users <= 0 {
		return loadgen.Config{}, fmt.Errorf("--users: must be > 0 (got %d)", o.users)
	}
	if o.timeout <= 0 {
		return loadgen.Config{}, fmt.Errorf("--timeout: must be > 0 (got %s)", o.timeout)
	}
	if o.maxWorkers == 0 {
		return loadgen.Config{}, errors.New("--max-workers: must be > 0")
	}
	headers := http.Header{}
	for _, h := range o.headers {
		name, value, ok := strings.Cut(h, ":")
		if name = strings.TrimSpace(name); !ok || name == "" || strings.ContainsAny(name, " \t") {
			return loadgen.Config{}, fmt.Errorf("--header: want \"Name: value\", got %q", h)
		}
		headers.Add(name, strings.TrimSpace(value))
	}
	return loadgen.Config{
		URL: o.url,
		Profile: loadgen.Profile{
			Shape: shape, Rate: o.rate, RateTo: o.rateTo, Amplitude: o.amplitude, Period: o.period,
		},
		Duration:   o.duration,
		Users:      o.users,
		Seed:       o.seed,
		KeepAlive:  o.keepAlive,
		Timeout:    o.timeout,
		MaxWorkers: o.maxWorkers,
		Workers:    min(loadgen.DefaultWorkers, o.maxWorkers),
		SLO:        o.slo,
		Headers:    headers,
	}, nil
}

func runLoad(cmd *cobra.Command, o *loadOptions) error {
	cfg, err := o.config(cmd)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	if !o.quiet {
		cfg.OnSecond = func(s loadgen.Second) { printLoadSecond(stderr, s) }
	}
	if err := cfg.Validate(); err != nil {
		var fe *loadgen.FieldError
		if errors.As(err, &fe) {
			return fmt.Errorf("--%s: %w", fe.Field, fe.Err)
		}
		return err
	}
	var records *os.File
	if o.records != "" {
		if records, err = os.Create(o.records); err != nil {
			return fmt.Errorf("--records: %w", err)
		}
		defer records.Close()
		cfg.Records = records
	}
	g, err := loadgen.New(cfg)
	if err != nil {
		return err
	}

	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := g.Start(ctx); err != nil {
		return err
	}
	sum, runErr := g.Wait()
	interrupted := ctx.Err() != nil && parent.Err() == nil
	stop()
	if records != nil {
		if err := records.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("--records: %w", err)
		}
	}
	if sum == nil {
		return runErr
	}
	if interrupted {
		fmt.Fprintln(stderr, "interrupted: summary of the requests sent so far")
	}
	out := cmd.OutOrStdout()
	if o.asJSON {
		if err := printLoadJSON(out, sum); err != nil {
			return err
		}
	} else {
		printLoadTable(out, sum)
	}
	return runErr
}

func loadMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func loadPercent(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// printLoadSecond is the progress line for one finalized second.
func printLoadSecond(w io.Writer, s loadgen.Second) {
	var b strings.Builder
	fmt.Fprintf(&b, "%5ds  %6d req (asked %.0f)  %5d failed", s.Index, s.Requests, s.Requested, s.Failures)
	names := make([]string, 0, len(s.Versions))
	for v := range s.Versions {
		names = append(names, v)
	}
	slices.Sort(names)
	for _, v := range names {
		st := s.Versions[v]
		fmt.Fprintf(&b, "  | %s %d/%d p99 %.1fms", v, st.Requests, st.Failures, loadMs(st.P99))
	}
	if s.Unattributed.Requests > 0 {
		fmt.Fprintf(&b, "  | unattributed %d/%d", s.Unattributed.Requests, s.Unattributed.Failures)
	}
	fmt.Fprintln(w, b.String())
}

func printLoadTable(w io.Writer, s *loadgen.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tREQUESTS\tFAILURES\tFAILED\tP50\tP99")
	row := func(name string, v loadgen.VersionStats) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%%\t%.2fms\t%.2fms\n",
			name, v.Requests, v.Failures, loadPercent(v.Failures, v.Requests), loadMs(v.P50), loadMs(v.P99))
	}
	for _, name := range s.VersionNames() {
		row(name, *s.Versions[name])
	}
	if s.Unattributed > 0 {
		row("(unattributed)", s.UnattributedStats)
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%.2f%%\t\t\n", s.Total, s.Failures, loadPercent(s.Failures, s.Total))
	_ = tw.Flush()
	fmt.Fprintf(w, "rate: requested %.1f/s, achieved %.1f/s over %s\n",
		s.RequestedRate, s.AchievedRate, s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "users: %d of %d saw a failure\n", s.UsersFailed, s.Users)
	if s.Aborted > 0 {
		fmt.Fprintf(w, "aborted: %d requests cut short by the interrupt (unattributed, not failures)\n", s.Aborted)
	}
}

// loadJSON is the fixed shape of `load --json`; scripts rely on it. Only
// top-level fields may be added.
type loadJSON struct {
	Total          int64                      `json:"total"`
	Unattributed   int64                      `json:"unattributed"`
	Versions       map[string]loadVersionJSON `json:"versions"`
	Failures       int64                      `json:"failures"`
	RequestedRate  float64                    `json:"requestedRate"`
	AchievedRate   float64                    `json:"achievedRate"`
	ElapsedSeconds float64                    `json:"elapsedSeconds"`
}

type loadVersionJSON struct {
	Requests int64   `json:"requests"`
	Failures int64   `json:"failures"`
	P50Ms    float64 `json:"p50Ms"`
	P99Ms    float64 `json:"p99Ms"`
}

func printLoadJSON(w io.Writer, s *loadgen.Summary) error {
	out := loadJSON{
		Total:          s.Total,
		Unattributed:   s.Unattributed,
		Versions:       make(map[string]loadVersionJSON, len(s.Versions)),
		Failures:       s.Failures,
		RequestedRate:  s.RequestedRate,
		AchievedRate:   s.AchievedRate,
		ElapsedSeconds: s.Elapsed.Seconds(),
	}
	for name, v := range s.Versions {
		out.Versions[name] = loadVersionJSON{Requests: v.Requests, Failures: v.Failures, P50Ms: loadMs(v.P50), P99Ms: loadMs(v.P99)}
	}
	return json.NewEncoder(w).Encode(out)
}
