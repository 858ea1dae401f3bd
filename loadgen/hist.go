package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits sets the histogram's precision: each power of two is split
// into 2^histSubBits buckets, so a bucket spans at most 1/128 of its values.
const histSubBits = 7

// histogram is a fixed-precision log-linear latency histogram in the style of
// HDR histograms: constant memory (at most ~4,600 counters for latencies up to
// an hour), O(1) inserts, quantiles within 0.4% relative error (exact at the
// observed minimum and maximum).
type histogram struct {
	counts   []uint64
	n        uint64
	min, max time.Duration
}

func histIndex(v uint64) int {
	if v < 1<<(histSubBits+1) {
		return int(v)
	}
	s := bits.Len64(v) - (histSubBits + 1)
	return s<<histSubBits + int(v>>s)
}

// histRange is the half-open range [lo, lo+width) of bucket i.
func histRange(i int) (lo, width uint64) {
	if i < 1<<(histSubBits+1) {
		return uint64(i), 1
	}
	s := i>>histSubBits - 1
	m := uint64(i - s<<histSubBits)
	return m << s, 1 << s
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := histIndex(uint64(d))
	if i >= len(h.counts) {
		n := max(i+1, 2*len(h.counts), 1024)
		c := make([]uint64, n)
		copy(c, h.counts)
		h.counts = c
	}
	h.counts[i]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1): the
// ceil(q*n)-th smallest value, exact for the smallest and largest, otherwise
// the midpoint of its bucket clamped to the observed range.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	switch rank {
	case 1:
		return h.min
	case h.n:
		return h.max
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			lo, w := histRange(i)
			v := time.Duration(lo + w/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// NearestRank returns the nearest-rank q-quantile of sorted values, 0 for
// none: the one percentile definition of the load generator and the scores.
func NearestRank(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
