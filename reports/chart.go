package reports

// The timeline chart of a run, as SVG generated here and rendered by
// html/template. SVG rather than a charting library: it needs no dependency,
// no build step and no network (the report must open offline from disk),
// it is small (a few tens of KiB per run after downsampling), it scales
// with the page and prints, and html/template escapes every text and
// attribute in it like the rest of the page. Hover values come from SVG
// <title> elements (markers) and a little inline script (the series).

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// maxBins bounds the points of a series: longer runs are downsampled to
// bins of several seconds (requests and failures averaged per second, p99
// the worst of the bin), so that a report of hundreds of runs stays small
// and opens fast. A report of many runs uses fewer (limitsFor): 160 points
// over about 880 px, a point every 5.5 px, is still finer than the eye
// needs.
const maxBins = 600

// Chart geometry, in viewBox units.
const (
	chartW     = 960.0
	plotLeft   = 64.0
	plotRight  = 12.0
	plotW      = chartW - plotLeft - plotRight
	chartTop   = 22.0
	panelGap   = 16.0
	reqH       = 110.0
	errH       = 56.0
	p99H       = 56.0
	weightH    = 44.0
	laneRowH   = 15.0 // a row of the analysis lanes: Argo, then one per analyzer
	axisH      = 26.0
	unattrName = "(no version)"
)

type svgChart struct {
	ID       string
	W, H     float64
	Patterns []svgPattern
	Shades   []svgRect
	Grid     []svgLine
	Areas    []svgPath
	Lines    []svgPath
	VLines   []svgLine
	Marks    []svgMark
	Ticks    []svgTick
	Texts    []svgText
	Overlay  svgRect
	Legend   []legendItem
	Data     hoverData
	Binned   int // seconds per point, >1 when downsampled
}

type svgPattern struct{ ID, Color, Stroke string }

type svgRect struct {
	X, Y, W, H  float64
	Class, Fill string
	Title       string
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class, Stroke  string
	Title          string
}

type svgPath struct {
	D, Class, Fill, Stroke, Dash string
	Title                        string
}

type svgMark struct {
	X, Y  float64
	Class string // pass, fail, other
	Title string
}

// svgTick is the moment an analyzer failed, or would have failed, the
// release: a tick on its lane, labelled, and a faint line up through the
// panels to show what had happened by then.
type svgTick struct {
	X, Top, LaneTop, Y1, Y2 float64
	TX, TY                  float64
	Anchor, Label, Title    string
	Gating                  bool
}

type svgText struct {
	X, Y        float64
	Anchor      string
	Class, Text string
}

type legendItem struct {
	Name, Color, Stroke, Fill string
	Variant                   bool
	Kind                      string // version, weight, share, gating, tick, note
}

// hoverData is what the page's script reads to show the values of the
// second (or bin) under the pointer.
type hoverData struct {
	X0    num      `json:"x0"` // axis start, s since candidate applied
	X1    num      `json:"x1"` // axis end
	T0    num      `json:"t0"` // start of the first bin
	DT    num      `json:"dt"` // bin width, s
	PL    num      `json:"pl"` // plot left, viewBox units
	PW    num      `json:"pw"` // plot width
	VW    num      `json:"vw"` // viewBox width
	Names []string `json:"names"`
	Req   [][]num  `json:"req"`   // requests per second, per version per bin
	Fail  [][]num  `json:"fail"`  // failed requests per second
	P99   [][]num  `json:"p99"`   // ms; -1 when the version served nothing
	Share []num    `json:"share"` // candidate share of attributed requests, %; -1 when none
	W     []num    `json:"w"`     // configured weight, %; empty when none
}

// num marshals with at most 2 decimals, to keep the embedded data small.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, math.Round(f*100)/100, 'f', -1, 64), nil
}

// bin is one point of a downsampled series.
type bin struct {
	req, fail []float64 // per version: counts, then per second (perSecond)
	p99       []float64 // per version, ms (max over the bin)
}

// chartLayout is what the panels of one chart share: the run, the axis, the
// panels' positions, the versions and their colors, and the binned series.
// buildChart fills it in order; each panel function draws one panel into c.
type chartLayout struct {
	r  *results.Run
	c  *svgChart
	id string

	// The axis, in seconds since the candidate was applied.
	x0, x1 float64
	// The series' first and last second (maxIdx < minIdx when empty).
	minIdx, maxIdx int

	reqTop, errTop, p99Top, wTop, laneTop, plotBottom float64

	// lanes are the analyzers' rows under Argo's: one per analyzer with
	// answers or a detection, or a single "analyzer" row for a run whose
	// file has neither shadow answers nor detections.
	lanes     []analyzerLane
	maxShadow int // shadow answers drawn at most (passes are thinned first)

	// versions are stable, candidate, the others sorted, then unattributed
	// when any request was; versions[:nv] are the attributed ones.
	versions               []string
	nv                     int
	colors, strokes, fills []string
	variants               []bool

	k    int   // seconds per bin
	bins []bin // the downsampled series

	weights []weightStep // configured weight of the candidate; nil when none
	candIdx int          // the candidate in versions; -1 when it served nothing
	share   []float64    // candidate share per bin, %; -1 when none
}

type analyzerLane struct {
	name   string
	label  string
	gating bool
}

// buildChart lays out the timeline of r; nil when there is nothing to draw.
// lim bounds the points of a series and the shadow answers drawn.
func buildChart(id string, r *results.Run, lim limits) *svgChart {
	if r.AppliedAt.IsZero() || (len(r.Series) == 0 && len(r.Events) == 0) {
		return nil
	}
	l := &chartLayout{r: r, id: id, c: &svgChart{ID: id, W: chartW}, maxShadow: lim.shadow}
	l.axis()
	l.collectLanes()
	l.panels()
	l.collectVersions()
	l.binSeries(lim.bins)
	l.versionColors()
	l.requestsPanel()
	l.errorAndLatencyPanels()
	l.weightPanel()
	l.analysisLane()
	l.shades()
	l.markers()
	l.xAxis()
	l.c.Data = l.hoverData()
	return l.c
}

// rel is t in seconds since the candidate was applied.
func (l *chartLayout) rel(t time.Time) float64 { return t.Sub(l.r.AppliedAt).Seconds() }

// xOf places a time of the axis, clamped to the plot.
func (l *chartLayout) xOf(t float64) float64 {
	t = math.Max(l.x0, math.Min(l.x1, t))
	return plotLeft + (t-l.x0)/(l.x1-l.x0)*plotW
}

// inAxis reports whether a time falls on the axis.
func (l *chartLayout) inAxis(t float64) bool { return t >= l.x0 && t <= l.x1 }

// binX is a bin's center.
func (l *chartLayout) binX(i int) float64 {
	if len(l.bins) == 1 {
		return l.xOf(float64(l.minIdx) + 0.5)
	}
	return l.xOf(l.binMid(i))
}

// binMid is the middle of a bin, in seconds of the axis.
func (l *chartLayout) binMid(i int) float64 {
	return float64(l.minIdx) + (float64(i)+0.5)*float64(l.k)
}

// axis spans from the candidate (or the first second of the series, if
// earlier) to the end of the run, or to a decision shortly after it.
func (l *chartLayout) axis() {
	r := l.r
	l.x0, l.x1 = 0, 1
	l.minIdx, l.maxIdx = 0, -1
	for i, s := range r.Series {
		if i == 0 || s.Index < l.minIdx {
			l.minIdx = s.Index
		}
		l.maxIdx = max(l.maxIdx, s.Index)
	}
	if len(r.Series) > 0 {
		l.x0 = math.Min(0, float64(l.minIdx))
		l.x1 = math.Max(l.x1, float64(l.maxIdx+1))
	}
	if !r.EndedAt.IsZero() && r.EndedAt.After(r.AppliedAt) {
		l.x1 = math.Max(l.x1, l.rel(r.EndedAt))
	}
	for _, e := range r.Events {
		if t := l.rel(e.Time); t > l.x1 && e.Kind.IsDecision() && t < l.x1+600 {
			l.x1 = t
		}
	}
}

// panels stacks the panels from the top.
func (l *chartLayout) panels() {
	y := chartTop
	next := func(h float64) float64 { top := y; y += h; return top }
	l.reqTop = next(reqH + panelGap)
	l.errTop = next(errH + panelGap)
	l.p99Top = next(p99H + panelGap)
	l.wTop = next(weightH + panelGap/2)
	l.laneTop = next(laneRowH * float64(1+len(l.lanes)))
	l.plotBottom = y
	l.c.H = y + axisH
}

// collectVersions orders the versions stably: stable, candidate, the rest
// sorted, unattributed last.
func (l *chartLayout) collectVersions() {
	r := l.r
	seen := map[string]bool{}
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			l.versions = append(l.versions, v)
		}
	}
	add(r.Stable)
	add(r.Candidate)
	var others []string
	unattributed := false
	for _, s := range r.Series {
		for v, vs := range s.Versions {
			if !seen[v] && !slices.Contains(others, v) && vs.Requests > 0 {
				others = append(others, v)
			}
		}
		unattributed = unattributed || s.Unattributed.Requests > 0
	}
	slices.Sort(others)
	for _, v := range others {
		add(v)
	}
	l.nv = len(l.versions)
	if unattributed {
		l.versions = append(l.versions, unattrName)
	}
}

// binSeries downsamples the series into bins of k seconds: requests and
// failures per second, p99 the worst of the bin.
func (l *chartLayout) binSeries(maxPoints int) {
	nsec := 0
	if len(l.r.Series) > 0 {
		nsec = l.maxIdx - l.minIdx + 1
	}
	l.k = 1
	if nsec > maxPoints {
		l.k = (nsec + maxPoints - 1) / maxPoints
	}
	l.c.Binned = l.k
	nb := (nsec + l.k - 1) / l.k
	l.bins = make([]bin, nb)
	for i := range l.bins {
		l.bins[i] = newBin(len(l.versions))
	}
	secs := make([]float64, nb) // seconds of data per bin (the last may be partial)
	for _, s := range l.r.Series {
		b := (s.Index - l.minIdx) / l.k
		secs[b]++
		for j, v := range l.versions {
			vs := s.Unattributed
			if j < l.nv {
				vs = s.Versions[v]
			}
			l.bins[b].add(j, vs)
		}
	}
	// Rates per second: bins hold k seconds, or fewer when the series has
	// a hole, or at the end.
	for i := range l.bins {
		l.bins[i].perSecond(math.Max(secs[i], 1))
	}
}

func newBin(versions int) bin {
	b := bin{req: make([]float64, versions), fail: make([]float64, versions), p99: make([]float64, versions)}
	for j := range b.p99 {
		b.p99[j] = -1
	}
	return b
}

// add counts one second of version j into the bin.
func (b *bin) add(j int, vs results.VersionSecond) {
	b.req[j] += float64(vs.Requests)
	b.fail[j] += float64(vs.Failed)
	if vs.Requests > 0 {
		b.p99[j] = math.Max(b.p99[j], float64(vs.P99)/1e6)
	}
}

// perSecond turns the bin's counts over d seconds into rates.
func (b *bin) perSecond(d float64) {
	for j := range b.req {
		b.req[j] /= d
		b.fail[j] /= d
	}
}

// versionColors gives each version its color, a hatch pattern for a
// variant, and its legend entry.
func (l *chartLayout) versionColors() {
	n := len(l.versions)
	l.colors, l.strokes, l.fills, l.variants = make([]string, n), make([]string, n), make([]string, n), make([]bool, n)
	c := l.c
	for j, v := range l.versions {
		if j >= l.nv {
			l.colors[j], l.strokes[j], l.fills[j] = unattributedColor, darker(unattributedColor), unattributedColor
			c.Legend = append(c.Legend, legendItem{Name: v, Color: l.colors[j], Stroke: l.strokes[j], Fill: l.fills[j], Kind: "version"})
			continue
		}
		col, variant := versionColor(v)
		l.colors[j], l.strokes[j], l.fills[j], l.variants[j] = col, col, col, variant
		if variant {
			l.strokes[j] = darker(col)
			pid := fmt.Sprintf("%s-p%d", l.id, j)
			c.Patterns = append(c.Patterns, svgPattern{ID: pid, Color: col, Stroke: l.strokes[j]})
			l.fills[j] = "url(#" + pid + ")"
		}
		c.Legend = append(c.Legend, legendItem{Name: v, Color: col, Stroke: l.strokes[j], Fill: l.fills[j], Variant: variant, Kind: "version"})
	}
}

// panel draws a panel's frame, y ticks and label.
func (l *chartLayout) panel(top, h float64, label string, max float64, unit string) {
	c := l.c
	c.Grid = append(c.Grid,
		svgLine{X1: plotLeft, Y1: top + h, X2: plotLeft + plotW, Y2: top + h, Class: "axis"},
		svgLine{X1: plotLeft, Y1: top, X2: plotLeft + plotW, Y2: top, Class: "grid"},
		svgLine{X1: plotLeft, Y1: top + h/2, X2: plotLeft + plotW, Y2: top + h/2, Class: "grid"})
	c.Texts = append(c.Texts,
		svgText{X: plotLeft - 4, Y: top + 4, Anchor: "end", Class: "tick", Text: fmtTick(max) + unit},
		svgText{X: plotLeft - 4, Y: top + h/2 + 3, Anchor: "end", Class: "tick", Text: fmtTick(max/2) + unit},
		svgText{X: plotLeft - 4, Y: top + h, Anchor: "end", Class: "tick", Text: "0"},
		svgText{X: plotLeft + 4, Y: top - 4, Anchor: "start", Class: "plabel", Text: label},
	)
}

// requestsPanel stacks the requests per second by version.
func (l *chartLayout) requestsPanel() {
	reqMax := 1.0
	for _, b := range l.bins {
		sum := 0.0
		for _, q := range b.req {
			sum += q
		}
		reqMax = math.Max(reqMax, sum)
	}
	reqMax = niceCeil(reqMax * 1.05)
	label := "requests/s by version"
	if l.k > 1 {
		label += fmt.Sprintf(" (mean over %d s)", l.k)
	}
	l.panel(l.reqTop, reqH, label, reqMax, "")
	yq := func(v float64) float64 { return l.reqTop + reqH - v/reqMax*reqH }
	base := make([]float64, len(l.bins))
	for j := range l.versions {
		top := make([]float64, len(l.bins))
		served := false
		for i, b := range l.bins {
			top[i] = base[i] + b.req[j]
			served = served || b.req[j] > 0
		}
		if !served {
			continue
		}
		var p pathBuilder
		for i := range l.bins {
			p.to(l.binX(i), yq(top[i]))
		}
		for i := len(l.bins) - 1; i >= 0; i-- {
			p.to(l.binX(i), yq(base[i]))
		}
		p.close()
		l.c.Areas = append(l.c.Areas, svgPath{D: p.String(), Fill: l.fills[j], Stroke: l.strokes[j], Class: "area", Title: l.versions[j]})
		base = top
	}
}

// errorAndLatencyPanels draw the error rate and the p99 latency by
// version, and the SLO.
func (l *chartLayout) errorAndLatencyPanels() {
	errMax, p99Max := 1.0, 1.0
	for _, b := range l.bins {
		for j := range l.versions {
			if b.req[j] > 0 {
				errMax = math.Max(errMax, 100*b.fail[j]/b.req[j])
			}
			p99Max = math.Max(p99Max, b.p99[j])
		}
	}
	slo := l.r.Load.SLOSeconds * 1000
	if slo > 0 {
		p99Max = math.Max(p99Max, slo)
	}
	errMax = math.Min(niceCeil(errMax*1.05), 100)
	p99Max = niceCeil(p99Max * 1.05)
	l.panel(l.errTop, errH, "error rate by version", errMax, "%")
	l.panel(l.p99Top, p99H, "p99 latency by version", p99Max, " ms")
	for j := range l.versions {
		l.versionLines(j, errMax, p99Max)
	}
	if slo > 0 {
		ys := l.p99Top + p99H - slo/p99Max*p99H
		l.c.Lines = append(l.c.Lines, svgPath{D: fmt.Sprintf("M%s,%sH%s", f1(plotLeft), f1(ys), f1(plotLeft+plotW)), Class: "slo",
			Title: fmt.Sprintf("SLO %g ms: slower responses count as failed", slo)})
		l.c.Texts = append(l.c.Texts, svgText{X: plotLeft + plotW - 2, Y: ys - 3, Anchor: "end", Class: "tick", Text: "SLO"})
	}
}

// versionLines draws version j's error rate and p99 lines, broken where
// it served nothing.
func (l *chartLayout) versionLines(j int, errMax, p99Max float64) {
	var pe, pl pathBuilder
	failed := false
	for i, b := range l.bins {
		failed = failed || b.fail[j] > 0
		if b.req[j] <= 0 {
			pe.gap()
			pl.gap()
			continue
		}
		pe.to(l.binX(i), l.errTop+errH-math.Min(100*b.fail[j]/b.req[j], errMax)/errMax*errH)
		pl.to(l.binX(i), l.p99Top+p99H-math.Min(b.p99[j], p99Max)/p99Max*p99H)
	}
	if pe.empty() {
		return
	}
	dash := ""
	if l.variants[j] {
		dash = "5 2"
	}
	name, stroke := l.versions[j], l.strokes[j]
	if failed { // a line of zeros would only hide the axis
		l.c.Lines = append(l.c.Lines, svgPath{D: pe.String(), Stroke: stroke, Dash: dash, Class: "line", Title: name + " error rate"})
	}
	l.c.Lines = append(l.c.Lines, svgPath{D: pl.String(), Stroke: stroke, Dash: dash, Class: "line", Title: name + " p99"})
}

// yWeight places a percentage in the weight panel.
func (l *chartLayout) yWeight(v float64) float64 { return l.wTop + weightH - v/100*weightH }

// weightPanel draws the configured weight of the candidate (the canary
// weight from the rollout's steps, or the blue-green switch) and its
// observed share of the traffic.
func (l *chartLayout) weightPanel() {
	weights, label := weightSteps(l.r, l.rel)
	l.weights = weights
	l.panel(l.wTop, weightH, label, 100, "%")
	if len(weights) > 0 {
		var p pathBuilder
		p.to(l.xOf(l.x0), l.yWeight(weights[0].w))
		for i, w := range weights {
			if i > 0 {
				p.to(l.xOf(w.t), l.yWeight(weights[i-1].w))
			}
			p.to(l.xOf(w.t), l.yWeight(w.w))
		}
		p.to(l.xOf(l.x1), l.yWeight(weights[len(weights)-1].w))
		l.c.Lines = append(l.c.Lines, svgPath{D: p.String(), Class: "weight", Title: "configured weight of the candidate"})
		l.c.Legend = append(l.c.Legend, legendItem{Name: "configured weight", Kind: "weight"})
	}
	l.shareLine()
}

// shareLine draws the candidate's share of the attributed requests.
func (l *chartLayout) shareLine() {
	l.candIdx = slices.Index(l.versions[:l.nv], l.r.Candidate)
	l.share = make([]float64, len(l.bins))
	if l.candIdx < 0 {
		return
	}
	var p pathBuilder
	for i, b := range l.bins {
		attributed := 0.0
		for _, q := range b.req[:l.nv] {
			attributed += q
		}
		l.share[i] = -1
		if attributed <= 0 {
			p.gap()
			continue
		}
		l.share[i] = 100 * b.req[l.candIdx] / attributed
		p.to(l.binX(i), l.yWeight(l.share[i]))
	}
	if !p.empty() {
		stroke := l.strokes[l.candIdx]
		l.c.Lines = append(l.c.Lines, svgPath{D: p.String(), Stroke: stroke, Class: "share", Title: "candidate share of the traffic"})
		l.c.Legend = append(l.c.Legend, legendItem{Name: "candidate share", Color: l.colors[l.candIdx], Stroke: stroke, Kind: "share"})
	}
}

// collectLanes picks the analyzers' rows: the gating analyzer's and one
// per analyzer that answered in shadow or has a detection, in catalog
// order. A run recorded before shadow answers keeps its single row.
func (l *chartLayout) collectLanes() {
	r := l.r
	if !hasShadow(r) && len(r.Detections) == 0 {
		l.lanes = []analyzerLane{{label: "analyzer"}}
		return
	}
	var names []string
	gating := map[string]bool{}
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(r.Analysis) > 0 {
		add(r.Analyzer)
		gating[r.Analyzer] = true
	}
	for _, d := range r.Detections {
		add(d.Analyzer)
		gating[d.Analyzer] = gating[d.Analyzer] || d.Gating || d.Analyzer == r.Analyzer
	}
	for _, a := range r.Analysis {
		for _, s := range a.Shadow {
			add(s.Analyzer)
		}
	}
	for _, n := range analyzerOrder(names) {
		l.lanes = append(l.lanes, analyzerLane{name: n, label: clip(n, 12), gating: gating[n]})
	}
}

// laneIndex is the row of an analyzer; -1 when it has none.
func (l *chartLayout) laneIndex(name string) int {
	return slices.IndexFunc(l.lanes, func(a analyzerLane) bool { return a.name == name })
}

// rowY is the center of row i of the analysis lanes (0: Argo).
func (l *chartLayout) rowY(i int) float64 { return l.laneTop + laneRowH*(float64(i)+0.5) }

// analysisLane marks Argo's measurements on the top row, the gating
// analyzer's answers on its row and every other analyzer's shadow answers
// on theirs, and ticks when each failed, or would have failed, the release.
func (l *chartLayout) analysisLane() {
	top := l.laneTop
	c := l.c
	c.Texts = append(c.Texts, svgText{X: plotLeft - 4, Y: top + 10, Anchor: "end", Class: "tick", Text: "Argo"})
	gatingRow := 1 // the calls' row
	for i, ln := range l.lanes {
		rowTop := top + laneRowH*float64(i+1)
		c.Grid = append(c.Grid, svgLine{X1: plotLeft, Y1: rowTop, X2: plotLeft + plotW, Y2: rowTop, Class: "grid"})
		class := "tick"
		if ln.gating {
			class = "tick lane-gating"
			gatingRow = i + 1
			c.Shades = append(c.Shades, svgRect{X: plotLeft, Y: rowTop, W: plotW, H: laneRowH, Class: "gating",
				Title: ln.label + " gated this run: Argo acted on its answers"})
		}
		c.Texts = append(c.Texts, svgText{X: plotLeft - 4, Y: rowTop + 10, Anchor: "end", Class: class, Text: ln.label})
	}
	if i := l.laneIndex(l.r.Analyzer); i >= 0 {
		gatingRow = i + 1
	}
	// Argo measures each metric of the template at once (prometheus: the
	// error rate and the p99): a failed one is drawn last, on top.
	var argo []svgMark
	for _, e := range l.r.Events {
		if t := l.rel(e.Time); e.Kind == results.EventMeasurement && e.Measurement != nil && l.inAxis(t) {
			argo = append(argo, svgMark{X: l.xOf(t), Y: l.rowY(0), Class: phaseClass(e.Measurement.Phase),
				Title: clip(l.measurementTitle(t, e.Measurement), 600)})
		}
	}
	rank := map[string]int{"pass": 0, "other": 1, "fail": 2}
	slices.SortStableFunc(argo, func(a, b svgMark) int { return rank[a.Class] - rank[b.Class] })
	c.Marks = append(c.Marks, argo...)
	for _, a := range l.r.Analysis {
		if t := l.rel(a.Time); l.inAxis(t) {
			title := fmt.Sprintf("%.1fs analyzer %s: %s, value %g, p99 %gs, %g requests: %s", t, a.Analyzer, a.Verdict,
				a.Value, a.P99Seconds, a.Requests, a.Explanation)
			if a.Error != "" {
				title += " (error: " + a.Error + ")"
			}
			c.Marks = append(c.Marks, svgMark{X: l.xOf(t), Y: l.rowY(gatingRow), Class: verdictMarkClass(a.Verdict), Title: clip(title, 600)})
		}
	}
	l.shadowMarks()
	l.detectionTicks()
	if len(l.lanes) > 1 || (len(l.lanes) == 1 && l.lanes[0].gating) {
		c.Legend = append(c.Legend, legendItem{Name: "gating analyzer (Argo acted on its answers; the others answered in shadow)", Kind: "gating"})
	}
}

// shadowMarks draws the other analyzers' answers, each on its row: failed
// and inconclusive answers first, passes thinned evenly when there are
// more than the page affords.
func (l *chartLayout) shadowMarks() {
	type answer struct {
		t   float64
		row int
		s   results.ShadowAnswer
	}
	var all []answer
	for _, a := range l.r.Analysis {
		t := l.rel(a.Time)
		if !l.inAxis(t) {
			continue
		}
		for _, s := range a.Shadow {
			if i := l.laneIndex(s.Analyzer); i >= 0 {
				all = append(all, answer{t, i + 1, s})
			}
		}
	}
	kept := keepSpread(all, l.maxShadow, func(a answer) bool { return a.s.Verdict != results.AnalysisPass })
	for _, a := range kept {
		title := fmt.Sprintf("%.1fs %s in shadow: %s, value %g: %s", a.t, a.s.Analyzer, a.s.Verdict, a.s.Value, a.s.Explanation)
		l.c.Marks = append(l.c.Marks, svgMark{X: l.xOf(a.t), Y: l.rowY(a.row), Class: verdictMarkClass(a.s.Verdict), Title: clip(title, 400)})
	}
	if n := len(all) - len(kept); n > 0 {
		l.c.Legend = append(l.c.Legend, legendItem{Name: fmt.Sprintf("%d passing shadow answers not drawn", n), Kind: "note"})
	}
}

// detectionTicks mark, on each analyzer's row, when it failed (gating) or
// would have failed (shadow) the release.
func (l *chartLayout) detectionTicks() {
	drawn := false
	for i := range l.r.Detections {
		d := &l.r.Detections[i]
		row := l.laneIndex(d.Analyzer)
		t, ok := detectedAt(l.r, d)
		if row < 0 || !ok || !l.inAxis(t) {
			continue
		}
		drawn = true
		x := l.xOf(t)
		rowTop := l.laneTop + laneRowH*float64(row+1)
		tk := svgTick{X: x, Top: chartTop, LaneTop: l.laneTop, Y1: rowTop + 1, Y2: rowTop + laneRowH - 1,
			TX: x + 3, TY: rowTop + laneRowH - 4, Anchor: "start", Label: l.lanes[row].label,
			Title: clip(detectionTitle(l.r, d), 600), Gating: d.Gating}
		if x > chartW-90 {
			tk.TX, tk.Anchor = x-3, "end"
		}
		l.c.Ticks = append(l.c.Ticks, tk)
	}
	if drawn {
		l.c.Legend = append(l.c.Legend, legendItem{Name: "when each analyzer failed, or would have failed, the release", Kind: "tick"})
	}
}

// measurementTitle says what Argo measured; the analyzer's own row
// explains the measurement when the run recorded its calls.
func (l *chartLayout) measurementTitle(t float64, m *results.Measurement) string {
	title := fmt.Sprintf("%.1fs Argo measurement %s", t, m.Phase)
	if len(l.r.Analysis) == 0 {
		return title + ": " + measurementText(m.Value)
	}
	if v, ok := measurementValue(m.Value); ok {
		title += fmt.Sprintf(", value %g", v)
	}
	return title
}

// phaseClass is the mark class of a measurement phase.
func phaseClass(p results.MeasurementPhase) string {
	return markClass(p == results.MeasurementSuccessful, p == results.MeasurementFailed)
}

// verdictMarkClass is the mark class of an analyzer's verdict.
func verdictMarkClass(v results.AnalysisVerdict) string {
	return markClass(v == results.AnalysisPass, v == results.AnalysisFail)
}

// markClass is pass, fail, or other for an inconclusive or failed
// measurement.
func markClass(pass, fail bool) string {
	switch {
	case pass:
		return "pass"
	case fail:
		return "fail"
	}
	return "other"
}

// shades are drawn under everything: the blast radius window, then the
// faults.
func (l *chartLayout) shades() {
	t := l.r.Timing
	end, title := l.x1, "blast radius window: from the candidate to the end of the run"
	if t.TimeToAbortSeconds != nil && *t.TimeToAbortSeconds >= 0 {
		stop, rec := *t.TimeToAbortSeconds, 0.0
		if t.TimeToRecoverSeconds != nil {
			rec = *t.TimeToRecoverSeconds
		}
		end = stop + rec
		title = fmt.Sprintf("blast radius window: from the candidate to the stop at %.1fs plus %.1fs until no user reached it", stop, rec)
	}
	if end > 0 {
		l.c.Shades = append(l.c.Shades, l.span(0, end, "blast", title))
	}
	for _, f := range faultSpans(l.r, l.rel) {
		if f.to < l.x0 || f.from > l.x1 {
			continue
		}
		if f.to > f.from {
			l.c.Shades = append(l.c.Shades, l.span(f.from, f.to, "fault", f.title))
		}
		l.c.VLines = append(l.c.VLines, svgLine{X1: l.xOf(f.from), Y1: chartTop, X2: l.xOf(f.from), Y2: l.plotBottom, Class: "fault", Title: f.title})
	}
}

// span is a shade over the whole height of the plot, at least 1 unit wide.
func (l *chartLayout) span(from, to float64, class, title string) svgRect {
	return svgRect{X: l.xOf(from), Y: chartTop, W: math.Max(l.xOf(to)-l.xOf(from), 1), H: l.plotBottom - chartTop,
		Class: class, Title: title}
}

// markers are the vertical lines of the candidate, the onset and the
// decision.
func (l *chartLayout) markers() {
	c, bottom := l.c, l.plotBottom
	c.VLines = append(c.VLines, svgLine{X1: l.xOf(0), Y1: chartTop - 6, X2: l.xOf(0), Y2: bottom, Class: "applied",
		Title: "candidate " + l.r.Candidate + " applied"})
	if p := l.r.Timing.FaultOnsetSeconds; p != nil {
		c.VLines = append(c.VLines, svgLine{X1: l.xOf(*p), Y1: chartTop, X2: l.xOf(*p), Y2: bottom, Class: "onset",
			Title: fmt.Sprintf("onset at %.1fs: the first failure of the candidate or the first fault", *p)})
	}
	for _, e := range l.r.Events {
		t := l.rel(e.Time)
		if !e.Kind.IsDecision() || !l.inAxis(t) {
			continue
		}
		x, kind := l.xOf(t), string(e.Kind)
		c.VLines = append(c.VLines, svgLine{X1: x, Y1: chartTop - 10, X2: x, Y2: bottom, Class: "decision " + kind,
			Title: clip(fmt.Sprintf("%.1fs %s: %s", t, kind, describeEvent(e)), 600)})
		anchor := "start"
		if x > chartW-120 {
			anchor = "end"
		}
		c.Texts = append(c.Texts, svgText{X: x + 3, Y: chartTop - 10, Anchor: anchor, Class: "dlabel " + kind,
			Text: fmt.Sprintf("%s %.1fs", kind, t)})
	}
}

// xAxis draws the ticks in seconds and the hover overlay.
func (l *chartLayout) xAxis() {
	c, bottom := l.c, l.plotBottom
	step := niceStep((l.x1 - l.x0) / 10)
	for t := math.Ceil(l.x0/step) * step; t <= l.x1+1e-9; t += step {
		x := l.xOf(t)
		c.Grid = append(c.Grid, svgLine{X1: x, Y1: bottom, X2: x, Y2: bottom + 4, Class: "axis"})
		c.Texts = append(c.Texts, svgText{X: x, Y: bottom + 15, Anchor: "middle", Class: "tick", Text: fmtTick(t) + "s"})
	}
	c.Texts = append(c.Texts, svgText{X: plotLeft + plotW, Y: bottom + 25, Anchor: "end", Class: "tick",
		Text: "seconds since the candidate was applied"})
	c.Overlay = svgRect{X: plotLeft, Y: chartTop, W: plotW, H: bottom - chartTop, Class: "hover"}
}

// hoverData is what the script shows of the bin under the pointer.
func (l *chartLayout) hoverData() hoverData {
	n := len(l.versions)
	d := hoverData{X0: num(l.x0), X1: num(l.x1), T0: num(l.minIdx), DT: num(l.k), PL: plotLeft, PW: plotW, VW: chartW,
		Names: l.versions, Req: make([][]num, n), Fail: make([][]num, n), P99: make([][]num, n)}
	for j := range l.versions {
		d.Req[j] = make([]num, len(l.bins))
		d.Fail[j] = make([]num, len(l.bins))
		d.P99[j] = make([]num, len(l.bins))
		for i, b := range l.bins {
			d.Req[j][i], d.Fail[j][i], d.P99[j][i] = num(b.req[j]), num(b.fail[j]), num(b.p99[j])
		}
	}
	if l.candIdx >= 0 {
		d.Share = make([]num, len(l.share))
		for i, s := range l.share {
			d.Share[i] = num(s)
		}
	}
	if len(l.weights) > 0 {
		d.W = make([]num, len(l.bins))
		for i := range d.W {
			d.W[i] = num(weightAt(l.weights, l.binMid(i)))
		}
	}
	return d
}

// weightAt is the configured weight at t: the last step at or before it,
// or the first step.
func weightAt(weights []weightStep, t float64) float64 {
	w := weights[0].w
	for _, s := range weights {
		if s.t <= t {
			w = s.w
		}
	}
	return w
}

// pathBuilder writes compact SVG path data: points rounded to whole
// viewBox units (about a pixel), each as a relative move from the last
// rounded point, so there is no drift ("M64,120l6-2 6 0 5 3"). gap starts
// a new subpath at the next point.
type pathBuilder struct {
	b      []byte
	pen    bool // a subpath is open
	line   bool // an "l" command is running
	lx, ly int
}

func (p *pathBuilder) to(x, y float64) {
	ix, iy := int(math.Round(x)), int(math.Round(y))
	if !p.pen {
		p.b = append(p.b, 'M')
		p.b = strconv.AppendInt(p.b, int64(ix), 10)
		p.b = append(p.b, ',')
		p.b = strconv.AppendInt(p.b, int64(iy), 10)
		p.pen, p.line, p.lx, p.ly = true, false, ix, iy
		return
	}
	dx, dy := ix-p.lx, iy-p.ly
	if !p.line {
		p.b = append(p.b, 'l')
		p.line = true
	} else if dx >= 0 {
		p.b = append(p.b, ' ')
	}
	p.b = strconv.AppendInt(p.b, int64(dx), 10)
	if dy >= 0 {
		p.b = append(p.b, ' ')
	}
	p.b = strconv.AppendInt(p.b, int64(dy), 10)
	p.lx, p.ly = ix, iy
}

func (p *pathBuilder) gap() { p.pen, p.line = false, false }

func (p *pathBuilder) close() { p.b = append(p.b, 'Z'); p.line = false }

func (p *pathBuilder) empty() bool { return len(p.b) == 0 }

func (p *pathBuilder) String() string { return string(p.b) }

func appendF1(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, math.Round(v*10)/10, 'f', -1, 64)
}

func f1(v float64) string { return string(appendF1(nil, v)) }

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// niceStep picks a tick step of seconds at least v.
func niceStep(v float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		if s >= v {
			return s
		}
	}
	return niceCeil(v)
}

func fmtTick(v float64) string {
	if math.Abs(v-math.Round(v)) < 1e-9 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
