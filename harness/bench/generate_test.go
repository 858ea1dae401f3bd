package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

func generate(t testing.TB, cases int, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	c, err := Generate(&b, cases, seed)
	require.NoError(t, err)
	require.Equal(t, cases, c.Good+c.Bad)
	return b.Bytes()
}

func TestGenerateReproducible(t *testing.T) {
	a, b := generate(t, 60, 7), generate(t, 60, 7)
	assert.True(t, bytes.Equal(a, b), "same seed, same bytes")
	assert.False(t, bytes.Equal(a, generate(t, 60, 8)), "another seed, other traces")

	// case i does not depend on how many cases there are
	short := bytes.SplitAfter(generate(t, 25, 7), []byte("\n"))
	long := bytes.SplitAfter(a, []byte("\n"))
	for i := range 25 {
		require.Equal(t, string(long[i]), string(short[i]), "case %d", i)
	}
	one, err := json.Marshal(Synthesize(7, 40))
	require.NoError(t, err)
	assert.Equal(t, string(long[40]), string(one)+"\n")
}

// Every generated trace reads back through the strict codec, and its ground
// truth, labels and series say what the model says.
func TestGenerateGroundTruth(t *testing.T) {
	const n = 800
	path := filepath.Join(t.TempDir(), "c.ndjson")
	require.NoError(t, os.WriteFile(path, generate(t, n, 3), 0o644))

	type sums struct{ extra, expected, requests float64 }
	byModel := map[string]int{}
	steady := sums{}
	read := 0
	require.NoError(t, analyzer.ReadTraces(path, func(tr *analyzer.Trace) error {
		read++
		m := tr.Labels["model"]
		byModel[m]++
		inc, err := strconv.ParseFloat(tr.Labels["errorIncrease"], 64)
		require.NoError(t, err, tr.ID)
		assert.Equal(t, demoapp.DurationBuckets, tr.Bounds)
		assert.Equal(t, analyzer.SourceSynthetic, tr.Source)
		assert.Equal(t, 1.0, tr.Step)
		assert.Len(t, tr.Analyses, tr.Loop.InconclusiveLimit+1)
		assert.Equal(t, 1, tr.Loop.FailureLimit)
		for i, at := range tr.Analyses {
			assert.Equal(t, lead+interval*float64(i+1), at)
		}
		assert.Equal(t, tr.Analyses[len(tr.Analyses)-1], tr.Stable[len(tr.Stable)-1].T)
		want := map[string]results.RootCause{"identical": results.RootCauseNone, "blips": results.RootCauseNone, "restart": results.RootCauseNone,
			"steady": results.RootCauseErrorRate, "late": results.RootCauseErrorRate, "bursty": results.RootCauseErrorRate,
			"segment": results.RootCauseUserSegment, "latency": results.RootCauseLatency, "crashloop": results.RootCauseCrash}[m]
		assert.Equal(t, want, tr.RootCause, "%s: %s", tr.ID, m)
		switch m {
		case "identical", "blips", "restart":
			assert.Equal(t, results.Good, tr.GroundTruth, tr.ID)
			assert.Zero(t, inc, tr.ID)
			assert.Nil(t, tr.Onset)
			assert.Empty(t, tr.Labels["latencyFactor"])
		case "latency":
			assert.Equal(t, results.Bad, tr.GroundTruth, tr.ID)
			assert.Zero(t, inc)
			f, err := strconv.ParseFloat(tr.Labels["latencyFactor"], 64)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, f, 2.0)
		default:
			assert.Equal(t, results.Bad, tr.GroundTruth, tr.ID)
			assert.GreaterOrEqual(t, inc, 0.005, tr.ID)
			assert.LessOrEqual(t, inc, 0.2, tr.ID)
		}
		if m == "late" {
			require.NotNil(t, tr.Onset, tr.ID)
			assert.Greater(t, *tr.Onset, Onset(&analyzer.Trace{Candidate: tr.Candidate, Step: tr.Step}))
		} else {
			assert.Nil(t, tr.Onset, tr.ID)
		}
		restarts := 0
		for _, p := range tr.Candidate {
			restarts += p.Restarts
			assert.Equal(t, p.Requests, p.Latencies)
			for i := 1; i < len(p.Buckets); i++ {
				assert.LessOrEqual(t, p.Buckets[i-1], p.Buckets[i], "cumulative buckets")
			}
			assert.LessOrEqual(t, p.Buckets[len(p.Buckets)-1], p.Latencies)
		}
		switch m {
		case "restart":
			assert.Equal(t, 1, restarts, tr.ID)
		case "crashloop":
			assert.Positive(t, restarts, tr.ID)
		default:
			assert.Zero(t, restarts, tr.ID)
		}
		if m == "steady" {
			// the candidate's errors beyond the stable rate add up to the
			// stated increase, summed over every steady case below
			rate, _ := strconv.ParseFloat(tr.Labels["stableErrorRate"], 64)
			for _, p := range tr.Candidate {
				steady.extra += p.Errors - rate*p.Requests
				steady.expected += inc * p.Requests
				steady.requests += p.Requests
			}
		}
		return nil
	}))
	assert.Equal(t, n, read)
	for _, m := range models {
		assert.Positive(t, byModel[m.name], m.name)
	}
	// exact/around +2 points are many
	require.Positive(t, steady.requests)
	assert.InDelta(t, 1, steady.extra/steady.expected, 0.05, "steady: observed extra errors over expected")
}

func TestGenerateIncreaseSpread(t *testing.T) {
	var at2, around2, wide int
	for i := range 2000 {
		tr := Synthesize(11, i)
		if tr.GroundTruth != results.Bad || tr.Labels["model"] != "steady" {
			continue
		}
		inc, _ := strconv.ParseFloat(tr.Labels["errorIncrease"], 64)
		switch {
		case inc == 0.02:
			at2++
		case inc >= 0.015 && inc <= 0.025:
			around2++
		default:
			wide++
		}
	}
	assert.Positive(t, at2)
	assert.Positive(t, around2)
	assert.Positive(t, wide)
	assert.Greater(t, at2+around2, wide/2, "many at or around +2 points")
}

func TestSamplers(t *testing.T) {
	r := newRand(5, 0)
	for _, c := range []struct{ n, p float64 }{{10, 0.3}, {100, 0.02}, {1000, 0.3}, {1000, 0.97}} {
		sum := 0.0
		for range 4000 {
			k := binomial(r, c.n, c.p)
			require.True(t, k >= 0 && k <= c.n)
			sum += k
		}
		assert.InEpsilon(t, c.n*c.p, sum/4000, 0.03, "binomial(%v, %v)", c.n, c.p)
	}
	for _, l := range []float64{0.5, 12, 300} {
		sum := 0.0
		for range 4000 {
			sum += poisson(r, l)
		}
		assert.InEpsilon(t, l, sum/4000, 0.05, "poisson(%v)", l)
	}
	prob, mean := lognormal{Mu: math.Log(0.02), Sigma: 0.6}.bins(demoapp.DurationBuckets)
	total, m := 0.0, 0.0
	for i := range prob {
		total += prob[i]
		m += prob[i] * mean[i]
	}
	assert.InDelta(t, 1, total, 1e-9)
	assert.InEpsilon(t, 0.02*math.Exp(0.18), m, 1e-6, "the bins' means add up to the log-normal's mean")
}
