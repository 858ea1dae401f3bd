package reports

// The timeline chart of a run, as SVG generated here and rendered by
// html/template. SVG rather than a charting library: it needs no dependency,
// no build step and no network (the report must open offline from disk),
// it is small (a few tens of KiB per run after downsampling), it scales
// with the page and prints, and html/template escapes every text and
// attribute in it like the rest of the page. Hover values come from SVG
// <title> elements (markers) and a little inline script (the series).

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
	laneH      = 30.0
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

type svgText struct {
	X, Y        float64
	Anchor      string
	Class, Text string
}

type legendItem struct {
	Name, Color, Stroke, Fill string
	Variant                   bool
	Kind                      string // version, line
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
	req, fail []float64 // per version, counts
	p99       []float64 // per version, ms (max over the bin)
}

// rolloutMsg parses the watcher's rollout summaries
// ("phase Paused step 3/6 weight 20 abort false CanaryPauseStep").
var rolloutMsg = regexp.MustCompile(`^phase (\S*) step (\d+)/(\d+) weight (\d+) abort (true|false)`)

// buildChart lays out the timeline of r; nil when there is nothing to draw.
func buildChart(id string, r *results.Run, maxPoints int) *svgChart {
	if r.AppliedAt.IsZero() || (len(r.Series) == 0 && len(r.Events) == 0) {
		return nil
	}
	rel := func(t time.Time) float64 { return t.Sub(r.AppliedAt).Seconds() }

	// The axis: from the candidate (or the first second of the series, if
	// earlier) to the end of the run.
	x0, x1 := 0.0, 1.0
	minIdx, maxIdx := 0, -1
	for i, s := range r.Series {
		if i == 0 || s.Index < minIdx {
			minIdx = s.Index
		}
		if s.Index > maxIdx {
			maxIdx = s.Index
		}
	}
	if len(r.Series) > 0 {
		x0 = math.Min(0, float64(minIdx))
		x1 = math.Max(x1, float64(maxIdx+1))
	}
	if !r.EndedAt.IsZero() && r.EndedAt.After(r.AppliedAt) {
		x1 = math.Max(x1, rel(r.EndedAt))
	}
	for _, e := range r.Events {
		if t := rel(e.Time); t > x1 && isDecision(e.Kind) && t < x1+600 {
			x1 = t
		}
	}
	xOf := func(t float64) float64 {
		t = math.Max(x0, math.Min(x1, t))
		return plotLeft + (t-x0)/(x1-x0)*plotW
	}

	c := &svgChart{ID: id, W: chartW}
	y := chartTop
	reqTop := y
	y += reqH + panelGap
	errTop := y
	y += errH + panelGap
	p99Top := y
	y += p99H + panelGap
	wTop := y
	y += weightH + panelGap/2
	laneTop := y
	y += laneH
	plotBottom := y
	c.H = y + axisH

	// Versions, in a stable order: stable, candidate, the rest, unattributed.
	versions := []string{}
	seen := map[string]bool{}
	addV := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			versions = append(versions, v)
		}
	}
	addV(r.Stable)
	addV(r.Candidate)
	var others []string
	hasUnattr := false
	for _, s := range r.Series {
		for v, vs := range s.Versions {
			if !seen[v] && !slices.Contains(others, v) && vs.Requests > 0 {
				others = append(others, v)
			}
		}
		if s.Unattributed.Requests > 0 {
			hasUnattr = true
		}
	}
	slices.Sort(others)
	for _, v := range others {
		addV(v)
	}
	nv := len(versions)
	if hasUnattr {
		versions = append(versions, unattrName)
	}

	// Downsample into bins of k seconds.
	nsec := maxIdx - minIdx + 1
	if len(r.Series) == 0 {
		nsec = 0
	}
	k := 1
	if nsec > maxPoints {
		k = (nsec + maxPoints - 1) / maxPoints
	}
	c.Binned = k
	nb := 0
	if nsec > 0 {
		nb = (nsec + k - 1) / k
	}
	bins := make([]bin, nb)
	binSecs := make([]float64, nb) // seconds of data per bin (the last may be partial)
	for i := range bins {
		bins[i] = bin{req: make([]float64, len(versions)), fail: make([]float64, len(versions)), p99: make([]float64, len(versions))}
		for j := range bins[i].p99 {
			bins[i].p99[j] = -1
		}
	}
	for _, s := range r.Series {
		b := (s.Index - minIdx) / k
		binSecs[b]++
		for j, v := range versions {
			var requests, failed int64
			var p99 time.Duration
			if j < nv {
				vs := s.Versions[v]
				requests, failed, p99 = vs.Requests, vs.Failed, vs.P99
			} else {
				requests, failed, p99 = s.Unattributed.Requests, s.Unattributed.Failed, s.Unattributed.P99
			}
			bins[b].req[j] += float64(requests)
			bins[b].fail[j] += float64(failed)
			if requests > 0 {
				bins[b].p99[j] = math.Max(bins[b].p99[j], float64(p99)/1e6)
			}
		}
	}
	// Rates per second: bins hold k seconds (or fewer when the series has a
	// hole, or at the end).
	for i := range bins {
		d := math.Max(binSecs[i], 1)
		for j := range versions {
			bins[i].req[j] /= d
			bins[i].fail[j] /= d
		}
	}
	binX := func(i int) float64 { // a bin's center
		return xOf(float64(minIdx) + (float64(i)+0.5)*float64(k))
	}
	if nb == 1 {
		binX = func(int) float64 { return xOf(float64(minIdx) + 0.5) }
	}

	// Colors and patterns.
	colors := make([]string, len(versions))
	strokes := make([]string, len(versions))
	fills := make([]string, len(versions))
	variants := make([]bool, len(versions))
	for j, v := range versions {
		if j >= nv {
			colors[j], strokes[j], fills[j] = unattributedColor, darker(unattributedColor), unattributedColor
			c.Legend = append(c.Legend, legendItem{Name: v, Color: colors[j], Stroke: strokes[j], Fill: fills[j], Kind: "version"})
			continue
		}
		col, variant := versionColor(v)
		colors[j], strokes[j], fills[j], variants[j] = col, col, col, variant
		if variant {
			strokes[j] = darker(col)
			pid := fmt.Sprintf("%s-p%d", id, j)
			c.Patterns = append(c.Patterns, svgPattern{ID: pid, Color: col, Stroke: strokes[j]})
			fills[j] = "url(#" + pid + ")"
		}
		c.Legend = append(c.Legend, legendItem{Name: v, Color: col, Stroke: strokes[j], Fill: fills[j], Variant: variant, Kind: "version"})
	}

	// Panel frames and y ticks.
	panel := func(top, h float64, label string, max float64, unit string) {
		c.Grid = append(c.Grid, svgLine{X1: plotLeft, Y1: top + h, X2: plotLeft + plotW, Y2: top + h, Class: "axis"})
		c.Grid = append(c.Grid, svgLine{X1: plotLeft, Y1: top, X2: plotLeft + plotW, Y2: top, Class: "grid"})
		c.Grid = append(c.Grid, svgLine{X1: plotLeft, Y1: top + h/2, X2: plotLeft + plotW, Y2: top + h/2, Class: "grid"})
		c.Texts = append(c.Texts,
			svgText{X: plotLeft - 4, Y: top + 4, Anchor: "end", Class: "tick", Text: fmtTick(max) + unit},
			svgText{X: plotLeft - 4, Y: top + h/2 + 3, Anchor: "end", Class: "tick", Text: fmtTick(max/2) + unit},
			svgText{X: plotLeft - 4, Y: top + h, Anchor: "end", Class: "tick", Text: "0"},
			svgText{X: plotLeft + 4, Y: top - 4, Anchor: "start", Class: "plabel", Text: label},
		)
	}

	// Requests per second, stacked by version.
	reqMax := 1.0
	for _, b := range bins {
		sum := 0.0
		for _, q := range b.req {
			sum += q
		}
		reqMax = math.Max(reqMax, sum)
	}
	reqMax = niceCeil(reqMax * 1.05)
	label := "requests/s by version"
	if k > 1 {
		label += fmt.Sprintf(" (mean over %d s)", k)
	}
	panel(reqTop, reqH, label, reqMax, "")
	if nb > 0 {
		base := make([]float64, nb)
		yq := func(v float64) float64 { return reqTop + reqH - v/reqMax*reqH }
		for j := range versions {
			var p pathBuilder
			top := make([]float64, nb)
			any := false
			for i := range bins {
				top[i] = base[i] + bins[i].req[j]
				if bins[i].req[j] > 0 {
					any = true
				}
			}
			if !any {
				continue
			}
			for i := range bins {
				p.to(binX(i), yq(top[i]))
			}
			for i := nb - 1; i >= 0; i-- {
				p.to(binX(i), yq(base[i]))
			}
			p.close()
			stroke := strokes[j]
			c.Areas = append(c.Areas, svgPath{D: p.String(), Fill: fills[j], Stroke: stroke, Class: "area",
				Title: versions[j]})
			copy(base, top)
		}
	}

	// Error rate and p99 by version.
	errMax, p99Max := 1.0, 1.0
	for _, b := range bins {
		for j := range versions {
			if b.req[j] > 0 {
				errMax = math.Max(errMax, 100*b.fail[j]/b.req[j])
			}
			p99Max = math.Max(p99Max, b.p99[j])
		}
	}
	slo := r.Load.SLOSeconds * 1000
	if slo > 0 {
		p99Max = math.Max(p99Max, slo)
	}
	errMax = math.Min(niceCeil(errMax*1.05), 100)
	p99Max = niceCeil(p99Max * 1.05)
	panel(errTop, errH, "error rate by version", errMax, "%")
	panel(p99Top, p99H, "p99 latency by version", p99Max, " ms")
	for j := range versions {
		var pe, pl pathBuilder
		for i, b := range bins {
			if b.req[j] <= 0 {
				pe.gap()
				pl.gap()
				continue
			}
			pe.to(binX(i), errTop+errH-math.Min(100*b.fail[j]/b.req[j], errMax)/errMax*errH)
			pl.to(binX(i), p99Top+p99H-math.Min(b.p99[j], p99Max)/p99Max*p99H)
		}
		dash := ""
		if variants[j] {
			dash = "5 2"
		}
		if !pe.empty() {
			if anyFailed(bins, j) { // a line of zeros would only hide the axis
				c.Lines = append(c.Lines, svgPath{D: pe.String(), Stroke: strokes[j], Dash: dash, Class: "line", Title: versions[j] + " error rate"})
			}
			c.Lines = append(c.Lines, svgPath{D: pl.String(), Stroke: strokes[j], Dash: dash, Class: "line", Title: versions[j] + " p99"})
		}
	}
	if slo > 0 {
		ys := p99Top + p99H - slo/p99Max*p99H
		c.Lines = append(c.Lines, svgPath{D: fmt.Sprintf("M%s,%sH%s", f1(plotLeft), f1(ys), f1(plotLeft+plotW)), Class: "slo",
			Title: fmt.Sprintf("SLO %g ms: slower responses count as failed", slo)})
		c.Texts = append(c.Texts, svgText{X: plotLeft + plotW - 2, Y: ys - 3, Anchor: "end", Class: "tick", Text: "SLO"})
	}

	// Weight: the canary weight from the rollout's steps, or the blue-green
	// switch, and the candidate's observed share of the traffic.
	weights, wlabel := weightSteps(r, rel)
	yw := func(v float64) float64 { return wTop + weightH - v/100*weightH }
	panel(wTop, weightH, wlabel, 100, "%")
	if len(weights) > 0 {
		var p pathBuilder
		p.to(xOf(x0), yw(weights[0].w))
		for i, w := range weights {
			if i > 0 {
				p.to(xOf(w.t), yw(weights[i-1].w))
			}
			p.to(xOf(w.t), yw(w.w))
		}
		p.to(xOf(x1), yw(weights[len(weights)-1].w))
		c.Lines = append(c.Lines, svgPath{D: p.String(), Class: "weight", Title: "configured weight of the candidate"})
		c.Legend = append(c.Legend, legendItem{Name: "configured weight", Kind: "weight"})
	}
	candIdx := slices.Index(versions, r.Candidate)
	share := make([]float64, nb)
	if candIdx >= 0 && candIdx < nv {
		var p pathBuilder
		for i, b := range bins {
			attr := 0.0
			for j := 0; j < nv; j++ {
				attr += b.req[j]
			}
			share[i] = -1
			if attr <= 0 {
				p.gap()
				continue
			}
			share[i] = 100 * b.req[candIdx] / attr
			p.to(binX(i), yw(share[i]))
		}
		if !p.empty() {
			c.Lines = append(c.Lines, svgPath{D: p.String(), Stroke: strokes[candIdx], Class: "share", Title: "candidate share of the traffic"})
			c.Legend = append(c.Legend, legendItem{Name: "candidate share", Color: colors[candIdx], Stroke: strokes[candIdx], Kind: "share"})
		}
	}

	// Analysis lane: Argo's measurements above, the analyzer's answers below.
	c.Texts = append(c.Texts,
		svgText{X: plotLeft - 4, Y: laneTop + 10, Anchor: "end", Class: "tick", Text: "Argo"},
		svgText{X: plotLeft - 4, Y: laneTop + 25, Anchor: "end", Class: "tick", Text: "analyzer"},
	)
	c.Grid = append(c.Grid, svgLine{X1: plotLeft, Y1: laneTop + 15, X2: plotLeft + plotW, Y2: laneTop + 15, Class: "grid"})
	for _, e := range r.Events {
		t := rel(e.Time)
		if e.Kind != "measurement" || t < x0 || t > x1 {
			continue
		}
		cls := map[string]string{"Successful": "pass", "Failed": "fail"}[e.Phase]
		if cls == "" {
			cls = "other"
		}
		title := fmt.Sprintf("%.1fs Argo measurement %s", t, e.Phase)
		if len(r.Analysis) == 0 { // else the analyzer's row explains
			title += ": " + measurementText(e.Value)
		} else if v, ok := measurementValue(e.Value); ok {
			title += fmt.Sprintf(", value %g", v)
		}
		c.Marks = append(c.Marks, svgMark{X: xOf(t), Y: laneTop + 7, Class: cls, Title: clip(title, 600)})
	}
	for _, a := range r.Analysis {
		t := rel(a.Time)
		if t < x0 || t > x1 {
			continue
		}
		cls := map[string]string{"pass": "pass", "fail": "fail"}[a.Verdict]
		if cls == "" {
			cls = "other"
		}
		title := fmt.Sprintf("%.1fs analyzer %s: %s, value %g, p99 %gs, %g requests: %s", t, a.Analyzer, a.Verdict,
			a.Value, a.P99Seconds, a.Requests, a.Explanation)
		if a.Error != "" {
			title += " (error: " + a.Error + ")"
		}
		c.Marks = append(c.Marks, svgMark{X: xOf(t), Y: laneTop + 23, Class: cls, Title: clip(title, 600)})
	}

	// Shades, drawn under everything: the blast radius window and faults.
	stop := -1.0
	if p := r.Timing.TimeToAbortSeconds; p != nil {
		stop = *p
	}
	wEnd := x1
	winTitle := "blast radius window: from the candidate to the end of the run"
	if stop >= 0 {
		rec := 0.0
		if p := r.Timing.TimeToRecoverSeconds; p != nil {
			rec = *p
		}
		wEnd = stop + rec
		winTitle = fmt.Sprintf("blast radius window: from the candidate to the stop at %.1fs plus %.1fs until no user reached it", stop, rec)
	}
	if wEnd > 0 {
		c.Shades = append(c.Shades, svgRect{X: xOf(0), Y: chartTop, W: math.Max(xOf(wEnd)-xOf(0), 1), H: plotBottom - chartTop,
			Class: "blast", Title: winTitle})
	}
	for _, f := range faultSpans(r, rel) {
		if f.to < x0 || f.from > x1 {
			continue
		}
		if f.to > f.from {
			c.Shades = append(c.Shades, svgRect{X: xOf(f.from), Y: chartTop, W: math.Max(xOf(f.to)-xOf(f.from), 1), H: plotBottom - chartTop,
				Class: "fault", Title: f.title})
		}
		c.VLines = append(c.VLines, svgLine{X1: xOf(f.from), Y1: chartTop, X2: xOf(f.from), Y2: plotBottom, Class: "fault", Title: f.title})
	}

	// Vertical markers: the candidate, the onset, the decision.
	c.VLines = append(c.VLines, svgLine{X1: xOf(0), Y1: chartTop - 6, X2: xOf(0), Y2: plotBottom, Class: "applied",
		Title: "candidate " + r.Candidate + " applied"})
	if p := r.Timing.FaultOnsetSeconds; p != nil {
		c.VLines = append(c.VLines, svgLine{X1: xOf(*p), Y1: chartTop, X2: xOf(*p), Y2: plotBottom, Class: "onset",
			Title: fmt.Sprintf("onset at %.1fs: the first failure of the candidate or the first fault", *p)})
	}
	for _, e := range r.Events {
		t := rel(e.Time)
		if !isDecision(e.Kind) || t < x0 || t > x1 {
			continue
		}
		c.VLines = append(c.VLines, svgLine{X1: xOf(t), Y1: chartTop - 10, X2: xOf(t), Y2: plotBottom, Class: "decision " + e.Kind,
			Title: clip(fmt.Sprintf("%.1fs %s: %s", t, e.Kind, e.Message), 600)})
		anchor := "start"
		if xOf(t) > chartW-120 {
			anchor = "end"
		}
		c.Texts = append(c.Texts, svgText{X: xOf(t) + 3, Y: chartTop - 10, Anchor: anchor, Class: "dlabel " + e.Kind,
			Text: fmt.Sprintf("%s %.1fs", e.Kind, t)})
	}

	// X axis.
	step := niceStep((x1 - x0) / 10)
	for t := math.Ceil(x0/step) * step; t <= x1+1e-9; t += step {
		x := xOf(t)
		c.Grid = append(c.Grid, svgLine{X1: x, Y1: plotBottom, X2: x, Y2: plotBottom + 4, Class: "axis"})
		c.Texts = append(c.Texts, svgText{X: x, Y: plotBottom + 15, Anchor: "middle", Class: "tick", Text: fmtTick(t) + "s"})
	}
	c.Texts = append(c.Texts, svgText{X: plotLeft + plotW, Y: plotBottom + 25, Anchor: "end", Class: "tick",
		Text: "seconds since the candidate was applied"})
	c.Overlay = svgRect{X: plotLeft, Y: chartTop, W: plotW, H: plotBottom - chartTop, Class: "hover"}

	// What the script shows on hover.
	d := hoverData{X0: num(x0), X1: num(x1), T0: num(minIdx), DT: num(k), PL: plotLeft, PW: plotW, VW: chartW,
		Names: versions, Req: make([][]num, len(versions)), Fail: make([][]num, len(versions)), P99: make([][]num, len(versions))}
	for j := range versions {
		d.Req[j] = make([]num, nb)
		d.Fail[j] = make([]num, nb)
		d.P99[j] = make([]num, nb)
		for i, b := range bins {
			d.Req[j][i], d.Fail[j][i], d.P99[j][i] = num(b.req[j]), num(b.fail[j]), num(b.p99[j])
		}
	}
	if candIdx >= 0 && candIdx < nv {
		d.Share = make([]num, nb)
		for i := range share {
			d.Share[i] = num(share[i])
		}
	}
	if len(weights) > 0 {
		d.W = make([]num, nb)
		for i := range d.W {
			t := float64(minIdx) + (float64(i)+0.5)*float64(k)
			w := weights[0].w
			for _, ws := range weights {
				if ws.t <= t {
					w = ws.w
				}
			}
			d.W[i] = num(w)
		}
	}
	c.Data = d
	return c
}

func anyFailed(bins []bin, j int) bool {
	for _, b := range bins {
		if b.fail[j] > 0 {
			return true
		}
	}
	return false
}

func isDecision(kind string) bool {
	switch kind {
	case "aborted", "degraded", "promoted", "timeout":
		return true
	}
	return false
}

type weightStep struct{ t, w float64 }

// weightSteps reads the configured weight of the candidate over time: the
// canary weight from the rollout's step summaries (0 once aborted), or for
// blue-green the switch of the active Service at the promotion. The label
// names the panel.
func weightSteps(r *results.Run, rel func(time.Time) float64) ([]weightStep, string) {
	var canary []weightStep
	steps := false
	for _, e := range r.Events {
		t := rel(e.Time)
		if t < 0 {
			continue
		}
		switch e.Kind {
		case "rollout":
			m := rolloutMsg.FindStringSubmatch(e.Message)
			if m == nil {
				continue
			}
			if m[3] != "0" {
				steps = true
			}
			w, _ := strconv.ParseFloat(m[4], 64)
			if m[5] == "true" {
				w = 0
			}
			canary = append(canary, weightStep{t, w})
		case "aborted", "degraded":
			canary = append(canary, weightStep{t, 0})
		case "promoted":
			canary = append(canary, weightStep{t, 100})
		}
	}
	switch {
	case steps && !strings.HasPrefix(r.Strategy, "blue-green"):
		return append([]weightStep{{0, 0}}, canary...), "canary weight and candidate share"
	case strings.HasPrefix(r.Strategy, "blue-green"):
		out := []weightStep{{0, 0}}
		for _, e := range r.Events {
			if e.Kind == "promoted" && rel(e.Time) >= 0 {
				out = append(out, weightStep{rel(e.Time), 100})
				break
			}
		}
		return out, "blue-green: active Service on the candidate, and its share"
	}
	return nil, "candidate share of the traffic"
}

type faultSpan struct {
	from, to float64
	title    string
}

// faultSpans are the faults as time spans; a fault without a clearing is a
// point. From the fault records, or failing those, the fault events.
func faultSpans(r *results.Run, rel func(time.Time) float64) []faultSpan {
	var out []faultSpan
	for _, f := range r.Faults {
		if f.InjectedAt == nil {
			continue
		}
		s := faultSpan{from: rel(*f.InjectedAt)}
		s.to = s.from
		title := fmt.Sprintf("fault %s: %s, injected at %.1fs", f.Kind, f.Description, s.from)
		if f.ClearedAt != nil {
			s.to = rel(*f.ClearedAt)
			title += fmt.Sprintf(", cleared at %.1fs", s.to)
		}
		if len(f.Touched) > 0 {
			title += "; touched " + strings.Join(f.Touched, ", ")
		}
		if f.Error != "" {
			title += "; error: " + f.Error
		}
		s.title = clip(title, 600)
		out = append(out, s)
	}
	if len(r.Faults) > 0 {
		return out
	}
	open := map[string]int{}
	for _, e := range r.Events {
		if e.Kind != "fault" {
			continue
		}
		t := rel(e.Time)
		switch {
		case strings.HasPrefix(e.Message, "injected: "):
			desc := strings.TrimPrefix(e.Message, "injected: ")
			open[desc] = len(out)
			out = append(out, faultSpan{from: t, to: t, title: clip(fmt.Sprintf("fault %s at %.1fs", e.Message, t), 600)})
		case strings.HasPrefix(e.Message, "cleared: "):
			desc := strings.TrimPrefix(e.Message, "cleared: ")
			if i, ok := open[desc]; ok {
				out[i].to = t
				out[i].title += clip(fmt.Sprintf(", cleared at %.1fs", t), 100)
				delete(open, desc)
			}
		}
	}
	return out
}

// measurementText summarises the JSON an analyzer returned to Argo.
func measurementText(value string) string {
	var m struct {
		Verdict     string   `json:"verdict"`
		Value       *float64 `json:"value"`
		Explanation string   `json:"explanation"`
	}
	if json.Unmarshal([]byte(value), &m) != nil || (m.Verdict == "" && m.Explanation == "" && m.Value == nil) {
		return clip(value, 400)
	}
	s := m.Verdict
	if m.Value != nil {
		s += fmt.Sprintf(", value %g", *m.Value)
	}
	if m.Explanation != "" {
		s += ": " + m.Explanation
	}
	return clip(s, 400)
}

// measurementValue reads the value out of an analyzer's JSON.
func measurementValue(value string) (float64, bool) {
	var m struct {
		Value *float64 `json:"value"`
	}
	if json.Unmarshal([]byte(value), &m) != nil || m.Value == nil {
		return 0, false
	}
	return *m.Value, true
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
