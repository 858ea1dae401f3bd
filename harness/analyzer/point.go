package analyzer

import "math"

// Point is what one version's pods counted in one step, (T-Step, T].
type Point struct {
	T          float64   `json:"t"` // seconds since the trace's start: the step's end
	Requests   float64   `json:"requests"`
	Errors     float64   `json:"errors"`     // 5xx responses
	Buckets    []float64 `json:"buckets"`    // observations <= each of the trace's Bounds (cumulative over bounds)
	Latencies  float64   `json:"latencies"`  // observations in the latency histogram
	LatencySum float64   `json:"latencySum"` // seconds
	Pods       int       `json:"pods"`       // pods scraped in the step
	Ready      int       `json:"ready"`      // of which ready
	Restarts   int       `json:"restarts"`   // process restarts (counter resets) seen in the step
}

// Add sums q into p (T is kept); Buckets must share bounds.
func (p *Point) Add(q Point) {
	p.Requests += q.Requests
	p.Errors += q.Errors
	p.Latencies += q.Latencies
	p.LatencySum += q.LatencySum
	p.Pods += q.Pods
	p.Ready += q.Ready
	p.Restarts += q.Restarts
	if len(p.Buckets) < len(q.Buckets) {
		p.Buckets = append(p.Buckets, make([]float64, len(q.Buckets)-len(p.Buckets))...)
	}
	for i, n := range q.Buckets {
		p.Buckets[i] += n
	}
}

// Sum adds up the points with from < T <= to. Pods, Ready are those of the
// last point summed (a count, not a flow).
func Sum(points []Point, from, to float64) Point {
	var out Point
	for _, p := range points {
		if p.T > from && p.T <= to {
			pods, ready := p.Pods, p.Ready
			out.Add(p)
			out.Pods, out.Ready, out.T = pods, ready, p.T
		}
	}
	return out
}

// ErrorRate is Errors/Requests, NaN without requests.
func (p Point) ErrorRate() float64 {
	if p.Requests <= 0 {
		return math.NaN()
	}
	return p.Errors / p.Requests
}

// MeanLatency is LatencySum/Latencies in seconds, NaN without observations.
func (p Point) MeanLatency() float64 {
	if p.Latencies <= 0 {
		return math.NaN()
	}
	return p.LatencySum / p.Latencies
}

// Quantile estimates the q-quantile of the point's latency histogram,
// interpolating linearly within the bucket as Prometheus's
// histogram_quantile does (the first bucket starts at 0). A rank beyond the
// last finite bound yields that bound. No observations: NaN.
func (p Point) Quantile(q float64, bounds []float64) float64 {
	if p.Latencies <= 0 {
		return math.NaN()
	}
	rank := q * p.Latencies
	lower, below := 0.0, 0.0
	for i, ub := range bounds {
		if i >= len(p.Buckets) {
			break
		}
		c := p.Buckets[i]
		if c >= rank {
			if c == below {
				return ub
			}
			return lower + (ub-lower)*(rank-below)/(c-below)
		}
		lower, below = ub, c
	}
	return lower
}

// Upto returns the prefix of points with T <= t (points are in T order).
func Upto(points []Point, t float64) []Point {
	i := 0
	for i < len(points) && points[i].T <= t {
		i++
	}
	return points[:i]
}
