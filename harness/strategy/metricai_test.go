package strategy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/strategy"
)

// TestMetricAITemplate: metric-ai's template has the metric-ai plugin's
// metric in agent mode, its agentUrl the endpoint's agent API for the
// backing analyzer, the selectors pinning each version's pod-template hash
// (which the endpoint's agent API needs), no conditions (the plugin sets
// the phase), and passes the CRD schema.
func TestMetricAITemplate(t *testing.T) {
	schema := loadCRDSchema(t, "analysis-template-crd.yaml")
	for _, name := range []string{strategy.CanaryAnalysis, strategy.CanaryStepAnalysis, strategy.BlueGreenAnalysis} {
		p := params(name, candidateImage)
		p.Analysis.Analyzer, p.Analysis.AgentPath = "metric-ai", "/agents/threshold"
		objs := render(t, name, p)
		tmpl := objs[len(objs)-2]
		require.Equal(t, "AnalysisTemplate", tmpl.GetKind())
		assert.Equal(t, "demo-metric-ai", tmpl.GetName())
		metrics := nested(t, tmpl, "spec", "metrics").([]any)
		require.Len(t, metrics, 1)
		m := metrics[0].(map[string]any)
		assert.Equal(t, strategy.MetricName, m["name"])
		assert.Equal(t, map[string]any{"plugin": map[string]any{"argoproj-labs/metric-ai": map[string]any{
			"analysisMode": "agent",
			"agentUrl":     "{{args.url}}/agents/threshold",
			"stableLabel":  "app=demo,rollouts-pod-template-hash={{args.stable-hash}}",
			"canaryLabel":  "app=demo,rollouts-pod-template-hash={{args.canary-hash}}",
		}}}, m["provider"])
		assert.NotContains(t, m, "successCondition")
		assert.NotContains(t, m, "failureCondition")
		assert.Equal(t, "5s", m["interval"])
		assert.EqualValues(t, p.Analysis.FailureLimit, m["failureLimit"])
		argoMetricRules(t, m)
		for _, e := range check("AnalysisTemplate.spec", tmpl.Object["spec"], schema.Properties["spec"]) {
			t.Errorf("%s: %s", name, e)
		}
		// The Rollout passes the endpoint and both hashes, as for web.
		ro := workload(objs)
		assert.Contains(t, yaml2(t, ro), "podTemplateHashValue: Stable")
		assert.Contains(t, yaml2(t, ro), "value: http://127.0.0.1:34567")
	}
}
