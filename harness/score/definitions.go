package score

import (
	"time"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/loadgen"
)

// The definitions, one function each, in the order of docs/scoring.md.

// Class is how the definitions see one request record.
type Class struct {
	Counted    bool // sent within the window and not aborted by the harness
	Failed     bool // see RequestFailed
	Attributed bool // the response carried X-Version
	Candidate  bool // served by the candidate
	Second     int  // see SecondOf; meaningful only when Counted
}

// Classify applies the window, failure and attribution definitions to one
// record. Records aborted by the harness are not counted: their outcome is
// unknown, not failed.
func Classify(in Input, rec loadgen.Record) Class {
	if rec.Aborted || !in.InWindow(rec.Time) {
		return Class{}
	}
	return Class{
		Counted:    true,
		Failed:     RequestFailed(rec, in.SLO),
		Attributed: rec.Version != "",
		Candidate:  rec.Version == in.Candidate,
		Second:     SecondOf(in, rec.Time),
	}
}

// RequestFailed reports whether a request failed: a 4xx or 5xx, a transport error
// (no response), or a latency above slo. It ignores rec.Failed, which the
// load generator computed with its own SLO; scoring owns the definition.
func RequestFailed(rec loadgen.Record, slo time.Duration) bool {
	return loadgen.Failed(rec.Code, rec.Latency, slo)
}

// SecondOf returns the one-second bucket of a request sent at t within the
// window: buckets are aligned on CandidateApplied, bucket i holding
// [CandidateApplied+i s, CandidateApplied+(i+1) s).
func SecondOf(in Input, t time.Time) int {
	return int(t.Sub(in.Window.Start) / time.Second)
}

// CandidateShare is the fraction of attributed requests the candidate
// served; 0 when nothing was attributed.
func CandidateShare(candidate, attributed int64) float64 {
	if attributed == 0 {
		return 0
	}
	return float64(candidate) / float64(attributed)
}

// PeakExposure returns the largest number of failed requests in any one
// second and that second's failed/total. Ties go to the earliest second.
func PeakExposure(series []results.Second) (peak int64, rate float64) {
	for _, s := range series {
		if s.Failed > peak {
			peak, rate = s.Failed, float64(s.Failed)/float64(s.Requests)
		}
	}
	return peak, rate
}

// Observed are the facts from the records that timings and verdict need.
// Zero times mean "none".
type Observed struct {
	// CandidateRequests counts requests served by the candidate.
	CandidateRequests int64
	// FirstCandidateFailure is the send time of the earliest failed request
	// served by the candidate.
	FirstCandidateFailure time.Time
	// LastCandidateRequest is the send time of the latest request served by
	// the candidate.
	LastCandidateRequest time.Time
}

// onset is the earlier of the first failed candidate-served request and the
// first FaultInjected event.
func onset(in Input, obs Observed) (time.Time, bool) {
	t, ok := obs.FirstCandidateFailure, !obs.FirstCandidateFailure.IsZero()
	if e, injected := in.First(results.EventFaultInjected); injected && (!ok || e.Time.Before(t)) {
		t, ok = e.Time, true
	}
	return t, ok
}

// FaultOnset is the seconds from CandidateApplied to the onset: the earlier
// of the first failed request served by the candidate and the first
// FaultInjected event; nil if neither happened.
func FaultOnset(in Input, obs Observed) *float64 {
	t, ok := onset(in, obs)
	if !ok {
		return nil
	}
	return seconds(t.Sub(in.Window.Start))
}

// TimeToFirstFailedMeasurement is the seconds from CandidateApplied to the
// first failed analysis measurement; nil if none failed.
func TimeToFirstFailedMeasurement(in Input) *float64 {
	e, ok := in.FirstMatching(measurementFailed)
	if !ok {
		return nil
	}
	return seconds(e.Time.Sub(in.Window.Start))
}

// TimeToAbort is the seconds from CandidateApplied to the stop (Aborted or
// Degraded); nil if the strategy did not stop the candidate.
func TimeToAbort(in Input) *float64 {
	stop, ok := in.Stopped()
	if !ok {
		return nil
	}
	return seconds(stop.Sub(in.Window.Start))
}

// TimeToDetect is the seconds from the fault onset to the stop; nil without
// a stop or an onset, and nil if the stop came first: a stop before anything
// went wrong detected nothing (the verdict still says what it was).
func TimeToDetect(in Input, obs Observed) *float64 {
	stop, stopped := in.Stopped()
	on, ok := onset(in, obs)
	if !stopped || !ok || stop.Before(on) {
		return nil
	}
	return seconds(stop.Sub(on))
}

// TimeToRecover is the seconds from the stop to the last request the
// candidate served that was sent after it: how long users kept reaching the
// candidate. 0 if none was; nil without a stop.
func TimeToRecover(in Input, obs Observed) *float64 {
	stop, ok := in.Stopped()
	if !ok {
		return nil
	}
	if obs.LastCandidateRequest.After(stop) {
		return seconds(obs.LastCandidateRequest.Sub(stop))
	}
	return seconds(0)
}

// TimeToPromote is the seconds from CandidateApplied to full promotion; nil
// if the candidate was not promoted.
func TimeToPromote(in Input) *float64 {
	t, ok := in.Promoted()
	if !ok {
		return nil
	}
	return seconds(t.Sub(in.Window.Start))
}

// Timings computes every timing.
func Timings(in Input, obs Observed) results.Timing {
	return results.Timing{
		FaultOnsetSeconds:                   FaultOnset(in, obs),
		TimeToFirstFailedMeasurementSeconds: TimeToFirstFailedMeasurement(in),
		TimeToAbortSeconds:                  TimeToAbort(in),
		TimeToDetectSeconds:                 TimeToDetect(in, obs),
		TimeToRecoverSeconds:                TimeToRecover(in, obs),
		TimeToPromoteSeconds:                TimeToPromote(in),
	}
}

// Judge returns the verdict against ground truth, first rule that applies:
//
//  1. stopped (Aborted or Degraded): detected if bad, false-alarm if good,
//     even if the candidate never served a request (a crash loop Argo
//     caught, a blue-green preview that failed analysis);
//  2. no request served by the candidate: inconclusive, nothing to judge;
//  3. neither promoted nor stopped and the run timed out: inconclusive;
//  4. otherwise the release went through (promoted, or the run ended with no
//     decision, as with strategies that never abort): missed if bad,
//     promoted if good.
func Judge(in Input, obs Observed) results.Verdict {
	if _, stopped := in.Stopped(); stopped {
		if in.GroundTruth == results.Bad {
			return results.VerdictDetected
		}
		return results.VerdictFalseAlarm
	}
	if obs.CandidateRequests == 0 {
		return results.VerdictInconclusive
	}
	if _, promoted := in.Promoted(); !promoted {
		if _, timedOut := in.First(results.EventTimeout); timedOut {
			return results.VerdictInconclusive
		}
		if _, paused := in.First(results.EventPaused); paused {
			return results.VerdictInconclusive
		}
	}
	if in.GroundTruth == results.Bad {
		return results.VerdictMissed
	}
	return results.VerdictPromoted
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

// measurementFailed is a measurement Argo recorded as Failed.
func measurementFailed(e results.Event) bool {
	return e.Kind == results.EventMeasurement && e.Measurement != nil && e.Measurement.Phase == results.MeasurementFailed
}
