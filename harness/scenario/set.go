package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SetKind is the kind of a run set file: a named selection of scenario runs
// (the PR set, the nightly set), with how they are run.
const SetKind = "RunSet"

var (
	setSpecKeys  = []string{"timeScale", "repeat", "runs"}
	setEntryKeys = []string{"scenarios", "only"}
)

// Set is one validated run set file.
type Set struct {
	Name        string
	Description string
	File        string
	// TimeScale, when > 0, replaces the timeScale of every scenario the set
	// runs; 0 leaves each scenario's own.
	TimeScale float64
	// Repeat, when > 0, replaces every scenario's repetitions (as --repeat).
	Repeat  int
	Entries []SetEntry
}

// SetEntry is one line of a set: scenario files or directories (relative to
// the set file), and the runs of them it keeps.
type SetEntry struct {
	Paths []string
	Only  Filter
	Line  int
}

// IsSetFile reports whether path is a file whose kind is RunSet. A file that
// cannot be read or parsed is not (Load reports its problem).
func IsSetFile(path string) bool {
	_, ok := setData(path)
	return ok
}

// setData is the content of path if it is a run set file.
func setData(path string) ([]byte, bool) {
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return nil, false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var head struct {
		Kind string `yaml:"kind"`
	}
	return data, yaml.Unmarshal(data, &head) == nil && head.Kind == SetKind
}

// LoadSet reads and validates a run set file (not the scenarios it names:
// PlanRuns loads those). Errors name file, line and field.
func LoadSet(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSet(path, data)
}

func parseSet(path string, data []byte) (*Set, error) {
	_, doc, err := firstDocument(path, data, "a run set", SetKind)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: path}
	s := d.set(doc)
	if err := d.err(); err != nil {
		return nil, err
	}
	s.File = path
	return s, nil
}

func (d *decoder) set(n *yaml.Node) *Set {
	s := &Set{}
	root := d.mapping(n, "", n.Line, rootKeys)
	if root == nil {
		return s
	}
	root.header(SetKind)
	if root.require("metadata") {
		if md := root.child("metadata", metadataKeys); md != nil && md.require("name") {
			if v, ok := md.str("name"); ok {
				if !dnsLabel.MatchString(v) {
					md.errorf("name", "must be a DNS label (lowercase letters, digits and '-'), got %q", v)
				}
				s.Name = v
			}
			s.Description, _ = md.str("description")
		}
	}
	if !root.require("spec") {
		return s
	}
	sp := root.child("spec", setSpecKeys)
	if sp == nil {
		return s
	}
	if v, ok := sp.number("timeScale"); ok {
		if v <= 0 || v > MaxTimeScale {
			sp.errorf("timeScale", "must be greater than 0 and at most %g, got %g", MaxTimeScale, v)
		} else {
			s.TimeScale = v
		}
	}
	if v, ok := sp.integer("repeat"); ok {
		if v < 1 || v > 100 {
			sp.errorf("repeat", "must be between 1 and 100, got %d", v)
		} else {
			s.Repeat = int(v)
		}
	}
	if !sp.require("runs") {
		return s
	}
	items, ok := sp.list("runs")
	if !ok {
		return s
	}
	if len(items) == 0 {
		sp.errorf("runs", "must name at least one scenario")
	}
	for i, it := range items {
		if e, ok := d.setEntry(it, index("spec.runs", i)); ok {
			s.Entries = append(s.Entries, e)
		}
	}
	return s
}

func (d *decoder) setEntry(n *yaml.Node, path string) (SetEntry, bool) {
	e := SetEntry{Line: n.Line}
	f := d.mapping(n, path, n.Line, setEntryKeys)
	if f == nil || !f.require("scenarios") {
		return e, false
	}
	items, ok := f.list("scenarios")
	if !ok {
		return e, false
	}
	if len(items) == 0 {
		f.errorf("scenarios", "must name at least one scenario file or directory")
		return e, false
	}
	good := true
	for i, it := range items {
		p, ok := d.str(it, index(f.field("scenarios"), i))
		if !ok {
			good = false
			continue
		}
		e.Paths = append(e.Paths, p)
	}
	if only, ok := f.str("only"); ok {
		filter, err := ParseFilter(only)
		if err != nil {
			f.errorf("only", "%s", strings.TrimPrefix(err.Error(), "invalid filter "))
			good = false
		}
		e.Only = filter
	} else if f.bad("only", ok) {
		good = false
	}
	return e, good
}

// Plan is what to run: the scenarios read and the runs they expand to.
type Plan struct {
	Scenarios []*Scenario
	Runs      []RunSpec
}

// PlanOptions are a command line's overrides: Only narrows every run;
// Repeat, Seed and TimeScale, when set, replace what the sets and the
// scenarios say.
type PlanOptions struct {
	Only      Filter
	Repeat    int
	Seed      *int64
	TimeScale float64
}

// PlanRuns reads scenario files, directories (not recursively) and run set
// files, and expands them into runs, in argument order, each run once. A
// scenario file named twice is read once; two files may not give the same
// scenario name. The error lists every problem of every file.
func PlanRuns(paths []string, o PlanOptions) (*Plan, error) {
	if len(paths) == 0 {
		return nil, errors.New("no scenario files given")
	}
	type group struct {
		paths     []string
		only      Filter
		set       *Set
		timeScale float64
		repeat    int
	}
	var groups []group
	var errs []error
	for _, p := range paths {
		data, isSet := setData(p)
		if !isSet {
			groups = append(groups, group{paths: []string{p}})
			continue
		}
		s, err := parseSet(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range s.Entries {
			var abs []string
			for _, ep := range e.Paths {
				if !filepath.IsAbs(ep) {
					ep = filepath.Join(filepath.Dir(p), ep)
				}
				abs = append(abs, ep)
			}
			groups = append(groups, group{paths: abs, only: e.Only, set: s, timeScale: s.TimeScale, repeat: s.Repeat})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Every file once, so that a scenario named by two entries is one
	// scenario (and its name is checked for duplicates once).
	var all []string
	for _, g := range groups {
		all = append(all, g.paths...)
	}
	scenarios, err := LoadAll(all...)
	if err != nil {
		return nil, err
	}
	byFile := map[string]*Scenario{}
	for _, s := range scenarios {
		byFile[fileKey(s.File)] = s
	}
	if err := o.Only.Check(scenarios); err != nil {
		return nil, err
	}
	plan := &Plan{Scenarios: scenarios}
	seen := map[string]bool{}
	scales := map[*Scenario]float64{} // 0: the scenario's own
	for _, g := range groups {
		scs, err := groupScenarios(g.paths, byFile)
		if err != nil {
			return nil, err
		}
		if g.set != nil {
			if err := g.only.Check(scs); err != nil {
				return nil, fmt.Errorf("%s: %w", g.set.File, err)
			}
		}
		scale := g.timeScale
		if o.TimeScale > 0 {
			scale = o.TimeScale
		}
		for _, s := range scs {
			if prev, ok := scales[s]; ok && prev != scale {
				return nil, fmt.Errorf("%s: named twice with different time scales (%s and %s); a scenario runs at one", s.File, scaleName(prev), scaleName(scale))
			}
			scales[s] = scale
			if scale > 0 {
				if err := s.SetTimeScale(scale); err != nil {
					return nil, fmt.Errorf("time scale %g: %w", scale, err)
				}
			}
		}
		repeat := g.repeat
		if o.Repeat > 0 {
			repeat = o.Repeat
		}
		for _, r := range Expand(scs, g.only, repeat, o.Seed) {
			if seen[r.ID] || !o.Only.Match(r.Scenario.Name, r.Strategy, r.Analyzer) {
				continue
			}
			seen[r.ID] = true
			r.Index = len(plan.Runs)
			plan.Runs = append(plan.Runs, r)
		}
	}
	return plan, nil
}

func scaleName(f float64) string {
	if f == 0 {
		return "its own"
	}
	return fmt.Sprint(f)
}

// groupScenarios are the loaded scenarios of paths, in LoadAll's order.
func groupScenarios(paths []string, byFile map[string]*Scenario) ([]*Scenario, error) {
	var out []*Scenario
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if st.IsDir() {
			files = nil
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, f := range files {
			if s, ok := byFile[fileKey(f)]; ok {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func fileKey(f string) string {
	if abs, err := filepath.Abs(f); err == nil {
		return abs
	}
	return filepath.Clean(f)
}
