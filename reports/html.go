package reports

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// The page's own style and script, embedded verbatim. The page's Content
// Security Policy allows exactly these two by hash and nothing else: no
// other script, no style attribute, no request to any network. Should any
// markup ever slip through the escaping, the browser would still not run
// it or fetch anything.
var (
	//go:embed report.css
	reportCSS string
	//go:embed report.js
	reportJS string
	//go:embed report.html.tmpl
	reportTmpl string
)

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"n":   f1,
	"add": func(a, b float64) float64 { return a + b },
}).Parse(reportTmpl))

// Bounds on untrusted text, so that one chatty run cannot blow the report
// up.
const (
	maxLogLineRunes = 400  // runes per log line
	maxTextRunes    = 1000 // explanations, messages, errors
)

// limits are how much of each run the page shows. They shrink as runs grow
// in number so that the page stays small and fast to open (200 runs of five
// minutes: under 10 MiB and 2 s) while a handful of runs get every detail.
type limits struct {
	bins     int // points per chart series (see maxBins)
	events   int // event rows per run
	analysis int // analysis call rows per run
	logLines int // lines per log excerpt
}

func limitsFor(runs int) limits {
	per := func(total, lo, hi int) int {
		return max(lo, min(hi, total/max(runs, 1)))
	}
	return limits{bins: per(40000, 120, maxBins), events: per(16000, 40, 400),
		analysis: per(10000, 30, 400), logLines: per(12000, 20, 200)}
}

type htmlPage struct {
	Title     string
	CSP       string
	CSS       template.CSS
	JS        template.JS
	Env       envView
	Totals    totals
	Matrix    matrixView
	Scenarios []scenarioView
	Runs      []runView
	Cmp       *cmpView
}

type envView struct {
	Platform, Kubernetes, ArgoRollouts, Harness, GoVersion string
	Started, Finished, Duration, Args                      string
}

type matrixView struct {
	Columns []string // strategy / analyzer
	Rows    []matrixRow
}

type matrixRow struct {
	Scenario string
	Anchor   string
	Cells    [][]chip
}

type chip struct {
	Anchor, Status, Class, Symbol, Title string
}

type scenarioView struct {
	Name, Anchor, Description, GroundTruth, Stable, Candidate, File, Seeds string
	Rows                                                                   []runRow
}

type runRow struct {
	Anchor, Label, Strategy, Analyzer, Status, Class, Outcome string
	Seed                                                      int64
	Failed, CandFailed, Users, Total                          string
	FailedV, CandFailedV, UsersV                              string // sort keys; empty when the run errored
	Detect, Recover                                           string
	DetectV, RecoverV                                         string // sort keys; empty when not applicable
	Expect, ExpectClass                                       string
	Delta                                                     string // vs baseline
}

type runView struct {
	runRow
	ID, Scenario, ScenarioAnchor, Description string
	GroundTruth, Stable, Candidate            string
	ScenarioFile, Namespace, Records, Error   string
	Started, Applied, Ended, Load             string
	Expectations                              []results.Expectation
	Facts                                     [][2]string
	Chart                                     *svgChart
	Faults                                    []faultRow
	Analysis                                  []analysisRow
	AnalysisMore                              int
	Events                                    string // one line per event
	EventCount, EventsMore                    int
	Logs                                      []logView
	Baseline                                  string
}

type faultRow struct{ Kind, Description, At, Injected, Cleared, Touched, Error string }

type analysisRow struct {
	T, Analyzer, Verdict, Class, Value, P99, Requests, Explanation, Error string
}

type logView struct {
	Pod, Container, Version, Lines string
	Cut                            int
}

type cmpView struct {
	Regressed        bool
	Regressions      []string
	Baseline         envView
	Matched          int
	Added, Removed   []string
	Groups           []groupRow
	Changes          []changeRow
	NoiseDescription string
}

type groupRow struct {
	Key, Runs, OldFailed, NewFailed, Delta, Limit, OldDetect, NewDetect, DetectDelta, Wrong string
	DeltaV                                                                                  float64
	Regressed                                                                               bool
	Reasons                                                                                 string
}

type changeRow struct {
	ID, Anchor, Old, New, OldClass, NewClass, Failed string
}

var verdictSymbol = map[string]string{
	"detected": "✓", "promoted": "✓", "missed": "✗", "false-alarm": "!", "inconclusive": "?", StatusError: "E",
}

// HTML writes the report page of f; cmp may be nil. The page is one
// self-contained file: no request to any network, style and script inline.
func HTML(w io.Writer, f *results.File, cmp *Comparison) error {
	p := htmlPage{
		Title:  "blastradius report",
		CSS:    template.CSS(reportCSS),
		JS:     template.JS(reportJS),
		Env:    environment(f.Environment),
		Totals: countTotals(f),
	}
	p.CSP = fmt.Sprintf("default-src 'none'; script-src '%s'; style-src '%s'; img-src data:; base-uri 'none'; form-action 'none'",
		cspHash(reportJS), cspHash(reportCSS))
	if t := f.Environment.StartedAt; !t.IsZero() {
		p.Title += " " + t.UTC().Format("2006-01-02 15:04")
	}

	anchors := make([]string, len(f.Runs))
	index := map[*results.Run]int{}
	for i := range f.Runs {
		anchors[i] = "run-" + strconv.Itoa(i+1)
		index[&f.Runs[i]] = i
	}
	deltas := map[string]*RunDelta{}
	if cmp != nil {
		for i := range cmp.Runs {
			deltas[cmp.Runs[i].ID] = &cmp.Runs[i]
		}
	}

	lim := limitsFor(len(f.Runs))
	rows := make([]runRow, len(f.Runs))
	for i := range f.Runs {
		rows[i] = makeRow(&f.Runs[i], anchors[i], deltas[f.Runs[i].ID])
	}

	// The overview: scenarios by strategy/analyzer, a chip per seed.
	var cols []string
	colIdx := map[string]int{}
	for i := range f.Runs {
		key := f.Runs[i].Strategy + " / " + f.Runs[i].Analyzer
		if _, ok := colIdx[key]; !ok {
			colIdx[key] = len(cols)
			cols = append(cols, key)
		}
	}
	p.Matrix.Columns = cols
	scenarioAnchors := map[string]string{}
	for si, sg := range byScenario(f) {
		scenarioAnchors[sg.Name] = "scenario-" + strconv.Itoa(si+1)
		row := matrixRow{Scenario: sg.Name, Anchor: "scenario-" + strconv.Itoa(si+1), Cells: make([][]chip, len(cols))}
		sv := scenarioView{Name: sg.Name, Anchor: row.Anchor}
		first := sg.Runs[0]
		sv.Description, sv.GroundTruth, sv.Stable, sv.Candidate, sv.File = clip(first.Description, maxTextRunes), first.GroundTruth, first.Stable, first.Candidate, first.ScenarioFile
		var seeds []string
		seen := map[int64]bool{}
		for _, r := range sg.Runs {
			i := index[r]
			st := Status(r)
			c := colIdx[r.Strategy+" / "+r.Analyzer]
			row.Cells[c] = append(row.Cells[c], chip{Anchor: anchors[i], Status: st, Class: verdictClass(st), Symbol: verdictSymbol[st],
				Title: fmt.Sprintf("%s: %s", runLabel(r), st)})
			sv.Rows = append(sv.Rows, rows[i])
			if !seen[r.Seed] {
				seen[r.Seed] = true
				seeds = append(seeds, strconv.FormatInt(r.Seed, 10))
			}
		}
		sv.Seeds = strings.Join(seeds, ", ")
		p.Matrix.Rows = append(p.Matrix.Rows, row)
		p.Scenarios = append(p.Scenarios, sv)
	}

	for i := range f.Runs {
		v := makeRunView(&f.Runs[i], rows[i], deltas[f.Runs[i].ID], lim)
		v.ScenarioAnchor = scenarioAnchors[f.Runs[i].Scenario]
		p.Runs = append(p.Runs, v)
	}
	if cmp != nil {
		p.Cmp = makeCmpView(cmp, f, anchors)
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	if err := page.Execute(bw, p); err != nil {
		return err
	}
	return bw.Flush()
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

func environment(e results.Environment) envView {
	v := envView{
		Platform: orDash(e.Platform), Kubernetes: orDash(e.Kubernetes), ArgoRollouts: orDash(e.ArgoRollouts),
		Harness: orDash(e.Harness), GoVersion: orDash(e.GoVersion),
		Started: fmtTime(e.StartedAt), Finished: fmtTime(e.FinishedAt), Args: orDash(clip(strings.Join(e.Args, " "), maxTextRunes)),
	}
	v.Duration = "–"
	if !e.StartedAt.IsZero() && e.FinishedAt.After(e.StartedAt) {
		v.Duration = e.FinishedAt.Sub(e.StartedAt).Round(time.Second).String()
	}
	return v
}

func makeRow(r *results.Run, anchor string, d *RunDelta) runRow {
	st := Status(r)
	row := runRow{
		Anchor: anchor, Label: runLabel(r), Strategy: r.Strategy, Analyzer: r.Analyzer, Seed: r.Seed,
		Status: st, Class: verdictClass(st), Outcome: orDash(r.Outcome),
		Failed: "–", CandFailed: "–", Users: "–",
		Detect: secs(r.Timing.TimeToDetectSeconds), Recover: secs(r.Timing.TimeToRecoverSeconds),
		Expect: "–", ExpectClass: "none",
	}
	if r.Error == "" {
		br := r.BlastRadius
		row.Failed = strconv.FormatInt(br.FailedRequests, 10)
		row.Total = strconv.FormatInt(br.TotalRequests, 10)
		row.CandFailed = strconv.FormatInt(br.CandidateFailedRequests, 10)
		row.Users = fmt.Sprintf("%d of %d", br.UsersAffected, br.UsersTotal)
		row.FailedV, row.CandFailedV, row.UsersV = row.Failed, row.CandFailed, strconv.Itoa(br.UsersAffected)
	}
	if p := r.Timing.TimeToDetectSeconds; p != nil {
		row.DetectV = strconv.FormatFloat(*p, 'f', 3, 64)
	}
	if p := r.Timing.TimeToRecoverSeconds; p != nil {
		row.RecoverV = strconv.FormatFloat(*p, 'f', 3, 64)
	}
	if len(r.Expectations) > 0 {
		row.Expect, row.ExpectClass = "ok", "ok"
		if r.Failed() {
			var names []string
			for _, e := range failedExpectations(r) {
				names = append(names, e.Name)
			}
			row.Expect, row.ExpectClass = "failed: "+strings.Join(names, ", "), "failed"
		}
	}
	if d != nil {
		row.Delta = fmt.Sprintf("%+d", d.FailedDelta())
		if d.VerdictChanged() {
			row.Delta += " (was " + d.OldStatus + ")"
		}
	}
	return row
}

func makeRunView(r *results.Run, row runRow, d *RunDelta, lim limits) runView {
	rel := func(t time.Time) string {
		if r.AppliedAt.IsZero() || t.IsZero() {
			return "–"
		}
		return fmt.Sprintf("%.1fs", t.Sub(r.AppliedAt).Seconds())
	}
	v := runView{
		runRow: row, ID: r.ID, Scenario: r.Scenario, Description: clip(r.Description, maxTextRunes),
		GroundTruth: orDash(r.GroundTruth), Stable: r.Stable, Candidate: r.Candidate,
		ScenarioFile: orDash(r.ScenarioFile), Namespace: orDash(r.Namespace), Records: orDash(r.Records),
		Error: clip(r.Error, 4*maxTextRunes), Started: fmtTime(r.StartedAt), Applied: fmtTime(r.AppliedAt), Ended: fmtTime(r.EndedAt),
	}
	for _, e := range r.Expectations {
		v.Expectations = append(v.Expectations, results.Expectation{Name: clip(e.Name, 100), OK: e.OK, Message: clip(e.Message, maxTextRunes)})
	}
	l := r.Load
	v.Load = fmt.Sprintf("%s, %d users, SLO %gs; sent %d (%.1f/s of %.1f/s asked), %d unattributed, %d cut short",
		orDash(l.Profile), l.Users, l.SLOSeconds, l.Total, l.AchievedRate, l.RequestedRate, l.Unattributed, l.Aborted)
	if l.PreviewTotal > 0 {
		v.Load += fmt.Sprintf(", %d to the preview", l.PreviewTotal)
	}
	br, t := r.BlastRadius, r.Timing
	if r.Error == "" {
		v.Facts = [][2]string{
			{"failed requests", fmt.Sprintf("%d of %d", br.FailedRequests, br.TotalRequests)},
			{"served by the candidate and failed", strconv.FormatInt(br.CandidateFailedRequests, 10)},
			{"unattributed errors", strconv.FormatInt(br.UnattributedErrors, 10)},
			{"candidate share", fmt.Sprintf("%.1f%%", 100*br.CandidateShare)},
			{"peak exposure", fmt.Sprintf("%d failed in one second (%.1f%%)", br.PeakExposure, 100*br.PeakExposureRate)},
			{"users affected", fmt.Sprintf("%d of %d", br.UsersAffected, br.UsersTotal)},
			{"excluded requests", strconv.FormatInt(r.Excluded, 10)},
			{"fault onset", secs(t.FaultOnsetSeconds) + " s"},
			{"first failed measurement", secs(t.TimeToFirstFailedMeasurementSeconds) + " s"},
			{"time to abort", secs(t.TimeToAbortSeconds) + " s"},
			{"time to detect", secs(t.TimeToDetectSeconds) + " s"},
			{"time to recover", secs(t.TimeToRecoverSeconds) + " s"},
			{"time to promote", secs(t.TimeToPromoteSeconds) + " s"},
		}
	}
	v.Chart = buildChart("c"+strings.TrimPrefix(row.Anchor, "run-"), r, lim.bins)

	for _, f := range r.Faults {
		fr := faultRow{Kind: clip(f.Kind, 100), Description: clip(f.Description, maxTextRunes), At: fmt.Sprintf("%gs", f.At),
			Injected: "–", Cleared: "–", Touched: clip(strings.Join(f.Touched, ", "), maxTextRunes), Error: clip(f.Error, maxTextRunes)}
		if f.InjectedAt != nil {
			fr.Injected = rel(*f.InjectedAt)
		}
		if f.ClearedAt != nil {
			fr.Cleared = rel(*f.ClearedAt)
		}
		v.Faults = append(v.Faults, fr)
	}
	calls := r.Analysis
	if len(calls) > lim.analysis {
		calls = keyCalls(calls, lim.analysis)
		v.AnalysisMore = len(r.Analysis) - len(calls)
	}
	for _, a := range calls {
		cls := map[string]string{"pass": "pass", "fail": "fail"}[a.Verdict]
		if cls == "" {
			cls = "other"
		}
		v.Analysis = append(v.Analysis, analysisRow{
			T: rel(a.Time), Analyzer: clip(a.Analyzer, 100), Verdict: clip(a.Verdict, 100), Class: cls,
			Value: strconv.FormatFloat(a.Value, 'g', 4, 64), P99: strconv.FormatFloat(a.P99Seconds, 'g', 4, 64),
			Requests:    strconv.FormatFloat(a.Requests, 'g', -1, 64),
			Explanation: clip(a.Explanation, maxTextRunes), Error: clip(a.Error, maxTextRunes),
		})
	}
	events := r.Events
	if len(events) > lim.events {
		events = keyEvents(events, lim.events)
		v.EventsMore = len(r.Events) - len(events)
	}
	// The event log is one block of text, a line per event: a table of
	// thousands of rows would slow the page down for nothing.
	var log strings.Builder
	for _, e := range events {
		value := e.Value
		if e.Kind == "measurement" {
			value = measurementText(value) // the analyzer's JSON, read
		}
		line := fmt.Sprintf("%7s %-11s %-28s %s", rel(e.Time), clip(oneLineText(e.Kind), 40), clip(oneLineText(e.Object), 120), clip(oneLineText(e.Message), 300))
		if value != "" {
			line += "  [" + clip(oneLineText(value), 300) + "]"
		}
		log.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	v.Events, v.EventCount = log.String(), len(events)
	for _, lg := range r.Logs {
		lines := strings.Split(strings.TrimRight(lg.Lines, "\n"), "\n")
		lv := logView{Pod: clip(lg.Pod, 200), Container: clip(lg.Container, 100), Version: clip(lg.Version, 100)}
		if len(lines) > lim.logLines {
			lv.Cut = len(lines) - lim.logLines
			lines = lines[len(lines)-lim.logLines:]
		}
		for i := range lines {
			lines[i] = clip(lines[i], maxLogLineRunes)
		}
		lv.Lines = strings.Join(lines, "\n")
		v.Logs = append(v.Logs, lv)
	}
	if d != nil {
		v.Baseline = fmt.Sprintf("baseline: %s, %d failed requests, time to detect %s s; now: %s, %d failed (%+d), time to detect %s s",
			d.OldStatus, d.OldFailed, secs(d.OldDetect), d.NewStatus, d.NewFailed, d.FailedDelta(), secs(d.NewDetect))
	}
	return v
}

// keyCalls keeps at most n analysis calls: those that did not pass first
// (they explain a verdict), then passes, in time order.
func keyCalls(calls []results.AnalysisCall, n int) []results.AnalysisCall {
	keep := make([]bool, len(calls))
	left := n
	for pass := 0; pass < 2; pass++ {
		for i, c := range calls {
			if left > 0 && !keep[i] && (pass == 1 || c.Verdict != "pass") {
				keep[i] = true
				left--
			}
		}
	}
	out := make([]results.AnalysisCall, 0, n)
	for i, c := range calls {
		if keep[i] {
			out = append(out, c)
		}
	}
	return out
}

// keyEvents keeps at most n events: every event that is not a pod or
// ReplicaSet change first, then as many of those as fit, in time order.
func keyEvents(events []results.Event, n int) []results.Event {
	keep := make([]bool, len(events))
	left := n
	for i, e := range events {
		if left > 0 && e.Kind != "pod" && e.Kind != "replicaset" {
			keep[i] = true
			left--
		}
	}
	for i := range events {
		if left > 0 && !keep[i] {
			keep[i] = true
			left--
		}
	}
	out := make([]results.Event, 0, n)
	for i, e := range events {
		if keep[i] {
			out = append(out, e)
		}
	}
	return out
}

func makeCmpView(c *Comparison, f *results.File, anchors []string) *cmpView {
	v := &cmpView{Regressed: c.Regressed(), Baseline: environment(c.Baseline), Matched: len(c.Runs),
		Added: c.Added, Removed: c.Removed}
	for _, r := range c.Regressions() {
		v.Regressions = append(v.Regressions, clip(r, maxTextRunes))
	}
	v.NoiseDescription = fmt.Sprintf("A group of repetitions (same scenario, strategy and analyzer, different seeds) regresses when its mean failed requests or time to detect exceed the baseline mean by more than the largest of %g standard deviations, %g%% of the baseline mean and %g requests (or %g s); or when its share of wrong verdicts (missed, false alarm) grows beyond the baseline's binomial noise.",
		NoiseStdDevs, NoiseRelative*100, FailedFloor, DetectFloor)
	for i := range c.Groups {
		g := &c.Groups[i]
		row := groupRow{Key: g.Key(), Runs: fmt.Sprintf("%d → %d", g.Old.Runs, g.New.Runs),
			OldFailed: meanSD(g.Old.FailedRequests, 1), NewFailed: meanSD(g.New.FailedRequests, 1),
			Delta: fmt.Sprintf("%+.1f", g.FailedDelta()), DeltaV: g.FailedDelta(), Limit: "–",
			OldDetect: meanSD(g.Old.TimeToDetectSeconds, 1), NewDetect: meanSD(g.New.TimeToDetectSeconds, 1), DetectDelta: "–",
			Wrong: fmt.Sprintf("%d → %d", g.WrongOld, g.WrongNew), Regressed: g.Regressed(), Reasons: strings.Join(g.Reasons, "; ")}
		if g.FailedLimit > 0 {
			row.Limit = fmt.Sprintf("%.1f", g.FailedLimit)
		}
		if dd, ok := g.DetectDelta(); ok {
			row.DetectDelta = fmt.Sprintf("%+.1f", dd)
		}
		v.Groups = append(v.Groups, row)
	}
	idx := map[string]int{}
	for i := range f.Runs {
		idx[f.Runs[i].ID] = i
	}
	for i := range c.Runs {
		d := &c.Runs[i]
		if !d.VerdictChanged() && d.FailedDelta() == 0 {
			continue
		}
		v.Changes = append(v.Changes, changeRow{ID: d.ID, Anchor: anchors[idx[d.ID]], Old: d.OldStatus, New: d.NewStatus,
			OldClass: verdictClass(d.OldStatus), NewClass: verdictClass(d.NewStatus), Failed: fmt.Sprintf("%d → %d (%+d)", d.OldFailed, d.NewFailed, d.FailedDelta())})
	}
	sort.SliceStable(v.Changes, func(i, j int) bool {
		return v.Changes[i].Old != v.Changes[i].New && v.Changes[j].Old == v.Changes[j].New
	})
	return v
}
