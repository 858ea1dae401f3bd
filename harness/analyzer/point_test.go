package analyzer_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/blastradius/blastradius/harness/analyzer"
)

func TestQuantile(t *testing.T) {
	bounds := []float64{0.01, 0.1, 0.5, 1}
	p := analyzer.Point{Buckets: []float64{50, 90, 99, 100}}
	for _, tc := range []struct{ q, count, want float64 }{
		{0.5, 100, 0.01},
		{0.25, 100, 0.005},
		{0.7, 100, 0.01 + 0.09*20/40},
		{0.99, 100, 0.5},
		{0.995, 100, 0.75},
		{0.99, 200, 1}, // rank in the +Inf bucket: the last finite bound
		{0.5, 0, math.NaN()},
	} {
		p.Latencies = tc.count
		got := p.Quantile(tc.q, bounds)
		if math.IsNaN(tc.want) {
			assert.True(t, math.IsNaN(got))
			continue
		}
		assert.InDelta(t, tc.want, got, 1e-9, "q=%v count=%v", tc.q, tc.count)
	}
	p = analyzer.Point{Buckets: []float64{0, 10, 10}, Latencies: 10}
	assert.InDelta(t, 0.1+0.4*9.5/10, p.Quantile(0.95, []float64{0.1, 0.5, 1}), 1e-9, "interpolates from the bucket's lower bound")
}

func TestSumAndUpto(t *testing.T) {
	ps := []analyzer.Point{
		{T: 1, Requests: 10, Errors: 1, Buckets: []float64{1, 2}, Pods: 2, Ready: 1},
		{T: 2, Requests: 20, Errors: 2, Buckets: []float64{3, 4}, Pods: 3, Ready: 3, Restarts: 1},
		{T: 3, Requests: 30, Errors: 3, Buckets: []float64{5, 6}, Pods: 1, Ready: 0},
	}
	s := analyzer.Sum(ps, 1, 3)
	assert.Equal(t, analyzer.Point{T: 3, Requests: 50, Errors: 5, Buckets: []float64{8, 10}, Pods: 1, Ready: 0, Restarts: 1}, s,
		"(1, 3]: flows add up, pods are the last step's")
	assert.InDelta(t, 0.1, s.ErrorRate(), 1e-12)
	assert.True(t, math.IsNaN(analyzer.Point{}.ErrorRate()))
	assert.Len(t, analyzer.Upto(ps, 2.5), 2)
	assert.Len(t, analyzer.Upto(ps, 0), 0)
	assert.Equal(t, 1.0, ps[0].Buckets[0], "Sum does not modify its input")
}
