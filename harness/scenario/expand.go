package scenario

import (
	"fmt"
	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/strategy"
	"slices"
	"strings"
)

// RunSpec is one run of the matrix: a scenario under one strategy, analyzer
// and seed.
type RunSpec struct {
	Scenario *Scenario
	Strategy string
	Analyzer string // analysis.None for strategies without analysis
	Seed     int64
	Index    int    // position in the expansion, from 0
	ID       string // e.g. "high-error-rate/canary-analysis/threshold/seed-1"
}

// RunID is the stable, readable ID of a run; it is also a relative path.
func RunID(scenario, strategy, analyzer string, seed int64) string {
	return fmt.Sprintf("%s/%s/%s/seed-%d", scenario, strategy, analyzer, seed)
}

// Filter selects runs of the matrix. An empty list selects everything.
type Filter struct {
	Strategies []string
	Analyzers  []string // may include analysis.None
	Scenarios  []string
}

// filterKeys are the keys of ParseFilter, in the order String writes them.
var filterKeys = []string{"scenario", "strategy", "analyzer"}

func (f *Filter) list(key string) *[]string {
	switch key {
	case "scenario":
		return &f.Scenarios
	case "strategy":
		return &f.Strategies
	case "analyzer":
		return &f.Analyzers
	}
	return nil
}

// ParseFilter parses the --only syntax: comma-separated key=value terms
// where a bare value adds to the key before it, e.g.
// "strategy=canary,canary-analysis,analyzer=threshold,scenario=high-error-rate".
// Keys are scenario, strategy and analyzer; a key may repeat. Strategies and
// analyzers must be known ("none" selects the runs without analysis).
// Scenario names are checked against a set by Check. The empty string is the
// empty filter.
func ParseFilter(s string) (Filter, error) {
	var f Filter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	fail := func(format string, args ...any) (Filter, error) {
		return Filter{}, fmt.Errorf("invalid filter %q: %s", s, fmt.Sprintf(format, args...))
	}
	key := ""
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		value := term
		if k, v, ok := strings.Cut(term, "="); ok {
			key, value = strings.TrimSpace(k), strings.TrimSpace(v)
			if f.list(key) == nil {
				return fail("unknown key %q (want %s)", key, strings.Join(filterKeys, ", "))
			}
			if value == "" {
				return fail("%s= needs a value", key)
			}
		}
		if value == "" {
			return fail("empty value (two commas in a row, or a trailing comma)")
		}
		if key == "" {
			return fail("%q comes before any key; start with %s", value, strings.Join(filterKeys, "=, ")+"=")
		}
		switch key {
		case "strategy":
			if !slices.Contains(strategy.Names(), value) {
				return fail("unknown strategy %q (known: %s)", value, strings.Join(strategy.Names(), ", "))
			}
		case "analyzer":
			if known := append(analysis.Names(), analysis.None); !slices.Contains(known, value) {
				return fail("unknown analyzer %q (known: %s)", value, strings.Join(known, ", "))
			}
		}
		if l := f.list(key); !slices.Contains(*l, value) {
			*l = append(*l, value)
		}
	}
	return f, nil
}

// IsEmpty reports whether the filter selects everything.
func (f Filter) IsEmpty() bool {
	return len(f.Strategies) == 0 && len(f.Analyzers) == 0 && len(f.Scenarios) == 0
}

// String renders the filter in ParseFilter's syntax.
func (f Filter) String() string {
	var terms []string
	for _, key := range filterKeys {
		if l := *f.list(key); len(l) > 0 {
			terms = append(terms, key+"="+strings.Join(l, ","))
		}
	}
	return strings.Join(terms, ",")
}

// Match reports whether the filter selects the run.
func (f Filter) Match(scenario, strategy, analyzer string) bool {
	in := func(l []string, v string) bool { return len(l) == 0 || slices.Contains(l, v) }
	return in(f.Scenarios, scenario) && in(f.Strategies, strategy) && in(f.Analyzers, analyzer)
}

// Check reports scenario names of the filter that are not in the set.
func (f Filter) Check(scenarios []*Scenario) error {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.Name)
	}
	var unknown []string
	for _, n := range f.Scenarios {
		if !slices.Contains(names, n) {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("filter names unknown scenario %s (known: %s)", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	return nil
}

// Expand returns the run matrix in order: for each scenario, each of its
// strategies, each analyzer (its analyzers for strategies with analysis, else
// analysis.None), each seed; keeping only runs the filter matches.
//
// repeatOverride > 0 replaces the scenario's repeat and seedOverride its
// first seed; with either, the seeds are consecutive from the first:
// seed, seed+1, ..., seed+repeat-1.
func Expand(scenarios []*Scenario, filter Filter, repeatOverride int, seedOverride *int64) []RunSpec {
	var runs []RunSpec
	for _, s := range scenarios {
		seeds := s.Seeds
		if len(seeds) == 0 {
			seeds = []int64{DefaultSeed}
		}
		if repeatOverride > 0 || seedOverride != nil {
			base, n := seeds[0], len(seeds)
			if seedOverride != nil {
				base = *seedOverride
			}
			if repeatOverride > 0 {
				n = repeatOverride
			}
			seeds = make([]int64, n)
			for i := range seeds {
				seeds[i] = base + int64(i)
			}
		}
		for _, strategy := range s.Strategies {
			as := []string{analysis.None}
			if hasAnalysis(strategy) {
				as = s.Analyzers
			}
			for _, analyzer := range as {
				if !filter.Match(s.Name, strategy, analyzer) {
					continue
				}
				for _, seed := range seeds {
					runs = append(runs, RunSpec{
						Scenario: s,
						Strategy: strategy,
						Analyzer: analyzer,
						Seed:     seed,
						Index:    len(runs),
						ID:       RunID(s.Name, strategy, analyzer, seed),
					})
				}
			}
		}
	}
	return runs
}
