package cli

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/loadgen"
)

// TestRunRoutedEndToEnd runs scenarios/routing on the local platform, load
// through Traefik: exact weights under Argo's own Traefik router, a header
// route to a cohort and a mirror under blastradius's traffic-router plugin.
// It checks what each user got, request by request.
func TestRunRoutedEndToEnd(t *testing.T) {
	out, set, _ := runShipped(t, "routing", 2)
	require.Len(t, set.Runs, 3)
	for _, r := range set.Runs {
		t.Run(r.ID, func(t *testing.T) {
			assert.False(t, r.Failed(), "expectations: %+v", r.Expectations)
			assert.Equal(t, r.Load.Total, r.BlastRadius.TotalRequests+r.Excluded, "every request is accounted for")
			recs := readRecords(t, filepath.Join(out, r.Records))
			switch r.Strategy {
			case "canary-traffic":
				checkWeights(t, r, recs)
			case "dark-launch":
				checkCohort(t, r, recs)
			case "shadow":
				checkMirror(t, r, recs)
			}
		})
	}
}

func readRecords(t *testing.T, path string) []loadgen.Record {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []loadgen.Record
	require.NoError(t, loadgen.ReadRecords(f, func(r loadgen.Record) error { out = append(out, r); return nil }))
	return out
}

// weightAt is the rollout's set weight at time at, from its events; -1
// before the first.
func weightAt(r results.Run, at time.Time) float64 {
	w := -1.0
	for _, e := range r.Events {
		if e.Kind == results.EventRollout && e.Rollout != nil && !e.Time.After(at) {
			w = float64(e.Rollout.Weight)
		}
	}
	return w
}

// checkWeights: in each weight step, the candidate's share of the answers is
// within 3.5 binomial standard deviations of the weight (the first second
// after a change is left out: Traefik applies it within that).
func checkWeights(t *testing.T, r results.Run, recs []loadgen.Record) {
	type tally struct{ n, cand float64 }
	byWeight := map[float64]*tally{}
	var changes []time.Time
	for _, e := range r.Events {
		if e.Kind == results.EventRollout && e.Rollout != nil {
			changes = append(changes, e.Time)
		}
	}
	for _, rec := range recs {
		w := weightAt(r, rec.Time)
		if w <= 0 || w >= 100 || rec.Version == "" {
			continue
		}
		i, _ := slices.BinarySearchFunc(changes, rec.Time, func(a, b time.Time) int { return a.Compare(b) })
		if i > 0 && rec.Time.Sub(changes[i-1]) < time.Second {
			continue
		}
		tl := byWeight[w]
		if tl == nil {
			tl = &tally{}
			byWeight[w] = tl
		}
		tl.n++
		if rec.Version == r.Candidate {
			tl.cand++
		}
	}
	for _, w := range []float64{1, 5, 50} {
		tl := byWeight[w]
		require.NotNil(t, tl, "no requests at weight %v%%", w)
		p := w / 100
		sd := math.Sqrt(tl.n * p * (1 - p))
		t.Logf("weight %v%%: candidate answered %v of %v requests (%.2f%%), expected %.1f ± %.1f", w, tl.cand, tl.n, 100*tl.cand/tl.n, p*tl.n, 3.5*sd)
		assert.InDelta(t, p*tl.n, tl.cand, 3.5*sd+1, "weight %v%%", w)
	}
}

// checkCohort: while the cohort's route stands, no cohort request was
// answered by stable and no other user's by the candidate; after the abort
// the cohort is back on stable.
//
// The route stands from the candidate's first answer to its last answer to
// the cohort: Argo removes the route as it aborts, a moment (seconds, on a
// loaded machine) before the watcher records the abort, so the abort's time
// alone cannot end the phase.
func checkCohort(t *testing.T, r results.Run, recs []loadgen.Record) {
	require.Equal(t, results.OutcomeAborted, r.Outcome)
	var aborted time.Time
	for _, e := range r.Events {
		if e.Kind == results.EventAborted {
			aborted = e.Time
		}
	}
	require.False(t, aborted.IsZero())
	var first, last, lastAny time.Time
	for _, rec := range recs {
		if rec.Version != r.Candidate {
			continue
		}
		if first.IsZero() || rec.Time.Before(first) {
			first = rec.Time
		}
		if rec.Time.After(lastAny) {
			lastAny = rec.Time
		}
		if loadgen.InCohort(rec.User, 0.2) && rec.Time.After(last) {
			last = rec.Time
		}
	}
	require.False(t, first.IsZero(), "the candidate answered someone")
	end := aborted.Add(-2 * time.Second)
	if last.Before(end) {
		end = last
	}
	var cohortIn, cohortCand, cohortUnattributed, othersCand, cohortAfter, cohortAfterStable int
	var leaks []loadgen.Record
	for _, rec := range recs {
		in := loadgen.InCohort(rec.User, 0.2)
		switch {
		case !rec.Time.Before(first) && !rec.Time.After(end) && weightAt(r, rec.Time) <= 0:
			switch {
			case in && rec.Version == r.Candidate:
				cohortIn++
				cohortCand++
			case in && rec.Version == "":
				// No answer to attribute (a transport error or a
				// router's own error page): it says nothing about
				// where the route sent it.
				cohortIn++
				cohortUnattributed++
			case in || rec.Version == r.Candidate:
				if in {
					cohortIn++
				} else {
					othersCand++
				}
				leaks = append(leaks, rec)
			}
		// The run settles until a second of load got no answer from
		// the candidate: that second is the cohort's, back on stable.
		case rec.Time.After(aborted) && rec.Time.After(lastAny):
			if in {
				cohortAfter++
				if rec.Version == r.Stable && rec.Code == 200 {
					cohortAfterStable++
				}
			}
		}
	}
	t.Logf("dark phase (%v, from %v before the abort): %d of %d cohort requests answered by the candidate, %d unattributed, %d of the others' by the candidate; after the abort %d of %d cohort requests by stable",
		end.Sub(first).Round(time.Millisecond), aborted.Sub(end).Round(time.Millisecond),
		cohortCand, cohortIn, cohortUnattributed, othersCand, cohortAfterStable, cohortAfter)
	for _, rec := range leaks {
		t.Logf("  misrouted: user %s (cohort %v) at %v before the abort: version %q, code %d",
			rec.User, loadgen.InCohort(rec.User, 0.2), aborted.Sub(rec.Time).Round(time.Millisecond), rec.Version, rec.Code)
	}
	require.Positive(t, cohortCand)
	assert.Equal(t, cohortIn, cohortCand+cohortUnattributed, "no cohort request went to stable while the route stood")
	assert.LessOrEqual(t, cohortUnattributed*20, cohortIn, "at most 5%% of the cohort's requests unanswered: a route that broke would show here")
	assert.Zero(t, othersCand, "no one outside the cohort saw the candidate")
	require.Positive(t, cohortAfter, "the run went on after the candidate's last answer")
	assert.Equal(t, cohortAfter, cohortAfterStable, "the route is gone: the cohort is back on stable")
	assert.Positive(t, r.BlastRadius.FailedRequests, "the cohort saw the bad release")
}

// checkMirror: users only ever got stable answers, none failed, and the
// candidate served the mirrored copies (and failed some of them).
func checkMirror(t *testing.T, r results.Run, recs []loadgen.Record) {
	require.Equal(t, results.OutcomeAborted, r.Outcome)
	for _, rec := range recs {
		require.NotEqual(t, r.Candidate, rec.Version, "a user got the candidate's answer at %v", rec.Time)
	}
	assert.Zero(t, r.BlastRadius.FailedRequests, "no user saw a failure")
	require.NotNil(t, r.CandidateServed)
	t.Logf("users: %d requests, %d failed; the candidate served %.0f mirrored requests, %.0f of them 5xx",
		r.BlastRadius.TotalRequests, r.BlastRadius.FailedRequests, r.CandidateServed.Requests, r.CandidateServed.Errors)
	assert.Positive(t, r.CandidateServed.Requests, "the candidate got the mirror")
	assert.Positive(t, r.CandidateServed.Errors, "and failed some of it, unseen")
}
