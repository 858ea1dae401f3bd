// Package prometheus is the analyzer teams use most with Argo Rollouts:
// Argo's own prometheus provider running PromQL against a real Prometheus,
// with success and failure conditions in the AnalysisTemplate. Argo talks to
// Prometheus directly; this package writes the template's metrics the way a
// user would, and replays the same queries' arithmetic on a trace for the
// shadow verdicts and the offline bench.
package prometheus

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/blastradius/blastradius/harness/analysis/threshold"
	"github.com/blastradius/blastradius/harness/analyzer"
)

// Name is the analyzer's catalog name.
const Name = "prometheus"

// The template's metric names.
const (
	MetricErrorRate = "error-rate"
	MetricP99       = "p99-latency"
)

// Range is the PromQL range of the queries: the scenario's window, but at
// least four scrape intervals, so that rate() always has samples to work
// with (the usual advice for rate ranges).
func Range(p analyzer.Params) time.Duration {
	return max(p.Window, 4*p.ScrapeInterval)
}

// Selector picks the candidate's series: the argument placeholders are
// Argo's, filled in per AnalysisRun.
func Selector(nsArg, hashArg string) string {
	return fmt.Sprintf(`namespace="{{args.%s}}",rollouts_pod_template_hash="{{args.%s}}"`, nsArg, hashArg)
}

// Queries are the error-rate and p99 queries. Both are scalars, NaN when the
// candidate served fewer than MinRequests requests in the range, so Argo
// records an inconclusive measurement rather than an error or a pass on no
// data.
func Queries(p analyzer.Params, selector string) (errorRate, p99 string) {
	r := promDuration(Range(p))
	enough := fmt.Sprintf(`sum(increase(demoapp_http_requests_total{%s}[%s])) >= %d`, selector, r, max(p.MinRequests, 1))
	errorRate = fmt.Sprintf(`scalar(sum(increase(demoapp_http_requests_total{%s,code=~"5.."}[%s])) or vector(0)) / scalar(%s)`,
		selector, r, enough)
	p99 = fmt.Sprintf(`scalar(histogram_quantile(0.99, sum by (le) (rate(demoapp_http_request_duration_seconds_bucket{%s}[%s]))) and on() (%s))`,
		selector, r, enough)
	return errorRate, p99
}

// Metrics are the AnalysisTemplate's metrics: error rate and, when MaxP99 is
// set, p99 latency, each with success and failure conditions (NaN meets
// neither: inconclusive), measured every interval.
func Metrics(p analyzer.Params, address, selector string, common map[string]any) []any {
	errQ, p99Q := Queries(p, selector)
	metric := func(name, query, limit string) map[string]any {
		m := map[string]any{
			"name":             name,
			"successCondition": "result <= " + limit,
			"failureCondition": "result > " + limit,
			"provider": map[string]any{"prometheus": map[string]any{
				"address": address, "query": query, "timeout": int64(10),
			}},
		}
		for k, v := range common {
			m[k] = v
		}
		return m
	}
	out := []any{metric(MetricErrorRate, errQ, strconv.FormatFloat(p.MaxErrorRate, 'f', -1, 64))}
	if p.MaxP99 > 0 {
		out = append(out, metric(MetricP99, p99Q, strconv.FormatFloat(p.MaxP99.Seconds(), 'f', -1, 64)))
	}
	return out
}

// promDuration writes d in PromQL's duration syntax (whole milliseconds).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// Analyzer replays the template's queries on a trace: the candidate's
// increase over the range, the same limits and the same NaN rule. It is
// what the shadow verdicts and the bench use; a live run gated by
// prometheus is judged by Argo on Prometheus's data.
type Analyzer struct{}

// New returns the replaying analyzer.
func New() analyzer.Analyzer { return Analyzer{} }

// Name is "prometheus".
func (Analyzer) Name() string { return Name }

// Analyze evaluates both metrics over the range ending at Now; either
// failing fails the measurement, as Argo fails the run on either metric.
func (Analyzer) Analyze(_ context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	in.Params.Window = Range(in.Params)
	return threshold.Judge(in, in.Params.MinRequests), nil
}
