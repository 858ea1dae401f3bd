package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/platform/promconfig"
)

// Prometheus runs beside the control plane as one more supervised process:
// it discovers pods through the API server (kubernetes_sd_configs, role pod,
// with the admin kubeconfig) and scrapes the annotated ones directly at
// podIP:port, which the host reaches because every pod listens on its own
// loopback IP (see PodURL). It listens on 127.0.0.1, where the harness and
// the Argo controller, also a host process, query it. Its configuration is
// promconfig's, with the admin kubeconfig.
//
// promDir holds the config, the TSDB and the url file.
const promDir = "prometheus"

// startPrometheus writes the config and starts Prometheus; waitPrometheus
// waits for it, so that it starts beside the node agent and Argo.
func (c *Cluster) startPrometheus(_ context.Context, u *upState) error {
	dir := filepath.Join(c.opts.DataDir, promDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := promconfig.Config(c.kubeconfig)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	return c.start("prometheus",
		// One core of two: the control plane and the pods need the other.
		[]string{"GOMAXPROCS=1"},
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", u.ports.prometheus),
	)
}

// waitPrometheus waits for /-/ready (config loaded, TSDB open) and records
// the URL for PrometheusURL and for `cluster status` in other processes.
func (c *Cluster) waitPrometheus(ctx context.Context, u *upState) error {
	url := fmt.Sprintf("http://127.0.0.1:%d", u.ports.prometheus)
	if err := c.waitHTTP(ctx, "prometheus", url+"/-/ready", nil); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.opts.DataDir, promDir, "url"), []byte(url+"\n"), 0o644); err != nil {
		return err
	}
	c.promURL = url
	c.Timings.PrometheusReady = time.Since(u.start)
	c.progress("Prometheus ready at %s (%s after the start)", url, c.Timings.PrometheusReady.Round(100*time.Millisecond))
	return nil
}

// PrometheusURL implements platform.Platform: http://127.0.0.1:<port>.
func (c *Cluster) PrometheusURL(context.Context) (string, error) {
	if c.promURL == "" {
		return "", errors.New("cluster is not up")
	}
	return c.promURL, nil
}

// PrometheusURLIn is the URL of the Prometheus of the cluster running with
// dataDir, for commands that run beside the cluster's own process.
func PrometheusURLIn(dataDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, promDir, "url"))
	if err != nil {
		return "", fmt.Errorf("no Prometheus URL: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
