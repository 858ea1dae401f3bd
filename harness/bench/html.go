package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"
	"strings"
)

// HTML renders the result as one self-contained page: no scripts, no
// network, every value escaped by html/template.
func (r *Result) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, r.view()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type view struct {
	R       *Result
	Sources []countRow
	Models  []countRow
	Strata  []strataRow
	Chart   chart
	// The optional columns: root-cause accuracy when an analyzer has a
	// value, the AI calls' cost and latency when an analyzer made any.
	HasRootCause, HasAI bool
}

type countRow struct {
	Name      string
	Good, Bad int
}

type strataRow struct {
	Stratum string
	Cells   []string // per analyzer, "detected/bad (recall)"
}

// chart is the detection-time vs failed-before-detect plot, in SVG units.
type chart struct {
	W, H, Left, Bottom, Top, Right float64
	XTicks, YTicks                 []tick
	Points                         []chartPoint
	Empty                          bool
}

type tick struct {
	Pos   float64
	Label string
}

type chartPoint struct {
	Name                 string
	X, Y, X90, Y90       float64 // median and p90, in SVG units
	LabelX, LabelY       float64
	Color                string
	Title                string
	HasX90, HasY90, Show bool
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

func sortedCounts(m map[string]Counts) []countRow {
	var out []countRow
	for k, v := range m {
		out = append(out, countRow{k, v.Good, v.Bad})
	}
	slices.SortFunc(out, func(a, b countRow) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (r *Result) view() view {
	v := view{R: r, Sources: sortedCounts(r.Corpus.BySource), Models: sortedCounts(r.Corpus.ByModel)}
	for _, s := range strataOrder() {
		row := strataRow{Stratum: s}
		any := false
		for _, m := range r.Analyzers {
			cell := "–"
			for _, st := range m.RecallByIncrease {
				if st.Stratum == s {
					cell, any = fmt.Sprintf("%d/%d (%s)", st.Detected, st.Bad, pct(st.Recall)), true
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		if any {
			v.Strata = append(v.Strata, row)
		}
	}
	v.Chart = r.chart()
	v.HasRootCause, v.HasAI = r.HasRootCause(), r.HasAI()
	return v
}

// HasRootCause reports whether any analyzer has a root-cause accuracy: a
// root-cause column has something to show.
func (r *Result) HasRootCause() bool {
	return slices.ContainsFunc(r.Analyzers, func(m Metrics) bool { return m.RootCauseAccuracy != nil })
}

// HasAI reports whether any analyzer made AI calls: cost and latency
// columns have something to show.
func (r *Result) HasAI() bool {
	return slices.ContainsFunc(r.Analyzers, func(m Metrics) bool { return m.AI != nil })
}

// RootCauseText is root-cause accuracy with its counts, "66.7% (2/3)";
// "–" when undefined.
func (m Metrics) RootCauseText() string {
	if m.RootCauseAccuracy == nil {
		return "–"
	}
	return fmt.Sprintf("%s (%d/%d)", pct(m.RootCauseAccuracy), m.RootCauseCorrect, m.RootCauseNamed)
}

// FailuresText lists the AI calls' failures by kind, "timeout 2,
// unparseable 1" (kinds sorted); "–" without any.
func (a *AIMetrics) FailuresText() string {
	if a == nil || len(a.Failures) == 0 {
		return "–"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a.Failures)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, a.Failures[k]))
	}
	return strings.Join(parts, ", ")
}

// niceMax rounds x up to 1, 2 or 5 times a power of ten.
func niceMax(x float64) float64 {
	if !(x > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func (r *Result) chart() chart {
	c := chart{W: 760, H: 380, Left: 70, Bottom: 330, Top: 20, Right: 600}
	maxX, maxY := 0.0, 0.0
	for _, m := range r.Analyzers {
		for _, p := range []*float64{m.MedianTimeToDetectSeconds, m.P90TimeToDetectSeconds} {
			if p != nil {
				maxX = math.Max(maxX, *p)
			}
		}
		for _, p := range []*float64{m.MedianFailedBeforeDetect, m.P90FailedBeforeDetect} {
			if p != nil {
				maxY = math.Max(maxY, *p)
			}
		}
	}
	maxX, maxY = niceMax(maxX), niceMax(maxY)
	x := func(f float64) float64 { return c.Left + (c.Right-c.Left)*f/maxX }
	y := func(f float64) float64 { return c.Bottom - (c.Bottom-c.Top)*f/maxY }
	for i := 0; i <= 5; i++ {
		fx, fy := maxX*float64(i)/5, maxY*float64(i)/5
		c.XTicks = append(c.XTicks, tick{x(fx), trim(fx)})
		c.YTicks = append(c.YTicks, tick{y(fy), trim(fy)})
	}
	c.Empty = true
	for i, m := range r.Analyzers {
		// a legend right of the plot names each analyzer's color
		p := chartPoint{Name: m.Name, Color: palette[i%len(palette)], LabelX: c.Right + 30, LabelY: c.Top + 10 + 18*float64(i)}
		if m.MedianTimeToDetectSeconds != nil && m.MedianFailedBeforeDetect != nil {
			p.Show, c.Empty = true, false
			p.X, p.Y = x(*m.MedianTimeToDetectSeconds), y(*m.MedianFailedBeforeDetect)
			p.Title = fmt.Sprintf("%s: median %s s, %s failed; p90 %s s, %s failed", m.Name,
				num(m.MedianTimeToDetectSeconds), num(m.MedianFailedBeforeDetect), num(m.P90TimeToDetectSeconds), num(m.P90FailedBeforeDetect))
			if m.P90TimeToDetectSeconds != nil {
				p.HasX90, p.X90 = true, x(*m.P90TimeToDetectSeconds)
			}
			if m.P90FailedBeforeDetect != nil {
				p.HasY90, p.Y90 = true, y(*m.P90FailedBeforeDetect)
			}
		}
		c.Points = append(c.Points, p)
	}
	return c
}

func trim(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.4g", f), ".0") }

func pct(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100**p)
}

func num(p *float64) string {
	if p == nil {
		return "–"
	}
	return trim(*p)
}

func ci(i *Interval) string {
	if i == nil {
		return ""
	}
	return fmt.Sprintf("[%s, %s]", trim(i.Low), trim(i.High))
}

var pageTmpl = template.Must(template.New("bench").Funcs(template.FuncMap{
	"pct": pct, "num": num, "ci": ci,
	"ratio": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.2f×", *p)
	},
	"ns":  func(f float64) string { return fmt.Sprintf("%.0f", f) },
	"f":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f2":  func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"usd": func(f float64) string { return fmt.Sprintf("$%.4f", f) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>blastradius bench: analyzers</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
.ci{color:#777;font-size:90%}
.cm{display:inline-block;margin:0 1.5em 1em 0;vertical-align:top}
.cm td.hit{background:#e5f5e0}.cm td.miss{background:#fde0dd}
small{color:#666}
</style></head><body>
<h1>Analyzers on a trace corpus</h1>
<p>{{.R.Corpus.Traces}} traces ({{.R.Corpus.Good}} good, {{.R.Corpus.Bad}} bad); trace files: {{.R.Corpus.Files}}, from {{range $i, $p := .R.Corpus.Paths}}{{if $i}}, {{end}}<code>{{$p}}</code>{{end}}.
Generated {{.R.Generated.Format "2006-01-02 15:04:05 UTC"}}; {{.R.Environment.GoVersion}} {{.R.Environment.OS}}/{{.R.Environment.Arch}},
{{.R.Environment.Workers}} workers on {{.R.Environment.CPUs}} CPUs, {{f .R.Environment.WallSeconds}} s wall,
{{printf "%.0f" .R.Environment.TracesPerMinute}} traces/min through every analyzer{{with .R.Environment.Harness}}; blastradius {{.}}{{end}}.
Definitions: docs/bench.md.</p>

<h2>Per analyzer</h2>
<table>
<tr><th>analyzer</th><th>precision</th><th>recall</th><th>recall ≥2 pts</th><th>false alarms</th>
<th>median time to detect, s</th><th>p90, s</th><th>median failed before detect</th><th>p90</th>
<th>vs sprt</th><th>CPU ns/verdict</th>{{if .HasRootCause}}<th>root cause right</th>{{end}}
{{if .HasAI}}<th>AI calls</th><th>cost per decision</th><th>mean latency, s</th><th>p95 latency, s</th><th>failed calls</th>{{end}}</tr>
{{range .R.Analyzers}}<tr><td>{{.Name}}</td><td>{{pct .Precision}}</td><td>{{pct .Recall}}</td><td>{{pct .RecallAtLeast2Points}}</td><td>{{pct .FalseAlarmRate}}</td>
<td>{{num .MedianTimeToDetectSeconds}} <span class="ci">{{ci .MedianTimeToDetectCI}}</span></td><td>{{num .P90TimeToDetectSeconds}}</td>
<td>{{num .MedianFailedBeforeDetect}} <span class="ci">{{ci .MedianFailedBeforeDetectCI}}</span></td><td>{{num .P90FailedBeforeDetect}}</td>
<td>{{ratio .SPRTRatio}}</td><td>{{ns .CostNanosPerVerdict}}</td>{{if $.HasRootCause}}<td>{{.RootCauseText}}</td>{{end}}
{{if $.HasAI}}{{with .AI}}<td>{{.Calls}}</td><td>{{usd .CostPerDecisionUSD}}</td><td>{{f2 .MeanLatencySeconds}}</td><td>{{f2 .P95LatencySeconds}}</td><td>{{.FailuresText}}</td>{{else}}<td>–</td><td>–</td><td>–</td><td>–</td><td>–</td>{{end}}{{end}}</tr>
{{end}}</table>
<small>Brackets: 95% order-statistic intervals of the medians. "vs sprt": median failed before detect over sprt's, on the bad cases both detected.{{if .HasRootCause}}
Root cause right: of the detected bad cases of a known root cause where the verdict that failed the run named a category, the share that named the trace's.{{end}}{{if .HasAI}}
AI calls: one per verdict of an AI analyzer; cost per decision is their total cost over their number, latencies are per call (retries and waits included).{{end}}</small>

<h2>Detection time vs failed requests</h2>
{{with .Chart}}{{if .Empty}}<p>No analyzer detected a bad case.</p>{{else}}
<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="median time to detect against median failed requests before detection, per analyzer">
<line x1="{{.Left}}" y1="{{.Bottom}}" x2="{{.Right}}" y2="{{.Bottom}}" stroke="#444"/>
<line x1="{{.Left}}" y1="{{.Top}}" x2="{{.Left}}" y2="{{.Bottom}}" stroke="#444"/>
{{$c := .}}{{range .XTicks}}<line x1="{{.Pos}}" y1="{{$c.Bottom}}" x2="{{.Pos}}" y2="{{$c.Top}}" stroke="#eee"/><text x="{{.Pos}}" y="{{$c.Bottom}}" dy="16" text-anchor="middle" font-size="11">{{.Label}}</text>
{{end}}{{range .YTicks}}<line x1="{{$c.Left}}" y1="{{.Pos}}" x2="{{$c.Right}}" y2="{{.Pos}}" stroke="#eee"/><text x="{{$c.Left}}" y="{{.Pos}}" dx="-6" dy="4" text-anchor="end" font-size="11">{{.Label}}</text>
{{end}}<text x="{{.Right}}" y="{{.Bottom}}" dy="34" text-anchor="end" font-size="12">time to detect, s (dot: median; line: to p90)</text>
<text x="14" y="{{.Top}}" transform="rotate(-90 14 {{.Top}})" text-anchor="end" font-size="12">failed requests before detect</text>
{{range .Points}}{{if .Show}}<g><title>{{.Title}}</title>
{{if .HasX90}}<line x1="{{.X}}" y1="{{.Y}}" x2="{{.X90}}" y2="{{.Y}}" stroke="{{.Color}}" stroke-dasharray="4 3"/>{{end}}
{{if .HasY90}}<line x1="{{.X}}" y1="{{.Y}}" x2="{{.X}}" y2="{{.Y90}}" stroke="{{.Color}}" stroke-dasharray="4 3"/>{{end}}
<circle cx="{{.X}}" cy="{{.Y}}" r="5" fill="{{.Color}}" fill-opacity="0.8"/></g>
{{end}}<circle cx="{{.LabelX}}" cy="{{.LabelY}}" r="5" fill="{{.Color}}"/><text x="{{.LabelX}}" y="{{.LabelY}}" dx="10" dy="4" font-size="12">{{.Name}}{{if not .Show}} (detected nothing){{end}}</text>
{{end}}</svg>{{end}}{{end}}

<h2>Confusion matrices</h2>
{{range .R.Analyzers}}<div class="cm"><table>
<tr><th>{{.Name}}</th><th>failed</th><th>not failed</th><th>inconclusive</th></tr>
<tr><td>bad</td><td class="hit">{{.Confusion.TP}}</td><td class="miss">{{.Confusion.FN}}</td><td>{{.Confusion.InconclusiveBad}}</td></tr>
<tr><td>good</td><td class="miss">{{.Confusion.FP}}</td><td class="hit">{{.Confusion.TN}}</td><td>{{.Confusion.InconclusiveGood}}</td></tr>
</table></div>{{end}}

<h2>Recall by error-rate increase</h2>
<table><tr><th>increase, points</th>{{range .R.Analyzers}}<th>{{.Name}}</th>{{end}}</tr>
{{range .Strata}}<tr><td>{{.Stratum}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<small>Cells: detected/bad cases (recall). "0": bad cases without an error increase (latency regressions).</small>

<h2>Corpus</h2>
<table><tr><th>source</th><th>good</th><th>bad</th></tr>
{{range .Sources}}<tr><td>{{.Name}}</td><td>{{.Good}}</td><td>{{.Bad}}</td></tr>{{end}}</table>
{{if .Models}}<table><tr><th>model</th><th>good</th><th>bad</th></tr>
{{range .Models}}<tr><td>{{.Name}}</td><td>{{.Good}}</td><td>{{.Bad}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))
