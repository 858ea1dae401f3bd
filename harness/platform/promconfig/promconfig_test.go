package promconfig

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/platform"
)

// promTestConfig is the part of the generated config the tests read.
type promTestConfig struct {
	Global struct {
		ScrapeInterval string `json:"scrape_interval"`
		ScrapeTimeout  string `json:"scrape_timeout"`
	} `json:"global"`
	Storage struct {
		TSDB struct {
			Retention struct {
				Time string `json:"time"`
			} `json:"retention"`
		} `json:"tsdb"`
	} `json:"storage"`
	ScrapeConfigs []struct {
		JobName        string              `json:"job_name"`
		ScrapeInterval string              `json:"scrape_interval"`
		ScrapeTimeout  string              `json:"scrape_timeout"`
		MetricsPath    string              `json:"metrics_path"`
		SD             []map[string]string `json:"kubernetes_sd_configs"`
		Relabel        []RelabelRule       `json:"relabel_configs"`
	} `json:"scrape_configs"`
}

// relabel applies rules as Prometheus does (actions replace, keep and drop;
// regexes anchored; source values joined by ";"; a label set to "" is
// removed) and reports whether the target is kept.
func relabel(t *testing.T, rules []RelabelRule, lbls map[string]string) (map[string]string, bool) {
	out := map[string]string{}
	for k, v := range lbls {
		out[k] = v
	}
	for _, r := range rules {
		vals := make([]string, len(r.SourceLabels))
		for i, l := range r.SourceLabels {
			vals[i] = out[l]
		}
		src := strings.Join(vals, ";")
		pattern := r.Regex
		if pattern == "" {
			pattern = "(.*)"
		}
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		require.NoError(t, err, pattern)
		m := re.FindStringSubmatchIndex(src)
		switch r.Action {
		case "keep":
			if m == nil {
				return nil, false
			}
		case "drop":
			if m != nil {
				return nil, false
			}
		case "", "replace":
			if m == nil {
				continue
			}
			repl := r.Replacement
			if repl == "" {
				repl = "$1"
			}
			v := string(re.ExpandString(nil, repl, src, m))
			if v == "" {
				delete(out, r.TargetLabel)
			} else {
				out[r.TargetLabel] = v
			}
		default:
			t.Fatalf("action %q not simulated", r.Action)
		}
	}
	return out, true
}

func TestPrometheusConfigSelectsAndLabelsAnnotatedPods(t *testing.T) {
	data, err := Config("/data/kubeconfig")
	require.NoError(t, err)
	var cfg promTestConfig
	require.NoError(t, yaml.UnmarshalStrict(data, &cfg), string(data))
	assert.Equal(t, "2h", cfg.Storage.TSDB.Retention.Time)
	assert.Equal(t, "5s", cfg.Global.ScrapeInterval)
	require.Len(t, cfg.ScrapeConfigs, 1)
	job := cfg.ScrapeConfigs[0]
	assert.Equal(t, []map[string]string{{"role": "pod", "kubeconfig_file": "/data/kubeconfig"}}, job.SD)
	assert.Equal(t, "5s", job.ScrapeInterval)
	assert.Equal(t, "5s", job.ScrapeTimeout)

	// A pod target as Kubernetes service discovery hands it over, with the
	// labels Prometheus sets from the job before relabeling.
	pod := func(annotations, labels map[string]string) map[string]string {
		l := map[string]string{
			"__address__": "127.10.0.7:8080", "__metrics_path__": job.MetricsPath,
			"__scrape_interval__": job.ScrapeInterval, "__scrape_timeout__": job.ScrapeTimeout,
			"__meta_kubernetes_namespace": "ns", "__meta_kubernetes_pod_name": "demo-abc12-x",
			"__meta_kubernetes_pod_ip": "127.10.0.7", "__meta_kubernetes_pod_phase": "Running",
		}
		for k, v := range annotations {
			l[PodAnnotationLabel(k)] = v
		}
		for k, v := range labels {
			l[PodLabelLabel(k)] = v
		}
		return l
	}
	annotated := map[string]string{
		platform.AnnotationScrape: "true", platform.AnnotationPort: "9090", platform.AnnotationScrapeInterval: "1s",
	}
	rolloutLabels := map[string]string{"app": "demo", "rollouts-pod-template-hash": "abc12"}

	got, keep := relabel(t, job.Relabel, pod(annotated, rolloutLabels))
	require.True(t, keep)
	for k := range got {
		if strings.HasPrefix(k, "__meta_") {
			delete(got, k) // Prometheus drops meta labels after relabeling
		}
	}
	assert.Equal(t, map[string]string{
		"__address__": "127.10.0.7:9090", "__metrics_path__": "/metrics",
		"__scrape_interval__": "1s", "__scrape_timeout__": "1s",
		LabelNamespace: "ns", LabelPod: "demo-abc12-x", LabelApp: "demo", LabelPodTemplateHash: "abc12",
	}, got)

	// Defaults: the job's interval, /metrics unless the path annotation says.
	got, keep = relabel(t, job.Relabel, pod(map[string]string{
		platform.AnnotationScrape: "true", platform.AnnotationPort: "8080", platform.AnnotationPath: "/custom",
	}, nil))
	require.True(t, keep)
	assert.Equal(t, "5s", got["__scrape_interval__"])
	assert.Equal(t, "5s", got["__scrape_timeout__"])
	assert.Equal(t, "/custom", got["__metrics_path__"])
	assert.NotContains(t, got, LabelPodTemplateHash, "no label without the pod label")
	assert.NotContains(t, got, LabelApp)

	for name, l := range map[string]map[string]string{
		"not annotated": pod(nil, rolloutLabels),
		"scrape false":  pod(map[string]string{platform.AnnotationScrape: "false"}, rolloutLabels),
		"succeeded": func() map[string]string {
			l := pod(annotated, nil)
			l["__meta_kubernetes_pod_phase"] = "Succeeded"
			return l
		}(),
		"failed": func() map[string]string {
			l := pod(annotated, nil)
			l["__meta_kubernetes_pod_phase"] = "Failed"
			return l
		}(),
		"no pod IP yet":  func() map[string]string { l := pod(annotated, nil); l["__meta_kubernetes_pod_ip"] = ""; return l }(),
		"True, not true": pod(map[string]string{platform.AnnotationScrape: "True"}, nil),
	} {
		_, keep := relabel(t, job.Relabel, l)
		assert.False(t, keep, name)
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5s", time.Minute: "60s", 1500 * time.Millisecond: "1500ms", 250 * time.Millisecond: "250ms",
	} {
		assert.Equal(t, want, platform.PromDuration(d), d)
	}
}

func TestConfigInClusterUsesThePodsServiceAccount(t *testing.T) {
	data, err := Config("")
	require.NoError(t, err)
	var cfg promTestConfig
	require.NoError(t, yaml.UnmarshalStrict(data, &cfg), string(data))
	require.Len(t, cfg.ScrapeConfigs, 1)
	assert.Equal(t, []map[string]string{{"role": "pod"}}, cfg.ScrapeConfigs[0].SD)
}
