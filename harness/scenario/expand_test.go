package scenario

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ids(runs []RunSpec) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func TestExpand(t *testing.T) {
	a := &Scenario{Name: "a", Strategies: strategy.Defaults(), Analyzers: []string{analysis.Default}, Seeds: []int64{1}}
	b := &Scenario{Name: "b", Strategies: []string{strategy.CanaryAnalysis, strategy.Canary}, Analyzers: []string{analysis.Default}, Seeds: []int64{4, 7}}

	runs := Expand([]*Scenario{a, b}, Filter{}, 0, nil)
	assert.Equal(t, []string{
		"a/deployment-rolling/none/seed-1",
		"a/canary/none/seed-1",
		"a/canary-analysis/threshold/seed-1",
		"a/canary-step-analysis/threshold/seed-1",
		"a/blue-green/none/seed-1",
		"a/blue-green-analysis/threshold/seed-1",
		"b/canary-analysis/threshold/seed-4",
		"b/canary-analysis/threshold/seed-7",
		"b/canary/none/seed-4",
		"b/canary/none/seed-7",
	}, ids(runs))
	for i, r := range runs {
		assert.Equal(t, i, r.Index)
		assert.Equal(t, RunID(r.Scenario.Name, r.Strategy, r.Analyzer, r.Seed), r.ID)
	}
	assert.Same(t, b, runs[6].Scenario)
	assert.Equal(t, RunSpec{Scenario: b, Strategy: "canary", Analyzer: "none", Seed: 7, Index: 9, ID: "b/canary/none/seed-7"}, runs[9])

	// Analyzers multiply only the strategies with analysis.
	c := &Scenario{Name: "c", Strategies: strategy.Defaults(), Analyzers: []string{"threshold", "other"}, Seeds: []int64{1, 2}}
	assert.Len(t, Expand([]*Scenario{c}, Filter{}, 0, nil), (3+3*2)*2)

	// Overrides: consecutive seeds from the first (or the given) seed.
	assert.Equal(t, []string{"b/canary/none/seed-4", "b/canary/none/seed-5", "b/canary/none/seed-6"},
		ids(Expand([]*Scenario{b}, Filter{Strategies: []string{"canary"}}, 3, nil)))
	seed := int64(100)
	assert.Equal(t, []string{"b/canary/none/seed-100", "b/canary/none/seed-101"},
		ids(Expand([]*Scenario{b}, Filter{Strategies: []string{"canary"}}, 0, &seed)), "the scenario's repeat, from the seed")
	assert.Equal(t, []string{"b/canary/none/seed-100"},
		ids(Expand([]*Scenario{b}, Filter{Strategies: []string{"canary"}}, 1, &seed)))

	// Filters.
	f, err := ParseFilter("analyzer=none,scenario=a")
	require.NoError(t, err)
	assert.Equal(t, []string{"a/deployment-rolling/none/seed-1", "a/canary/none/seed-1", "a/blue-green/none/seed-1"}, ids(Expand([]*Scenario{a, b}, f, 0, nil)))
	f, err = ParseFilter("strategy=canary-analysis,blue-green-analysis,analyzer=threshold")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"a/canary-analysis/threshold/seed-1",
		"a/blue-green-analysis/threshold/seed-1",
		"b/canary-analysis/threshold/seed-4",
		"b/canary-analysis/threshold/seed-7",
	}, ids(Expand([]*Scenario{a, b}, f, 0, nil)))
	f, err = ParseFilter("scenario=nope")
	require.NoError(t, err)
	assert.Empty(t, Expand([]*Scenario{a, b}, f, 0, nil))
	assert.EqualError(t, f.Check([]*Scenario{a, b}), `filter names unknown scenario "nope" (known: a, b)`)
	assert.NoError(t, Filter{Scenarios: []string{"b"}}.Check([]*Scenario{a, b}))
}

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Filter
		err  string
	}{
		{in: "", want: Filter{}},
		{in: "  ", want: Filter{}},
		{in: "strategy=canary", want: Filter{Strategies: []string{"canary"}}},
		{in: "strategy=a-b", err: `invalid filter "strategy=a-b": unknown strategy "a-b" (known: deployment-rolling, canary, canary-analysis, canary-step-analysis, blue-green, blue-green-analysis, canary-traffic, canary-traffic-analysis, dark-launch, shadow)`},
		{
			in: "strategy=canary,canary-analysis,analyzer=threshold,scenario=x, scenario = y ,strategy=canary",
			want: Filter{
				Strategies: []string{"canary", "canary-analysis"},
				Analyzers:  []string{"threshold"},
				Scenarios:  []string{"x", "y"},
			},
		},
		{in: "analyzer=none", want: Filter{Analyzers: []string{"none"}}},
		{in: "analyzer=oracle", err: `invalid filter "analyzer=oracle": unknown analyzer "oracle" (known: ` + knownAnalyzers + `, none)`},
		{in: "canary", err: `invalid filter "canary": "canary" comes before any key; start with scenario=, strategy=, analyzer=`},
		{in: "strategies=canary", err: `invalid filter "strategies=canary": unknown key "strategies" (want scenario, strategy, analyzer)`},
		{in: "strategy=", err: `invalid filter "strategy=": strategy= needs a value`},
		{in: "strategy=canary,,", err: `invalid filter "strategy=canary,,": empty value (two commas in a row, or a trailing comma)`},
	} {
		f, err := ParseFilter(tc.in)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, f, tc.in)
		// String round-trips.
		again, err := ParseFilter(f.String())
		require.NoError(t, err)
		assert.Equal(t, f, again)
		assert.Equal(t, tc.want.IsEmpty(), f.String() == "")
	}
	assert.Equal(t, "scenario=x,strategy=canary,blue-green,analyzer=none",
		Filter{Strategies: []string{"canary", "blue-green"}, Analyzers: []string{"none"}, Scenarios: []string{"x"}}.String())
}

func TestStrategyTraits(t *testing.T) {
	var withAnalysis []string
	for _, s := range strategy.Names() {
		if hasAnalysis(s) {
			withAnalysis = append(withAnalysis, s)
		}
	}
	assert.Equal(t, []string{"canary-analysis", "canary-step-analysis", "blue-green-analysis", "canary-traffic-analysis", "dark-launch", "shadow"}, withAnalysis)
	assert.True(t, isCanary("canary-step-analysis"))
	assert.False(t, isCanary("blue-green"))
	assert.False(t, hasAnalysis("nope"))
	assert.NotContains(t, analysis.Names(), analysis.None)
}

func TestErrorsFlattens(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	assert.Equal(t, []error{a, b, c}, Errors(errors.Join(a, errors.Join(b, c))))
	assert.Equal(t, []error{a}, Errors(a))
	assert.Nil(t, Errors(nil))
	assert.Equal(t, "f.yaml: m", (&Error{File: "f.yaml", Msg: "m"}).Error())
	assert.Equal(t, "f.yaml:3: m", (&Error{File: "f.yaml", Line: 3, Msg: "m"}).Error())
	assert.Equal(t, "f.yaml:3: spec.x: m", (&Error{File: "f.yaml", Line: 3, Field: "spec.x", Msg: "m"}).Error())
}

// The shipped scenarios validate, and the set covers what the README promises.
func TestShippedScenarios(t *testing.T) {
	dir := filepath.Join("..", "..", "scenarios")
	set, err := LoadAll(dir)
	require.NoError(t, err)
	byName := map[string]*Scenario{}
	for _, s := range set {
		byName[s.Name] = s
		assert.Equal(t, s.Name+".yaml", filepath.Base(s.File), "file named after the scenario")
		assert.NotEmpty(t, s.Description, s.Name)
		assert.LessOrEqual(t, s.Timeout.Minutes(), 4.0, "%s: keep the default set short", s.Name)
	}
	for _, name := range []string{
		"good-release", "high-error-rate", "low-error-rate", "latency-regression", "crash-loop",
		"late-onset", "bursty-errors", "user-segment", "pod-kills-good-release",
		"stable-incident-good-release", "low-traffic",
	} {
		assert.Contains(t, byName, name)
	}
	assert.False(t, byName["good-release"].GroundTruth == results.Bad)
	assert.False(t, byName["pod-kills-good-release"].GroundTruth == results.Bad)
	assert.False(t, byName["stable-incident-good-release"].GroundTruth == results.Bad)
	assert.True(t, byName["late-onset"].GroundTruth == results.Bad)
	assert.True(t, byName["high-error-rate"].ExpectFor(strategy.CanaryAnalysis).AllowsVerdict(results.VerdictDetected))
	assert.Equal(t, 300_000_000, int(byName["latency-regression"].Load.SLO))

	smoke, err := LoadAll(filepath.Join(dir, "smoke"))
	require.NoError(t, err)
	require.Len(t, smoke, 1)
	s := smoke[0]
	assert.Equal(t, "bad-green", s.Candidate.Tag)
	assert.Equal(t, []string{strategy.CanaryAnalysis}, s.Strategies)
	assert.Equal(t, []results.Verdict{results.VerdictDetected}, s.ExpectFor(strategy.CanaryAnalysis).Verdicts)
	assert.Len(t, Expand(smoke, Filter{}, 0, nil), 1)

	// The whole shipped set loads together: names are unique across it.
	_, err = LoadAll(dir, filepath.Join(dir, "smoke"))
	require.NoError(t, err)
}
