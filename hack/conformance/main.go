// Command conformance runs Argo Rollouts' own end-to-end suite against the
// local platform: it builds the suite's test binary from the Argo Rollouts
// module in the Go module cache (the release bin/rollouts-controller was
// built from), starts a local cluster of its own with the image aliases in
// images.aliases, runs every test the skip list does not leave out, and
// reports each test as passed, failed or skipped, with the reason. It exits
// 1 when a test that should pass fails, 2 when it could not run the suite.
//
//	go run ./hack/conformance [--run REGEX] [--out DIR]   (make conformance)
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/blastradius/blastradius/harness/platform/local"
)

type config struct {
	bin         string
	out         string
	run         string
	aliases     string
	toolchain   string
	waitTimeout int
	timeout     time.Duration
	parallel    int
	rebuild     bool
	namespace   string
	shards      int
	startDelay  time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "bin", "the directory make build tools filled (blastradius, kubectl, rollouts-controller)")
	flag.StringVar(&c.out, "out", filepath.Join("out", "conformance"), "where results.json, summary.md, the test output and the cluster's logs go")
	flag.StringVar(&c.run, "run", "", "run only the tests whose Suite/Test name matches this regular expression")
	flag.StringVar(&c.aliases, "image-aliases", filepath.Join("hack", "conformance", "images.aliases"), "the image aliases the cluster starts with")
	flag.StringVar(&c.toolchain, "toolchain", "go1.27.3", "the Go toolchain Argo Rollouts builds with (GOTOOLCHAIN)")
	flag.IntVar(&c.waitTimeout, "wait-timeout", 90, "E2E_WAIT_TIMEOUT: seconds a test waits for a condition (Argo's default 90)")
	flag.DurationVar(&c.timeout, "timeout", 3*time.Hour, "the test binary's -test.timeout")
	flag.IntVar(&c.parallel, "parallel", 1, "the test binary's -test.parallel (Argo's CI runs 1)")
	flag.BoolVar(&c.rebuild, "rebuild", false, "rebuild the e2e test binary and step plugin even when cached ones exist")
	flag.IntVar(&c.shards, "shards", 2, "split the suites over this many clusters run side by side (each suite runs whole in one)")
	flag.StringVar(&c.namespace, "namespace", "argo-rollouts", "the namespace the tests run in (the step plugin tests read Argo's ConfigMap there)")
	flag.DurationVar(&c.startDelay, "start-delay", 2*time.Second, "cluster up --start-delay: each container's first start waits this long, as on a kubelet")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "conformance: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, c)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, c config) (int, error) {
	start := time.Now()
	var err error
	for _, p := range []*string{&c.bin, &c.out, &c.aliases} {
		if *p, err = filepath.Abs(*p); err != nil {
			return 2, err
		}
	}
	for _, tool := range []string{"blastradius", "rollouts-controller", "kubectl"} {
		if _, err := os.Stat(filepath.Join(c.bin, tool)); err != nil {
			return 2, fmt.Errorf("%s is missing in %s: run `make build tools`", tool, c.bin)
		}
	}
	version, modDir, err := local.ArgoRelease(ctx, c.bin)
	if err != nil {
		return 2, err
	}
	e2eDir := filepath.Join(modDir, "test", "e2e")
	all, err := inventory(e2eDir)
	if err != nil {
		return 2, err
	}
	sel, err := selectTests(all, c.run, skips)
	if err != nil {
		return 2, fmt.Errorf("--run: %w", err)
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return 2, err
	}
	fmt.Printf("Argo Rollouts %s e2e suite: %d tests, %d to run, %d on the skip list\n", version, len(sel.Run)+len(sel.Skipped), len(sel.Run), len(sel.Skipped))

	rep := report{ArgoRollouts: version, Command: strings.Join(append([]string{"hack/conformance"}, os.Args[1:]...), " "), Started: start.UTC()}
	col := newCollector()
	if len(sel.Run) > 0 {
		testBin, err := buildCached(ctx, c, modDir, "argo-rollouts-e2e-"+version+".test", "test", "-c", "-tags", "e2e", "./test/e2e")
		if err != nil {
			return 2, err
		}
		stepPlugin, err := buildCached(ctx, c, modDir, "argo-rollouts-e2e-step-plugin-"+version, "build", "./test/cmd/step-plugin-e2e")
		if err != nil {
			return 2, err
		}
		parts := shard(sel.Run, c.shards)
		var wg sync.WaitGroup
		errs := make([]error, len(parts))
		incomplete := make([]string, len(parts))
		var commands []string
		old, _ := filepath.Glob(filepath.Join(c.out, "test2json*.jsonl"))
		for _, f := range old {
			_ = os.Remove(f)
		}
		for i, part := range parts {
			// The isolated tests run after the rest of their part, in a
			// test binary of their own: what they leave behind when they
			// fail then breaks nothing else.
			var runs [][]string
			for _, group := range splitIsolated(part, isolated) {
				args := []string{"-test.v=test2json", "-test.count=1", "-test.run", runPattern(group),
					"-test.timeout", c.timeout.String(), "-test.parallel", strconv.Itoa(c.parallel)}
				runs = append(runs, args)
				commands = append(commands, "go tool test2json -t "+testBin+" "+strings.Join(quote(args), " "))
			}
			name := ""
			if len(parts) > 1 {
				name = strconv.Itoa(i + 1)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				incomplete[i], errs[i] = withCluster(ctx, c, name, stepPlugin, func(kubeconfig string) (string, error) {
					for _, args := range runs {
						if inc, err := runSuite(ctx, c, name, e2eDir, kubeconfig, testBin, args, part, col); inc != "" || err != nil {
							return inc, err
						}
					}
					return "", nil
				})
			}()
		}
		wg.Wait()
		rep.TestCommand = strings.Join(commands, "\n")
		if err := errors.Join(errs...); err != nil {
			return 2, err
		}
		rep.Incomplete = strings.Join(slices.DeleteFunc(incomplete, func(s string) bool { return s == "" }), "; ")
	}
	tallied := tally(sel, col)
	rep.Tests, rep.Passed, rep.Failed, rep.Skipped = tallied.Tests, tallied.Passed, tallied.Failed, tallied.Skipped
	rep.Seconds = time.Since(start).Seconds()
	if err := writeReport(c.out, rep); err != nil {
		return 2, err
	}
	fmt.Println()
	writeTable(os.Stdout, rep)
	fmt.Printf("results: %s, %s\n", filepath.Join(c.out, "results.json"), filepath.Join(c.out, "summary.md"))
	if rep.Failed > 0 || rep.Incomplete != "" {
		return 1, nil
	}
	return 0, nil
}

// buildCached runs `go <goArgs...> -o <bin>/conformance/<name>` inside
// Argo's module (its own go.mod, replace directives and toolchain), once
// per release: the binary's name carries the version.
func buildCached(ctx context.Context, c config, modDir, name string, goArgs ...string) (string, error) {
	dir := filepath.Join(c.bin, "conformance")
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil && !c.rebuild {
		fmt.Printf("%s (cached)\n", bin)
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	pkg := goArgs[len(goArgs)-1]
	fmt.Printf("building %s from %s (minutes the first time) ...\n", pkg, modDir)
	tmp := bin + ".tmp"
	args := append(append(append([]string(nil), goArgs[:len(goArgs)-1]...), "-o", tmp), pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+c.toolchain, "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("go %s in %s (GOTOOLCHAIN=%s): %w\n%s", strings.Join(args, " "), modDir, c.toolchain, err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// withCluster starts a local cluster in a temporary data dir of its own
// through the blastradius CLI, as a user would, with the image aliases and
// Argo's e2e step plugin configured as its Makefile's setup-e2e does (one
// entry enabled, one disabled), runs f with a kubeconfig for the test
// namespace, keeps the cluster's logs in <out>/logs and always stops it.
func withCluster(ctx context.Context, c config, name, stepPlugin string, f func(kubeconfig string) (string, error)) (incomplete string, err error) {
	tmp, err := os.MkdirTemp("", "blastradius-conformance-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	dataDir := filepath.Join(tmp, "cluster")
	clusterLog, err := os.Create(filepath.Join(c.out, "cluster"+suffix(name)+".log"))
	if err != nil {
		return "", err
	}
	defer clusterLog.Close()
	blastradius := func(args ...string) error {
		cmd := exec.Command(filepath.Join(c.bin, "blastradius"), append(args, "--platform", "local", "--data-dir", dataDir, "--bin", c.bin)...)
		cmd.Stdout, cmd.Stderr = clusterLog, clusterLog
		// Its own process group: a Ctrl-C reaches this runner, which then
		// takes the cluster down in order.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd.Run()
	}
	fmt.Printf("starting a local cluster in %s (log: %s) ...\n", dataDir, clusterLog.Name())
	upStart := time.Now()
	defer func() {
		if err := keepLogs(filepath.Join(dataDir, "logs"), filepath.Join(c.out, "logs", name)); err != nil {
			fmt.Fprintln(os.Stderr, "conformance: keeping the cluster's logs:", err)
		}
		if err := blastradius("cluster", "down"); err != nil {
			fmt.Fprintf(os.Stderr, "conformance: cluster down: %v (see %s)\n", err, clusterLog.Name())
		} else {
			fmt.Println("the local cluster is down")
		}
	}()
	if err := blastradius("cluster", "up", "--image-aliases", c.aliases, "--start-delay", c.startDelay.String(),
		"--step-plugin", "step/e2e-test="+stepPlugin, "--step-plugin", "step/e2e-test-disabled="+stepPlugin+",disabled"); err != nil {
		return "", fmt.Errorf("cluster up: %w (see %s)", err, clusterLog.Name())
	}
	fmt.Printf("cluster up in %s\n", time.Since(upStart).Round(100*time.Millisecond))
	if ctx.Err() != nil {
		return "interrupted", nil
	}
	kubeconfig, err := namespaced(ctx, c, filepath.Join(dataDir, "kubeconfig"), filepath.Join(tmp, "kubeconfig"))
	if err != nil {
		return "", err
	}
	return f(kubeconfig)
}

// namespaced copies a kubeconfig to path with its context's namespace set to
// the test namespace, the one the fixtures work in.
func namespaced(ctx context.Context, c config, kubeconfig, path string) (string, error) {
	data, err := os.ReadFile(kubeconfig)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "kubectl"), "config", "set-context", "--current", "--namespace", c.namespace, "--kubeconfig", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("kubectl config set-context --namespace %s: %w: %s", c.namespace, err, out)
	}
	return path, nil
}

// keepLogs copies the cluster's component logs before cluster down removes
// them: the controller's log explains most failures.
func keepLogs(from, to string) error {
	logs, err := filepath.Glob(filepath.Join(from, "*.log"))
	if err != nil || len(logs) == 0 {
		return err
	}
	if err := os.RemoveAll(to); err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, filepath.Base(l)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runSuite runs the test binary under go tool test2json in the e2e
// package's directory (the tests read their manifests relative to it),
// with the environment the fixtures read, prints each result as it comes
// and records every event in <out>/test2json[-<name>].jsonl.
func runSuite(ctx context.Context, c config, name, e2eDir, kubeconfig, testBin string, args []string, tests []test, col *collector) (string, error) {
	raw, err := os.OpenFile(filepath.Join(c.out, "test2json"+suffix(name)+".jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer raw.Close()
	cmd := exec.Command("go", append([]string{"tool", "test2json", "-t", testBin}, args...)...)
	cmd.Dir = e2eDir
	cmd.Env = suiteEnv(os.Environ(), c, kubeconfig)
	cmd.Stderr = raw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("go tool test2json: %w", err)
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-stopped:
		}
	}()
	wanted := map[string]bool{}
	for _, t := range tests {
		wanted[t.String()] = true
	}
	fmt.Printf("running %d tests (E2E_WAIT_TIMEOUT=%d) ...\n", len(tests), c.waitTimeout)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var parseErr error
	for sc.Scan() {
		line := sc.Bytes()
		raw.Write(line)
		raw.Write([]byte{'\n'})
		if !bytes.HasPrefix(line, []byte("{")) {
			continue
		}
		res, ok, err := col.add(line)
		if err != nil && parseErr == nil {
			parseErr = err
		}
		// Suites' own results are accounted for by tally, at the end.
		if ok && wanted[res.Test] {
			line := fmt.Sprintf("%-7s %7.1fs  %s", strings.ToUpper(res.Status), res.Seconds, res.Test)
			if res.Reason != "" {
				line += "  (" + res.Reason + ")"
			}
			fmt.Println(line)
		}
	}
	waitErr := cmd.Wait()
	close(stopped)
	if parseErr != nil {
		return "", parseErr
	}
	switch {
	case ctx.Err() != nil:
		return "interrupted", nil
	case waitErr != nil && !isExit1(waitErr):
		return "the test binary ended with " + waitErr.Error(), nil
	}
	return "", nil
}

// isExit1 is go test's exit status for failed tests.
func isExit1(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == 1
}

// suiteEnv is the environment of the test binary: what Argo's fixtures read
// (test/fixtures/e2e_suite.go), set for this cluster, and the rest of the
// caller's environment without anything that would redirect the fixtures.
func suiteEnv(environ []string, c config, kubeconfig string) []string {
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "E2E_") || k == "KUBECONFIG" || k == "PATH" || k == "GOTOOLCHAIN" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"KUBECONFIG="+kubeconfig,
		// No instance id: the controller runs without --instance-id, as a
		// user's does, so the tests' objects must not carry one.
		"E2E_INSTANCE_ID=",
		"E2E_WAIT_TIMEOUT="+strconv.Itoa(c.waitTimeout),
		"E2E_POD_DELAY=0",
		// kubectl from bin/: the fixtures run kubectl apply and wait.
		"PATH="+c.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		// The toolchain the suite was built with runs test2json too (the
		// e2e directory's go.mod asks for it).
		"GOTOOLCHAIN="+c.toolchain,
	)
}

func writeReport(dir string, r report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	writeMarkdown(&md, r)
	return os.WriteFile(filepath.Join(dir, "summary.md"), md.Bytes(), 0o644)
}

func quote(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " |*()$^") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// suffix names a shard's files: none for a single cluster.
func suffix(name string) string {
	if name == "" {
		return ""
	}
	return "-" + name
}
