// Package analysis is the endpoint that Argo Rollouts' web metric provider
// calls during a rollout's analysis, and the catalog of analyzers it serves.
// The Server scrapes the pods of watched namespaces every ScrapeInterval,
// turns each pod's counters into per-step deltas summed per version
// (pod-template hash), and hands those series (an analyzer.Input) to the
// named analyzer, whose Verdict goes back to Argo as JSON. Every other
// analyzer answers the same Input in shadow, and the series are kept as
// the run's analysis trace for offline replay.
package analysis

import (
	"github.com/blastradius/blastradius/harness/analyzer"
)

// Verdicts, as Argo's success and failure conditions test them.
const (
	Pass         = analyzer.Pass
	Fail         = analyzer.Fail
	Inconclusive = analyzer.Inconclusive
)

// HashLabel is the label Argo puts on every pod of a Rollout's ReplicaSet.
const HashLabel = "rollouts-pod-template-hash"

// The demo app's metrics (demoapp.MetricRequests, demoapp.MetricDuration).
const (
	MetricRequests = "demoapp_http_requests_total"
	MetricDuration = "demoapp_http_request_duration_seconds"
	metricStart    = "process_start_time_seconds"
)

// The seam's types, from harness/analyzer.
type (
	Analyzer = analyzer.Analyzer
	Verdict  = analyzer.Verdict
	Params   = analyzer.Params
	Input    = analyzer.Input
)
