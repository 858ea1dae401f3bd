package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	demoimage "github.com/blastradius/blastradius/demoapp/image"
	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/platform"
	clusterplatform "github.com/blastradius/blastradius/harness/platform/cluster"
	"github.com/blastradius/blastradius/harness/platform/kind"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/relay"
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
	// timeScale, when > 0, replaces every scenario's spec.timeScale.
	timeScale float64
	// cpuProfile, when set, receives the harness's own CPU profile (pprof).
	cpuProfile string
	ai         aiOptions
	// load and loadWorkers choose where the users' load is generated.
	load        string
	loadWorkers int
	// An existing cluster (--platform cluster).
	kubeContext, kubeconfig, registry, prometheusURL string
	// Where the analysis endpoint listens, and the URL Argo calls it at.
	analysisListen, analysisURL string
	// analysisRelay: Argo calls the analysis endpoint through a relay pod
	// (unset: on for kind and existing clusters without --analysis-url).
	analysisRelay *bool
	// A kind cluster (--platform kind).
	clusterName, nodeImage string
	reuse                  bool
}

func newRunCmd() *cobra.Command {
	var o runOptions
	var relayFlag bool
	cmd := &cobra.Command{
		Use:   "run [FILE|DIR|SET...]",
		Short: "Run scenarios on a fresh cluster and score every run",
		Long: `Run the matrix scenario × strategy × analyzer × seed of the given scenario
files and directories (default: scenarios/), and the runs named by run set
files (kind RunSet: scenarios/sets/pr.yaml is the PR set, full.yaml the
nightly one), on a cluster started for the purpose, and write
DIR/results.json (see docs/scoring.md).

Exit status: 0 when every run completed and every expectation held; 1 when an
expectation failed; 2 when the harness itself failed.` + catalogHelp(),
		Example: `  blastradius run scenarios/sets/pr.yaml --parallel 2
  blastradius run scenarios/ --out out
  blastradius run scenarios/high-error-rate.yaml --only strategy=canary-analysis --repeat 3`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"scenarios"}
			}
			var seed *int64
			if cmd.Flags().Changed("seed") {
				seed = &o.seed
			}
			if cmd.Flags().Changed("analysis-relay") {
				o.analysisRelay = &relayFlag
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
	f.StringVar(&o.cpuProfile, "cpu-profile", "", "write the harness's own CPU profile (go tool pprof) to this file")
	f.Float64Var(&o.timeScale, "time-scale", 0, "compress every release by this: pauses, intervals, analysis window, warm-up and fault times times F, the load's rate divided by F (docs/runner.md)")
	f.StringVar(&o.load, "load", "", "where the users' load is generated: local (this process) or in-cluster (worker pods running this binary's image); "+
		"default: in-cluster for scenarios that set load.workers, local otherwise")
	f.IntVar(&o.loadWorkers, "load-workers", 0, fmt.Sprintf("in-cluster load workers, overriding the scenarios' load.workers (default %d)", runner.DefaultLoadWorkers))
	f.StringVar(&o.kubeContext, "context", "", "--platform cluster: the kubeconfig context of the cluster to run on (required there)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "--platform cluster: the kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.registry, "registry", "", "--platform cluster: the registry the nodes pull the images from (blastradius images push --registry)")
	f.StringVar(&o.prometheusURL, "prometheus-url", "", "--platform cluster: a Prometheus both Argo Rollouts and the harness reach (for the prometheus analyzer)")
	f.StringVar(&o.clusterName, "cluster-name", "", "--platform kind: the kind cluster's name (default blastradius)")
	f.BoolVar(&o.reuse, "reuse", false, "--platform kind: run on the existing kind cluster of that name, and leave it")
	f.StringVar(&o.nodeImage, "node-image", "", "--platform kind: the node image (default: pinned per the host's cgroup version)")
	f.BoolVar(&relayFlag, "analysis-relay", false, "Argo calls the analysis endpoint through a relay pod and a tunnel the harness opens "+
		"(default: on for --platform kind and cluster unless --analysis-url is given)")
	f.StringVar(&o.analysisListen, "analysis-listen", "127.0.0.1:0", "where the analysis endpoint Argo Rollouts calls listens")
	f.StringVar(&o.analysisURL, "analysis-url", "", "the URL Argo Rollouts calls the analysis endpoint at (default: http://<the listen address>); "+
		"on --platform cluster one its controller reaches")
	o.ai.register(f)
	o.ai.registerMetricAI(f)
	return cmd
}

// runImages are the images the runs need, each once: every stable and
// candidate version, and the harness's own when load may run in the cluster.
func runImages(specs []scenario.RunSpec, load runner.LoadOptions) []string {
	var out []string
	seen := map[string]bool{}
	add := func(img string) {
		if !seen[img] {
			seen[img] = true
			out = append(out, img)
		}
	}
	for _, s := range specs {
		add(s.Scenario.Stable.Image())
		add(s.Scenario.Candidate.Image())
		if load.Generator == results.LoadInCluster || (load.Generator == "" && s.Scenario.Load.Workers > 0) {
			add(load.Image)
		}
	}
	return out
}

// loadOptions checks --load and --load-workers.
func (o runOptions) loadOptions() (runner.LoadOptions, error) {
	lo := runner.LoadOptions{Generator: results.LoadGenerator(o.load), Workers: o.loadWorkers,
		Image: demoimage.HarnessImage(demoimage.DefaultHarnessTag)}
	switch lo.Generator {
	case "", results.LoadLocal, results.LoadInCluster:
	default:
		return lo, fmt.Errorf("--load %q: want %s or %s", o.load, results.LoadLocal, results.LoadInCluster)
	}
	if o.loadWorkers < 0 || o.loadWorkers > scenario.MaxLoadWorkers {
		return lo, fmt.Errorf("--load-workers %d: want 1 to %d", o.loadWorkers, scenario.MaxLoadWorkers)
	}
	if o.loadWorkers > 0 && lo.Generator == results.LoadLocal {
		return lo, errors.New("--load-workers: the local load has no workers (--load in-cluster)")
	}
	if o.platform == clusterplatform.Name {
		// The harness does not reach an existing cluster's Services.
		if lo.Generator == results.LoadLocal {
			return lo, errors.New("--load local: on --platform cluster the harness does not reach the cluster's Services; the load runs in the cluster")
		}
		lo.Generator = results.LoadInCluster
	}
	return lo, nil
}

func runScenarios(ctx context.Context, stdout, stderr io.Writer, o runOptions, args []string, seed *int64) error {
	load, err := o.loadOptions()
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	specs, err := planRuns(stderr, o, args, seed)
	if err != nil {
		return err
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return &exitError{code: ExitHarness, err: fmt.Errorf("--cpu-profile: %w", err)}
		}
		defer stop()
	}
	if specs = o.ai.skipPluginRuns(stderr, specs); len(specs) == 0 {
		fmt.Fprintln(stderr, "nothing to run: every run was skipped")
		return nil
	}
	externals, err := o.ai.externals(gatingAnalyzers(specs))
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		return &exitError{code: ExitHarness, err: errors.New("the external analyzers are not configured: nothing was run")}
	}
	rs := &runSet{out: o.out, display: newDisplay(stderr, isTerminal(stderr), terminalWidth(stderr)), specs: specs, set: &results.File{SchemaVersion: results.SchemaVersion,
		Environment: results.Environment{Platform: o.platform, Harness: Version, GoVersion: runtime.Version(),
			StartedAt: time.Now(), Args: os.Args[1:]}}}

	// A cluster of its own, gone when the command ends, however it ends.
	plugins, backing := o.ai.metricAI()
	cluster, err := platform.New(o.platform, platform.Options{
		BinDir: o.binDir, DataDir: filepath.Join(".blastradius", "run-"+o.platform), Log: stderr, MetricPlugins: plugins,
		FailureLogs: rs.clusterLogs(), Context: o.kubeContext, Kubeconfig: o.kubeconfig, Registry: o.registry, PrometheusURL: o.prometheusURL,
		ClusterName: o.clusterName, Reuse: o.reuse, NodeImage: o.nodeImage})
	if err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("--platform: %w", err)}
	}
	if o.platform == clusterplatform.Name {
		rs.say(fmt.Sprintf("connecting to context %s for %d runs ...", o.kubeContext, len(specs)))
	} else {
		rs.say(fmt.Sprintf("starting the %s cluster for %d runs ...", o.platform, len(specs)))
	}
	if err := cluster.Up(ctx); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("cluster: %w", err)}
	}
	defer func() {
		down, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if rs.anyFailed() {
			if err := cluster.ExportLogs(down, rs.clusterLogs()); err != nil {
				rs.say("keeping the cluster's logs: " + err.Error())
			} else {
				rs.say("a run failed: the cluster's logs are kept in " + rs.clusterLogs())
			}
		}
		if err := cluster.Down(down); err != nil {
			rs.say("cluster down: " + err.Error())
		}
	}()
	rs.set.Environment.Kubernetes, rs.set.Environment.ArgoRollouts, _ = cluster.Versions(ctx)
	images := runImages(specs, load)
	if o.useRelay() && !slices.Contains(images, load.Image) {
		images = append(images, load.Image)
	}
	if err := cluster.LoadImages(ctx, images...); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("images: %w", err)}
	}
	r, stop, err := newRunner(ctx, stderr, cluster, o.out, externals, o.ai.shadowExternal,
		endpointOptions{listen: o.analysisListen, url: o.analysisURL, relay: o.useRelay(), image: load.Image})
	if err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	defer stop()
	r.PluginBacking = backing
	r.Load = load
	if !o.quiet {
		r.Progress, r.Status = rs.say, rs.display.Status
	}
	rs.runAll(ctx, r, o.parallel)
	return rs.finish(ctx, stdout)
}

// startCPUProfile profiles the harness process until the returned func.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// planRuns checks the flags and the scenarios and expands the run matrix.
func planRuns(stderr io.Writer, o runOptions, args []string, seed *int64) ([]scenario.RunSpec, error) {
	if err := platform.Check(o.platform); err != nil {
		return nil, &exitError{code: ExitHarness, err: fmt.Errorf("--platform: %w", err)}
	}
	if o.parallel < 1 {
		return nil, &exitError{code: ExitHarness, err: fmt.Errorf("--parallel: must be at least 1, got %d", o.parallel)}
	}
	filter, err := scenario.ParseFilter(o.only)
	if err != nil {
		return nil, &exitError{code: ExitHarness, err: fmt.Errorf("--only: %w", err)}
	}
	if o.timeScale != 0 && (o.timeScale < 0 || o.timeScale > scenario.MaxTimeScale) {
		return nil, &exitError{code: ExitHarness, err: fmt.Errorf("--time-scale: must be greater than 0 and at most %g, got %g", scenario.MaxTimeScale, o.timeScale)}
	}
	plan, err := scenario.PlanRuns(args, scenario.PlanOptions{Only: filter, Repeat: o.repeat, Seed: seed, TimeScale: o.timeScale})
	if err != nil {
		for _, e := range scenario.Errors(err) {
			fmt.Fprintln(stderr, e)
		}
		return nil, &exitError{code: ExitHarness, err: errors.New("invalid scenarios")}
	}
	specs := plan.Runs
	if len(specs) == 0 {
		return nil, &exitError{code: ExitHarness, err: errors.New("no run matches")}
	}
	return specs, nil
}

// newRunner starts the analysis endpoint on the cluster and returns a
// runner served by it, and the func that stops the endpoint.
// endpointOptions say where the analysis endpoint listens and how Argo
// reaches it: at url, through a relay pod, or at the listen address.
type endpointOptions struct {
	listen, url string
	relay       bool
	image       string // the harness's image, for the relay pod
}

func newRunner(ctx context.Context, log io.Writer, cluster platform.Platform, out string, externals []analysis.Analyzer, shadowExternal bool,
	ep endpointOptions) (*runner.Runner, func(), error) {
	srv, url, stop, err := startEndpoint(ctx, log, cluster, externals, shadowExternal, ep)
	if err != nil {
		return nil, nil, err
	}
	r := &runner.Runner{Platform: cluster, Analysis: srv, AnalysisURL: url, OutDir: out}
	// Without a Prometheus, runs gated by the prometheus analyzer fail
	// with the reason; the others do not need it.
	r.PrometheusURL, _ = cluster.PrometheusURL(ctx)
	return r, stop, nil
}

// startEndpoint starts the analysis endpoint and returns the URL Argo calls
// it at (ep's), and the func that stops it and its relay.
func startEndpoint(ctx context.Context, log io.Writer, cluster platform.Platform, externals []analysis.Analyzer, shadowExternal bool,
	ep endpointOptions) (*analysis.Server, string, func(), error) {
	srv, url, err := startAnalysis(ctx, cluster, externals, shadowExternal, ep.listen)
	if err != nil {
		return nil, "", nil, err
	}
	stop := func() { srv.Close() }
	switch {
	case ep.url != "":
		url = strings.TrimSuffix(ep.url, "/")
	case ep.relay:
		client, err := kubernetes.NewForConfig(cluster.RESTConfig())
		if err != nil {
			stop()
			return nil, "", nil, err
		}
		d, err := relay.Deploy(ctx, relay.Env{Client: client, Image: cluster.Image(ep.image),
			PodURL: cluster.PodURL, ServiceURL: cluster.InClusterServiceURL}, srv)
		if err != nil {
			stop()
			return nil, "", nil, err
		}
		url = d.URL
		stop = func() { d.Remove(context.Background()); srv.Close() }
		fmt.Fprintf(log, "analysis through the relay: Argo calls %s, a pod that passes each call through a tunnel this process opened\n", url)
	}
	return srv, url, stop, nil
}

// useRelay is --analysis-relay, by default on where the cluster's nodes
// need not reach this machine (kind, an existing cluster) unless
// --analysis-url says where Argo calls.
func (o runOptions) useRelay() bool {
	if o.analysisRelay != nil {
		return *o.analysisRelay
	}
	return o.analysisURL == "" && relayByDefault(o.platform)
}

// relayByDefault: the nodes of kind and of an existing cluster cannot be
// assumed to reach this machine.
func relayByDefault(platformName string) bool {
	return platformName == clusterplatform.Name || platformName == kind.Name
}

// startAnalysis starts the analysis endpoint Argo calls, serving the
// builtin analyzers and the external ones given; it returns its URL.
func startAnalysis(ctx context.Context, cluster platform.Platform, externals []analysis.Analyzer, shadowExternal bool, listen string) (*analysis.Server, string, error) {
	client, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		return nil, "", err
	}
	dyn, err := dynamic.NewForConfig(cluster.RESTConfig())
	if err != nil {
		return nil, "", err
	}
	srv := analysis.NewServer(analysis.Config{Addr: listen, Client: client, Dynamic: dyn, PodURL: cluster.PodURL,
		Analyzers: append(analysis.Builtin(), externals...), ShadowExternal: shadowExternal})
	url, err := srv.Start(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("analysis endpoint: %w", err)
	}
	return srv, url, nil
}

// gatingAnalyzers are the analyzers the runs are gated by.
func gatingAnalyzers(specs []scenario.RunSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Analyzer)
	}
	return out
}

// runSet is a run set in progress: results.json is rewritten after every
// run, so that nothing is lost if the set is interrupted.
type runSet struct {
	out     string
	display *display
	specs   []scenario.RunSpec

	mu         sync.Mutex
	set        *results.File
	runs       []results.Run
	done       []bool
	harnessErr error
}

func (rs *runSet) say(line string) { rs.display.Event(line) }

// runAll runs the specs, parallel at a time, until done or ctx ends.
func (rs *runSet) runAll(ctx context.Context, r *runner.Runner, parallel int) {
	rs.runs, rs.done = make([]results.Run, len(rs.specs)), make([]bool, len(rs.specs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, spec := range rs.specs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			rs.runOne(ctx, r, i, spec)
		}()
	}
	wg.Wait()
	r.Wait() // the runs' namespaces, deleted without holding their slots
}

func (rs *runSet) runOne(ctx context.Context, r *runner.Runner, i int, spec scenario.RunSpec) {
	rs.say(fmt.Sprintf("run %d/%d: %s", i+1, len(rs.specs), spec.ID))
	res, err := r.Run(ctx, spec)
	rs.display.Done(spec.ID)
	rs.mu.Lock()
	rs.runs[i], rs.done[i] = *res, true
	if err != nil {
		rs.harnessErr = errors.Join(rs.harnessErr, fmt.Errorf("%s: %w", spec.ID, err))
	}
	rs.mu.Unlock()
	rs.say(fmt.Sprintf("run %d/%d: %s: %s", i+1, len(rs.specs), spec.ID, oneLine(res)))
	if err := rs.save(); err != nil {
		rs.say("write results: " + err.Error())
	}
}

// save writes results.json with the runs done so far, in matrix order.
func (rs *runSet) save() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.set.Runs = rs.set.Runs[:0]
	for i := range rs.runs {
		if rs.done[i] {
			rs.set.Runs = append(rs.set.Runs, rs.runs[i])
		}
	}
	rs.set.Environment.FinishedAt = time.Now()
	return results.Write(rs.out, rs.set)
}

// finish writes the results and reports, prints the summary and returns
// the exit status: harness errors first, then failed expectations.
func (rs *runSet) finish(ctx context.Context, stdout io.Writer) error {
	if err := rs.save(); err != nil {
		return &exitError{code: ExitHarness, err: err}
	}
	set := rs.set
	if err := reports.WriteAll(rs.out, set, nil); err != nil {
		return &exitError{code: ExitHarness, err: fmt.Errorf("reports: %w", err)}
	}
	printSummary(stdout, set)
	fmt.Fprintf(stdout, "\nresults: %s\nreport:  %s\n", filepath.Join(rs.out, results.FileName), filepath.Join(rs.out, reports.HTMLFile))
	if ctx.Err() != nil {
		return &exitError{code: ExitHarness, err: errors.New("interrupted")}
	}
	if rs.harnessErr != nil {
		return &exitError{code: ExitHarness, err: rs.harnessErr}
	}
	for i := range set.Runs {
		if set.Runs[i].Failed() {
			return &exitError{code: ExitExpectation, err: errors.New("an expectation failed")}
		}
	}
	return nil
}

// clusterLogs is where the cluster's logs are kept when something failed.
func (rs *runSet) clusterLogs() string { return filepath.Join(rs.out, "cluster-logs") }

// anyFailed reports a harness error or a failed expectation in any run.
func (rs *runSet) anyFailed() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.harnessErr != nil {
		return true
	}
	for i := range rs.runs {
		if r := &rs.runs[i]; rs.done[i] && (r.Error != "" || r.Failed()) {
			return true
		}
	}
	return false
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
