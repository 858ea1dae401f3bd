package loadgen

import (
	"math/rand"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

const ms = time.Millisecond

// result builds a vegeta result as the attacker would: sent at `at` after
// t0, on behalf of user u, answered by version (none when "") with code, or
// failed in transport when code is 0.
func result(seq uint64, at time.Duration, u int, code int, version string, lat time.Duration) *vegeta.Result {
	r := &vegeta.Result{
		Seq:       seq,
		Timestamp: t0.Add(at),
		Latency:   lat,
		Code:      uint16(code),
		Method:    http.MethodGet,
		URL:       "http://127.0.0.1:8080/?x=1#" + UserName(u),
	}
	if code == 0 {
		r.Error = "Get \"http://127.0.0.1:8080/\": dial tcp 127.0.0.1:8080: connect: connection refused"
		return r
	}
	r.Headers = http.Header{"Content-Type": {"text/plain"}}
	if version != "" {
		r.Headers.Set(VersionHeader, version)
	}
	if code >= 400 {
		r.Error = http.StatusText(code)
	}
	return r
}

// handMade: three seconds; second 0 holds every kind of outcome.
func handMade() []*vegeta.Result {
	return []*vegeta.Result{
		result(0, 100*ms, 1, 200, "blue", 10*ms),
		result(1, 200*ms, 2, 200, "blue", 30*ms),
		result(2, 300*ms, 1, 500, "green", 20*ms),  // server error
		result(3, 400*ms, 3, 0, "", 5*ms),          // transport error: unattributed
		result(4, 500*ms, 4, 502, "", 1*ms),        // proxy error without X-Version
		result(5, 600*ms, 2, 200, "green", 300*ms), // slower than a 250 ms SLO
		result(6, 700*ms, 5, 404, "", 20*ms),       // a router's 404: failed, no X-Version
		result(7, 1100*ms, 5, 200, "blue", 40*ms),
		result(8, 2500*ms, 6, 200, "green", 50*ms),
	}
}

func aggregate(t *testing.T, results []*vegeta.Result, slo, d time.Duration) (*aggregator, []Second) {
	t.Helper()
	a := newAggregator(t0, ConstantProfile(10), d, 10)
	var seen []Second
	for _, res := range results {
		rec := newRecord(res, slo, false)
		seen = append(seen, a.add(&rec)...)
	}
	seen = append(seen, a.finish()...)
	return a, seen
}

func TestFailureRules(t *testing.T) {
	slo := 250 * ms
	for _, c := range []struct {
		code int
		lat  time.Duration
		slo  time.Duration
		want bool
	}{
		{200, 10 * ms, 0, false},
		{200, 10 * time.Second, 0, false}, // no SLO: slow is fine
		{200, 250 * ms, slo, false},       // at the SLO is fine
		{200, 251 * ms, slo, true},
		{302, 10 * ms, slo, false},
		{404, 10 * ms, slo, true}, // a router without a route: no answer
		{499, 10 * ms, slo, true},
		{500, 10 * ms, 0, true},
		{503, 10 * ms, slo, true},
		{0, 1 * ms, 0, true},
	} {
		assert.Equal(t, c.want, Failed(c.code, c.lat, c.slo), "%+v", c)
	}
}

func TestNewRecord(t *testing.T) {
	r := newRecord(result(7, 1100*ms, 42, 200, "blue", 40*ms), 0, false)
	assert.Equal(t, Record{Seq: 7, Time: t0.Add(1100 * ms), Latency: 40 * ms, Code: 200, Version: "blue", User: "user-0042"}, r)

	r = newRecord(result(3, 400*ms, 3, 0, "", 5*ms), 0, false)
	assert.Equal(t, "", r.Version)
	assert.Equal(t, "user-0003", r.User)
	assert.Contains(t, r.Error, "connection refused")
	assert.True(t, r.Failed)
	assert.False(t, r.Aborted)

	// Cut short by cancelling the run: unknown, not failed.
	r = newRecord(result(3, 400*ms, 3, 0, "", 5*ms), 0, true)
	assert.True(t, r.Aborted)
	assert.False(t, r.Failed)

	// A status error is not a transport error; aborting does not touch
	// responses.
	r = newRecord(result(4, 500*ms, 4, 502, "", 1*ms), 0, true)
	assert.Equal(t, "", r.Error)
	assert.Equal(t, "", r.Version)
	assert.True(t, r.Failed)
	assert.False(t, r.Aborted)

	// A result whose body could not be read has a code of 0 and no
	// headers, and vegeta always reports some error.
	r = newRecord(&vegeta.Result{Seq: 1, URL: "http://x/#user-0001"}, 0, false)
	assert.Equal(t, "no response", r.Error)
	assert.True(t, r.Failed)
}

func TestAggregateExact(t *testing.T) {
	results := handMade()
	// Arrive out of order: the two late-second results first.
	results[7], results[8] = results[8], results[7]
	a, seen := aggregate(t, results, 250*ms, 3*time.Second)

	s := a.summary(2 * time.Second)
	require.NoError(t, s.Reconcile())
	assert.Equal(t, int64(9), s.Total)
	assert.Equal(t, int64(5), s.Failures)
	assert.Equal(t, int64(3), s.Unattributed)
	assert.Equal(t, int64(0), s.Aborted)
	assert.Equal(t, int64(0), s.Late)
	assert.Equal(t, []string{"blue", "green"}, s.VersionNames())
	assert.Equal(t, 10, s.Users)
	assert.Equal(t, 5, s.UsersFailed) // users 1, 2, 3, 4, 5
	assert.InDelta(t, 4.5, s.AchievedRate, 1e-9)
	assert.InDelta(t, 10, s.RequestedRate, 1e-9)

	blue := s.Versions["blue"]
	assert.Equal(t, int64(3), blue.Requests)
	assert.Equal(t, int64(0), blue.Failures)
	assert.Equal(t, 3, blue.Users) // 1, 2, 5
	assert.Equal(t, 0, blue.UsersFailed)
	assert.InEpsilon(t, float64(30*ms), float64(blue.P50), 0.005) // 10 30 40: rank 2
	assert.Equal(t, 40*ms, blue.P99)                              // the maximum is exact
	assert.Equal(t, 40*ms, blue.Max)

	green := s.Versions["green"]
	assert.Equal(t, VersionStats{
		Requests: 3, Failures: 2, ServerErrors: 1, SlowResponses: 1,
		P50: green.P50, P95: 300 * ms, P99: 300 * ms, Max: 300 * ms,
		Users: 3, UsersFailed: 2,
	}, *green)
	assert.InEpsilon(t, float64(50*ms), float64(green.P50), 0.005) // 20 50 300: rank 2

	un := s.UnattributedStats
	assert.Equal(t, int64(3), un.Requests)
	assert.Equal(t, int64(3), un.Failures)
	assert.Equal(t, int64(1), un.TransportErrors)
	assert.Equal(t, int64(1), un.ServerErrors)
	assert.Equal(t, int64(1), un.ClientErrors)
	assert.InEpsilon(t, float64(5*ms), float64(un.P50), 0.005) // 1 5 20: rank 2, from the histogram
	assert.Equal(t, 20*ms, un.P99)

	// The series: seconds in order, exact per-second percentiles.
	require.Len(t, s.Series, 3)
	assert.Equal(t, s.Series, seen)
	s0 := s.Series[0]
	assert.Equal(t, 0, s0.Index)
	assert.Equal(t, t0, s0.Start)
	assert.InDelta(t, 10, s0.Requested, 1e-9)
	assert.Equal(t, int64(7), s0.Requests)
	assert.Equal(t, int64(5), s0.Failures)
	assert.Equal(t, map[string]Stats{
		"blue":  {Requests: 2, Failures: 0, P50: 10 * ms, P95: 30 * ms, P99: 30 * ms},
		"green": {Requests: 2, Failures: 2, P50: 20 * ms, P95: 300 * ms, P99: 300 * ms},
	}, s0.Versions)
	assert.Equal(t, Stats{Requests: 3, Failures: 3, P50: 5 * ms, P95: 20 * ms, P99: 20 * ms}, s0.Unattributed)

	assert.Equal(t, Second{Index: 1, Start: t0.Add(time.Second), Requested: 10, Requests: 1,
		Versions: map[string]Stats{"blue": {Requests: 1, P50: 40 * ms, P95: 40 * ms, P99: 40 * ms}}}, s.Series[1])
	assert.Equal(t, Second{Index: 2, Start: t0.Add(2 * time.Second), Requested: 10, Requests: 1,
		Versions: map[string]Stats{"green": {Requests: 1, P50: 50 * ms, P95: 50 * ms, P99: 50 * ms}}}, s.Series[2])
}

func TestAggregateWithoutSLO(t *testing.T) {
	a, _ := aggregate(t, handMade(), 0, 3*time.Second)
	s := a.summary(3 * time.Second)
	require.NoError(t, s.Reconcile())
	assert.Equal(t, int64(4), s.Failures)
	assert.Equal(t, int64(1), s.Versions["green"].Failures)
	assert.Equal(t, int64(0), s.Versions["green"].SlowResponses)
	assert.Equal(t, int64(4), s.Series[0].Failures)
}

// A second is finalized exactly when every request sent during it has a
// result, however the results interleave.
func TestAggregateFinalizesOnWatermark(t *testing.T) {
	a := newAggregator(t0, ConstantProfile(10), 0, 10)
	add := func(r *vegeta.Result) []int {
		rec := newRecord(r, 0, false)
		var idx []int
		for _, s := range a.add(&rec) {
			idx = append(idx, s.Index)
		}
		return idx
	}
	assert.Empty(t, add(result(1, 200*ms, 1, 200, "blue", time.Second)))
	assert.Empty(t, add(result(2, 1200*ms, 1, 200, "blue", ms))) // second 1 started, seq 0 missing
	assert.Empty(t, add(result(4, 3100*ms, 1, 200, "blue", ms)))
	assert.Equal(t, []int{0}, add(result(0, 100*ms, 1, 200, "blue", 5*time.Second))) // 0..2 in: second 1 reached
	assert.Empty(t, add(result(5, 3200*ms, 1, 200, "blue", ms)))
	// Seq 3 closes seconds 1 and 2 (empty) at once: 0..5 in, seq 5 is in second 3.
	assert.Equal(t, []int{1, 2}, add(result(3, 1900*ms, 1, 200, "blue", ms)))

	s := a.summary(time.Second)
	assert.Len(t, s.Series, 3)
	assert.Equal(t, int64(0), s.Series[2].Requests)
	assert.Equal(t, []int{3}, func() []int {
		var idx []int
		for _, s := range a.finish() {
			idx = append(idx, s.Index)
		}
		return idx
	}())
	s = a.summary(4 * time.Second)
	require.NoError(t, s.Reconcile())
	var sum int64
	for _, sec := range s.Series {
		sum += sec.Requests
	}
	assert.Equal(t, s.Total, sum)
}

// Results arriving for an already finalized second (which vegeta's ordering
// rules out) still count, in the oldest open second.
func TestAggregateLate(t *testing.T) {
	a := newAggregator(t0, ConstantProfile(10), 0, 10)
	for _, r := range []*vegeta.Result{
		result(0, 100*ms, 1, 200, "blue", ms),
		result(1, 1100*ms, 1, 200, "blue", ms),
		result(2, 2100*ms, 1, 200, "blue", ms),
		result(3, 500*ms, 1, 200, "blue", ms), // claims second 0, finalized already
	} {
		rec := newRecord(r, 0, false)
		a.add(&rec)
	}
	a.finish()
	s := a.summary(3 * time.Second)
	assert.Equal(t, int64(1), s.Late)
	require.Len(t, s.Series, 3)
	assert.Equal(t, []int64{1, 1, 2}, []int64{s.Series[0].Requests, s.Series[1].Requests, s.Series[2].Requests})
}

// Many results in random order, with far more in flight than the initial
// watermark window: every second finalizes once, in order, and adds up.
func TestAggregateShuffled(t *testing.T) {
	const n = 20000
	rng := rand.New(rand.NewSource(1))
	results := make([]*vegeta.Result, n)
	versions := []string{"a", "b", "", "c"}
	want := map[string]int64{}
	for i := range results {
		v := versions[rng.Intn(len(versions))]
		code := 200
		if v == "" && i%2 == 0 {
			code = 0
		}
		results[i] = result(uint64(i), time.Duration(i)*time.Millisecond, rng.Intn(10), code, v, time.Duration(rng.Intn(100))*ms)
		want[v]++
	}
	// Shuffle within windows of 5000 so seconds finalize mid-stream.
	for i := 0; i < n; i += 5000 {
		w := results[i : i+5000]
		rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
	a, seen := aggregate(t, results, 0, 20*time.Second)
	s := a.summary(20 * time.Second)
	require.NoError(t, s.Reconcile())
	assert.Equal(t, int64(n), s.Total)
	assert.Equal(t, want[""], s.Unattributed)
	for _, v := range []string{"a", "b", "c"} {
		assert.Equal(t, want[v], s.Versions[v].Requests)
	}
	require.Len(t, seen, 20)
	var sum int64
	for i, sec := range seen {
		assert.Equal(t, i, sec.Index)
		assert.Equal(t, int64(1000), sec.Requests)
		sum += sec.Requests
	}
	assert.Equal(t, int64(n), sum)
	assert.Equal(t, int64(0), s.Late)
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	assert.Equal(t, time.Duration(0), h.quantile(0.5))
	rng := rand.New(rand.NewSource(7))
	var vals []time.Duration
	for range 100000 {
		v := time.Duration(rng.ExpFloat64() * float64(20*ms))
		vals = append(vals, v)
		h.add(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999} {
		want := NearestRank(vals, q)
		assert.InEpsilon(t, float64(want), float64(h.quantile(q)), 0.005, "q=%v", q)
	}
	assert.Equal(t, vals[len(vals)-1], h.quantile(1))
	assert.Equal(t, vals[0], h.min)

	// Tiny and huge values, and every bucket boundary maps back into range.
	for _, v := range []uint64{0, 1, 255, 256, 257, 1 << 20, 1<<20 + 12345, 3600e9} {
		lo, w := histRange(histIndex(v))
		assert.True(t, lo <= v && v < lo+w, "%d in [%d,%d)", v, lo, lo+w)
		assert.LessOrEqual(t, float64(w), float64(max(lo, 1))/128+1)
	}
	for i := 1; i < 5000; i++ {
		lo, w := histRange(i)
		plo, pw := histRange(i - 1)
		assert.Equal(t, plo+pw, lo, "bucket %d", i)
		assert.Equal(t, i, histIndex(lo))
		assert.Equal(t, i, histIndex(lo+w-1))
	}
}

func TestQuantileSorted(t *testing.T) {
	v := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, time.Duration(5), NearestRank(v, 0.5))
	assert.Equal(t, time.Duration(10), NearestRank(v, 0.95))
	assert.Equal(t, time.Duration(10), NearestRank(v, 0.99))
	assert.Equal(t, time.Duration(1), NearestRank(v, 0))
	assert.Equal(t, time.Duration(0), NearestRank(nil, 0.5))
}

// vegeta sends the last request of an attack right at its duration; it
// counts in the last second rather than opening one of its own.
func TestAggregateLastRequestAtDuration(t *testing.T) {
	a := newAggregator(t0, ConstantProfile(2), 2*time.Second, 10)
	for _, r := range []*vegeta.Result{
		result(0, 500*ms, 1, 200, "blue", ms),
		result(1, 1000*ms, 1, 200, "blue", ms),
		result(2, 1500*ms, 1, 200, "blue", ms),
		result(3, 2000*ms+20*time.Microsecond, 1, 200, "blue", ms),
	} {
		rec := newRecord(r, 0, false)
		a.add(&rec)
	}
	a.finish()
	s := a.summary(2 * time.Second)
	require.Len(t, s.Series, 2)
	assert.Equal(t, int64(1), s.Series[0].Requests)
	assert.Equal(t, int64(3), s.Series[1].Requests)
	assert.InDelta(t, 2, s.Series[1].Requested, 1e-9)
}

func TestNearestRank(t *testing.T) {
	lat := make([]time.Duration, 200)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	assert.Equal(t, 100*ms, NearestRank(lat, 0.50))
	assert.Equal(t, 198*ms, NearestRank(lat, 0.99))
	assert.Equal(t, 7*ms, NearestRank([]time.Duration{7 * time.Millisecond}, 0.99))
	assert.Zero(t, NearestRank(nil, 0.5))
}
