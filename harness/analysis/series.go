package analysis

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/blastradius/blastradius/harness/analyzer"
)

// snapshot is one scrape of one pod: the counters as they stood at a time.
type snapshot struct {
	at      time.Time
	start   float64            // process start, Unix seconds; 0 if unknown
	codes   map[string]float64 // requests by code
	buckets map[float64]float64
	count   float64 // histogram observations
	sum     float64
}

// parseMetrics reads the counters the analyzers need from a text exposition.
// Missing families count as zero: a pod that has served nothing yet.
func parseMetrics(r io.Reader, at time.Time) (snapshot, error) {
	s := snapshot{at: at, codes: map[string]float64{}, buckets: map[float64]float64{}}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return s, fmt.Errorf("parse metrics: %w", err)
	}
	if f := fams[MetricRequests]; f != nil {
		for _, m := range f.GetMetric() {
			code := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" {
					code = l.GetValue()
				}
			}
			s.codes[code] += m.GetCounter().GetValue()
		}
	}
	if f := fams[MetricDuration]; f != nil {
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			s.count += float64(h.GetSampleCount())
			s.sum += h.GetSampleSum()
			for _, b := range h.GetBucket() {
				if !math.IsInf(b.GetUpperBound(), 1) {
					s.buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
				}
			}
		}
	}
	if f := fams[metricStart]; f != nil && len(f.GetMetric()) > 0 {
		s.start = f.GetMetric()[0].GetGauge().GetValue()
	}
	return s, nil
}

// restarted reports whether cur comes from a later process than prev: the
// start time moved, or any counter went down.
func restarted(prev, cur *snapshot) bool {
	if prev.start != 0 && cur.start != 0 && math.Abs(cur.start-prev.start) > 0.01 {
		return true
	}
	if cur.count < prev.count || cur.sum < prev.sum {
		return true
	}
	for c, v := range prev.codes {
		if cur.codes[c] < v {
			return true
		}
	}
	for ub, v := range prev.buckets {
		if cur.buckets[ub] < v {
			return true
		}
	}
	return false
}

// pod is what is known about one pod: its last good scrape, the baseline
// of the next delta.
type pod struct {
	ns, name, hash string
	ready          bool
	restarts       int32
	seen           time.Time // last listed
	last           *snapshot
	err            string // last scrape error; cleared by a good scrape
}

// delta is what the pod counted between its last scrape and cur, on the
// given bounds, as Prometheus's increase() sees it: a counter that went
// down was reset by a restart, so its new value is all increase. A pod
// scraped for the first time counts from zero only if its process started
// after young (it has served nothing the series missed); otherwise its
// first scrape is a baseline and counts nothing.
func (p *pod) delta(cur snapshot, bounds []float64, young time.Time) (analyzer.Point, bool) {
	prev := p.last
	restarts := 0
	switch {
	case prev == nil && cur.start > 0 && !time.UnixMicro(int64(math.Round(cur.start*1e6))).Before(young):
		prev = &snapshot{}
	case prev == nil:
		return analyzer.Point{}, false
	case restarted(prev, &cur):
		prev, restarts = &snapshot{}, 1
	}
	out := analyzer.Point{Restarts: restarts, Buckets: make([]float64, len(bounds))}
	for c, v := range cur.codes {
		n := v - prev.codes[c]
		out.Requests += n
		if len(c) == 3 && c[0] == '5' {
			out.Errors += n
		}
	}
	for i, ub := range bounds {
		out.Buckets[i] = cur.buckets[ub] - prev.buckets[ub]
	}
	out.Latencies = cur.count - prev.count
	out.LatencySum = cur.sum - prev.sum
	return out, true
}

// bounds lists a snapshot's finite bucket bounds, ascending.
func (s *snapshot) bounds() []float64 { return slices.Sorted(maps.Keys(s.buckets)) }
