// Package score turns one run's request records and rollout events into
// scores: the blast radius of the candidate release, how long the strategy
// took to react, and a verdict against the release's ground truth.
//
// Every definition is one function here and is written out in
// docs/scoring.md; the Scorer only tallies records so that memory stays flat
// for long runs. Request times are always send times (Record.Time).
package score

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// EventKind names a rollout, analysis, fault or harness event.
type EventKind string

const (
	// EventAborted: Argo aborted the rollout.
	EventAborted EventKind = "Aborted"
	// EventDegraded: the rollout ended Degraded without an abort (e.g. the
	// candidate's pods never became ready). Scored like EventAborted.
	EventDegraded EventKind = "Degraded"
	// EventPromoted: the rollout is fully promoted (Healthy on the candidate).
	EventPromoted EventKind = "Promoted"
	// EventMeasurementFailed and EventMeasurementSucceeded are analysis
	// measurements; Value holds the measured value.
	EventMeasurementFailed    EventKind = "MeasurementFailed"
	EventMeasurementSucceeded EventKind = "MeasurementSucceeded"
	// EventFaultInjected and EventFaultCleared bracket a fault the harness
	// injected at run time.
	EventFaultInjected EventKind = "FaultInjected"
	EventFaultCleared  EventKind = "FaultCleared"
	// EventRunTimedOut: the harness gave up waiting for a decision.
	EventRunTimedOut EventKind = "RunTimedOut"
)

// Event is something that happened during the run.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   EventKind `json:"kind"`
	Value  string    `json:"value,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Input describes the run being scored.
type Input struct {
	// Stable and Candidate are version names as the demo app reports them
	// in X-Version (e.g. "blue", "bad-green").
	Stable, Candidate string
	// GroundTruthBad tells whether the candidate is a bad release.
	GroundTruthBad bool
	// SLO is the latency above which a response counts as failed; 0 = none.
	SLO time.Duration
	// CandidateApplied and End bound the scoring window.
	CandidateApplied time.Time
	End              time.Time
	// Events need not be sorted; only those within [CandidateApplied, End]
	// count.
	Events []Event
}

// Validate reports an Input that cannot be scored.
func (in Input) Validate() error {
	switch {
	case in.Candidate == "":
		return errors.New("score: no candidate version")
	case in.Candidate == in.Stable:
		return fmt.Errorf("score: candidate and stable are both %q", in.Candidate)
	case in.CandidateApplied.IsZero():
		return errors.New("score: no candidate applied time")
	case in.End.Before(in.CandidateApplied):
		return fmt.Errorf("score: end %s before candidate applied %s", in.End, in.CandidateApplied)
	case in.SLO < 0:
		return fmt.Errorf("score: negative SLO %s", in.SLO)
	}
	return nil
}

// InWindow reports whether a request sent at t is scored: the window is
// [CandidateApplied, End). Earlier requests are warm-up.
func (in Input) InWindow(t time.Time) bool {
	return !t.Before(in.CandidateApplied) && t.Before(in.End)
}

// eventInWindow is the closed window for events: an abort at End may be what
// ended the run.
func (in Input) eventInWindow(t time.Time) bool {
	return !t.Before(in.CandidateApplied) && !t.After(in.End)
}

// First returns the earliest in-window event of one of the kinds.
func (in Input) First(kinds ...EventKind) (Event, bool) {
	var first Event
	found := false
	for _, e := range in.Events {
		if !in.eventInWindow(e.Time) || !slices.Contains(kinds, e.Kind) {
			continue
		}
		if !found || e.Time.Before(first.Time) {
			first, found = e, true
		}
	}
	return first, found
}

// Decision returns what the strategy did with the candidate: the first
// Aborted, Degraded or Promoted event. Later ones are ignored: Argo does not
// go back on either, so a log showing both is noise after the fact.
func (in Input) Decision() (Event, bool) {
	return in.First(EventAborted, EventDegraded, EventPromoted)
}

// Stopped returns the time the strategy stopped the candidate (Aborted or
// Degraded), if that was its decision.
func (in Input) Stopped() (time.Time, bool) {
	d, ok := in.Decision()
	if !ok || d.Kind == EventPromoted {
		return time.Time{}, false
	}
	return d.Time, true
}

// Promoted returns the time the candidate was fully promoted, if that was
// the decision.
func (in Input) Promoted() (time.Time, bool) {
	d, ok := in.Decision()
	if !ok || d.Kind != EventPromoted {
		return time.Time{}, false
	}
	return d.Time, true
}

// Verdict is the run's outcome against ground truth.
type Verdict string

const (
	VerdictDetected     Verdict = "detected"     // bad, stopped
	VerdictMissed       Verdict = "missed"       // bad, went through
	VerdictFalseAlarm   Verdict = "false-alarm"  // good, stopped
	VerdictPromoted     Verdict = "promoted"     // good, went through
	VerdictInconclusive Verdict = "inconclusive" // nothing to judge
)

// Scores are one run's results. The JSON names are read by external scripts.
type Scores struct {
	Verdict     Verdict     `json:"verdict"`
	BlastRadius BlastRadius `json:"blastRadius"`
	Timing      Timing      `json:"timing"`
	// Excluded counts records not scored: aborted by the harness, or sent
	// outside the window.
	Excluded int64 `json:"excludedRequests"`
}

// BlastRadius counts what users saw within the window.
type BlastRadius struct {
	TotalRequests           int64   `json:"totalRequests"`
	FailedRequests          int64   `json:"failedRequests"`
	CandidateFailedRequests int64   `json:"candidateFailedRequests"`
	UnattributedErrors      int64   `json:"unattributedErrors"`
	CandidateShare          float64 `json:"candidateShare"`
	PeakExposure            int64   `json:"peakExposure"`
	PeakExposureRate        float64 `json:"peakExposureRate"`
	UsersAffected           int     `json:"usersAffected"`
	UsersTotal              int     `json:"usersTotal"`
}

// Timing holds seconds since CandidateApplied (or between two moments); nil,
// null in JSON, when not applicable.
type Timing struct {
	FaultOnsetSeconds                   *float64 `json:"faultOnsetSeconds"`
	TimeToFirstFailedMeasurementSeconds *float64 `json:"timeToFirstFailedMeasurementSeconds"`
	TimeToAbortSeconds                  *float64 `json:"timeToAbortSeconds"`
	TimeToDetectSeconds                 *float64 `json:"timeToDetectSeconds"`
	TimeToRecoverSeconds                *float64 `json:"timeToRecoverSeconds"`
	TimeToPromoteSeconds                *float64 `json:"timeToPromoteSeconds"`
}
