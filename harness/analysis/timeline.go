package analysis

import (
	"slices"
	"time"

	"github.com/blastradius/blastradius/harness/analyzer"
)

// timeline is one namespace's series: per pod-template hash, the points
// its pods counted, from the namespace's first scrape on. Every pod of a
// collect shares its time, so both versions' points line up.
type timeline struct {
	start  time.Time
	bounds []float64
	points map[string][]analyzer.Point // by hash, T ascending
	last   time.Time                   // the latest collect
	calls  []float64                   // analysis times, seconds since start
	// contexts are what the external analyzers were shown, per call that
	// read one.
	contexts []analyzer.Context
}

func newTimeline(start time.Time) *timeline {
	return &timeline{start: start, points: map[string][]analyzer.Point{}}
}

// t is the trace time of at: seconds since start, to the millisecond.
func (tl *timeline) t(at time.Time) float64 {
	return float64(at.Sub(tl.start).Milliseconds()) / 1000
}

// add counts p into hash's point at time at, merging with a point of the
// same time (a call's collect and the loop's can coincide).
func (tl *timeline) add(hash string, at time.Time, p analyzer.Point) {
	p.T = tl.t(at)
	ps := tl.points[hash]
	i, found := slices.BinarySearchFunc(ps, p.T, func(q analyzer.Point, t float64) int {
		switch {
		case q.T < t:
			return -1
		case q.T > t:
			return 1
		}
		return 0
	})
	if found {
		ps[i].Add(p)
		return
	}
	tl.points[hash] = slices.Insert(ps, i, p)
}

// input is what the analyzers see at time to, for the two hashes.
func (tl *timeline) input(to time.Time, candidate, stable string, params Params) Input {
	now := tl.t(to)
	return Input{
		Now: now, Bounds: tl.bounds,
		Candidate: slices.Clone(analyzer.Upto(tl.points[candidate], now)),
		Stable:    slices.Clone(analyzer.Upto(tl.points[stable], now)),
		Params:    params.WithDefaults(),
	}
}

// prune drops points before cutoff.
func (tl *timeline) prune(cutoff time.Time) {
	c := tl.t(cutoff)
	for h, ps := range tl.points {
		i := 0
		for i < len(ps) && ps[i].T < c {
			i++
		}
		if i == len(ps) {
			delete(tl.points, h)
			continue
		}
		tl.points[h] = slices.Delete(ps, 0, i)
	}
}
