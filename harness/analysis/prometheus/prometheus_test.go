package prometheus_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis/prometheus"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

func TestQueries(t *testing.T) {
	p := analyzer.Defaults
	p.Window, p.ScrapeInterval, p.MinRequests = 10*time.Second, 5*time.Second, 20
	assert.Equal(t, 20*time.Second, prometheus.Range(p), "four scrape intervals at least")
	sel := prometheus.Selector("namespace", "canary-hash")
	errQ, p99Q := prometheus.Queries(p, sel)
	assert.Equal(t, `scalar(sum(increase(demoapp_http_requests_total{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}",code=~"5.."}[20s])) or vector(0)) / scalar(sum(increase(demoapp_http_requests_total{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}"}[20s])) >= 20)`, errQ)
	assert.Contains(t, p99Q, `histogram_quantile(0.99, sum by (le) (rate(demoapp_http_request_duration_seconds_bucket{namespace="{{args.namespace}}"`)
	assert.Contains(t, p99Q, `and on() (sum(increase(`)

	ms := prometheus.Metrics(p, "http://127.0.0.1:9090", sel, map[string]any{"interval": "5s"})
	require.Len(t, ms, 2)
	m := ms[0].(map[string]any)
	assert.Equal(t, "error-rate", m["name"])
	assert.Equal(t, "result <= 0.05", m["successCondition"])
	assert.Equal(t, "result > 0.05", m["failureCondition"])
	assert.Equal(t, "5s", m["interval"])
	assert.Equal(t, "result <= 1", ms[1].(map[string]any)["successCondition"])
	p.MaxP99 = 0
	assert.Len(t, prometheus.Metrics(p, "x", sel, nil), 1, "no p99 limit, no p99 metric")
}

func TestReplayUsesTheQueryRange(t *testing.T) {
	p := analyzer.Defaults
	p.Window, p.ScrapeInterval, p.MinRequests, p.MaxErrorRate = 10*time.Second, 5*time.Second, 20, 0.05
	in := analyzer.Input{Now: 30, Step: 1, Bounds: []float64{1}, Params: p, Candidate: []analyzer.Point{
		{T: 12, Requests: 100, Errors: 12, Buckets: []float64{100}, Latencies: 100},
		{T: 25, Requests: 100, Errors: 0, Buckets: []float64{100}, Latencies: 100},
	}}
	v, err := prometheus.New().Analyze(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, analyzer.Fail, v.Verdict, "the 20 s range reaches the errors at 12 s")
	assert.InDelta(t, 0.06, v.Value, 1e-9)
	assert.Equal(t, results.RootCauseErrorRate, v.Category)
	p.MinRequests = 500
	in.Params = p
	v, _ = prometheus.New().Analyze(context.Background(), in)
	assert.Equal(t, analyzer.Inconclusive, v.Verdict, "too few requests: the query is NaN")
}
