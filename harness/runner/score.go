package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/score"
)

// score reads the records back and scores the run within its window.
func (x *run) score(context.Context) error {
	in := x.scoreInput()
	f, err := os.Open(filepath.Join(x.r.OutDir, x.res.Records))
	if err != nil {
		return err
	}
	defer f.Close()
	scores, series, err := score.ScoreReader(in, f)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	x.res.Scores, x.res.Series = scores, series
	x.res.Expectations = expectations(x.sc, x.spec.Strategy, scores)
	return nil
}

func (x *run) scoreInput() score.Input {
	return score.Input{
		Stable: x.sc.Stable.Tag, Candidate: x.sc.Candidate.Tag, GroundTruth: x.sc.GroundTruth,
		SLO: x.sc.Load.SLO, Window: x.res.Window, Events: x.w.Events(),
	}
}

// expectations checks the scenario's expect block for this strategy.
func expectations(sc *scenario.Scenario, strat string, s results.Scores) []results.Expectation {
	exp := sc.ExpectFor(strat)
	out := []results.Expectation{}
	if exp == nil {
		return out
	}
	if len(exp.Verdicts) > 0 {
		ok := exp.AllowsVerdict(s.Verdict)
		out = append(out, results.Expectation{Name: "verdict", OK: ok,
			Message: fmt.Sprintf("verdict %s, want %s", s.Verdict, joinVerdicts(exp.Verdicts))})
	}
	if exp.MaxFailedRequests != nil {
		ok := s.BlastRadius.FailedRequests <= *exp.MaxFailedRequests
		out = append(out, results.Expectation{Name: "maxFailedRequests", OK: ok,
			Message: fmt.Sprintf("%d failed requests, at most %d allowed", s.BlastRadius.FailedRequests, *exp.MaxFailedRequests)})
	}
	if exp.MaxTimeToDetect != nil {
		t := s.Timing.TimeToDetectSeconds
		ok := t != nil && *t <= exp.MaxTimeToDetect.Seconds()
		msg := fmt.Sprintf("not detected, want within %s", exp.MaxTimeToDetect)
		if t != nil {
			msg = fmt.Sprintf("detected after %.1fs, want within %s", *t, exp.MaxTimeToDetect)
		}
		out = append(out, results.Expectation{Name: "maxTimeToDetect", OK: ok, Message: msg})
	}
	return out
}

func joinVerdicts(vs []results.Verdict) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, " or ")
}
