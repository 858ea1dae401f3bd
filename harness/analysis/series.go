package analysis

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
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

// zero is a snapshot of a process that has just started.
func zero(at time.Time, start float64) snapshot {
	return snapshot{at: at, start: start, codes: map[string]float64{}, buckets: map[float64]float64{}}
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

// series is everything known about one pod.
type series struct {
	ns, pod, hash string
	ready         bool
	restarts      int32
	seen          time.Time // last listed
	snaps         []snapshot
	err           string // last scrape error; cleared by a good scrape
}

func (s *series) add(snap snapshot) {
	s.snaps = append(s.snaps, snap)
	if n := len(s.snaps); n > 1 && snap.at.Before(s.snaps[n-2].at) {
		// A call's scrape and the loop's crossed.
		sort.SliceStable(s.snaps, func(i, j int) bool { return s.snaps[i].at.Before(s.snaps[j].at) })
	}
}

// sample sums the increases between consecutive snapshots from a baseline
// near from to the latest, as Prometheus's increase() does: a counter that
// went down was reset by a restart, so its new value is all increase.
//
// The baseline is the earlier snapshot closest to from. A pod whose process
// started less than a window before from and that has no snapshot that old
// (the first call for a young pod) gets a zero baseline at its start time,
// since a fresh process's counters start at zero; older pods without
// history yield an empty span rather than counts since process start.
func (s *series) sample(from time.Time, window time.Duration) PodSample {
	out := PodSample{Pod: s.pod, Ready: s.ready, Restarts: s.restarts, ScrapeError: s.err, Codes: map[string]float64{}}
	if len(s.snaps) == 0 {
		return out
	}
	snaps := s.snaps
	if first := snaps[0]; first.start > 0 {
		start := time.UnixMicro(int64(math.Round(first.start * 1e6)))
		if start.Before(first.at) && !start.Before(from.Add(-window)) {
			snaps = append([]snapshot{zero(start, first.start)}, snaps...)
		}
	}
	last := len(snaps) - 1
	base := last
	for i := range last {
		if base == last || absDur(snaps[i].at.Sub(from)) < absDur(snaps[base].at.Sub(from)) {
			base = i
		}
	}
	out.From, out.To = snaps[base].at, snaps[last].at

	buckets := map[float64]float64{}
	for i := base + 1; i <= last; i++ {
		prev, cur := &snaps[i-1], &snaps[i]
		if restarted(prev, cur) {
			prev = &snapshot{}
			out.Resets++
		}
		for c, v := range cur.codes {
			out.Codes[c] += v - prev.codes[c]
		}
		for ub, v := range cur.buckets {
			buckets[ub] += v - prev.buckets[ub]
		}
		out.Latencies += cur.count - prev.count
		out.LatencySum += cur.sum - prev.sum
	}
	for c, n := range out.Codes {
		out.Requests += n
		if len(c) == 3 && c[0] == '5' {
			out.Errors += n
		}
	}
	for ub, n := range buckets {
		out.Buckets = append(out.Buckets, Bucket{ub, n})
	}
	slices.SortFunc(out.Buckets, func(a, b Bucket) int { return cmp.Compare(a.UpperBound, b.UpperBound) })
	return out
}

// inSpan reports whether the series has data at or after t, so a pod
// deleted during the window still counts.
func (s *series) inSpan(t time.Time) bool {
	return len(s.snaps) > 0 && !s.snaps[len(s.snaps)-1].at.Before(t)
}

// trim drops snapshots before cutoff, keeping the newest of them as the
// baseline a window starting at cutoff needs.
func (s *series) trim(cutoff time.Time) {
	i := sort.Search(len(s.snaps), func(i int) bool { return !s.snaps[i].at.Before(cutoff) })
	if i > 1 {
		s.snaps = slices.Delete(s.snaps, 0, i-1)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
