package threshold_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis/threshold"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

func input(points ...analyzer.Point) analyzer.Input {
	p := analyzer.Defaults
	p.MaxErrorRate, p.MaxP99 = 0, 0
	return analyzer.Input{Now: 10, Step: 1, Bounds: []float64{1, 10}, Candidate: points, Params: p}
}

func TestDisabledLatency(t *testing.T) {
	in := input(analyzer.Point{T: 5, Requests: 100, Latencies: 100, Buckets: []float64{0, 0}, Pods: 1})
	v, err := threshold.New().Analyze(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, analyzer.Pass, v.Verdict, "p99 10s, but maxP99 0 is no threshold")
	assert.Equal(t, 10.0, v.P99)
	assert.Empty(t, v.Category, "a pass names no cause")
	in.Candidate[0].Errors = 1
	v, _ = threshold.New().Analyze(context.Background(), in)
	assert.Equal(t, analyzer.Fail, v.Verdict, "maxErrorRate 0: any error fails")
	assert.Equal(t, results.RootCauseErrorRate, v.Category)
}

// A fail names the limit that tripped: the error rate first, else the p99.
func TestCategory(t *testing.T) {
	in := input(analyzer.Point{T: 5, Requests: 100, Latencies: 100, Buckets: []float64{100, 100}, Pods: 1})
	in.Params.MaxErrorRate, in.Params.MaxP99 = 0.05, 2*time.Second
	v := threshold.Judge(in, 20)
	assert.Equal(t, analyzer.Pass, v.Verdict, "p99 at most 1s")
	in.Candidate[0].Buckets = []float64{0, 0}
	v = threshold.Judge(in, 20)
	assert.Equal(t, analyzer.Fail, v.Verdict, "p99 10s")
	assert.Equal(t, results.RootCauseLatency, v.Category)
	in.Candidate[0].Errors = 10
	v = threshold.Judge(in, 20)
	assert.Equal(t, analyzer.Fail, v.Verdict)
	assert.Equal(t, results.RootCauseErrorRate, v.Category, "both tripped: the error rate")
	assert.Contains(t, v.Explanation, "error rate 10.00% (10/100) > 5.00%; p99")
}

func TestWindowAndMinimum(t *testing.T) {
	in := input(
		analyzer.Point{T: 0, Requests: 1000, Errors: 1000}, // before the window
		analyzer.Point{T: 5, Requests: 15, Errors: 0, Pods: 2},
	)
	in.Params.MaxErrorRate = 0.1
	in.Params.Window = 10 * time.Second
	v := threshold.Judge(in, 20)
	assert.Equal(t, analyzer.Inconclusive, v.Verdict, "15 requests in (0, 10]")
	assert.Contains(t, v.Explanation, "15 requests over 10s on 2 candidate pods, need 20")
	v = threshold.Judge(in, 10)
	assert.Equal(t, analyzer.Pass, v.Verdict)
	assert.Equal(t, 15.0, v.Requests)
}
