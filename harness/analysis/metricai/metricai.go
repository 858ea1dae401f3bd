// Package metricai wires the real argoproj-labs/metric-ai Argo Rollouts
// metric plugin into a run: Argo runs the plugin (a binary the user
// supplies), the plugin asks its agent over the A2A API, and the agent is
// the analysis endpoint itself, answering at <endpoint>/agents/<backing>
// with a blastradius analyzer (the backing analyzer, threshold unless told
// otherwise). So the run's gate is the real plugin end to end, and the
// harness only records what Argo measured.
//
// What the plugin expects, from its public sources (read, not copied):
// argoproj-labs/rollouts-plugin-metric-ai, internal/plugin/plugin.go (the
// aiConfig keys agentUrl, stableLabel, canaryLabel, extraPrompt, and in
// older versions analysisMode and model, under the metric's
// provider.plugin["argoproj-labs/metric-ai"]; the namespace is the
// AnalysisRun's; the logs of the first pod of each selector are read with
// the controller's identity; a missing canary pod is a successful
// measurement; promote sets the phase itself, Successful with value
// confidence/100 or Failed with value 0, and no success or failure
// condition is evaluated), internal/plugin/ai_mode.go (agent mode needs
// agentUrl; a health check precedes the analysis), internal/plugin/a2a.go
// (the request and answer: harness/analysis/agent), README.md (the
// ConfigMap entry: name argoproj-labs/metric-ai, a file:// location) and
// config/argo-rollouts/kustomization.yaml (the get rules on pods and
// pods/log added to the controller's ClusterRole).
package metricai

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/blastradius/blastradius/harness/analysis/threshold"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/platform"
)

// Name is the analyzer's catalog name.
const Name = "metric-ai"

// PluginName is the plugin's name in Argo's ConfigMap and the key of its
// block in a metric's provider.
const PluginName = "argoproj-labs/metric-ai"

// DefaultBacking is the analyzer that answers the plugin when none is
// named: the default analyzer, deterministic and free, so that a run
// measures the plugin's path and not a model's judgement.
const DefaultBacking = threshold.Name

// Plugin is Argo's entry for the plugin's binary at path (absolute): the
// plugin reads pods and their logs with the controller's identity, which a
// real install's ClusterRole does not allow (list, but not get, on pods;
// nothing on pods/log), so the plugin's own install adds these rules.
func Plugin(path string) platform.MetricPlugin {
	return platform.MetricPlugin{Name: PluginName, Path: path, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get"}},
	}}
}

// Metric is the AnalysisTemplate's metric: the plugin in agent mode, asking
// agentURL about the pods of the two selectors. common adds interval,
// count and the limits. No success or failure condition: the plugin sets
// each measurement's phase itself from the agent's promote.
func Metric(name, agentURL, stableSelector, canarySelector string, common map[string]any) map[string]any {
	m := map[string]any{
		"name": name,
		"provider": map[string]any{"plugin": map[string]any{PluginName: map[string]any{
			// Agent mode is the only mode of newer versions (which ignore
			// the key) and must be named in older ones.
			"analysisMode": "agent",
			"agentUrl":     agentURL,
			"stableLabel":  stableSelector,
			"canaryLabel":  canarySelector,
		}}},
	}
	for k, v := range common {
		m[k] = v
	}
	return m
}

// Analyzer is metric-ai's catalog entry. It answers nothing itself: Argo
// measures through the plugin, the plugin asks the backing analyzer at the
// endpoint's agent API, and a run's metric-ai verdicts are Argo's
// measurements. Analyze says so, as an error.
type Analyzer struct {
	// Backing answers the plugin, at <endpoint>/agents/<Backing>.
	Backing string
}

// New is the entry for a backing analyzer ("" is DefaultBacking).
func New(backing string) Analyzer {
	if backing == "" {
		backing = DefaultBacking
	}
	return Analyzer{Backing: backing}
}

// Name is "metric-ai".
func (Analyzer) Name() string { return Name }

// Analyze refuses: the plugin, run by Argo, is what answers for metric-ai.
func (a Analyzer) Analyze(context.Context, analyzer.Input) (analyzer.Verdict, error) {
	return analyzer.Verdict{}, fmt.Errorf("%s is measured by Argo through the metric-ai plugin, which asks %s at the endpoint's /agents/%s; the endpoint does not answer for it",
		Name, a.Backing, a.Backing)
}
