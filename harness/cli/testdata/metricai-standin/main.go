// Command metricai-standin is a TEST STAND-IN for the argoproj-labs/metric-ai
// Argo Rollouts metric plugin, written for blastradius's end-to-end test of
// the --metric-ai-plugin wiring (harness/cli/metricai_e2e_test.go). It is
// NOT the real plugin, and nothing it does is evidence of how the real
// plugin behaves: it only walks the same path, so that the wiring around
// it (Argo's plugin configuration, the controller's identity and RBAC, the
// AnalysisTemplate, the endpoint's agent API) is exercised for real.
//
// What it does, following the plugin's agent mode as its public sources
// describe it (argoproj-labs/rollouts-plugin-metric-ai,
// internal/plugin/plugin.go, ai_mode.go, a2a.go; read, not copied):
// it reads its block of the metric (agentUrl, stableLabel, canaryLabel,
// extraPrompt), reads the logs of the first pod of each selector in the
// AnalysisRun's namespace with the controller's identity (a missing canary
// is a successful measurement, as in the plugin), asks GET <agentUrl>/,
// then POST <agentUrl>/a2a/analyze, and turns the answer into the
// measurement: promote → Successful with value confidence/100, otherwise
// Failed with value 0; any error is an Error measurement. What it does not
// do: read /etc/secrets at start-up, create GitHub issues, or call a model.
//
// It is built inside the Argo Rollouts module in the module cache (go build
// -overlay), so that it speaks exactly the controller's RPC types; it is a
// testdata file, outside the blastradius module's packages.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	goPlugin "github.com/hashicorp/go-plugin"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argoproj/argo-rollouts/metricproviders/plugin/rpc"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
)

// pluginName is the key of the plugin's block in a metric's provider.
const pluginName = "argoproj-labs/metric-ai"

type config struct {
	AgentURL    string `json:"agentUrl"`
	StableLabel string `json:"stableLabel"`
	CanaryLabel string `json:"canaryLabel"`
	ExtraPrompt string `json:"extraPrompt"`
}

type a2aContext struct {
	Namespace      string `json:"namespace"`
	RolloutName    string `json:"rolloutName"`
	StableSelector string `json:"stableSelector"`
	CanarySelector string `json:"canarySelector"`
	ExtraPrompt    string `json:"extraPrompt,omitempty"`
}

type a2aRequest struct {
	UserID   string     `json:"userId"`
	Prompt   string     `json:"prompt"`
	Context  a2aContext `json:"context"`
	MemoryID string     `json:"memoryId,omitempty"`
}

type a2aResponse struct {
	Analysis   string `json:"analysis"`
	RootCause  string `json:"rootCause"`
	Promote    bool   `json:"promote"`
	Confidence int    `json:"confidence"`
}

type standin struct {
	http *http.Client
}

func (s *standin) InitPlugin() types.RpcError { return types.RpcError{} }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "metricai-standin (test stand-in, not the real plugin): "+format+"\n", args...)
}

func (s *standin) Run(ar *v1alpha1.AnalysisRun, metric v1alpha1.Metric) v1alpha1.Measurement {
	start := metav1.Now()
	m := v1alpha1.Measurement{StartedAt: &start, Metadata: map[string]string{"standIn": "true"}}
	done := func(phase v1alpha1.AnalysisPhase, value, msg string) v1alpha1.Measurement {
		now := metav1.Now()
		m.Phase, m.Value, m.Message, m.FinishedAt = phase, value, msg, &now
		logf("%s/%s %s: %s %s", ar.Namespace, ar.Name, metric.Name, phase, msg)
		return m
	}
	var cfg config
	if raw, ok := metric.Provider.Plugin[pluginName]; ok {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return done(v1alpha1.AnalysisPhaseError, "", "plugin config: "+err.Error())
		}
	}
	if cfg.AgentURL == "" {
		return done(v1alpha1.AnalysisPhaseError, "", "agentUrl is required")
	}
	stable, canary := cmpOr(cfg.StableLabel, "role=stable"), cmpOr(cfg.CanaryLabel, "role=canary")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := kubeClient()
	if err != nil {
		return done(v1alpha1.AnalysisPhaseError, "", "kube client: "+err.Error())
	}
	if _, err := firstPodLogs(ctx, client, ar.Namespace, stable); err != nil {
		return done(v1alpha1.AnalysisPhaseError, "", "stable logs: "+err.Error())
	}
	if _, err := firstPodLogs(ctx, client, ar.Namespace, canary); err != nil {
		if apierrors.IsNotFound(err) {
			return done(v1alpha1.AnalysisPhaseSuccessful, "1", "no canary pods")
		}
		return done(v1alpha1.AnalysisPhaseError, "", "canary logs: "+err.Error())
	}
	rollout := ar.Name
	for _, o := range ar.OwnerReferences {
		if o.Kind == "Rollout" {
			rollout = o.Name
		}
	}
	resp, err := s.ask(ctx, cfg, a2aContext{Namespace: ar.Namespace, RolloutName: rollout,
		StableSelector: stable, CanarySelector: canary, ExtraPrompt: cfg.ExtraPrompt})
	if err != nil {
		return done(v1alpha1.AnalysisPhaseError, "", err.Error())
	}
	m.Metadata["analysis"] = resp.Analysis
	m.Metadata["confidence"] = fmt.Sprint(resp.Confidence)
	if resp.Promote {
		return done(v1alpha1.AnalysisPhaseSuccessful, fmt.Sprintf("%.2f", float64(resp.Confidence)/100), "promote")
	}
	return done(v1alpha1.AnalysisPhaseFailed, "0", "do not promote: "+resp.Analysis)
}

// ask is the agent exchange: a reachability check (any HTTP answer will do),
// then the analysis; anything but 200 is an error.
func (s *standin) ask(ctx context.Context, cfg config, c a2aContext) (*a2aResponse, error) {
	base := strings.TrimRight(cfg.AgentURL, "/")
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		return nil, err
	}
	hresp, err := s.http.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("agent health check: %w", err)
	}
	_, _ = io.Copy(io.Discard, hresp.Body)
	hresp.Body.Close()
	body, err := json.Marshal(a2aRequest{
		UserID: "argo-rollouts",
		Prompt: fmt.Sprintf("stand-in: should the canary (%s) of %s/%s be promoted over the stable (%s)?",
			c.CanarySelector, c.Namespace, c.RolloutName, c.StableSelector),
		Context:  c,
		MemoryID: "rollout:" + c.Namespace + "/" + c.RolloutName,
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/a2a/analyze", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent returned status %d", resp.StatusCode)
	}
	var out a2aResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("agent answer: %w", err)
	}
	return &out, nil
}

// kubeClient is the in-cluster identity, else the default loading rules
// (KUBECONFIG): the controller's, whose environment a plugin inherits.
func kubeClient() (*kubernetes.Clientset, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, err
		}
	}
	return kubernetes.NewForConfig(cfg)
}

func firstPodLogs(ctx context.Context, c *kubernetes.Clientset, ns, selector string) (string, error) {
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "", err
	}
	if len(pods.Items) == 0 {
		return "", apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, selector)
	}
	data, err := c.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", pods.Items[0].Name, err)
	}
	return string(data), nil
}

func (s *standin) Resume(_ *v1alpha1.AnalysisRun, _ v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement {
	return m
}

func (s *standin) Terminate(_ *v1alpha1.AnalysisRun, _ v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement {
	return m
}

func (s *standin) GarbageCollect(*v1alpha1.AnalysisRun, v1alpha1.Metric, int) types.RpcError {
	return types.RpcError{}
}

func (s *standin) Type() string { return "BlastradiusMetricAIStandIn" }

func (s *standin) GetMetadata(v1alpha1.Metric) map[string]string {
	return map[string]string{"standIn": "true"}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var _ rpc.MetricProviderPlugin = (*standin)(nil)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("metricai-standin: a test stand-in for argoproj-labs/metric-ai, not the real plugin")
		return
	}
	if os.Getenv("ARGO_ROLLOUTS_RPC_PLUGIN") == "" {
		fmt.Fprintln(os.Stderr, errors.New("metricai-standin: an Argo Rollouts metric plugin: the controller starts it"))
		os.Exit(1)
	}
	goPlugin.Serve(&goPlugin.ServeConfig{
		HandshakeConfig: goPlugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "ARGO_ROLLOUTS_RPC_PLUGIN", MagicCookieValue: "metricprovider",
		},
		Plugins: map[string]goPlugin.Plugin{
			"RpcMetricProviderPlugin": &rpc.RpcMetricProviderPlugin{Impl: &standin{http: &http.Client{Timeout: 5 * time.Minute}}},
		},
	})
}
