// Package agent speaks the small REST "A2A" API with which the Argo Rollouts
// metric-ai plugin, in its agent mode, asks a Kubernetes agent whether to
// promote a canary: a Client that asks such an agent, and a Handler that
// serves the same API from a Go function, so that blastradius can stand in
// for the agent when a cluster runs the real plugin.
//
// The shapes match, field by field, these public sources (read, not copied):
//
//   - argoproj-labs/rollouts-plugin-metric-ai, internal/plugin/a2a.go
//     (commit 051a919): the plugin's request and response structs, GET
//     baseURL+"/" as the health check (any HTTP answer counts as reachable),
//     POST baseURL+"/a2a/analyze" with Content-Type application/json, any
//     status but 200 an error, confidence decoded as an integer.
//   - argoproj-labs/rollouts-plugin-metric-ai, internal/plugin/ai_mode.go and
//     internal/plugin/plugin.go: who calls it, and how the answer becomes a
//     measurement (promote decides; value = confidence/100).
//   - carlossg/kubernetes-agent,
//     src/main/java/org/csanchez/adk/agents/k8sagent/a2a/A2ARequest.java and
//     A2AResponse.java: the agent's side of the same JSON (modelsToUse in the
//     request; modelResults and votingRationale in the answer, which this
//     package ignores), and A2AController.java: GET /a2a/health, POST
//     /a2a/analyze, confidence an integer 0..100, and a 500 on failure whose
//     body still claims promote=true (so a non-200 answer is never a verdict).
//
// docs/analyzers.md sums the wire format up.
package agent
