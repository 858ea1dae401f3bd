package score

import (
	"github.com/blastradius/blastradius/harness/results"

	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAggregate(t *testing.T) {
	run := func(v results.Verdict, failed int64, detect *float64) results.Scores {
		return results.Scores{Verdict: v, BlastRadius: results.BlastRadius{FailedRequests: failed}, Timing: results.Timing{TimeToDetectSeconds: detect}}
	}
	sum := Aggregate([]results.Scores{
		run(results.VerdictDetected, 10, f(4)),
		run(results.VerdictDetected, 20, f(6)),
		run(results.VerdictMissed, 30, nil), // no time to detect: left out of that mean
	})
	assert.Equal(t, 3, sum.Runs)
	assert.Equal(t, map[results.Verdict]int{results.VerdictDetected: 2, results.VerdictMissed: 1}, sum.Verdicts)
	assert.Equal(t, Stat{N: 3, Mean: 20, StdDev: 10}, sum.FailedRequests) // sample standard deviation
	assert.Equal(t, Stat{N: 2, Mean: 5, StdDev: math.Sqrt2}, sum.TimeToDetectSeconds)

	one := Aggregate([]results.Scores{run(results.VerdictPromoted, 7, nil)})
	assert.Equal(t, Stat{N: 1, Mean: 7}, one.FailedRequests)
	assert.Equal(t, Stat{}, one.TimeToDetectSeconds)

	assert.Equal(t, Summary{Verdicts: map[results.Verdict]int{}}, Aggregate(nil))
}
