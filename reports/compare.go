package reports

import (
	"fmt"
	"math"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/score"
)

// The noise allowance of the regression check. A group of repetitions (the
// runs that share scenario, strategy and analyzer and differ in seed)
// regresses on a measure when its new mean exceeds the baseline mean by more
// than the largest of: NoiseStdDevs standard deviations (the larger of the
// two run sets'), NoiseRelative of the baseline mean, and an absolute floor.
// Without repetitions the standard deviation is 0 and the relative and
// absolute floors are the whole allowance.
const (
	NoiseStdDevs  = 2.0
	NoiseRelative = 0.10
	// FailedFloor is the floor for failed requests: a few requests more is
	// never a regression.
	FailedFloor = 10.0
	// DetectFloor is the floor for time to detect, in seconds: about one
	// analysis interval.
	DetectFloor = 5.0
)

// Comparison is a run set compared with a baseline run set, run by run
// (matched by run ID) and group by group.
type Comparison struct {
	Baseline, Current results.Environment
	// Groups are the scenario/strategy/analyzer groups found in both sets,
	// in the current set's order.
	Groups []GroupDelta
	// Runs are the runs found in both sets, in the current set's order.
	Runs []RunDelta
	// Added are run IDs only in the current set, Removed only in the
	// baseline. Neither is a regression.
	Added, Removed []string
}

// GroupDelta compares one group of repetitions. Runs that errored are left
// out of Old and New: their scores mean nothing.
type GroupDelta struct {
	Scenario, Strategy, Analyzer string
	Old, New                     score.Summary
	// FailedLimit is the largest new mean of failed requests that is still
	// noise; DetectLimit the same for time to detect (0 when either set has
	// no run where it is defined).
	FailedLimit, DetectLimit float64
	// WrongOld and WrongNew count missed and false-alarm verdicts.
	WrongOld, WrongNew int
	// Reasons says why the group regressed; empty when it did not.
	Reasons []string
}

// RunDelta compares one run with the baseline run of the same ID.
type RunDelta struct {
	ID                   string
	OldStatus, NewStatus string
	OldFailed, NewFailed int64
	OldDetect, NewDetect *float64
}

// Key names the group: scenario/strategy/analyzer.
func (g *GroupDelta) Key() string { return g.Scenario + "/" + g.Strategy + "/" + g.Analyzer }

// Regressed reports whether the group got worse beyond the noise.
func (g *GroupDelta) Regressed() bool { return len(g.Reasons) > 0 }

// FailedDelta is the change of the mean of failed requests.
func (g *GroupDelta) FailedDelta() float64 {
	return g.New.FailedRequests.Mean - g.Old.FailedRequests.Mean
}

// DetectDelta is the change of the mean time to detect; ok is false when
// either set has no run where it is defined.
func (g *GroupDelta) DetectDelta() (float64, bool) {
	if g.Old.TimeToDetectSeconds.N == 0 || g.New.TimeToDetectSeconds.N == 0 {
		return 0, false
	}
	return g.New.TimeToDetectSeconds.Mean - g.Old.TimeToDetectSeconds.Mean, true
}

// FailedDelta is the change of failed requests of the run.
func (d *RunDelta) FailedDelta() int64 { return d.NewFailed - d.OldFailed }

// VerdictChanged reports whether the run's verdict (or error) changed.
func (d *RunDelta) VerdictChanged() bool { return d.OldStatus != d.NewStatus }

// VerdictWorse reports whether the run now has a wrong verdict (missed,
// false alarm) and did not before. Whether that is beyond the noise is the
// group's call (GroupDelta.Reasons).
func (d *RunDelta) VerdictWorse() bool {
	return verdictClass(d.NewStatus) == classWrong && verdictClass(d.OldStatus) != classWrong &&
		d.OldStatus != StatusError
}

// Regressed reports whether any group regressed.
func (c *Comparison) Regressed() bool {
	if c == nil {
		return false
	}
	for i := range c.Groups {
		if c.Groups[i].Regressed() {
			return true
		}
	}
	return false
}

// Regressions lists every regression as "group: reason".
func (c *Comparison) Regressions() []string {
	if c == nil {
		return nil
	}
	var out []string
	for i := range c.Groups {
		g := &c.Groups[i]
		for _, r := range g.Reasons {
			out = append(out, g.Key()+": "+r)
		}
	}
	return out
}

// VerdictChanges lists every run whose verdict differs from the baseline
// run of the same ID, as "run: old -> new".
func (c *Comparison) VerdictChanges() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, d := range c.Runs {
		if d.VerdictChanged() {
			out = append(out, fmt.Sprintf("%s: verdict %s -> %s", d.ID, d.OldStatus, d.NewStatus))
		}
	}
	return out
}

// Compare compares current with baseline; nil when baseline is nil.
//
// The rules, per group of repetitions (see the Noise constants):
//   - failed requests regress when the new mean exceeds FailedLimit;
//   - time to detect regresses when both sets have it and the new mean
//     exceeds DetectLimit;
//   - verdicts regress when the share of wrong verdicts (missed, false
//     alarm) grows beyond the baseline's own binomial noise: with p the
//     baseline share and n the current runs, when the new share exceeds
//     p + 2·sqrt(p(1−p)/n). A baseline without wrong verdicts has no noise,
//     so a single detected → missed or promoted → false-alarm is a
//     regression;
//   - a group whose baseline runs scored but whose current runs all errored
//     is a regression too: a gate must not pass on missing results.
func Compare(baseline, current *results.File) *Comparison {
	if baseline == nil || current == nil {
		return nil
	}
	c := &Comparison{Baseline: baseline.Environment, Current: current.Environment}

	oldByID := map[string]*results.Run{}
	for i := range baseline.Runs {
		oldByID[baseline.Runs[i].ID] = &baseline.Runs[i]
	}
	newIDs := map[string]bool{}
	for i := range current.Runs {
		r := &current.Runs[i]
		newIDs[r.ID] = true
		o, ok := oldByID[r.ID]
		if !ok {
			c.Added = append(c.Added, r.ID)
			continue
		}
		d := RunDelta{ID: r.ID, OldStatus: Status(o), NewStatus: Status(r)}
		if o.Error == "" {
			d.OldFailed, d.OldDetect = o.BlastRadius.FailedRequests, o.Timing.TimeToDetectSeconds
		}
		if r.Error == "" {
			d.NewFailed, d.NewDetect = r.BlastRadius.FailedRequests, r.Timing.TimeToDetectSeconds
		}
		c.Runs = append(c.Runs, d)
	}
	for i := range baseline.Runs {
		if !newIDs[baseline.Runs[i].ID] {
			c.Removed = append(c.Removed, baseline.Runs[i].ID)
		}
	}

	oldGroups, _ := groups(baseline)
	newGroups, order := groups(current)
	for _, key := range order {
		og, ok := oldGroups[key]
		if !ok {
			continue
		}
		ng := newGroups[key]
		c.Groups = append(c.Groups, compareGroup(og, ng))
	}
	return c
}

type group struct {
	scenario, strategy, analyzer string
	scores                       []results.Scores // runs that did not error
	runs                         int
}

func groups(f *results.File) (map[string]*group, []string) {
	m := map[string]*group{}
	var order []string
	for i := range f.Runs {
		r := &f.Runs[i]
		key := r.Scenario + "\x00" + r.Strategy + "\x00" + r.Analyzer
		g, ok := m[key]
		if !ok {
			g = &group{scenario: r.Scenario, strategy: r.Strategy, analyzer: r.Analyzer}
			m[key] = g
			order = append(order, key)
		}
		g.runs++
		if r.Error == "" {
			g.scores = append(g.scores, r.Scores)
		}
	}
	return m, order
}

func wrongVerdicts(scores []results.Scores) int {
	n := 0
	for _, s := range scores {
		if verdictClass(string(s.Verdict)) == classWrong {
			n++
		}
	}
	return n
}

// allowance is the noise a mean may move by.
func allowance(old, cur score.Stat, floor float64) float64 {
	return math.Max(NoiseStdDevs*math.Max(old.StdDev, cur.StdDev), math.Max(NoiseRelative*old.Mean, floor))
}

func compareGroup(og, ng *group) GroupDelta {
	g := GroupDelta{
		Scenario: og.scenario, Strategy: og.strategy, Analyzer: og.analyzer,
		Old: score.Aggregate(og.scores), New: score.Aggregate(ng.scores),
		WrongOld: wrongVerdicts(og.scores), WrongNew: wrongVerdicts(ng.scores),
	}
	if len(og.scores) == 0 {
		return g // nothing to compare with
	}
	if len(ng.scores) == 0 {
		g.Reasons = append(g.Reasons, fmt.Sprintf("every current run errored (%d), the baseline scored %d", ng.runs, len(og.scores)))
		return g
	}
	oldF, newF := g.Old.FailedRequests, g.New.FailedRequests
	g.FailedLimit = oldF.Mean + allowance(oldF, newF, FailedFloor)
	if newF.Mean > g.FailedLimit {
		g.Reasons = append(g.Reasons, fmt.Sprintf("failed requests %s → %s, above the noise limit %.1f",
			meanSD(oldF, 1), meanSD(newF, 1), g.FailedLimit))
	}
	oldD, newD := g.Old.TimeToDetectSeconds, g.New.TimeToDetectSeconds
	if oldD.N > 0 && newD.N > 0 {
		g.DetectLimit = oldD.Mean + allowance(oldD, newD, DetectFloor)
		if newD.Mean > g.DetectLimit {
			g.Reasons = append(g.Reasons, fmt.Sprintf("time to detect %ss → %ss, above the noise limit %.1fs",
				meanSD(oldD, 1), meanSD(newD, 1), g.DetectLimit))
		}
	}
	pOld := float64(g.WrongOld) / float64(len(og.scores))
	pNew := float64(g.WrongNew) / float64(len(ng.scores))
	if limit := pOld + 2*math.Sqrt(pOld*(1-pOld)/float64(len(ng.scores))); g.WrongNew > 0 && pNew > limit+1e-9 {
		g.Reasons = append(g.Reasons, fmt.Sprintf("wrong verdicts %d/%d → %d/%d (%s)",
			g.WrongOld, len(og.scores), g.WrongNew, len(ng.scores), verdictList(ng.scores)))
	}
	return g
}

func verdictList(scores []results.Scores) string {
	counts := map[results.Verdict]int{}
	for _, s := range scores {
		counts[s.Verdict]++
	}
	out := ""
	for _, v := range results.Verdicts() {
		if counts[v] > 0 {
			if out != "" {
				out += ", "
			}
			out += fmt.Sprintf("%d %s", counts[v], v)
		}
	}
	return out
}

// meanSD formats a Stat as "mean" or "mean±sd".
func meanSD(s score.Stat, prec int) string {
	if s.N == 0 {
		return "–"
	}
	if s.N < 2 {
		return fmt.Sprintf("%.*f", prec, s.Mean)
	}
	return fmt.Sprintf("%.*f±%.*f", prec, s.Mean, prec, s.StdDev)
}
