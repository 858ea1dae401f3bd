package score

import (
	"math"

	"github.com/blastradius/blastradius/harness/results"
)

// Stat is the mean and sample standard deviation of N values; the standard
// deviation is 0 for fewer than two values, the mean 0 for none.
type Stat struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stdDev"`
}

// Summary sums up the repetitions of one group (the same scenario, strategy
// and version pair run several times) so that a report can tell a change
// from noise.
type Summary struct {
	Runs     int                     `json:"runs"`
	Verdicts map[results.Verdict]int `json:"verdicts"`
	// FailedRequests is over every run; TimeToDetectSeconds only over the
	// runs where it is defined (its N says how many).
	FailedRequests      Stat `json:"failedRequests"`
	TimeToDetectSeconds Stat `json:"timeToDetectSeconds"`
}

// Aggregate summarizes the runs of one group; call it once per group.
func Aggregate(runs []results.Scores) Summary {
	sum := Summary{Runs: len(runs), Verdicts: map[results.Verdict]int{}}
	var failed, detect []float64
	for _, r := range runs {
		sum.Verdicts[r.Verdict]++
		failed = append(failed, float64(r.BlastRadius.FailedRequests))
		if d := r.Timing.TimeToDetectSeconds; d != nil {
			detect = append(detect, *d)
		}
	}
	sum.FailedRequests = stat(failed)
	sum.TimeToDetectSeconds = stat(detect)
	return sum
}

// stat uses the sample (n-1) standard deviation: repetitions are a sample
// of the run-to-run noise, not the whole population.
func stat(xs []float64) Stat {
	s := Stat{N: len(xs)}
	if s.N == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N < 2 {
		return s
	}
	var ss float64
	for _, x := range xs {
		ss += (x - s.Mean) * (x - s.Mean)
	}
	s.StdDev = math.Sqrt(ss / float64(s.N-1))
	return s
}
