// Package promconfig is the cluster Prometheus's configuration, the same on
// every platform that runs one: one job that discovers pods through the
// API server (kubernetes_sd_configs, role pod) and scrapes the ones
// annotated for it (platform.AnnotationScrape and the rest) at their pod
// IP, with the labels analyzers' queries select on.
package promconfig

import (
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/platform"
)

const (
	// Job is the one scrape job's name.
	Job = "kubernetes-pods"
	// Runs last minutes; two hours of samples is all a run can query.
	Retention = "2h"
)

// The meta labels Kubernetes service discovery sets on a pod target:
// annotation and label names with every character outside [a-zA-Z0-9_]
// replaced by an underscore.
func PodAnnotationLabel(name string) string {
	return "__meta_kubernetes_pod_annotation_" + sanitizeLabel(name)
}

func PodLabelLabel(name string) string { return "__meta_kubernetes_pod_label_" + sanitizeLabel(name) }

func sanitizeLabel(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// RelabelRule is one relabel_configs entry. Regexes are anchored at both
// ends, as Prometheus anchors them; Replacement defaults to "$1".
type RelabelRule struct {
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

// PodRelabeling keeps the pods annotated for scraping and sets their
// address, path, interval and labels from the annotations.
func PodRelabeling() []RelabelRule {
	interval := PodAnnotationLabel(platform.AnnotationScrapeInterval)
	return []RelabelRule{
		{SourceLabels: []string{PodAnnotationLabel(platform.AnnotationScrape)}, Regex: "true", Action: "keep"},
		// Ended pods may have handed their IP on to a new pod.
		{SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Regex: "Succeeded|Failed", Action: "drop"},
		{SourceLabels: []string{"__meta_kubernetes_pod_ip"}, Regex: ".+", Action: "keep"},
		// IPv4 pod IPs: "ip:port" needs no brackets.
		{SourceLabels: []string{"__meta_kubernetes_pod_ip", PodAnnotationLabel(platform.AnnotationPort)},
			Regex: `(.+);([0-9]+)`, Replacement: "$1:$2", TargetLabel: "__address__"},
		{SourceLabels: []string{PodAnnotationLabel(platform.AnnotationPath)}, Regex: "(.+)", TargetLabel: "__metrics_path__"},
		// Per pod: the timeout is the interval, which Prometheus allows
		// (a longer one it refuses, and the job's would be longer than 1s).
		{SourceLabels: []string{interval}, Regex: "(.+)", TargetLabel: "__scrape_interval__"},
		{SourceLabels: []string{interval}, Regex: "(.+)", TargetLabel: "__scrape_timeout__"},
		{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: LabelNamespace},
		{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: LabelPod},
		{SourceLabels: []string{PodLabelLabel("rollouts-pod-template-hash")}, TargetLabel: LabelPodTemplateHash},
		{SourceLabels: []string{PodLabelLabel("app")}, TargetLabel: LabelApp},
	}
}

// Config is the configuration file: one job that scrapes the annotated
// pods of every namespace, found through kubeconfig, or with the pod's own
// service account when kubeconfig is "" (Prometheus running in the cluster).
func Config(kubeconfig string) ([]byte, error) {
	sd := map[string]any{"role": "pod"}
	if kubeconfig != "" {
		sd["kubeconfig_file"] = kubeconfig
	}
	interval := platform.PromDuration(platform.DefaultScrapeInterval)
	cfg := map[string]any{
		"global": map[string]any{"scrape_interval": interval, "scrape_timeout": interval},
		"storage": map[string]any{
			"tsdb": map[string]any{"retention": map[string]any{"time": Retention}},
		},
		"scrape_configs": []map[string]any{{
			"job_name":              Job,
			"scrape_interval":       interval,
			"scrape_timeout":        interval,
			"metrics_path":          "/metrics",
			"kubernetes_sd_configs": []map[string]any{sd},
			"relabel_configs":       PodRelabeling(),
		}},
	}
	return yaml.Marshal(cfg)
}
