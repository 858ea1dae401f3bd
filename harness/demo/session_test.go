package demo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/scenario"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/loadgen"
)

func TestLiveKeepsTheLastRequestsAndCountsTheRelease(t *testing.T) {
	var l live
	t0 := time.Unix(1_000_000, 0)
	for i := range gridCells + 10 {
		l.record(&loadgen.Record{Time: t0.Add(time.Duration(i) * time.Millisecond), Version: "blue", User: "user-0001"})
	}
	l.startRelease(t0.Add(time.Second))
	l.record(&loadgen.Record{Time: t0.Add(1500 * time.Millisecond), Version: "bad-green", Failed: true, User: "user-0002"})
	l.record(&loadgen.Record{Time: t0.Add(1600 * time.Millisecond), Version: "bad-green", Failed: true, User: "user-0002"})
	l.record(&loadgen.Record{Time: t0.Add(1700 * time.Millisecond), Version: "blue", User: "user-0003"})
	l.record(&loadgen.Record{Time: t0.Add(1800 * time.Millisecond), Aborted: true})

	s := State{Release: &Release{}}
	l.fill(&s, t0.Add(3*time.Second))
	require.Len(t, s.Grid, gridCells, "the grid holds a fixed number of requests")
	last := s.Grid[len(s.Grid)-1]
	assert.Equal(t, Cell{Version: "blue", AgeMs: 1300}, last, "newest last; aborted requests are nobody's")
	assert.Equal(t, Cell{Version: "bad-green", Failed: true, AgeMs: 1500}, s.Grid[len(s.Grid)-3])
	assert.Equal(t, int64(3), s.Release.Requests)
	assert.Equal(t, int64(2), s.Release.Failed)
	assert.Equal(t, 1, s.Release.UsersAffected, "one user saw both failures")
	require.NotNil(t, s.Release.SinceOnsetS)
	assert.InDelta(t, 1.5, *s.Release.SinceOnsetS, 1e-9, "since the first failure of the release")

	// The series: whole seconds, oldest first, the second now filling left out.
	require.Len(t, s.Series, seriesTicks-1)
	sec1 := s.Series[len(s.Series)-2]
	assert.Equal(t, t0.Unix()+1, sec1.Unix)
	assert.Equal(t, TickStats{Requests: 2, Failed: 2}, sec1.Versions["bad-green"])
	assert.Equal(t, TickStats{Requests: 1}, sec1.Versions["blue"])
	assert.InDelta(t, 100*2.0/(gridCells+10+3), share(s.Series, "bad-green"), 1e-9)
	assert.Equal(t, -1.0, share(nil, "bad-green"), "no requests: no share")
}

func TestLiveForgetsSecondsThatScrolledAway(t *testing.T) {
	var l live
	t0 := time.Unix(2_000_000, 0)
	l.record(&loadgen.Record{Time: t0, Version: "blue"})
	l.record(&loadgen.Record{Time: t0.Add(seriesTicks * time.Second), Version: "green"})
	var s State
	l.fill(&s, t0.Add((seriesTicks+1)*time.Second))
	for _, tk := range s.Series {
		assert.NotContains(t, tk.Versions, "blue", "a second that scrolled off is not drawn again")
	}
}

func TestControlsRefuseWhatCannotActNow(t *testing.T) {
	sc := stageScenario(t)
	s := &Session{cfg: Config{Scenario: sc, Strategies: []string{strategy.CanaryAnalysis, strategy.BlueGreen}, Analyzers: []string{"threshold"}},
		phase: PhaseStarting, strategy: strategy.CanaryAnalysis, analyzer: "threshold", stable: sc.Stable}
	ctx := context.Background()
	var refusal *Refusal
	var bad *BadRequest

	_, err := s.Act(ctx, ControlReleaseGood, "")
	require.ErrorAs(t, err, &refusal)
	assert.Contains(t, refusal.Reason, "still starting")

	s.phase = PhaseIdle
	for _, c := range []Control{ControlPromote, ControlAbort} {
		_, err = s.Act(ctx, c, "")
		require.ErrorAs(t, err, &refusal, c)
		assert.Contains(t, refusal.Reason, "no release in progress")
	}
	_, err = s.Act(ctx, ControlFault, "errors")
	require.ErrorAs(t, err, &refusal)
	_, err = s.Act(ctx, ControlFault, "meteor")
	require.ErrorAs(t, err, &bad)
	_, err = s.Act(ctx, ControlReleaseBad, "meteor")
	require.ErrorAs(t, err, &bad)
	_, err = s.Act(ctx, "launch", "")
	require.ErrorAs(t, err, &bad)
	_, err = s.Act(ctx, ControlStrategy, strategy.Shadow)
	require.ErrorAs(t, err, &bad, "not on offer")
	_, err = s.Act(ctx, ControlStrategy, strategy.CanaryAnalysis)
	require.ErrorAs(t, err, &refusal, "already the strategy")

	msg, err := s.Act(ctx, ControlAnalyzer, "threshold")
	require.NoError(t, err)
	assert.Contains(t, msg, "threshold")

	s.phase = PhaseReleasing
	s.release = &Release{ID: 3, Candidate: "green"}
	_, err = s.Act(ctx, ControlReleaseBad, "bad")
	require.ErrorAs(t, err, &refusal)
	assert.Equal(t, "release 3 (green) is in progress", refusal.Reason)
	_, err = s.Act(ctx, ControlAnalyzer, "threshold")
	require.ErrorAs(t, err, &refusal, "the analyzer of a release in progress stays")

	s.conn.set(errors.New("connection refused"))
	_, err = s.Act(ctx, ControlAbort, "")
	require.ErrorAs(t, err, &refusal)
	assert.Contains(t, refusal.Reason, "API server is not answering")

	kinds := map[LogKind]int{}
	for _, l := range s.log {
		kinds[l.Kind]++
	}
	assert.Equal(t, 1, kinds[LogInfo], "the one that acted")
	assert.Equal(t, 12, kinds[LogRefused], "every refusal is on the audience's log")
}

func TestNextVersionWalksTheColours(t *testing.T) {
	s := &Session{phase: PhaseIdle, stable: mustVersion(t, "purple")}
	v, err := s.nextVersion("")
	require.NoError(t, err)
	assert.Equal(t, "blue", v.Tag, "after the last colour, the first")
	s.stable = mustVersion(t, "blue")
	v, err = s.nextVersion("slow")
	require.NoError(t, err)
	assert.Equal(t, "slow-green", v.Tag)
	for _, c := range variantChoices() {
		_, ok := catalog.Lookup(c.Name + "-green")
		assert.True(t, ok, "variant %s is in the catalog", c.Name)
		assert.NotEmpty(t, c.Description)
	}
}

func TestAvailabilitySaysWhy(t *testing.T) {
	s := &Session{phase: PhaseReleasing, release: &Release{ID: 1, Candidate: "bad-green"}}
	st := State{Phase: PhaseReleasing, Connected: true, Release: &Release{ID: 1, Candidate: "bad-green"},
		Rollout: Rollout{Kind: "Rollout"}, ReplicaSets: []ReplicaSet{{Version: "blue", Pods: []Pod{{Phase: "Running", Ready: true}}}}}
	av := s.availability(&st)
	assert.True(t, av[ControlAbort].Enabled)
	assert.True(t, av[ControlPromote].Enabled)
	assert.False(t, av[ControlFault].Enabled)
	assert.Equal(t, "the candidate has no running pod yet", av[ControlFault].Reason)
	assert.Equal(t, Availability{Reason: "release 1 (bad-green) is in progress"}, av[ControlReleaseGood])

	st.ReplicaSets = append(st.ReplicaSets, ReplicaSet{Version: "bad-green", Pods: []Pod{{Phase: "Running"}}})
	assert.True(t, s.availability(&st)[ControlFault].Enabled)

	st.Rollout.Kind = "Deployment"
	assert.Contains(t, s.availability(&st)[ControlAbort].Reason, "Deployment")

	st.Connected, st.Notice = false, "the API server is not answering (for 3s): reconnecting"
	av = s.availability(&st)
	for _, c := range Controls {
		if c == ControlStrategy || c == ControlAnalyzer {
			continue // refused by the phase here
		}
		assert.False(t, av[c].Enabled, c)
		assert.Equal(t, st.Notice, av[c].Reason, c)
	}
}

func TestConnectionSaysSinceWhen(t *testing.T) {
	var c connection
	ok, _ := c.status()
	assert.True(t, ok)
	c.set(errors.New("dial tcp: connection refused"))
	c.since = time.Now().Add(-5 * time.Second)
	c.set(errors.New("again")) // the outage's start stays
	ok, msg := c.status()
	assert.False(t, ok)
	assert.Equal(t, "the API server is not answering (for 5s): reconnecting", msg)
	c.set(nil)
	ok, _ = c.status()
	assert.True(t, ok)
}

func mustVersion(t *testing.T, tag string) catalog.Version {
	t.Helper()
	v, ok := catalog.Lookup(tag)
	require.True(t, ok, tag)
	return v
}

func stageScenario(t *testing.T) *scenario.Scenario {
	t.Helper()
	scs, err := scenario.LoadAll("../../scenarios/demo/stage.yaml")
	require.NoError(t, err)
	return scs[0]
}
