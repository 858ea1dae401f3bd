package analyzer

import (
	"context"

	"github.com/blastradius/blastradius/harness/results"
)

// Decision is how Argo's analysis loop would have ended on a trace with one
// analyzer answering every measurement.
type Decision struct {
	Analyzer string    `json:"analyzer"`
	Verdicts []Verdict `json:"verdicts"` // one per Trace.Analyses time
	// Failed is the time (seconds since the trace's start) of the
	// measurement that made failures exceed the failure limit: when Argo
	// would have aborted. Nil: it would not have.
	Failed *float64 `json:"failed,omitempty"`
	// Inconclusive is when inconclusive answers exceeded their limit
	// (Argo pauses the rollout), if before any failure.
	Inconclusive *float64 `json:"inconclusive,omitempty"`
}

// Replay asks the analyzer at every analysis time of the trace, in order,
// and applies the trace's Loop the way Argo's analysis controller does.
// Measurements after the decision are still taken, for the record.
func Replay(ctx context.Context, t *Trace, a Analyzer) (Decision, error) {
	d := Decision{Analyzer: a.Name(), Verdicts: make([]Verdict, 0, len(t.Analyses))}
	var failed, inconclusive int
	for _, at := range t.Analyses {
		v, err := a.Analyze(ctx, t.At(at))
		if err != nil {
			return d, err
		}
		d.Verdicts = append(d.Verdicts, v)
		d.Decide(at, v.Verdict, &failed, &inconclusive, t.Loop)
	}
	return d, nil
}

// Decide counts one measurement into the loop's tallies and records the
// time the run fails or turns inconclusive, the first time only.
func (d *Decision) Decide(at float64, v results.AnalysisVerdict, failed, inconclusive *int, loop Loop) {
	if d.Failed != nil || d.Inconclusive != nil {
		return
	}
	switch v {
	case Fail:
		if *failed++; *failed > loop.FailureLimit {
			d.Failed = &at
		}
	case Inconclusive:
		if *inconclusive++; *inconclusive > loop.InconclusiveLimit {
			d.Inconclusive = &at
		}
	}
}
