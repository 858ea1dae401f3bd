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

	"github.com/blastradius/blastradius/harness/results"
)

// Input describes the run being scored.
type Input struct {
	// Stable and Candidate are version names as the demo app reports them
	// in X-Version (e.g. "blue", "bad-green").
	Stable, Candidate string
	// GroundTruth says whether the candidate is a bad release.
	GroundTruth results.GroundTruth
	// SLO is the latency above which a response counts as failed; 0 = none.
	SLO time.Duration
	// Window bounds the scoring: its Start is when the candidate was
	// applied, its End when the load stopped.
	Window results.Window
	// Events need not be sorted; only those within [Start, End] count.
	Events []results.Event
}

// Validate reports an Input that cannot be scored.
func (in Input) Validate() error {
	switch {
	case in.Candidate == "":
		return errors.New("score: no candidate version")
	case in.Candidate == in.Stable:
		return fmt.Errorf("score: candidate and stable are both %q", in.Candidate)
	case in.Window.Start.IsZero():
		return errors.New("score: no window start (candidate applied time)")
	case in.Window.End.Before(in.Window.Start):
		return fmt.Errorf("score: window end %s before its start %s", in.Window.End, in.Window.Start)
	case in.GroundTruth != results.Good && in.GroundTruth != results.Bad:
		return fmt.Errorf("score: ground truth %q is neither good nor bad", in.GroundTruth)
	case in.SLO < 0:
		return fmt.Errorf("score: negative SLO %s", in.SLO)
	}
	return nil
}

// InWindow reports whether a request sent at t is scored: the window is
// [Start, End). Earlier requests are warm-up.
func (in Input) InWindow(t time.Time) bool { return in.Window.Contains(t) }

// eventInWindow is the closed window for events: an abort at End may be what
// ended the run.
func (in Input) eventInWindow(t time.Time) bool {
	return !t.Before(in.Window.Start) && !t.After(in.Window.End)
}

// First returns the earliest in-window event of one of the kinds.
func (in Input) First(kinds ...results.EventKind) (results.Event, bool) {
	return in.FirstMatching(func(e results.Event) bool { return slices.Contains(kinds, e.Kind) })
}

// FirstMatching returns the earliest in-window event for which match holds.
func (in Input) FirstMatching(match func(results.Event) bool) (results.Event, bool) {
	var first results.Event
	found := false
	for _, e := range in.Events {
		if !in.eventInWindow(e.Time) || !match(e) {
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
func (in Input) Decision() (results.Event, bool) {
	return in.First(results.EventAborted, results.EventDegraded, results.EventPromoted)
}

// Stopped returns the time the strategy stopped the candidate (Aborted or
// Degraded), if that was its decision.
func (in Input) Stopped() (time.Time, bool) {
	d, ok := in.Decision()
	if !ok || d.Kind == results.EventPromoted {
		return time.Time{}, false
	}
	return d.Time, true
}

// Promoted returns the time the candidate was fully promoted, if that was
// the decision.
func (in Input) Promoted() (time.Time, bool) {
	d, ok := in.Decision()
	if !ok || d.Kind != results.EventPromoted {
		return time.Time{}, false
	}
	return d.Time, true
}
