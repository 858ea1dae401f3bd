package score

import (
	"github.com/blastradius/blastradius/harness/results"

	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/loadgen"
)

func TestSeries(t *testing.T) {
	in := input(true)
	in.Window.End = t0.Add(2500 * ms) // a partial last second still gets a bucket
	s, err := NewScorer(in)
	require.NoError(t, err)
	for _, r := range []loadgen.Record{
		req(100*ms, "blue", 200, 30*ms, ""),
		req(200*ms, "blue", 200, 10*ms, ""),
		req(300*ms, "blue", 503, 20*ms, ""),
		req(999*ms, "bad-green", 200, 600*ms, ""), // slower than the SLO
		req(2*sec, "", 0, 10*sec, ""),
		ok(-sec, "blue", ""), // warm-up: in no bucket
	} {
		s.Add(r)
	}
	assert.Equal(t, []results.Second{
		{
			Index: 0, Start: t0, Requests: 4, Failed: 2,
			Versions: map[string]results.VersionSecond{
				"blue":      {Requests: 3, Failed: 1, P50: 20 * ms, P99: 30 * ms},
				"bad-green": {Requests: 1, Failed: 1, P50: 600 * ms, P99: 600 * ms},
			},
		},
		{Index: 1, Start: t0.Add(sec), Versions: map[string]results.VersionSecond{}},
		{
			Index: 2, Start: t0.Add(2 * sec), Requests: 1, Failed: 1,
			Versions:     map[string]results.VersionSecond{},
			Unattributed: results.VersionSecond{Requests: 1, Failed: 1, P50: 10 * sec, P99: 10 * sec},
		},
	}, s.Series())
}

func TestLateRecordStillCounts(t *testing.T) {
	in := input(true)
	in.Window.End = t0.Add(5 * time.Minute)
	s, err := NewScorer(in)
	require.NoError(t, err)
	s.Add(req(0, "blue", 200, 10*ms, ""))
	s.Add(ok(2*time.Minute, "blue", "")) // second 0 is now final
	s.Add(req(500*ms, "blue", 500, 90*ms, ""))

	got := s.Series()[0].Versions["blue"]
	assert.Equal(t, results.VersionSecond{Requests: 2, Failed: 1, P50: 10 * ms, P99: 10 * ms}, got,
		"counted, but too late for the percentiles")
	assert.Equal(t, int64(1), s.Result().BlastRadius.FailedRequests)
}

// run makes a long run's records in send order: longer than the latency
// horizon so that seconds get reduced while records stream in.
func run() (Input, []loadgen.Record) {
	in := input(true, ev(90*sec, results.EventFaultInjected), ev(200*sec, results.EventAborted))
	in.Window.End = t0.Add(5 * time.Minute)
	rng := rand.New(rand.NewPCG(1, 2))
	var recs []loadgen.Record
	for at := -10 * sec; at < 5*time.Minute+10*sec; at += 37 * ms {
		r := loadgen.Record{
			Seq:     uint64(len(recs)),
			Time:    t0.Add(at),
			Latency: time.Duration(1+rng.IntN(800)) * ms,
			Code:    200,
			Version: "blue",
			User:    fmt.Sprintf("user-%04d", rng.IntN(50)),
		}
		if at > 60*sec && at < 230*sec && rng.IntN(3) == 0 {
			r.Version = "bad-green"
			if at > 90*sec && rng.IntN(4) == 0 {
				r.Code = 500
			}
		}
		switch rng.IntN(100) {
		case 0:
			r.Code, r.Version, r.Error, r.Latency = 0, "", "connection reset", 10*sec
		case 1:
			r.Code, r.Version = 502, ""
		case 2:
			r.Code, r.Version, r.Error, r.Aborted, r.Latency = 0, "", "context canceled", true, 0
		}
		recs = append(recs, r)
	}
	return in, recs
}

func TestStreamingEqualsBatch(t *testing.T) {
	in, sendOrder := run()

	// What the load generator writes: completion order.
	completion := slices.Clone(sendOrder)
	slices.SortStableFunc(completion, func(a, b loadgen.Record) int {
		return a.Time.Add(a.Latency).Compare(b.Time.Add(b.Latency))
	})
	var ndjson bytes.Buffer
	w := loadgen.NewRecordWriter(&ndjson)
	for i := range completion {
		require.NoError(t, w.Write(&completion[i]))
	}
	require.NoError(t, w.Flush())

	s, err := NewScorer(in)
	require.NoError(t, err)
	for _, r := range sendOrder {
		s.Add(r)
	}
	want, wantSeries := s.Result(), s.Series()

	s, err = NewScorer(in)
	require.NoError(t, err)
	for _, r := range completion {
		s.Add(r)
	}
	assert.Equal(t, want, s.Result())
	assert.Equal(t, wantSeries, s.Series())

	got, gotSeries, err := ScoreReader(in, &ndjson)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, wantSeries, gotSeries)

	// The series against a plain computation from every record at once.
	type key struct {
		second  int
		version string
	}
	lat := map[key][]time.Duration{}
	var total, excluded int64
	for _, r := range sendOrder {
		if r.Aborted || !in.InWindow(r.Time) {
			excluded++
			continue
		}
		total++
		k := key{SecondOf(in, r.Time), r.Version}
		lat[k] = append(lat[k], r.Latency)
	}
	require.Len(t, wantSeries, 300)
	for k, l := range lat {
		slices.Sort(l)
		vs := wantSeries[k.second].Versions[k.version]
		if k.version == "" {
			vs = wantSeries[k.second].Unattributed
		}
		assert.Equal(t, int64(len(l)), vs.Requests, "%+v", k)
		assert.Equal(t, loadgen.NearestRank(l, 0.50), vs.P50, "%+v", k)
		assert.Equal(t, loadgen.NearestRank(l, 0.99), vs.P99, "%+v", k)
	}
	assert.Equal(t, total, want.BlastRadius.TotalRequests)
	assert.Equal(t, excluded, want.Excluded)
	assert.Equal(t, results.VerdictDetected, want.Verdict)
	assert.Positive(t, want.BlastRadius.CandidateFailedRequests)
}

func TestJSONFieldNames(t *testing.T) {
	s := results.Scores{Verdict: results.VerdictDetected, Timing: results.Timing{TimeToAbortSeconds: f(6.5)}, Excluded: 3}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &top))
	assert.ElementsMatch(t, []string{"verdict", "blastRadius", "timing", "excludedRequests"}, slices.Collect(maps.Keys(top)))
	assert.JSONEq(t, `"detected"`, string(top["verdict"]))
	assert.JSONEq(t, `3`, string(top["excludedRequests"]))

	m := map[string]map[string]any{}
	for _, k := range []string{"blastRadius", "timing"} {
		var v map[string]any
		require.NoError(t, json.Unmarshal(top[k], &v))
		m[k] = v
	}
	assert.ElementsMatch(t, []string{
		"totalRequests", "failedRequests", "candidateFailedRequests", "unattributedErrors",
		"candidateShare", "peakExposure", "peakExposureRate", "usersAffected", "usersTotal",
	}, slices.Collect(maps.Keys(m["blastRadius"])))
	assert.Equal(t, map[string]any{
		"faultOnsetSeconds":                   nil,
		"timeToFirstFailedMeasurementSeconds": nil,
		"timeToAbortSeconds":                  6.5,
		"timeToDetectSeconds":                 nil,
		"timeToRecoverSeconds":                nil,
		"timeToPromoteSeconds":                nil,
	}, m["timing"], "nil timings are null, not missing")
}
