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

// checkCohort: while the cohort's route stands, every cohort request the
// candidate could answer went to it and no other user's did; after the
// abort the cohort is back on stable.
func checkCohort(t *testing.T, r results.Run, recs []loadgen.Record) {
	require.Equal(t, results.OutcomeAborted, r.Outcome)
	var aborted time.Time
	for _, e := range r.Events {
		if e.Kind == results.EventAborted {
			aborted = e.Time
		}
	}
	require.False(t, aborted.IsZero())
	first := time.Time{}
	for _, rec := range recs {
		if rec.Version == r.Candidate && (first.IsZero() || rec.Time.Before(first)) {
			first = rec.Time
		}
	}
	require.False(t, first.IsZero(), "the candidate answered someone")
	var cohortIn, cohortCand, othersCand, cohortAfter, cohortAfterStable int
	for _, rec := range recs {
		in := loadgen.InCohort(rec.User, 0.2)
		switch {
		// Argo removes the route as it aborts, a moment before the
		// watcher records the abort: the last seconds before it are
		// left out.
		case rec.Time.After(first) && rec.Time.Before(aborted.Add(-2*time.Second)) && weightAt(r, rec.Time) <= 0:
			if in {
				cohortIn++
				if rec.Version == r.Candidate {
					cohortCand++
				}
			} else if rec.Version == r.Candidate {
				othersCand++
			}
		case rec.Time.After(aborted.Add(10 * time.Second)):
			if in {
				cohortAfter++
				if rec.Version == r.Stable && rec.Code == 200 {
					cohortAfterStable++
				}
			}
		}
	}
	t.Logf("dark phase: %d of %d cohort requests answered by the candidate, %d of the others'; after the abort %d of %d cohort requests by stable",
		cohortCand, cohortIn, othersCand, cohortAfterStable, cohortAfter)
	require.Positive(t, cohortIn)
	assert.Equal(t, cohortIn, cohortCand, "every cohort request went to the candidate")
	assert.Zero(t, othersCand, "no one outside the cohort saw the candidate")
	if cohortAfter > 0 {
		assert.Equal(t, cohortAfter, cohortAfterStable, "the route is gone: the cohort is back on stable")
	}
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
