package score

import (
	"github.com/blastradius/blastradius/harness/results"

	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/loadgen"
)

const (
	ms  = time.Millisecond
	sec = time.Second
	slo = 500 * ms
)

// t0 is CandidateApplied in most tests; the window is [t0, t0+10s).
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func input(bad bool, events ...results.Event) Input {
	return Input{
		Stable: "blue", Candidate: "bad-green", GroundTruth: truth(bad), SLO: slo,
		Window: results.Window{Start: t0, End: t0.Add(10 * sec)}, Events: events,
	}
}

func ev(at time.Duration, kind results.EventKind) results.Event {
	return results.Event{Time: t0.Add(at), Kind: kind}
}

// req is a request sent at t0+at.
func req(at time.Duration, version string, code int, latency time.Duration, user string) loadgen.Record {
	return loadgen.Record{Time: t0.Add(at), Version: version, Code: code, Latency: latency, User: user}
}

func ok(at time.Duration, version, user string) loadgen.Record {
	return req(at, version, 200, 10*ms, user)
}

func fail(at time.Duration, version, user string) loadgen.Record {
	return req(at, version, 500, 10*ms, user)
}

func scoreAll(t *testing.T, in Input, recs ...loadgen.Record) results.Scores {
	t.Helper()
	s, err := NewScorer(in)
	require.NoError(t, err)
	for _, r := range recs {
		s.Add(r)
	}
	return s.Result()
}

func f(v float64) *float64 { return &v }

func TestValidate(t *testing.T) {
	require.NoError(t, input(true).Validate())
	for name, mutate := range map[string]func(*Input){
		"no candidate":       func(in *Input) { in.Candidate = "" },
		"candidate = stable": func(in *Input) { in.Candidate = in.Stable },
		"no applied time":    func(in *Input) { in.Window.Start = time.Time{} },
		"end before start":   func(in *Input) { in.Window.End = t0.Add(-sec) },
		"negative SLO":       func(in *Input) { in.SLO = -sec },
	} {
		in := input(true)
		mutate(&in)
		assert.Error(t, in.Validate(), name)
		_, err := NewScorer(in)
		assert.Error(t, err, name)
	}
}

func TestWindowAndAbortedExclusion(t *testing.T) {
	aborted := req(5*sec, "", 0, 3*ms, "u1")
	aborted.Error, aborted.Aborted = "context canceled", true
	s := scoreAll(t, input(true),
		fail(-1*ms, "blue", "u1"),       // warm-up, before the window
		ok(0, "blue", "u1"),             // at CandidateApplied: in
		fail(10*sec-1, "bad-green", ""), // last nanosecond: in
		fail(10*sec, "bad-green", ""),   // at End: out
		aborted,                         // cut short by the harness: out, not failed
	)
	assert.Equal(t, int64(2), s.BlastRadius.TotalRequests)
	assert.Equal(t, int64(1), s.BlastRadius.FailedRequests)
	assert.Equal(t, int64(3), s.Excluded)
}

func TestRequestFailed(t *testing.T) {
	for _, c := range []struct {
		name    string
		code    int
		latency time.Duration
		slo     time.Duration
		want    bool
	}{
		{"ok", 200, 10 * ms, slo, false},
		{"at the SLO", 200, slo, slo, false},
		{"above the SLO", 200, slo + 1, slo, true},
		{"slow without SLO", 200, time.Hour, 0, false},
		{"4xx: no route, say", 404, 10 * ms, slo, true},
		{"3xx", 399, 10 * ms, slo, false},
		{"5xx", 500, 10 * ms, slo, true},
		{"transport error", 0, 10 * ms, slo, true},
	} {
		assert.Equal(t, c.want, RequestFailed(loadgen.Record{Code: c.code, Latency: c.latency}, c.slo), c.name)
	}
	// The load generator's own verdict is ignored.
	assert.False(t, RequestFailed(loadgen.Record{Code: 200, Latency: ms, Failed: true}, slo))
}

func TestBlastRadiusCounts(t *testing.T) {
	s := scoreAll(t, input(true),
		ok(1*sec, "blue", "u1"),
		fail(1*sec, "blue", "u1"),
		fail(2*sec, "bad-green", "u2"),
		req(2*sec, "bad-green", 200, slo+ms, "u3"), // slow: failed
		ok(3*sec, "bad-green", "u4"),
		req(3*sec, "", 502, ms, "u5"),   // proxy error, no X-Version
		req(4*sec, "", 0, 10*sec, "u6"), // transport error
		ok(4*sec, "", "u7"),             // unattributed but fine
	)
	br := s.BlastRadius
	assert.Equal(t, int64(8), br.TotalRequests)
	assert.Equal(t, int64(5), br.FailedRequests)
	assert.Equal(t, int64(2), br.CandidateFailedRequests)
	assert.Equal(t, int64(2), br.UnattributedErrors)
	assert.Equal(t, 0.6, br.CandidateShare) // 3 candidate of 5 attributed
	assert.Equal(t, int64(0), s.Excluded)
}

func TestCandidateShare(t *testing.T) {
	assert.Equal(t, 0.25, CandidateShare(1, 4))
	assert.Equal(t, 0.0, CandidateShare(0, 0))
}

func TestPeakExposureAlignedOnCandidateApplied(t *testing.T) {
	// CandidateApplied half-way through a wall-clock second: aligned on it,
	// the first bucket holds 3 failures; aligned on wall-clock seconds no
	// bucket would hold more than 2.
	in := input(true)
	in.Window.Start = t0.Add(500 * ms)
	s := scoreAll(t, in,
		fail(500*ms, "bad-green", ""),
		fail(900*ms, "bad-green", ""),
		fail(1200*ms, "bad-green", ""),
		ok(1300*ms, "blue", ""),
		fail(1600*ms, "bad-green", ""), // bucket 1
		ok(2000*ms, "blue", ""),
	)
	assert.Equal(t, int64(3), s.BlastRadius.PeakExposure)
	assert.Equal(t, 0.75, s.BlastRadius.PeakExposureRate)
}

func TestPeakExposure(t *testing.T) {
	peak, rate := PeakExposure([]results.Second{{Requests: 4, Failed: 1}, {Requests: 4, Failed: 2}, {Requests: 2, Failed: 2}})
	assert.Equal(t, int64(2), peak)
	assert.Equal(t, 0.5, rate, "ties go to the earliest second")

	peak, rate = PeakExposure([]results.Second{{Requests: 4}, {}})
	assert.Zero(t, peak)
	assert.Zero(t, rate)
}

func TestUsersAffected(t *testing.T) {
	s := scoreAll(t, input(true),
		fail(-sec, "blue", "u4"), // before the window
		fail(1*sec, "bad-green", "u1"),
		ok(2*sec, "blue", "u1"),
		ok(1*sec, "blue", "u2"),
		fail(1*sec, "bad-green", "u3"),
		fail(2*sec, "", "u3"),
		fail(3*sec, "", ""), // no user: counted as a request, not as a user
	)
	assert.Equal(t, 2, s.BlastRadius.UsersAffected) // u1, u3
	assert.Equal(t, 3, s.BlastRadius.UsersTotal)    // u1, u2, u3
}

func TestFaultOnset(t *testing.T) {
	failedAt := func(at time.Duration) Observed {
		return Observed{CandidateRequests: 1, FirstCandidateFailure: t0.Add(at)}
	}
	assert.Equal(t, f(2), FaultOnset(input(true, ev(2*sec, results.EventFaultInjected)), failedAt(3*sec)))
	assert.Equal(t, f(1.5), FaultOnset(input(true, ev(2*sec, results.EventFaultInjected)), failedAt(1500*ms)))
	assert.Equal(t, f(1.5), FaultOnset(input(true), failedAt(1500*ms)))
	assert.Equal(t, f(4), FaultOnset(input(true, ev(4*sec, results.EventFaultInjected)), Observed{}))
	assert.Nil(t, FaultOnset(input(true), Observed{}))
	assert.Nil(t, FaultOnset(input(true, ev(-sec, results.EventFaultInjected)), Observed{}), "before the window")

	// Only failures served by the candidate count.
	s := scoreAll(t, input(true), fail(sec, "blue", ""), fail(2*sec, "", ""), fail(3*sec, "bad-green", ""))
	assert.Equal(t, f(3), s.Timing.FaultOnsetSeconds)
}

func TestTimeToFirstFailedMeasurement(t *testing.T) {
	in := input(true,
		measured(1*sec, results.MeasurementSuccessful),
		measured(6*sec, results.MeasurementFailed), // events need not be sorted
		measured(4*sec, results.MeasurementFailed),
	)
	assert.Equal(t, f(4), TimeToFirstFailedMeasurement(in))
	assert.Nil(t, TimeToFirstFailedMeasurement(input(true, measured(sec, results.MeasurementSuccessful))))
}

func TestTimeToAbort(t *testing.T) {
	assert.Equal(t, f(7), TimeToAbort(input(true, ev(7*sec, results.EventAborted))))
	assert.Equal(t, f(5), TimeToAbort(input(true, ev(5*sec, results.EventDegraded))))
	assert.Equal(t, f(10), TimeToAbort(input(true, ev(10*sec, results.EventAborted))), "an abort at End ends the run")
	assert.Nil(t, TimeToAbort(input(true)))
	assert.Nil(t, TimeToAbort(input(true, ev(11*sec, results.EventAborted))), "after the window")
	// The first decision wins: an abort after a promotion is not one.
	assert.Nil(t, TimeToAbort(input(true, ev(8*sec, results.EventPromoted), ev(9*sec, results.EventAborted))))
}

func TestTimeToDetect(t *testing.T) {
	onsetAt := func(at time.Duration) Observed {
		return Observed{CandidateRequests: 1, FirstCandidateFailure: t0.Add(at)}
	}
	assert.Equal(t, f(5), TimeToDetect(input(true, ev(7*sec, results.EventAborted)), onsetAt(2*sec)))
	assert.Equal(t, f(0), TimeToDetect(input(true, ev(2*sec, results.EventAborted)), onsetAt(2*sec)))
	assert.Equal(t, f(2.5), TimeToDetect(input(true, ev(1*sec, results.EventFaultInjected), ev(3500*ms, results.EventDegraded)), Observed{}))
	assert.Nil(t, TimeToDetect(input(true, ev(1*sec, results.EventAborted)), onsetAt(2*sec)), "stopped before the onset")
	assert.Nil(t, TimeToDetect(input(true, ev(1*sec, results.EventAborted)), Observed{}), "no onset")
	assert.Nil(t, TimeToDetect(input(true), onsetAt(2*sec)), "no abort")
	assert.Nil(t, TimeToDetect(input(true, ev(3*sec, results.EventPromoted)), onsetAt(2*sec)), "promoted")
}

func TestTimeToRecover(t *testing.T) {
	lastAt := func(at time.Duration) Observed {
		return Observed{CandidateRequests: 1, LastCandidateRequest: t0.Add(at)}
	}
	aborted := input(true, ev(7*sec, results.EventAborted))
	assert.Equal(t, f(1.25), TimeToRecover(aborted, lastAt(8250*ms)))
	assert.Equal(t, f(0), TimeToRecover(aborted, lastAt(6*sec)))
	assert.Equal(t, f(0), TimeToRecover(aborted, Observed{}), "candidate never served")
	assert.Nil(t, TimeToRecover(input(true), lastAt(8*sec)))
}

func TestTimeToPromote(t *testing.T) {
	assert.Equal(t, f(9), TimeToPromote(input(false, ev(9*sec, results.EventPromoted))))
	// The stable version becoming Healthy before the window is not it.
	assert.Nil(t, TimeToPromote(input(false, ev(-5*sec, results.EventPromoted))))
	assert.Nil(t, TimeToPromote(input(false, ev(3*sec, results.EventAborted), ev(9*sec, results.EventPromoted))))
}

func TestTimingsFromRecords(t *testing.T) {
	s := scoreAll(t, input(true, measured(1*sec, results.MeasurementSuccessful), measured(4*sec, results.MeasurementFailed), ev(6*sec, results.EventAborted)),
		ok(1*sec, "bad-green", ""),
		fail(2500*ms, "bad-green", ""),
		fail(2*sec, "bad-green", ""), // out of order: still the first
		ok(6500*ms, "bad-green", ""), // traffic still reaching it after the abort
		ok(8*sec, "blue", ""),
	)
	assert.Equal(t, results.Timing{
		FaultOnsetSeconds:                   f(2),
		TimeToFirstFailedMeasurementSeconds: f(4),
		TimeToAbortSeconds:                  f(6),
		TimeToDetectSeconds:                 f(4),
		TimeToRecoverSeconds:                f(0.5),
	}, s.Timing)
}

func TestDegradedScoresLikeAborted(t *testing.T) {
	recs := []loadgen.Record{fail(sec, "bad-green", ""), ok(3500*ms, "bad-green", "")}
	aborted := scoreAll(t, input(true, ev(3*sec, results.EventAborted)), recs...)
	degraded := scoreAll(t, input(true, ev(3*sec, results.EventDegraded)), recs...)
	assert.Equal(t, aborted, degraded)
	assert.Equal(t, results.VerdictDetected, degraded.Verdict)
	assert.Equal(t, f(2), degraded.Timing.TimeToDetectSeconds)
	assert.Equal(t, f(0.5), degraded.Timing.TimeToRecoverSeconds)
}

func TestJudge(t *testing.T) {
	served := Observed{CandidateRequests: 10}
	none := Observed{}
	for _, c := range []struct {
		name string
		in   Input
		obs  Observed
		want results.Verdict
	}{
		{"bad, aborted", input(true, ev(5*sec, results.EventAborted)), served, results.VerdictDetected},
		{"bad, degraded", input(true, ev(5*sec, results.EventDegraded)), served, results.VerdictDetected},
		{"bad, crash loop aborted before serving", input(true, ev(5*sec, results.EventAborted)), none, results.VerdictDetected},
		{"bad, promoted", input(true, ev(5*sec, results.EventPromoted)), served, results.VerdictMissed},
		{"bad, no decision (rolling Deployment)", input(true), served, results.VerdictMissed},
		{"bad, abort after the run", input(true, ev(11*sec, results.EventAborted)), served, results.VerdictMissed},
		{"bad, promoted then aborted", input(true, ev(5*sec, results.EventPromoted), ev(6*sec, results.EventAborted)), served, results.VerdictMissed},
		{"good, aborted", input(false, ev(5*sec, results.EventAborted)), served, results.VerdictFalseAlarm},
		{"good, degraded without traffic", input(false, ev(5*sec, results.EventDegraded)), none, results.VerdictFalseAlarm},
		{"good, promoted", input(false, ev(5*sec, results.EventPromoted)), served, results.VerdictPromoted},
		{"good, no decision", input(false), served, results.VerdictPromoted},
		{"bad, timed out", input(true, ev(10*sec, results.EventTimeout)), served, results.VerdictInconclusive},
		{"good, timed out", input(false, ev(10*sec, results.EventTimeout)), served, results.VerdictInconclusive},
		{"bad, paused on an inconclusive analysis", input(true, ev(8*sec, results.EventPaused)), served, results.VerdictInconclusive},
		{"good, paused on an inconclusive analysis", input(false, ev(8*sec, results.EventPaused)), served, results.VerdictInconclusive},
		{"bad, promoted before a timeout", input(true, ev(5*sec, results.EventPromoted), ev(10*sec, results.EventTimeout)), served, results.VerdictMissed},
		{"bad, no candidate traffic", input(true), none, results.VerdictInconclusive},
		{"good, promoted without candidate traffic", input(false, ev(5*sec, results.EventPromoted)), none, results.VerdictInconclusive},
	} {
		assert.Equal(t, c.want, Judge(c.in, c.obs), c.name)
	}
}

func truth(bad bool) results.GroundTruth {
	if bad {
		return results.Bad
	}
	return results.Good
}

func measured(at time.Duration, phase results.MeasurementPhase) results.Event {
	return results.Event{Time: t0.Add(at), Kind: results.EventMeasurement, Measurement: &results.Measurement{Phase: phase}}
}
