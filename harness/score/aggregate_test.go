package score

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAggregate(t *testing.T) {
	run := func(v Verdict, failed int64, detect *float64) Scores {
		return Scores{Verdict: v, BlastRadius: BlastRadius{FailedRequests: failed}, Timing: Timing{TimeToDetectSeconds: detect}}
	}
	sum := Aggregate([]Scores{
		run(VerdictDetected, 10, f(4)),
		run(VerdictDetected, 20, f(6)),
		run(VerdictMissed, 30, nil), // no time to detect: left out of that mean
	})
	assert.Equal(t, 3, sum.Runs)
	assert.Equal(t, map[Verdict]int{VerdictDetected: 2, VerdictMissed: 1}, sum.Verdicts)
	assert.Equal(t, Stat{N: 3, Mean: 20, StdDev: 10}, sum.FailedRequests) // sample standard deviation
	assert.Equal(t, Stat{N: 2, Mean: 5, StdDev: math.Sqrt2}, sum.TimeToDetectSeconds)

	one := Aggregate([]Scores{run(VerdictPromoted, 7, nil)})
	assert.Equal(t, Stat{N: 1, Mean: 7}, one.FailedRequests)
	assert.Equal(t, Stat{}, one.TimeToDetectSeconds)

	assert.Equal(t, Summary{Verdicts: map[Verdict]int{}}, Aggregate(nil))
}
