package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/blastradius/blastradius/demoapp/catalog"
	demoimage "github.com/blastradius/blastradius/demoapp/image"
	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/demo"
	"github.com/blastradius/blastradius/harness/internal/klogfile"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/platform/kind"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/reports"
)

// DefaultDemoScenario is the demo's scenario when --scenario is not given.
const DefaultDemoScenario = "scenarios/demo/stage.yaml"

type demoOptions struct {
	platform string
	scenario string
	listen   string
	tui      bool
	strategy string
	analyzer string
	out      string
	binDir   string
	// nodeImage is kind's node image (--node-image), as for run.
	nodeImage string
	ai        aiOptions
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A live demo: a stable version under load, releases on request, a dashboard",
		Long: `Bring a cluster up (or reuse the one started by blastradius cluster up),
deploy the scenario's stable version under its first strategy, start steady
load, and serve a dashboard on --listen: the requests as coloured squares,
rates and errors by version, the rollout, the analysis as it arrives, the
blast radius of each release and its score. Its buttons release the next
colour, a bad variant, inject a fault, promote, abort, and switch strategy
and analyzer; each acts through the Kubernetes API or the demo app's admin
API, and Argo decides. Ctrl-C removes everything the demo started.

--tui shows the same in the terminal; without a terminal, plain log lines.`,
		Example: `  blastradius demo
  blastradius demo --tui --listen 127.0.0.1:8480
  blastradius demo --strategy blue-green --out demo-results`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.platform, "platform", local.Name, platformHelp())
	f.StringVar(&o.scenario, "scenario", DefaultDemoScenario, "scenario file: stable version, load, steps, analysis, strategies")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8480", "address of the dashboard")
	f.BoolVar(&o.tui, "tui", false, "show the demo in the terminal, updating in place")
	f.StringVar(&o.strategy, "strategy", "", "the first release's strategy (default: the scenario's first)")
	f.StringVar(&o.analyzer, "analyzer", "", "the first release's analyzer (default: the scenario's first)")
	f.StringVar(&o.out, "out", "", "when set, every release's results go to DIR/results.json and DIR/report.html")
	f.StringVar(&o.binDir, "bin", "", "directory of the tools built by make tools (default: $BLASTRADIUS_BIN, else ./bin)")
	f.StringVar(&o.nodeImage, "node-image", "", "--platform kind: the node image (default: pinned per the host's cgroup version)")
	o.ai.register(f)
	return cmd
}

func runDemo(ctx context.Context, stdout, stderr io.Writer, o demoOptions) error {
	sc, err := loadDemoScenario(stderr, o.scenario)
	if err != nil {
		return err
	}
	if o.strategy == "" {
		o.strategy = sc.Strategies[0]
	}
	if o.analyzer == "" {
		o.analyzer = sc.Analyzers[0]
	}
	externals, err := o.ai.externals(o.ai.configured())
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	if err := platform.Check(o.platform); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--platform: %w", err)}
	}
	tmp, err := os.MkdirTemp("", "blastradius-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	say := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	cluster, reused, err := demoCluster(ctx, o, tmp, say)
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	defer func() {
		down, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := cluster.Down(down); err != nil {
			say("cluster down: %v", err)
		}
	}()
	// The demo may release any version: the platform gets them all now
	// (kind loads them into its nodes; a registry is checked for them).
	images := []string{demoimage.HarnessImage(demoimage.DefaultHarnessTag)}
	for _, v := range catalog.All() {
		images = append(images, v.Image())
	}
	if !relayByDefault(o.platform) {
		images = images[1:]
	}
	if err := cluster.LoadImages(ctx, images...); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("images: %w", err)}
	}
	srv, url, stopEndpoint, err := startEndpoint(ctx, stderr, cluster, externals, false,
		endpointOptions{relay: relayByDefault(o.platform), image: demoimage.HarnessImage(demoimage.DefaultHarnessTag)})
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	defer stopEndpoint()
	promURL, _ := cluster.PrometheusURL(ctx)
	_, routerErr := cluster.RouterURL(ctx)

	hub := demo.NewHub()
	cfg := demo.Config{
		Platform: cluster, Analysis: srv, AnalysisURL: url, PrometheusURL: promURL, Scenario: sc,
		Strategy: o.strategy, Analyzer: o.analyzer,
		Strategies: demoStrategies(routerErr == nil), Analyzers: demoAnalyzers(promURL != "", externals),
		Namespace: "br-demo-" + randomSuffix(), RecordsDir: tmp, Hub: hub,
	}
	if reused {
		// The cluster stays: its namespace must be gone before we return.
		cfg.NamespaceWait = 2 * time.Minute
	}
	if !slices.Contains(cfg.Strategies, cfg.Strategy) {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--strategy %s: not on offer on this platform (%v)", cfg.Strategy, cfg.Strategies)}
	}
	if !slices.Contains(cfg.Analyzers, cfg.Analyzer) {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--analyzer %s: not on offer here (%v)", cfg.Analyzer, cfg.Analyzers)}
	}
	var set *demoResults
	if o.out != "" {
		set = newDemoResults(o.out, o.platform)
		cfg.OnRelease = set.add
	}
	term := demo.NewTerminal(stdout, o.tui && isTerminal(stdout), terminalWidth(stdout))
	defer term.Close()
	cfg.OnState = term.Show
	s, err := demo.New(cfg)
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	addr, served, err := demo.Serve(sctx, o.listen, demo.Handler(hub, s))
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	s.SetDashboard("http://" + addr + "/")
	say("dashboard: http://%s/  (Ctrl-C ends the demo and removes what it started)", addr)
	go func() {
		if err := <-served; err != nil {
			say("dashboard: %v", err)
			stop()
		}
	}()
	err = s.Run(sctx)
	stop()
	if set != nil {
		if werr := set.write(); werr != nil {
			say("results: %v", werr)
		} else {
			say("results: %s  report: %s", filepath.Join(o.out, results.FileName), filepath.Join(o.out, reports.HTMLFile))
		}
	}
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	return nil
}

// loadDemoScenario reads the scenario the demo takes its settings from.
func loadDemoScenario(stderr io.Writer, file string) (*scenario.Scenario, error) {
	scs, err := scenario.LoadAll(file)
	if err != nil {
		for _, e := range scenario.Errors(err) {
			fmt.Fprintln(stderr, e)
		}
		return nil, &exitError{code: ExitHarness, err: fmt.Errorf("--scenario %s: invalid", file)}
	}
	if len(scs) != 1 {
		return nil, &exitError{code: ExitHarness, err: fmt.Errorf("--scenario %s: want one scenario file, found %d scenarios", file, len(scs))}
	}
	return scs[0], nil
}

// demoCluster reuses the local cluster `cluster up` runs, saying so, or
// starts one of the demo's own.
func demoCluster(ctx context.Context, o demoOptions, tmp string, say func(string, ...any)) (c platform.Platform, reused bool, err error) {
	f := clusterFlags{platform: o.platform, dataDir: filepath.Join(".blastradius", "local"), binDir: o.binDir}
	if pid, ok := supervisorPid(f); ok && o.platform == local.Name {
		c, err := local.Attach(local.Options{BinDir: o.binDir, DataDir: f.dataDir})
		if err != nil {
			return nil, false, err
		}
		// client-go's retries while the API server restarts are noise here.
		if lf, err := os.Create(filepath.Join(tmp, "client.log")); err == nil {
			klogfile.To(lf)
		}
		say("reusing the local cluster of `blastradius cluster up` (pid %d); it keeps running after the demo", pid)
		return c, true, nil
	}
	// A kind cluster of `cluster up --platform kind` is taken as it is and
	// left (the platform says so); otherwise the demo makes its own.
	c, err = platform.New(o.platform, platform.Options{BinDir: o.binDir, DataDir: filepath.Join(".blastradius", "demo-"+o.platform), Log: demoPlatformLog(o.platform, say),
		Reuse: o.platform == kind.Name, NodeImage: o.nodeImage})
	if err != nil {
		return nil, false, fmt.Errorf("--platform: %w", err)
	}
	say("starting the %s cluster ...", o.platform)
	if err := c.Up(ctx); err != nil {
		down, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = c.Down(down)
		return nil, false, fmt.Errorf("cluster: %w", err)
	}
	return c, false, nil
}

// demoPlatformLog is where the platform's progress goes: kind's steps take
// minutes and are worth seeing; the local cluster's are seconds.
func demoPlatformLog(name string, say func(string, ...any)) io.Writer {
	if name != kind.Name {
		return io.Discard
	}
	return sayWriter(say)
}

// sayWriter writes each line through say.
type sayWriter func(string, ...any)

func (w sayWriter) Write(p []byte) (int, error) {
	w("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// demoStrategies are the strategies the platform serves: the routed ones
// only with a router.
func demoStrategies(router bool) []string {
	var out []string
	for _, s := range strategy.All() {
		if !s.Traits().Routed() || router {
			out = append(out, s.Name())
		}
	}
	return out
}

// demoAnalyzers are the analyzers that can gate a demo release: Argo's
// web provider ones, prometheus with a Prometheus, and the configured
// external ones (metric-ai needs its plugin installed with the cluster).
func demoAnalyzers(prometheus bool, externals []analysis.Analyzer) []string {
	var out []string
	for _, a := range analysis.Catalog() {
		switch {
		case a.Provider == analysis.ProviderPlugin:
		case a.Provider == analysis.ProviderPrometheus && !prometheus:
		case a.External && !slices.ContainsFunc(externals, func(e analysis.Analyzer) bool { return e.Name() == a.Name }):
		default:
			out = append(out, a.Name)
		}
	}
	return out
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// demoResults collects the demo's releases as a run set.
type demoResults struct {
	out string
	mu  sync.Mutex
	set *results.File
}

func newDemoResults(out, platformName string) *demoResults {
	return &demoResults{out: out, set: &results.File{SchemaVersion: results.SchemaVersion,
		Environment: results.Environment{Platform: platformName, Harness: Version, GoVersion: runtime.Version(),
			StartedAt: time.Now(), Args: os.Args[1:]}}}
}

func (d *demoResults) add(r results.Run) {
	d.mu.Lock()
	d.set.Runs = append(d.set.Runs, r)
	d.mu.Unlock()
	if err := d.save(); err != nil {
		fmt.Fprintln(os.Stderr, "results:", err)
	}
}

func (d *demoResults) save() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.set.Environment.FinishedAt = time.Now()
	return results.Write(d.out, d.set)
}

// write saves results.json and writes the reports.
func (d *demoResults) write() error {
	if err := d.save(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.set.Runs) == 0 {
		return errors.New("no release ended: nothing to report")
	}
	return reports.WriteAll(d.out, d.set, nil)
}

// isTerminal reports whether w is a terminal (the in-place view needs one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth reads w's width at each frame (the speaker may resize).
func terminalWidth(w io.Writer) func() int {
	return func() int {
		if f, ok := w.(*os.File); ok {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
		}
		return 100
	}
}
