package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/platform"
)

// Prometheus runs beside the control plane as one more supervised process:
// it discovers pods through the API server (kubernetes_sd_configs, role pod,
// with the admin kubeconfig) and scrapes the annotated ones directly at
// podIP:port, which the host reaches because every pod listens on its own
// loopback IP (see PodURL). It listens on 127.0.0.1, where the harness and
// the Argo controller, also a host process, query it.
const (
	prometheusJob = "kubernetes-pods"
	// Runs last minutes; two hours of samples is all a run can query.
	prometheusRetention = "2h"
	// promDir holds the config, the TSDB and the url file.
	promDir = "prometheus"
)

// The meta labels Kubernetes service discovery sets on a pod target:
// annotation and label names with every character outside [a-zA-Z0-9_]
// replaced by an underscore.
func podAnnotationLabel(name string) string {
	return "__meta_kubernetes_pod_annotation_" + sanitizeLabel(name)
}

func podLabelLabel(name string) string { return "__meta_kubernetes_pod_label_" + sanitizeLabel(name) }

func sanitizeLabel(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// relabelRule is one relabel_configs entry. Regexes are anchored at both
// ends, as Prometheus anchors them; Replacement defaults to "$1".
type relabelRule struct {
	SourceLabels []string `json:"source_labels,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	TargetLabel  string   `json:"target_label,omitempty"`
	Replacement  string   `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// The labels every pod's series carry beside job and instance.
const (
	LabelNamespace = "namespace"
	LabelPod       = "pod"
	LabelApp       = "app"
	// LabelPodTemplateHash is the pod's rollouts-pod-template-hash: the
	// ReplicaSet, so the stable and the canary pods, of an Argo Rollout.
	LabelPodTemplateHash = "rollouts_pod_template_hash"
)

// podRelabeling keeps the pods annotated for scraping and sets their
// address, path, interval and labels from the annotations.
func podRelabeling() []relabelRule {
	interval := podAnnotationLabel(platform.AnnotationScrapeInterval)
	return []relabelRule{
		{SourceLabels: []string{podAnnotationLabel(platform.AnnotationScrape)}, Regex: "true", Action: "keep"},
		// Ended pods may have handed their IP on to a new pod.
		{SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Regex: "Succeeded|Failed", Action: "drop"},
		{SourceLabels: []string{"__meta_kubernetes_pod_ip"}, Regex: ".+", Action: "keep"},
		// IPv4 pod IPs: "ip:port" needs no brackets.
		{SourceLabels: []string{"__meta_kubernetes_pod_ip", podAnnotationLabel(platform.AnnotationPort)},
			Regex: `(.+);([0-9]+)`, Replacement: "$1:$2", TargetLabel: "__address__"},
		{SourceLabels: []string{podAnnotationLabel(platform.AnnotationPath)}, Regex: "(.+)", TargetLabel: "__metrics_path__"},
		// Per pod: the timeout is the interval, which Prometheus allows
		// (a longer one it refuses, and the job's would be longer than 1s).
		{SourceLabels: []string{interval}, Regex: "(.+)", TargetLabel: "__scrape_interval__"},
		{SourceLabels: []string{interval}, Regex: "(.+)", TargetLabel: "__scrape_timeout__"},
		{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: LabelNamespace},
		{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: LabelPod},
		{SourceLabels: []string{podLabelLabel("rollouts-pod-template-hash")}, TargetLabel: LabelPodTemplateHash},
		{SourceLabels: []string{podLabelLabel("app")}, TargetLabel: LabelApp},
	}
}

// prometheusConfig is the configuration file: one job that scrapes the
// annotated pods of every namespace, found through kubeconfig.
func prometheusConfig(kubeconfig string) ([]byte, error) {
	interval := platform.PromDuration(platform.DefaultScrapeInterval)
	cfg := map[string]any{
		"global": map[string]any{"scrape_interval": interval, "scrape_timeout": interval},
		"storage": map[string]any{
			"tsdb": map[string]any{"retention": map[string]any{"time": prometheusRetention}},
		},
		"scrape_configs": []map[string]any{{
			"job_name":              prometheusJob,
			"scrape_interval":       interval,
			"scrape_timeout":        interval,
			"metrics_path":          "/metrics",
			"kubernetes_sd_configs": []map[string]any{{"role": "pod", "kubeconfig_file": kubeconfig}},
			"relabel_configs":       podRelabeling(),
		}},
	}
	return yaml.Marshal(cfg)
}

// startPrometheus writes the config and starts Prometheus; waitPrometheus
// waits for it, so that it starts beside the node agent and Argo.
func (c *Cluster) startPrometheus(_ context.Context, u *upState) error {
	dir := filepath.Join(c.opts.DataDir, promDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := prometheusConfig(c.kubeconfig)
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
