package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/blastradius/blastradius/harness/platform"
	clusterplatform "github.com/blastradius/blastradius/harness/platform/cluster"
	"github.com/blastradius/blastradius/harness/platform/local"
)

// A cluster started by `cluster up` outlives the command: a detached
// `cluster up --foreground` process supervises it, and `cluster down` signals
// that process. Its pid and log sit beside the cluster's data dir.
type clusterFlags struct {
	platform string
	dataDir  string
	binDir   string
	up       upFlags // cluster up only
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.platform, "platform", local.Name, platformHelp())
	cmd.Flags().StringVar(&f.dataDir, "data-dir", filepath.Join(".blastradius", "local"), "the local cluster's data dir")
	cmd.Flags().StringVar(&f.binDir, "bin", "", "directory of the tools built by make tools (default: $BLASTRADIUS_BIN, else ./bin)")
}

func (f *clusterFlags) check() error {
	if f.platform == clusterplatform.Name {
		return errors.New("--platform cluster: an existing cluster is not started or stopped by blastradius; run on it with `blastradius run --platform cluster --context NAME`")
	}
	if err := platform.Check(f.platform); err != nil {
		return fmt.Errorf("--platform: %w", err)
	}
	return nil
}

func (f *clusterFlags) pidFile() string { return strings.TrimSuffix(f.dataDir, "/") + ".pid" }
func (f *clusterFlags) logFile() string { return strings.TrimSuffix(f.dataDir, "/") + ".log" }
func (f *clusterFlags) kubeconfig() string {
	abs, _ := filepath.Abs(filepath.Join(f.dataDir, "kubeconfig"))
	return abs
}

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Start, stop and inspect a cluster"}
	cmd.AddCommand(newClusterUpCmd(), newClusterDownCmd(), newClusterStatusCmd(), newClusterKubeconfigCmd())
	return cmd
}

func newClusterUpCmd() *cobra.Command {
	var f clusterFlags
	var foreground bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a cluster and leave it running (until cluster down)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if err := f.up.load(); err != nil {
				return err
			}
			if foreground {
				return runClusterForeground(cmd, f)
			}
			if pid, ok := supervisorPid(f); ok {
				return fmt.Errorf("a local cluster is already running (pid %d); stop it with `blastradius cluster down`", pid)
			}
			return startSupervisor(cmd, f)
		},
	}
	f.register(cmd)
	f.up.register(cmd)
	cmd.Flags().BoolVar(&foreground, "foreground", false, "run the cluster in this process until interrupted")
	return cmd
}

// runClusterForeground runs the cluster until SIGINT or SIGTERM.
func runClusterForeground(cmd *cobra.Command, f clusterFlags) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := platform.New(f.platform, platform.Options{BinDir: f.binDir, DataDir: f.dataDir, Log: cmd.ErrOrStderr(), ImageAliases: f.up.aliases, StepPlugins: f.up.stepPlugins, StartDelay: f.up.startDelay,
		ClusterName: f.up.clusterName, Reuse: f.up.reuse, NodeImage: f.up.nodeImage,
		FailureLogs: defaultLogDir(f.platform)})
	if err != nil {
		return err
	}
	if err := c.Up(ctx); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), "ready")
	<-ctx.Done()
	down, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.Down(down)
}

func startSupervisor(cmd *cobra.Command, f clusterFlags) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.dataDir), 0o755); err != nil {
		return err
	}
	logf, err := os.Create(f.logFile())
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"cluster", "up", "--foreground", "--platform", f.platform, "--data-dir", f.dataDir}
	if f.binDir != "" {
		args = append(args, "--bin", f.binDir)
	}
	args = append(args, f.up.args()...)
	sup := exec.Command(exe, args...)
	sup.Stdout, sup.Stderr = logf, logf
	sup.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // survives this command and its terminal
	if err := sup.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(f.pidFile(), []byte(strconv.Itoa(sup.Process.Pid)), 0o644); err != nil {
		_ = sup.Process.Kill()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- sup.Wait() }()
	fmt.Fprintf(cmd.ErrOrStderr(), "starting the local cluster (log: %s) ...\n", f.logFile())
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			_ = os.Remove(f.pidFile())
			data, _ := os.ReadFile(f.logFile())
			return fmt.Errorf("cluster failed to start (%v):\n%s", err, data)
		case <-tick.C:
			data, _ := os.ReadFile(f.logFile())
			if strings.Contains(string(data), "\nready\n") || strings.HasPrefix(string(data), "ready\n") {
				fmt.Fprint(cmd.ErrOrStderr(), string(data))
				printUsage(cmd, f)
				return nil
			}
		case <-cmd.Context().Done():
			_ = sup.Process.Signal(syscall.SIGTERM)
			<-exited
			_ = os.Remove(f.pidFile())
			return cmd.Context().Err()
		}
	}
}

func printUsage(cmd *cobra.Command, f clusterFlags) {
	bin := f.binDir
	if bin == "" {
		bin = "bin"
	}
	fmt.Fprintf(cmd.OutOrStdout(), `The local cluster is up.
  export KUBECONFIG=%s
  export PATH=$PWD/%s:$PATH      # kubectl and the kubectl-argo-rollouts plugin
  kubectl get nodes
  kubectl argo rollouts list rollouts -A
Stop it with: blastradius cluster down --platform local
`, f.kubeconfig(), bin)
	if url, err := local.PrometheusURLIn(f.dataDir); err == nil {
		fmt.Fprintf(cmd.OutOrStdout(), "Prometheus (scrapes pods annotated prometheus.io/scrape): %s\n", url)
	}
	if url, err := local.RouterURLIn(f.dataDir); err == nil {
		fmt.Fprintf(cmd.OutOrStdout(), "Traefik (routes IngressRoutes of entrypoint %s): %s\n", local.TraefikEntryPoint, url)
	}
}

// defaultLogDir is where logs are kept when no directory is named: one
// directory per occasion, so that nothing earlier is overwritten.
func defaultLogDir(platformName string) string {
	return filepath.Join(".blastradius", "logs", platformName+"-"+time.Now().UTC().Format("20060102T150405Z"))
}

// keepClusterLogs copies the cluster's logs, and the supervisor's own, to dir.
func keepClusterLogs(ctx context.Context, f clusterFlags, dir string) error {
	if err := local.ExportLogsFrom(ctx, f.dataDir, dir); err != nil {
		return err
	}
	if data, err := os.ReadFile(f.logFile()); err == nil {
		return os.WriteFile(filepath.Join(dir, "cluster-up.log"), data, 0o644)
	}
	return nil
}

// supervisorPid returns the pid of a running cluster supervisor.
func supervisorPid(f clusterFlags) (int, bool) {
	data, err := os.ReadFile(f.pidFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	return pid, true
}

func newClusterDownCmd() *cobra.Command {
	var f clusterFlags
	var keepLogs string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop a cluster started with cluster up and remove its data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if keepLogs != "" {
				// Copied while the cluster still runs: what led here is
				// in them, and nothing of the data dir survives the stop.
				if err := keepClusterLogs(cmd.Context(), f, keepLogs); err != nil {
					return fmt.Errorf("--keep-logs: %w (the cluster is left running)", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "the cluster's logs are kept in %s\n", keepLogs)
			}
			if pid, ok := supervisorPid(f); ok {
				_ = syscall.Kill(pid, syscall.SIGTERM)
				deadline := time.Now().Add(90 * time.Second)
				for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
				}
				if syscall.Kill(pid, 0) == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			_ = os.Remove(f.pidFile())
			// Whatever a killed supervisor left behind goes too.
			if err := local.Cleanup(f.dataDir); err != nil {
				return err
			}
			_ = os.Remove(f.logFile())
			fmt.Fprintln(cmd.ErrOrStderr(), "the local cluster is down")
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&keepLogs, "keep-logs", "", "copy the component and container logs to this directory before stopping (bare flag: "+defaultLogDir(local.Name)+")")
	cmd.Flags().Lookup("keep-logs").NoOptDefVal = defaultLogDir(local.Name)
	return cmd
}

func newClusterStatusCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say whether the cluster runs, and its node and versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			pid, ok := supervisorPid(f)
			if !ok {
				fmt.Fprintln(out, "local cluster: not running")
				return &exitError{code: ExitExpectation, err: errors.New("cluster not running")}
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig())
			if err != nil {
				return err
			}
			cfg.Timeout = 5 * time.Second
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			v, err := client.Discovery().ServerVersion()
			if err != nil {
				return fmt.Errorf("local cluster (pid %d) does not answer: %w", pid, err)
			}
			fmt.Fprintf(out, "local cluster: running (pid %d), Kubernetes %s\nkubeconfig: %s\n", pid, v.GitVersion, f.kubeconfig())
			nodes, err := client.CoreV1().Nodes().List(cmd.Context(), metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, n := range nodes.Items {
				ready := "NotReady"
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready = "Ready"
					}
				}
				fmt.Fprintf(out, "node %s: %s\n", n.Name, ready)
			}
			fmt.Fprintf(out, "prometheus: %s\n", prometheusStatus(cmd.Context(), f.dataDir))
			if url, err := local.RouterURLIn(f.dataDir); err == nil {
				fmt.Fprintf(out, "traefik: %s (entrypoint %s)\n", url, local.TraefikEntryPoint)
			} else {
				fmt.Fprintf(out, "traefik: not running (%v)\n", err)
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// prometheusStatus is the cluster's Prometheus URL and whether it is ready.
func prometheusStatus(ctx context.Context, dataDir string) string {
	url, err := local.PrometheusURLIn(dataDir)
	if err != nil {
		return "not running (" + err.Error() + ")"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/-/ready", nil)
	if err != nil {
		return url + " (" + err.Error() + ")"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return url + " (not answering: " + err.Error() + ")"
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("%s (not ready: %s)", url, resp.Status)
	}
	return url + " (ready)"
}

func newClusterKubeconfigCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the path of the cluster's kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), f.kubeconfig())
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
