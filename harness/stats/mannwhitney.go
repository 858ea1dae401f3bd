package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MannWhitneyResult is the two-sample Mann-Whitney U (Wilcoxon rank-sum)
// test of x against y, two-sided, with R's wilcox.test(x, y, conf.int =
// TRUE, exact = FALSE, correct = TRUE) for reference.
type MannWhitneyResult struct {
	// U is the Mann-Whitney statistic of x: the pairs with x[i] > y[j],
	// plus half the pairs with x[i] == y[j] (R reports it as W).
	U float64
	// Z is U's normal score with the tie and continuity corrections.
	Z float64
	// PValue is the two-sided p-value of the normal approximation. When
	// every observation is tied R gives NaN; this gives 1 (no evidence of
	// a shift).
	PValue float64
	// Estimate is the Hodges-Lehmann estimate of the location shift x − y:
	// the median of the pairwise differences x[i] − y[j].
	Estimate float64
	// Lower and Upper bound the confidence interval of the shift at the
	// requested level (the asymptotic interval R finds by root finding).
	Lower, Upper float64
}

// MannWhitney tests whether x is shifted against y, as Kayenta's
// MannWhitney (kayenta-mannwhitney, a port of R's wilcox.test) does for
// NetflixACAJudge: the normal approximation with tie and continuity
// corrections, the Hodges-Lehmann estimate, and the confidence interval at
// confLevel (0 < confLevel < 1).
//
// R and Kayenta find the interval's ends by Brent's method on a step
// function of the shift d, so they return a point within the root-finding
// tolerance (1e-4) of a jump. The jumps are at pairwise differences, so
// this returns the difference itself: the ends are order statistics of the
// pairwise differences, found by selection without building all n·m of
// them (O((n+m)·log) time). R's checks at the ends of the search range,
// min(x)−max(y) and max(x)−min(y), are kept as R makes them.
//
// Two cases R cannot answer get the only sensible answer: when x and y
// are each constant (every pairwise difference is the same, so R's interval
// search meets all-tied ranks; Kayenta adds random noise instead) the
// estimate and both ends are that difference. The estimate is the exact
// median of differences, which R's uniroot approximates (R does the search
// without continuity correction; Kayenta keeps the correction, which moves
// its estimate by at most half a jump).
//
// Errors: an empty sample, a NaN or infinite value, or a level outside
// (0, 1).
func MannWhitney(x, y []float64, confLevel float64) (MannWhitneyResult, error) {
	var r MannWhitneyResult
	switch {
	case len(x) == 0 || len(y) == 0:
		return r, errors.New("mann-whitney: empty sample")
	case !(confLevel > 0 && confLevel < 1):
		return r, fmt.Errorf("mann-whitney: confidence level %v not in (0, 1)", confLevel)
	}
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return r, fmt.Errorf("mann-whitney: x holds %v", v)
		}
	}
	for _, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return r, fmt.Errorf("mann-whitney: y holds %v", v)
		}
	}
	xs, ys := slices.Clone(x), slices.Clone(y)
	slices.Sort(xs)
	slices.Sort(ys)
	n, m := float64(len(xs)), float64(len(ys))
	N := len(xs) * len(ys)

	// The test at shift 0.
	rankSum, ties := rankAt(xs, ys, 0)
	r.U = rankSum - n*(n+1)/2
	sigma := tieSigma(n, m, ties)
	dz := r.U - n*m/2
	if sigma > 0 {
		r.Z = (dz - 0.5*sign(dz)) / sigma
		r.PValue = math.Erfc(math.Abs(r.Z) / math.Sqrt2)
	} else {
		r.PValue = 1
	}

	// Hodges-Lehmann: the median of the N differences.
	s := diffSelector{xs: xs, ys: ys}
	r.Estimate = s.kth((N + 1) / 2)
	if N%2 == 0 {
		if c, _, above := s.pass(r.Estimate); c < N/2+1 {
			r.Estimate = (r.Estimate + above) / 2
		}
	}

	lo, hi := xs[0]-ys[len(ys)-1], xs[len(xs)-1]-ys[0]
	if xs[0] == xs[len(xs)-1] && ys[0] == ys[len(ys)-1] {
		r.Lower, r.Upper = lo, lo
		return r, nil
	}
	// Off the jumps, ties are only within x and within y: σ is the same
	// for every shift, and W is U−nm/2 with U counting differences > d.
	sigma0 := tieSigma(n, m, ownTies(xs)+ownTies(ys))
	zq := -NormalQuantile((1 - confLevel) / 2)
	root := func(zq float64) float64 {
		if wilcoxDiff(xs, ys, lo, zq) <= 0 {
			return lo
		}
		if wilcoxDiff(xs, ys, hi, zq) >= 0 {
			return hi
		}
		// The first difference after which (dz − ½sign(dz))/σ ≤ zq, that
		// is U ≤ N/2 + zq·σ + ½sign(zq): the k-th smallest difference.
		umax := math.Floor(float64(N)/2 + zq*sigma0 + 0.5*sign(zq))
		k := N - int(umax)
		return s.kth(min(max(k, 1), N))
	}
	r.Lower, r.Upper = root(zq), root(-zq)
	return r, nil
}

// wilcoxDiff is R's wdiff(d, zq): the corrected normal score of x − d
// against y, ties included, less zq. NaN when every observation ties.
func wilcoxDiff(xs, ys []float64, d, zq float64) float64 {
	n, m := float64(len(xs)), float64(len(ys))
	rankSum, ties := rankAt(xs, ys, d)
	dz := rankSum - n*(n+1)/2 - n*m/2
	sigma := tieSigma(n, m, ties)
	if sigma == 0 {
		return math.NaN()
	}
	return (dz-0.5*sign(dz))/sigma - zq
}

// rankAt ranks the sorted x − d and sorted y together (ties get their
// average rank) and returns the rank sum of x and Σ(t³−t) over the tie
// groups.
func rankAt(xs, ys []float64, d float64) (rankSum, ties float64) {
	i, j, rank := 0, 0, 0.0
	for i < len(xs) || j < len(ys) {
		var v float64
		switch {
		case j == len(ys):
			v = xs[i] - d
		case i == len(xs):
			v = ys[j]
		default:
			v = min(xs[i]-d, ys[j])
		}
		cx, cy := 0, 0
		for i < len(xs) && xs[i]-d == v {
			i, cx = i+1, cx+1
		}
		for j < len(ys) && ys[j] == v {
			j, cy = j+1, cy+1
		}
		t := float64(cx + cy)
		rankSum += float64(cx) * (rank + (t+1)/2)
		ties += t*t*t - t
		rank += t
	}
	return rankSum, ties
}

// ownTies is Σ(t³−t) over the tie groups of one sorted sample.
func ownTies(s []float64) float64 {
	ties := 0.0
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && s[j] == s[i] {
			j++
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	return ties
}

// tieSigma is the standard deviation of U under the null, tie-corrected.
func tieSigma(n, m, ties float64) float64 {
	v := n * m / 12 * ((n + m + 1) - ties/((n+m)*(n+m-1)))
	if !(v > 0) { // n+m == 1 gives 0/0
		return 0
	}
	return math.Sqrt(v)
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// diffSelector finds order statistics of the pairwise differences
// xs[i] − ys[j] of two sorted samples without materialising them.
type diffSelector struct{ xs, ys []float64 }

// pass counts the differences ≤ t and returns the largest difference ≤ t
// (−Inf if none) and the smallest one > t (+Inf if none). Row i's
// differences fall as j rises, and the first j with a difference ≤ t does
// not fall as i rises, so one sweep does it, comparing the differences
// exactly as they are computed.
func (s diffSelector) pass(t float64) (count int, below, above float64) {
	below, above = math.Inf(-1), math.Inf(1)
	m, j := len(s.ys), 0
	for _, x := range s.xs {
		for j < m && x-s.ys[j] > t {
			j++
		}
		count += m - j
		if j < m {
			below = max(below, x-s.ys[j])
		}
		if j > 0 {
			above = min(above, x-s.ys[j-1])
		}
	}
	return count, below, above
}

// kth is the k-th smallest difference, 1 ≤ k ≤ len(xs)·len(ys). It
// bisects on the value, snapping each bound to a difference, so every
// round removes at least one difference from (next, hi]: it ends, after
// about log2(n·m) rounds on ordinary data.
func (s diffSelector) kth(k int) float64 {
	next := s.xs[0] - s.ys[len(s.ys)-1] // smallest difference not yet excluded below
	hi := s.xs[len(s.xs)-1] - s.ys[0]   // a difference with ≥ k differences ≤ it
	for next < hi {
		mid := next + (hi-next)/2
		if mid >= hi {
			mid = next
		}
		c, below, above := s.pass(mid)
		if c >= k {
			hi = below
		} else {
			next = above
		}
	}
	return hi
}
