package reports

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
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
	maxRawRunes     = 4000 // an AI analyzer's raw answer
)

// limits are how much of each run the page shows. They shrink as runs grow
// in number so that the page stays small and fast to open (200 runs of five
// minutes: under 10 MiB and 2 s) while a handful of runs get every detail.
type limits struct {
	bins     int // points per chart series (see maxBins)
	events   int // event rows per run
	analysis int // analysis call rows per run
	logLines int // lines per log excerpt
	shadow   int // shadow answers drawn per chart
}

func limitsFor(runs int) limits {
	per := func(total, lo, hi int) int {
		return max(lo, min(hi, total/max(runs, 1)))
	}
	return limits{bins: per(40000, 120, maxBins), events: per(16000, 40, 400),
		analysis: per(10000, 30, 400), logLines: per(12000, 20, 200), shadow: per(8000, 40, 2000)}
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
	Chaos     []chaosRow // analysis-path chaos; none when no run had any
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
	Analyzers                                                              []string // the detection columns
	Stats                                                                  []statRow
	// The optional columns of Stats: root-cause accuracy when an analyzer
	// stopped a bad release naming one, cost and latency when a run made
	// AI calls.
	ShowRootCause, ShowAI bool
}

// detCell is when one analyzer failed, or would have failed, a run's
// release: "t=12.3s (45 failed)", or "—" when it did not.
type detCell struct {
	Name, Text, Title string
	Gating            bool
	// Category is the root cause it named, marked right or wrong on a bad
	// release; RCClass its class.
	Category, RCClass string
}

// statRow is one analyzer over a scenario's runs.
type statRow struct {
	Analyzer, Gating, Detected, At, Detect, FailedBefore, FalseAlarms string
	RootCause, AICalls, AICost, AILatency                             string
}

type runRow struct {
	Anchor, Label, Strategy, Analyzer, Status, Class, Outcome string
	Seed                                                      int64
	Failed, CandFailed, Users, Total                          string
	FailedV, CandFailedV, UsersV                              string // sort keys; empty when the run errored
	Detect, Recover                                           string
	DetectV, RecoverV                                         string // sort keys; empty when not applicable
	Expect, ExpectClass                                       string
	Delta                                                     string    // vs baseline
	Detections                                                []detCell // in catalog order
	DetectionsV                                               string    // sort key: the earliest detection
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
	HasShadow                                 bool   // the calls carry other analyzers' answers
	Events                                    string // one line per event
	EventCount, EventsMore                    int
	Logs                                      []logView
	Baseline                                  string
	AI                                        []aiRow // the calls' AI records
	AISummary                                 string  // over every AI call of the run
}

// aiRow is what an AI analyzer's answer cost and said beyond its verdict;
// Model, RootCause, Remediation and Raw are the model's text, clipped (and
// escaped by the template).
type aiRow struct {
	T, Analyzer, Role, Verdict, Class              string
	Model, Latency, Attempts, Status, Tokens, Cost string
	Failure, Policy, Chaos, Category               string
	RootCause, Remediation, Raw                    string
	RawBytes                                       int
	RawCut                                         bool
}

// chaosRow is the runs of one analyzer under one chaos mode and failure
// policy: their verdicts, and what the policy let happen.
type chaosRow struct {
	Analyzer, Chaos, Policy string
	Runs                    []chip
	Verdicts                string // "detected 1, missed 2"
	Consequence             string // the missed bad releases and false alarms, or "none"
	Class                   string // wrong when there were any
}

type faultRow struct{ Kind, Description, At, Injected, Cleared, Touched, Error string }

type analysisRow struct {
	T, Analyzer, Verdict, Class, Value, P99, Requests, Explanation, Error string
	Shadow                                                                []shadowCell
}

// shadowCell is another analyzer's answer to the same measurement.
type shadowCell struct {
	Analyzer, Verdict, Class, Value, Title string
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
	string(results.VerdictDetected): "✓", string(results.VerdictPromoted): "✓", string(results.VerdictMissed): "✗",
	string(results.VerdictFalseAlarm): "!", string(results.VerdictInconclusive): "?", StatusError: "E",
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
	for i := range f.Runs {
		anchors[i] = "run-" + strconv.Itoa(i+1)
	}
	deltas := map[string]*RunDelta{}
	if cmp != nil {
		for i := range cmp.Runs {
			deltas[cmp.Runs[i].ID] = &cmp.Runs[i]
		}
	}
	rows := make([]runRow, len(f.Runs))
	for i := range f.Runs {
		rows[i] = makeRow(&f.Runs[i], anchors[i], deltas[f.Runs[i].ID])
	}
	scenarioAnchors := overview(&p, f, anchors, rows)

	lim := limitsFor(len(f.Runs))
	for i := range f.Runs {
		v := makeRunView(&f.Runs[i], rows[i], "c"+strconv.Itoa(i+1), deltas[f.Runs[i].ID], lim)
		v.ScenarioAnchor = scenarioAnchors[f.Runs[i].Scenario]
		p.Runs = append(p.Runs, v)
	}
	if cmp != nil {
		p.Cmp = makeCmpView(cmp, f, anchors)
	}
	p.Chaos = chaosRows(f, anchors)

	bw := bufio.NewWriterSize(w, 1<<16)
	if err := page.Execute(bw, p); err != nil {
		return err
	}
	return bw.Flush()
}

// overview fills the page's matrix (scenarios by strategy/analyzer, a chip
// per seed) and scoreboard (a table per scenario). It returns the anchors
// of the scenarios.
func overview(p *htmlPage, f *results.File, anchors []string, rows []runRow) map[string]string {
	index := map[*results.Run]int{}
	colIdx := map[string]int{}
	for i := range f.Runs {
		index[&f.Runs[i]] = i
		key := f.Runs[i].Strategy + " / " + f.Runs[i].Analyzer
		if _, ok := colIdx[key]; !ok {
			colIdx[key] = len(p.Matrix.Columns)
			p.Matrix.Columns = append(p.Matrix.Columns, key)
		}
	}
	scenarioAnchors := map[string]string{}
	for si, sg := range byScenario(f) {
		anchor := "scenario-" + strconv.Itoa(si+1)
		scenarioAnchors[sg.Name] = anchor
		row := matrixRow{Scenario: sg.Name, Anchor: anchor, Cells: make([][]chip, len(p.Matrix.Columns))}
		first := sg.Runs[0]
		sv := scenarioView{Name: sg.Name, Anchor: anchor, Description: clip(first.Description, maxTextRunes),
			GroundTruth: string(first.GroundTruth), Stable: first.Stable, Candidate: first.Candidate, File: first.ScenarioFile,
			Analyzers: clipAll(scenarioAnalyzers(sg.Runs), maxAnalyzerRunes), Stats: statRows(sg.Runs),
			ShowRootCause: hasRootCause(sg.Runs), ShowAI: hasAI(sg.Runs)}
		var seeds []string
		seen := map[int64]bool{}
		for _, r := range sg.Runs {
			i := index[r]
			c := colIdx[r.Strategy+" / "+r.Analyzer]
			row.Cells[c] = append(row.Cells[c], runChip(r, anchors[i]))
			sv.Rows = append(sv.Rows, rows[i])
			row := &sv.Rows[len(sv.Rows)-1]
			row.Detections, row.DetectionsV = detectionCells(r)
			if !seen[r.Seed] {
				seen[r.Seed] = true
				seeds = append(seeds, strconv.FormatInt(r.Seed, 10))
			}
		}
		sv.Seeds = strings.Join(seeds, ", ")
		p.Matrix.Rows = append(p.Matrix.Rows, row)
		p.Scenarios = append(p.Scenarios, sv)
	}
	return scenarioAnchors
}

// runChip is r's verdict as a chip leading to its run.
func runChip(r *results.Run, anchor string) chip {
	st := Status(r)
	return chip{Anchor: anchor, Status: st, Class: verdictClass(st), Symbol: verdictSymbol[st], Title: fmt.Sprintf("%s: %s", runLabel(r), st)}
}

// detectionCells are r's detections in catalog order, and the earliest
// as a sort key; none when the harness failed the run.
func detectionCells(r *results.Run) ([]detCell, string) {
	if r.Error != "" {
		return nil, ""
	}
	dets := detectionsOf(r)
	var out []detCell
	earliest := math.Inf(1)
	for _, name := range analyzerOrder(detectionNames(r)) {
		d := dets[name]
		c := detCell{Name: clip(name, maxAnalyzerRunes), Text: detectionText(r, d), Title: detectionTitle(r, d), Gating: d.Gating}
		c.Category, c.RCClass = rootCauseMark(d)
		out = append(out, c)
		if at, ok := detectedAt(r, d); ok {
			earliest = math.Min(earliest, at)
		}
	}
	if math.IsInf(earliest, 1) {
		return out, ""
	}
	return out, strconv.FormatFloat(earliest, 'f', 3, 64)
}

// statRows sum up each analyzer over a scenario's runs.
func statRows(runs []*results.Run) []statRow {
	var out []statRow
	for _, s := range analyzerStats(runs) {
		row := statRow{Analyzer: clip(s.Analyzer, maxAnalyzerRunes), Gating: strconv.Itoa(s.Gating), RootCause: s.rootCauseText()}
		row.Detected, row.At, row.Detect, row.FailedBefore, row.FalseAlarms = s.cells()
		row.AICalls, row.AICost, row.AILatency = s.aiCells()
		out = append(out, row)
	}
	return out
}

func clipAll(ss []string, n int) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clip(s, n)
	}
	return out
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
		Status: st, Class: verdictClass(st), Outcome: orDash(string(r.Outcome)),
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

func makeRunView(r *results.Run, row runRow, chartID string, d *RunDelta, lim limits) runView {
	rel := relTo(r.AppliedAt)
	v := runView{
		runRow: row, ID: r.ID, Scenario: r.Scenario, Description: clip(r.Description, maxTextRunes),
		GroundTruth: orDash(string(r.GroundTruth)), Stable: r.Stable, Candidate: r.Candidate,
		ScenarioFile: orDash(r.ScenarioFile), Namespace: orDash(r.Namespace), Records: orDash(r.Records),
		Error: clip(r.Error, 4*maxTextRunes), Started: fmtTime(r.StartedAt), Applied: fmtTime(r.AppliedAt), Ended: fmtTime(r.EndedAt),
		Load: loadText(r.Load), Facts: runFacts(r), Faults: faultRows(r.Faults, rel), Logs: logViews(r.Logs, lim.logLines),
	}
	for _, e := range r.Expectations {
		v.Expectations = append(v.Expectations, results.Expectation{Name: clip(e.Name, 100), OK: e.OK, Message: clip(e.Message, maxTextRunes)})
	}
	v.Chart = buildChart(chartID, r, lim)

	calls := keepFirst(r.Analysis, lim.analysis, func(c results.AnalysisCall) bool {
		return c.Verdict != results.AnalysisPass // they explain a verdict
	})
	v.HasShadow = hasShadow(r)
	v.Analysis, v.AnalysisMore = analysisRows(calls, rel, lim.shadow >= 200), len(r.Analysis)-len(calls)
	v.AI, v.AISummary = aiRows(calls, rel), aiSummary(r)
	events := keepFirst(r.Events, lim.events, func(e results.Event) bool {
		return e.Kind != results.EventPod && e.Kind != results.EventReplicaSet
	})
	v.Events, v.EventCount, v.EventsMore = eventLog(events, rel), len(events), len(r.Events)-len(events)
	if d != nil {
		v.Baseline = fmt.Sprintf("baseline: %s, %d failed requests, time to detect %s s; now: %s, %d failed (%+d), time to detect %s s",
			d.OldStatus, d.OldFailed, secs(d.OldDetect), d.NewStatus, d.NewFailed, d.FailedDelta(), secs(d.NewDetect))
	}
	return v
}

// relTo formats times as seconds since applied; "–" when either is unknown.
func relTo(applied time.Time) func(time.Time) string {
	return func(t time.Time) string {
		if applied.IsZero() || t.IsZero() {
			return "–"
		}
		return fmt.Sprintf("%.1fs", t.Sub(applied).Seconds())
	}
}

func loadText(l results.Load) string {
	s := fmt.Sprintf("%s, %d users, SLO %gs; sent %d (%.1f/s of %.1f/s asked), %d unattributed, %d cut short",
		orDash(l.Profile), l.Users, l.SLOSeconds, l.Total, l.AchievedRate, l.RequestedRate, l.Unattributed, l.Aborted)
	if l.PreviewTotal > 0 {
		s += fmt.Sprintf(", %d to the preview", l.PreviewTotal)
	}
	if l.Generator == results.LoadInCluster {
		s += fmt.Sprintf("; from %d in-cluster workers", len(l.Workers))
		for _, w := range l.Workers {
			if !w.Complete {
				s += fmt.Sprintf("; worker %s (%.0f%% of the load) incomplete: %s", w.Name, 100*w.Share, orDash(w.Error))
			}
		}
		if l.LostShare > 0 {
			s += fmt.Sprintf("; %.0f%% of the load lost with its workers before the stop", 100*l.LostShare)
		}
	}
	return s
}

// runFacts are the blast radius and timings of a run; none when the
// harness failed it (its scores then mean nothing).
func runFacts(r *results.Run) [][2]string {
	if r.Error != "" {
		return nil
	}
	br, t := r.BlastRadius, r.Timing
	return append([][2]string{
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
	}, append(servedFacts(r), rootCauseFacts(r)...)...)
}

// servedFacts set what users saw of the candidate beside what it served by
// its own metrics: under shadow, everything it served went to no user, and
// only the analyzers saw its failures.
func servedFacts(r *results.Run) [][2]string {
	s := r.CandidateServed
	if s == nil {
		return nil
	}
	br := r.BlastRadius
	users := math.Round(br.CandidateShare * float64(br.TotalRequests))
	return [][2]string{{"the candidate served (its own metrics)",
		fmt.Sprintf("%.0f requests, %.0f failed (5xx); users got about %.0f of its answers, %d failed", s.Requests, s.Errors, users, br.CandidateFailedRequests)}}
}

// rootCauseFacts are the release's root cause and the one the gating
// analyzer named when it stopped the release, right or wrong; none when
// the run records neither.
func rootCauseFacts(r *results.Run) [][2]string {
	var out [][2]string
	if r.RootCause != "" {
		out = append(out, [2]string{"root cause of the release", clip(string(r.RootCause), 40)})
	}
	for i := range r.Detections {
		d := &r.Detections[i]
		if !d.Gating || d.Category == "" {
			continue
		}
		named := clip(string(d.Category), 40)
		switch c := r.RootCauseCorrect; {
		case c == nil:
			named += " (not judged)"
		case *c:
			named += " (right)"
		default:
			named += " (wrong)"
		}
		out = append(out, [2]string{"root cause named by " + clip(d.Analyzer, maxAnalyzerRunes), named})
		break
	}
	return out
}

// aiRows are the AI records of the calls and of their shadow answers, in
// order.
func aiRows(calls []results.AnalysisCall, rel func(time.Time) string) []aiRow {
	var out []aiRow
	for _, c := range calls {
		if c.AI != nil {
			out = append(out, aiRowOf(rel(c.Time), c.Analyzer, "gating", c.Verdict, c.Category, c.AI))
		}
		for _, s := range c.Shadow {
			if s.AI != nil {
				out = append(out, aiRowOf(rel(c.Time), s.Analyzer, "in shadow", s.Verdict, s.Category, s.AI))
			}
		}
	}
	return out
}

func aiRowOf(t, analyzer, role string, v results.AnalysisVerdict, category results.RootCause, a *results.AICall) aiRow {
	row := aiRow{T: t, Analyzer: clip(analyzer, maxAnalyzerRunes), Role: role, Verdict: clip(string(v), 40), Class: verdictMarkClass(v),
		Model: orDash(clip(a.Model, 100)), Latency: fmt.Sprintf("%.2f", a.LatencySeconds),
		Attempts: fmt.Sprintf("%d (%d retries)", a.Attempts, a.Retries), Status: "–",
		Tokens: fmt.Sprintf("%d / %d", a.PromptTokens, a.CompletionTokens), Cost: usd(a.CostUSD),
		Failure: orDash(clip(a.Failure, 40)), Policy: orDash(clip(string(a.Policy), 40)), Chaos: orDash(clip(string(a.Chaos), 40)),
		Category: orDash(clip(string(category), 40)), RootCause: clip(a.RootCause, maxTextRunes), Remediation: clip(a.Remediation, maxTextRunes),
		Raw: clip(a.Raw, maxRawRunes), RawBytes: len(a.Raw)}
	row.RawCut = row.Raw != strings.ToValidUTF8(a.Raw, "\uFFFD")
	if a.Status != 0 {
		row.Status = strconv.Itoa(a.Status)
	}
	return row
}

// aiSummary sums every AI call of r, shadow answers included: "3 calls,
// 1 failed (timeout 1), $0.0030 in all, 3600 prompt and 240 completion
// tokens, mean latency 1.20 s, max 2.00 s"; "" without any.
func aiSummary(r *results.Run) string {
	var u results.AIUsage
	add := func(c *results.AICall) {
		if c != nil {
			u.Add(*c)
		}
	}
	for i := range r.Analysis {
		add(r.Analysis[i].AI)
		for j := range r.Analysis[i].Shadow {
			add(r.Analysis[i].Shadow[j].AI)
		}
	}
	if u.Calls == 0 {
		return ""
	}
	s := fmt.Sprintf("%d calls", u.Calls)
	if f := failuresText(u.Failures); f != "" {
		s += fmt.Sprintf(", %d failed (%s)", failedCalls(u.Failures), f)
	}
	return s + fmt.Sprintf(", %s in all, %d prompt and %d completion tokens, mean latency %.2f s, max %.2f s",
		usd(u.CostUSD), u.PromptTokens, u.CompletionTokens, u.MeanLatencySeconds, u.MaxLatencySeconds)
}

// runChaos is the chaos mode and failure policy of r's gating AI calls:
// those of the first call with chaos injected; false when none had any.
func runChaos(r *results.Run) (results.Chaos, results.FailurePolicy, bool) {
	for i := range r.Analysis {
		if a := r.Analysis[i].AI; a != nil && a.Chaos != "" {
			return a.Chaos, a.Policy, true
		}
	}
	return "", "", false
}

// rank is x's index in xs, or len(xs) for a value not in it (sorted last).
func rank[T comparable](xs []T, x T) int {
	if i := slices.Index(xs, x); i >= 0 {
		return i
	}
	return len(xs)
}

// chaosRows are the runs with chaos on the analysis path, by analyzer,
// chaos mode and policy (catalog and vocabulary order): their verdicts,
// and which ended in a missed bad release (a fail-open policy passes
// failed calls) or a false alarm (a fail-closed one fails them).
func chaosRows(f *results.File, anchors []string) []chaosRow {
	type key struct {
		analyzer string
		chaos    results.Chaos
		policy   results.FailurePolicy
	}
	groups := map[key][]int{}
	var keys []key
	for i := range f.Runs {
		c, p, ok := runChaos(&f.Runs[i])
		if !ok {
			continue
		}
		k := key{f.Runs[i].Analyzer, c, p}
		if _, seen := groups[k]; !seen {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	var names []string
	for _, k := range keys {
		names = append(names, k.analyzer)
	}
	order := analyzerOrder(names)
	slices.SortStableFunc(keys, func(a, b key) int {
		if d := rank(order, a.analyzer) - rank(order, b.analyzer); d != 0 {
			return d
		}
		if d := rank(results.ChaosModes(), a.chaos) - rank(results.ChaosModes(), b.chaos); d != 0 {
			return d
		}
		return rank(results.Policies(), a.policy) - rank(results.Policies(), b.policy)
	})
	var out []chaosRow
	for _, k := range keys {
		row := chaosRow{Analyzer: clip(k.analyzer, maxAnalyzerRunes), Chaos: clip(string(k.chaos), 40), Policy: orDash(clip(string(k.policy), 40))}
		counts := map[string]int{}
		for _, i := range groups[k] {
			c := runChip(&f.Runs[i], anchors[i])
			counts[c.Status]++
			row.Runs = append(row.Runs, c)
		}
		var verdicts, wrong []string
		for _, v := range append(results.Verdicts(), StatusError) {
			if n := counts[string(v)]; n > 0 {
				verdicts = append(verdicts, fmt.Sprintf("%s %d", v, n))
			}
		}
		row.Verdicts = strings.Join(verdicts, ", ")
		if n := counts[string(results.VerdictMissed)]; n > 0 {
			s := fmt.Sprintf("%d missed bad release(s)", n)
			if k.policy == results.PolicyFailOpen {
				s += " (fail-open: the failed calls passed)"
			}
			wrong = append(wrong, s)
		}
		if n := counts[string(results.VerdictFalseAlarm)]; n > 0 {
			s := fmt.Sprintf("%d false alarm(s)", n)
			if k.policy == results.PolicyFailClosed {
				s += " (fail-closed: the failed calls failed)"
			}
			wrong = append(wrong, s)
		}
		row.Consequence, row.Class = "none", "correct"
		if len(wrong) > 0 {
			row.Consequence, row.Class = strings.Join(wrong, "; "), "wrong"
		}
		out = append(out, row)
	}
	return out
}

func faultRows(faults []results.FaultRecord, rel func(time.Time) string) []faultRow {
	var out []faultRow
	for _, f := range faults {
		fr := faultRow{Kind: clip(f.Kind, 100), Description: clip(f.Description, maxTextRunes), At: fmt.Sprintf("%gs", f.At),
			Injected: "–", Cleared: "–", Touched: clip(strings.Join(f.Touched, ", "), maxTextRunes), Error: clip(f.Error, maxTextRunes)}
		if f.InjectedAt != nil {
			fr.Injected = rel(*f.InjectedAt)
		}
		if f.ClearedAt != nil {
			fr.Cleared = rel(*f.ClearedAt)
		}
		out = append(out, fr)
	}
	return out
}

// analysisRows are the calls as table rows; explain puts the shadow
// answers' explanations on hover (a report of few runs can afford them).
func analysisRows(calls []results.AnalysisCall, rel func(time.Time) string, explain bool) []analysisRow {
	var out []analysisRow
	for _, a := range calls {
		out = append(out, analysisRow{
			T: rel(a.Time), Analyzer: clip(a.Analyzer, 100), Verdict: clip(string(a.Verdict), 100), Class: verdictMarkClass(a.Verdict),
			Value: strconv.FormatFloat(a.Value, 'g', 4, 64), P99: strconv.FormatFloat(a.P99Seconds, 'g', 4, 64),
			Requests:    strconv.FormatFloat(a.Requests, 'g', -1, 64),
			Explanation: clip(a.Explanation, maxTextRunes), Error: clip(a.Error, maxTextRunes), Shadow: shadowCells(a.Shadow, explain),
		})
	}
	return out
}

// shadowCells are the other analyzers' answers to a call, in catalog
// order; the explanation on hover.
func shadowCells(answers []results.ShadowAnswer, explain bool) []shadowCell {
	var names []string
	for _, s := range answers {
		names = append(names, s.Analyzer)
	}
	var out []shadowCell
	for _, name := range analyzerOrder(names) {
		for _, s := range answers {
			if s.Analyzer != name {
				continue
			}
			c := shadowCell{Analyzer: clip(s.Analyzer, maxAnalyzerRunes), Verdict: clip(string(s.Verdict), 40),
				Class: verdictMarkClass(s.Verdict), Value: strconv.FormatFloat(s.Value, 'g', 4, 64)}
			if explain {
				c.Title = clip(s.Explanation, 300)
			}
			out = append(out, c)
			break
		}
	}
	return out
}

// eventLog is one block of text, a line per event: a table of thousands of
// rows would slow the page down for nothing.
func eventLog(events []results.Event, rel func(time.Time) string) string {
	var log strings.Builder
	for _, e := range events {
		line := fmt.Sprintf("%7s %-14s %-28s %s", rel(e.Time), clip(oneLineText(string(e.Kind)), 40),
			clip(oneLineText(e.Object), 120), clip(oneLineText(describeEvent(e)), 700))
		log.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return log.String()
}

// logViews are the tails of the pod logs, every line clipped.
func logViews(logs []results.LogExcerpt, maxLines int) []logView {
	var out []logView
	for _, lg := range logs {
		lines := strings.Split(strings.TrimRight(lg.Lines, "\n"), "\n")
		lv := logView{Pod: clip(lg.Pod, 200), Container: clip(lg.Container, 100), Version: clip(lg.Version, 100)}
		if len(lines) > maxLines {
			lv.Cut = len(lines) - maxLines
			lines = lines[len(lines)-maxLines:]
		}
		for i := range lines {
			lines[i] = clip(lines[i], maxLogLineRunes)
		}
		lv.Lines = strings.Join(lines, "\n")
		out = append(out, lv)
	}
	return out
}

// keepFirst keeps at most n items: those for which key holds first, then
// as many of the others as fit, in their order. All of them when they fit.
func keepFirst[T any](items []T, n int, key func(T) bool) []T {
	if len(items) <= n {
		return items
	}
	keep := make([]bool, len(items))
	left := n
	for _, keyOnly := range []bool{true, false} {
		for i, it := range items {
			if left > 0 && !keep[i] && (!keyOnly || key(it)) {
				keep[i] = true
				left--
			}
		}
	}
	out := make([]T, 0, n)
	for i, it := range items {
		if keep[i] {
			out = append(out, it)
		}
	}
	return out
}

// keepSpread keeps at most n items: those for which key holds first (the
// earliest), then others spread evenly over the rest, in their order. All
// of them when they fit.
func keepSpread[T any](items []T, n int, key func(T) bool) []T {
	if len(items) <= n {
		return items
	}
	keep := make([]bool, len(items))
	left := n
	var others []int
	for i, it := range items {
		switch {
		case !key(it):
			others = append(others, i)
		case left > 0:
			keep[i] = true
			left--
		}
	}
	for j := range min(left, len(others)) {
		k := j
		if left < len(others) {
			k = j * len(others) / left
		}
		keep[others[k]] = true
	}
	out := make([]T, 0, n)
	for i, it := range items {
		if keep[i] {
			out = append(out, it)
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
