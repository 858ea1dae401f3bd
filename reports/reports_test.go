package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/blastradius/blastradius/harness/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./reports/ -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), string(got), "golden file %s differs; rerun with -update if the change is intended", path)
}

// baselineOf is the fixture as a previous run set would have had it: the
// canary run detected instead of missed, fewer failures for the detecting
// run, and one run that is gone.
func baselineOf(f *results.File) *results.File {
	b := fixture()
	b.Environment.Harness = "a1b2c3d"
	for i := range b.Runs {
		r := &b.Runs[i]
		switch r.ID {
		case "high-error-rate/canary/none/seed-1":
			r.Verdict = results.VerdictDetected
			r.BlastRadius.FailedRequests = 200
			r.Timing.TimeToDetectSeconds = ptr(20)
		case "high-error-rate/canary-analysis/threshold/seed-1":
			r.BlastRadius.FailedRequests = 10
		}
	}
	b.Runs = append(b.Runs, synth(runSpec{scenario: "good-release", strategy: "deployment-rolling", analyzer: "none", seed: 1, truth: results.Good,
		stable: "blue", candidate: "green", verdict: results.VerdictPromoted, outcome: results.OutcomePromoted, seconds: 20, rate: 10, decideAt: 10}))
	return b
}

func TestJUnitGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, JUnit(&buf, fixture()))
	golden(t, "junit.golden.xml", buf.Bytes())

	var doc junitSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, 7, doc.Tests)
	assert.Equal(t, 2, doc.Failures, "missed and false alarm failed their expectations")
	assert.Equal(t, 1, doc.Errors)
	c := doc.Suites[0].Cases[1]
	assert.Equal(t, "high-error-rate", c.Classname)
	assert.Equal(t, "canary/none/seed-1", c.Name)
	require.NotNil(t, c.Failure)
	assert.Contains(t, c.Failure.Message, "verdict missed, want detected")
	assert.Contains(t, c.Failure.Message, "1302 failed requests")
}

func TestMarkdownGolden(t *testing.T) {
	f := fixture()
	var buf bytes.Buffer
	require.NoError(t, Markdown(&buf, f, nil))
	golden(t, "summary.golden.md", buf.Bytes())

	buf.Reset()
	cmp := Compare(baselineOf(f), f)
	require.NoError(t, Markdown(&buf, f, cmp))
	golden(t, "summary-baseline.golden.md", buf.Bytes())
	assert.Contains(t, buf.String(), "Regression against the baseline")
}

func TestCompare(t *testing.T) {
	f := fixture()
	cmp := Compare(baselineOf(f), f)
	require.NotNil(t, cmp)
	assert.Nil(t, Compare(nil, f))
	assert.Equal(t, []string{"good-release/deployment-rolling/none/seed-1"}, cmp.Removed)
	assert.Empty(t, cmp.Added)
	assert.Len(t, cmp.Runs, 7)

	regs := cmp.Regressions()
	require.True(t, cmp.Regressed())
	joined := strings.Join(regs, "\n")
	// detected -> missed, and 200 -> 1302 failed requests.
	assert.Contains(t, joined, "high-error-rate/canary/none: failed requests 200.0 → ")
	assert.Contains(t, joined, "high-error-rate/canary/none: wrong verdicts 0/1 → 1/1 (1 missed)")
	// 10 -> 39 failed requests: beyond the floor of 10.
	assert.Contains(t, joined, "high-error-rate/canary-analysis/threshold: failed requests")
	// The errored run errored in both: nothing to compare, no regression.
	assert.NotContains(t, joined, "crash-loop")
	for _, d := range cmp.Runs {
		if d.ID == "high-error-rate/canary/none/seed-1" {
			assert.True(t, d.VerdictWorse())
			assert.Equal(t, "detected", d.OldStatus)
		}
	}

	// The same set compared with itself: no regression.
	assert.False(t, Compare(fixture(), fixture()).Regressed())
}

func TestCompareNoise(t *testing.T) {
	// Three seeds per group; the failed requests vary a lot between seeds.
	mk := func(failed []int64, verdicts []results.Verdict) *results.File {
		f := &results.File{SchemaVersion: results.SchemaVersion}
		for i, n := range failed {
			r := results.Run{ID: "s/canary/none/seed-" + string(rune('1'+i)), Scenario: "s", Strategy: "canary", Analyzer: "none", Seed: int64(i + 1)}
			r.BlastRadius.FailedRequests = n
			r.Verdict = verdicts[i]
			f.Runs = append(f.Runs, r)
		}
		return f
	}
	det := []results.Verdict{results.VerdictDetected, results.VerdictDetected, results.VerdictDetected}
	old := mk([]int64{100, 200, 300}, det) // mean 200, sd 100
	assert.False(t, Compare(old, mk([]int64{250, 350, 350}, det)).Regressed(), "+117 is within 2 sd")
	assert.True(t, Compare(old, mk([]int64{400, 450, 500}, det)).Regressed(), "+250 is beyond 2 sd")

	// Small numbers: the absolute floor.
	tiny := mk([]int64{0, 0, 0}, det)
	assert.False(t, Compare(tiny, mk([]int64{5, 8, 2}, det)).Regressed())
	assert.True(t, Compare(tiny, mk([]int64{30, 25, 40}, det)).Regressed())

	// Verdicts: one miss in three where the baseline had one too is noise;
	// where it had none it is a regression.
	oneMiss := []results.Verdict{results.VerdictDetected, results.VerdictMissed, results.VerdictDetected}
	otherMiss := []results.Verdict{results.VerdictMissed, results.VerdictDetected, results.VerdictDetected}
	assert.False(t, Compare(mk([]int64{1, 1, 1}, oneMiss), mk([]int64{1, 1, 1}, otherMiss)).Regressed())
	assert.True(t, Compare(mk([]int64{1, 1, 1}, det), mk([]int64{1, 1, 1}, otherMiss)).Regressed())

	// Every current run errored: a gate must not pass on missing results.
	errored := mk([]int64{0, 0, 0}, det)
	for i := range errored.Runs {
		errored.Runs[i].Error = "cluster: boom"
	}
	c := Compare(old, errored)
	assert.True(t, c.Regressed())
	assert.Contains(t, c.Regressions()[0], "every current run errored")
}

// parseHTML parses the page and indexes elements by tag.
func parseHTML(t *testing.T, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	return doc
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return strings.Contains(" "+v+" ", " "+class+" ")
}

func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func find(n *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walk(n, func(c *html.Node) {
		if c.Type == html.ElementNode && pred(c) {
			out = append(out, c)
		}
	})
	return out
}

func byID(doc *html.Node, id string) *html.Node {
	nodes := find(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(nodes) == 0 {
		return nil
	}
	return nodes[0]
}

func TestHTMLParts(t *testing.T) {
	f := fixture()
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, nil))
	doc := parseHTML(t, buf.Bytes())

	// The scoreboard: one row per run, leading to the run's section.
	rows := find(doc, func(n *html.Node) bool { return n.Data == "tr" && hasClass(n, "run-row") })
	require.Len(t, rows, len(f.Runs))
	for _, row := range rows {
		target, ok := attr(row, "data-target")
		require.True(t, ok)
		sec := byID(doc, target)
		require.NotNil(t, sec, "row leads to #%s", target)
		assert.True(t, hasClass(sec, "run"))
	}
	assert.Contains(t, textOf(rows[1]), "missed")
	assert.Contains(t, textOf(rows[1]), "failed: verdict, maxFailedRequests")

	// A section per run, with an SVG timeline for every run that has a series.
	sections := find(doc, func(n *html.Node) bool { return n.Data == "section" && hasClass(n, "run") })
	require.Len(t, sections, len(f.Runs))
	for i, sec := range sections {
		svgs := find(sec, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, "timeline") })
		if f.Runs[i].Error != "" {
			// No series; the timeline shows its events only.
			assert.Contains(t, textOf(sec), "the server was unable to return a response")
			continue
		}
		require.Len(t, svgs, 1, f.Runs[i].ID)
		svg := svgs[0]
		paths := find(svg, func(n *html.Node) bool { return n.Data == "path" && hasClass(n, "area") })
		assert.NotEmpty(t, paths, "stacked requests")
		id, _ := attr(svg, "data-chart")
		data := byID(doc, "data-"+id)
		require.NotNil(t, data)
		var d hoverData
		require.NoError(t, json.Unmarshal([]byte(textOf(data)), &d), "the hover data is JSON")
		assert.Equal(t, f.Runs[i].Stable, d.Names[0])
		assert.Equal(t, f.Runs[i].Candidate, d.Names[1])
	}

	// The detected run: markers, its abort, faults, the window, the canary weight.
	det := sections[0]
	assert.Contains(t, textOf(det), "aborted 12.4s")
	marks := find(det, func(n *html.Node) bool { return n.Data == "circle" && hasClass(n, "mark") })
	assert.NotEmpty(t, marks)
	assert.NotEmpty(t, find(det, func(n *html.Node) bool { return n.Data == "circle" && hasClass(n, "fail") }))
	assert.NotEmpty(t, find(det, func(n *html.Node) bool { return n.Data == "rect" && hasClass(n, "blast") }))
	assert.NotEmpty(t, find(det, func(n *html.Node) bool { return n.Data == "rect" && hasClass(n, "fault") }))
	assert.NotEmpty(t, find(det, func(n *html.Node) bool { return n.Data == "path" && hasClass(n, "weight") }))
	assert.Contains(t, textOf(det), "error rate 25.00% (50/200)", "analyzer explanations")
	assert.Contains(t, textOf(det), `"level":"ERROR"`, "pod logs")
	// A bad variant is hatched.
	assert.NotEmpty(t, find(det, func(n *html.Node) bool { return n.Data == "pattern" }))

	// The environment.
	env := byID(doc, "environment")
	require.NotNil(t, env)
	for _, s := range []string{"local", "v1.34.5", "v1.10.2", "f834483", "go1.26.8", "scenarios/high-error-rate.yaml", "run scenarios/ --out out"} {
		assert.Contains(t, textOf(env), s)
	}
	// Seeds per scenario.
	assert.Contains(t, textOf(env), "low-traffic")

	// Self-contained: no external reference of any kind.
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		for _, a := range n.Attr {
			switch a.Key {
			case "href":
				assert.True(t, strings.HasPrefix(a.Val, "#"), "href %q", a.Val)
			case "src", "srcset", "xlink:href", "action", "formaction", "poster", "data":
				t.Errorf("external reference %s=%q", a.Key, a.Val)
			}
		}
		assert.NotContains(t, []string{"link", "img", "iframe", "object", "embed", "base", "form"}, n.Data)
	})
	assert.NotContains(t, buf.String(), "http://")
	assert.NotContains(t, buf.String(), "https://")
}

func TestHTMLComparison(t *testing.T) {
	f := fixture()
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, Compare(baselineOf(f), f)))
	doc := parseHTML(t, buf.Bytes())
	sec := byID(doc, "comparison")
	require.NotNil(t, sec)
	txt := textOf(sec)
	assert.Contains(t, txt, "Regression")
	assert.Contains(t, txt, "wrong verdicts 0/1 → 1/1")
	assert.Contains(t, txt, "Only in the baseline: good-release/deployment-rolling/none/seed-1")
	regressed := find(sec, func(n *html.Node) bool { return n.Data == "tr" && hasClass(n, "regressed") })
	assert.Len(t, regressed, 2)
	assert.Contains(t, textOf(byID(doc, "run-2")), "baseline: detected, 200 failed requests")
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	f := fixture()
	require.NoError(t, WriteAll(dir, f, nil))
	for _, name := range []string{HTMLFile, JUnitFile, MarkdownFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 3, "no temp files left")

	// A run set with no runs still makes a report.
	empty := &results.File{SchemaVersion: results.SchemaVersion}
	require.NoError(t, WriteAll(t.TempDir(), empty, empty))
}

func TestVersionColor(t *testing.T) {
	for _, c := range []struct {
		v, color string
		variant  bool
	}{
		{"blue", "#3b82f6", false}, {"green", "#22c55e", false}, {"bad-green", "#22c55e", true},
		{"slow-orange", "#f97316", true}, {"Purple", "#a855f7", false}, {"v7", unknownColor, false},
		{"lowerr-yellow", "#eab308", true}, {"crash-red", "#ef4444", true},
	} {
		color, variant := versionColor(c.v)
		assert.Equal(t, c.color, color, c.v)
		assert.Equal(t, c.variant, variant, c.v)
	}
	assert.Equal(t, "#234e94", darker("#3b82f6"))
}

// The 200-run report stays under 10 MiB. (How fast it opens is measured by
// BenchmarkOpen200Runs, in headless Chromium.)
func TestSize200Runs(t *testing.T) {
	f := generated(200, 300)
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, Compare(f, f)))
	t.Logf("report.html of 200 runs × 300 s: %.2f MiB", float64(buf.Len())/(1<<20))
	assert.Less(t, buf.Len(), 10<<20)
	doc := parseHTML(t, buf.Bytes())
	assert.Len(t, find(doc, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, "timeline") }), 200)

	// Long runs are downsampled: an hour-long run costs no more than a
	// five-minute one, give or take the axis.
	long := generated(1, 3600)
	short := generated(1, 300)
	var lb, sb bytes.Buffer
	require.NoError(t, HTML(&lb, long, nil))
	require.NoError(t, HTML(&sb, short, nil))
	assert.Less(t, lb.Len(), sb.Len()*3/2, "long %d vs short %d bytes", lb.Len(), sb.Len())
}

// testdata/schema-v1.json is a schemaVersion 1 results file as an older
// blastradius wrote it: events as sentences. results.Read converts them to
// typed events, and the reports must still draw everything from those.
func readV1(t *testing.T) *results.File {
	t.Helper()
	f, err := results.Read(filepath.Join("testdata", "schema-v1.json"))
	require.NoError(t, err)
	require.Len(t, f.Runs, 2)
	return f
}

func TestV1ResultsReports(t *testing.T) {
	f := readV1(t)
	dir := t.TempDir()
	require.NoError(t, WriteAll(dir, f, f))
	for _, name := range []string{HTMLFile, JUnitFile, MarkdownFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Contains(t, string(data), "high-error-rate", name)
	}

	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, nil))
	doc := parseHTML(t, buf.Bytes())
	canary, blueGreen := byID(doc, "run-1"), byID(doc, "run-2")
	require.NotNil(t, canary)
	require.NotNil(t, blueGreen)
	has := func(sec *html.Node, tag, class string) bool {
		return len(find(sec, func(n *html.Node) bool { return n.Data == tag && hasClass(n, class) })) > 0
	}

	// The weight panel, from the converted rollout statuses and decisions.
	assert.True(t, has(canary, "path", "weight"), "canary weight")
	assert.Contains(t, textOf(canary), "canary weight and candidate share")
	assert.True(t, has(blueGreen, "path", "weight"), "blue-green switch")
	assert.Contains(t, textOf(blueGreen), "blue-green: active Service on the candidate")

	// Faults, Argo's measurements and the decisions.
	assert.True(t, has(canary, "rect", "fault"), "fault shading")
	argoFailed := find(canary, func(n *html.Node) bool {
		return n.Data == "circle" && hasClass(n, "fail") && strings.Contains(textOf(n), "Argo measurement Failed")
	})
	assert.NotEmpty(t, argoFailed, "Argo's failed measurement")
	assert.Contains(t, textOf(canary), "aborted 14.2s")
	assert.Contains(t, textOf(blueGreen), "promoted 12.0s")

	// The event log shows the converted events.
	for _, s := range []string{"load started: constant 100/s", "phase Paused step 3/6 weight 20", "injected: kill 1 candidate pod(s)",
		"cleared: add 200ms to the candidate", "Failed [fail, value 0.25: error rate 25%]", "phase Running"} {
		assert.Contains(t, textOf(canary), s)
	}
}

// The converted events alone carry the chart: the canary weights step by
// step, and the fault spans paired by the fault's index when the run has
// no fault records.
func TestV1ResultsChartFromEvents(t *testing.T) {
	r := readV1(t).Runs[0]
	c := buildChart("c1", &r, limitsFor(1))
	require.NotNil(t, c)
	require.Len(t, c.Data.W, 30)
	assert.Equal(t, num(10), c.Data.W[0])
	assert.Equal(t, num(20), c.Data.W[12])
	assert.Equal(t, num(0), c.Data.W[20], "0 once aborted")

	r.Faults = nil
	c = buildChart("c1", &r, limitsFor(1))
	var spans []svgRect
	for _, s := range c.Shades {
		if s.Class == "fault" {
			spans = append(spans, s)
		}
	}
	require.Len(t, spans, 1, "the one fault that was cleared spans; the other is a line")
	assert.Contains(t, spans[0].Title, "fault latency: add 200ms to the candidate, injected at 8.0s, cleared at 12.0s")
	faultLines := 0
	for _, l := range c.VLines {
		if l.Class == "fault" {
			faultLines++
		}
	}
	assert.Equal(t, 2, faultLines)
}

// The analyzers on the same traffic: shadow answers on their lanes, the
// moments each analyzer failed or would have failed the release, the
// scoreboard's cells and the per-scenario table, for a run gated by the
// threshold endpoint and for one gated by prometheus (no calls).
func TestHTMLShadowAndDetections(t *testing.T) {
	f := fixture()
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, nil))
	doc := parseHTML(t, buf.Bytes())
	nodes := func(n *html.Node, tag, class string) []*html.Node {
		return find(n, func(c *html.Node) bool { return c.Data == tag && hasClass(c, class) })
	}
	texts := func(ns []*html.Node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, textOf(n))
		}
		return out
	}

	// The threshold-gated run: a lane per analyzer, the gating one marked,
	// every shadow answer a mark with its value and explanation.
	web := byID(doc, "run-1")
	require.NotNil(t, web)
	labels := texts(find(web, func(n *html.Node) bool { return n.Data == "text" && hasClass(n, "tick") }))
	for _, a := range []string{"Argo", "threshold", "prometheus", "kayenta", "sprt", "sequential"} {
		assert.Contains(t, labels, a)
	}
	gating := find(web, func(n *html.Node) bool { return n.Data == "text" && hasClass(n, "lane-gating") })
	require.Len(t, gating, 1)
	assert.Equal(t, "threshold", textOf(gating[0]))
	assert.Len(t, nodes(web, "rect", "gating"), 2, "the gating lane's band and its legend swatch")
	var shadow []string
	for _, m := range nodes(web, "circle", "mark") {
		if strings.Contains(textOf(m), "in shadow") {
			shadow = append(shadow, textOf(m))
		}
	}
	assert.Len(t, shadow, 2*4, "two calls, four analyzers in shadow")
	assert.Contains(t, strings.Join(shadow, "\n"), "9.9s sprt in shadow: fail, value 5.8: log-likelihood ratio 5.80 ≥ 2.89 at t=10s")
	assert.Contains(t, strings.Join(shadow, "\n"), "4.9s kayenta in shadow: inconclusive, value 0: 3 candidate and 3 stable samples")
	// Ticks where threshold (gating) and sprt (in shadow) failed the release.
	ticks := nodes(web, "g", "detection")
	require.Len(t, ticks, 2)
	assert.Equal(t, "threshold", textOf(nodes(ticks[0], "text", "dtick")[0]))
	assert.True(t, hasClass(ticks[0], "gating"))
	assert.Contains(t, textOf(ticks[0]), "threshold (gating) failed the release at 9.9s: 2 of 2 measurements failed, 9.7s after the onset, 27 failed requests sent before")
	assert.Contains(t, textOf(ticks[1]), "sprt (in shadow) would have failed the release at 9.9s")
	// The analysis table lists the shadow answers beside each call.
	assert.Contains(t, textOf(web), "sprt fail 5.8")

	// The prometheus-gated run: no calls, Argo's measurements on its row,
	// a tick per analyzer that would have failed the release.
	prom := byID(doc, "run-7")
	require.NotNil(t, prom)
	assert.NotContains(t, textOf(prom), "Analysis calls")
	gating = find(prom, func(n *html.Node) bool { return n.Data == "text" && hasClass(n, "lane-gating") })
	require.Len(t, gating, 1)
	assert.Equal(t, "prometheus", textOf(gating[0]))
	ticks = nodes(prom, "g", "detection")
	require.Len(t, ticks, 5)
	assert.Contains(t, textOf(ticks[0]), "threshold (in shadow) would have failed the release at 10.0s")
	assert.Contains(t, textOf(ticks[1]), "prometheus (gating) failed the release at 15.0s")
	argo := 0
	for _, m := range nodes(prom, "circle", "mark") {
		if strings.Contains(textOf(m), "Argo measurement") {
			argo++
		}
	}
	assert.Equal(t, 6, argo, "two metrics at three times")

	// The scoreboard: when each analyzer detected, per run, the gating one
	// marked; "—" where it would not have.
	board := byID(doc, "scenario-1")
	require.NotNil(t, board)
	cells := texts(nodes(board, "td", "det"))
	require.Len(t, cells, 3)
	assert.Contains(t, cells[0], "threshold t=9.9s (27 failed) gating")
	assert.Contains(t, cells[0], "kayenta —")
	assert.Equal(t, "–", cells[1], "no analysis, no record")
	assert.Contains(t, cells[2], "prometheus t=15.0s (45 failed) gating")
	assert.Contains(t, cells[2], "sprt t=10.0s (30 failed)")
	gates := nodes(board, "span", "gate")
	assert.Len(t, gates, 2)

	// The analyzers on the same traffic.
	tables := nodes(board, "table", "analyzers")
	require.Len(t, tables, 1)
	rows := find(tables[0], func(n *html.Node) bool { return n.Data == "tr" })
	require.Len(t, rows, 6)
	assert.Equal(t, "threshold12/29.99.828.5–", textOf(rows[1]))
	assert.Equal(t, "kayenta01/215.014.845–", textOf(rows[3]))
	good := byID(doc, "scenario-2")
	assert.Contains(t, textOf(nodes(good, "table", "analyzers")[0]), "kayenta01/114.9–01 of 1", "a false alarm on the good release")
	assert.Empty(t, nodes(byID(doc, "scenario-4"), "table", "analyzers"), "crash-loop: no detections")
}

// Results without shadow answers and detections (schema version 2 before
// they were added, or version 1) render as before: one analyzer row, no
// detection column or table. With them, results.json round-trips.
func TestResultsWithoutDetections(t *testing.T) {
	strip := fixture()
	for i := range strip.Runs {
		r := &strip.Runs[i]
		r.Detections, r.Trace = nil, ""
		for j := range r.Analysis {
			r.Analysis[j].Shadow = nil
		}
	}
	dir := t.TempDir()
	require.NoError(t, results.Write(dir, strip))
	data, err := os.ReadFile(filepath.Join(dir, results.FileName))
	require.NoError(t, err)
	assert.NotContains(t, string(data), `"shadow"`)
	assert.NotContains(t, string(data), `"detections"`)
	for _, f := range []*results.File{readFile(t, dir), readV1(t)} {
		var buf bytes.Buffer
		require.NoError(t, HTML(&buf, f, nil))
		doc := parseHTML(t, buf.Bytes())
		assert.NotContains(t, buf.String(), "Analyzers on the same traffic")
		assert.NotContains(t, buf.String(), "would have detected at")
		assert.Empty(t, find(doc, func(n *html.Node) bool { return n.Data == "g" && hasClass(n, "detection") }))
		lanes := find(byID(doc, "run-1"), func(n *html.Node) bool { return n.Data == "text" && hasClass(n, "tick") && textOf(n) == "analyzer" })
		assert.Len(t, lanes, 1, "the single analyzer row")
		var md bytes.Buffer
		require.NoError(t, Markdown(&md, f, nil))
		assert.NotContains(t, md.String(), "Analyzers on the same traffic")
		var ju bytes.Buffer
		require.NoError(t, JUnit(&ju, f))
		assert.NotContains(t, ju.String(), "detection ")
	}

	// The fields survive results.json.
	full := fixture()
	require.NoError(t, results.Write(dir, full))
	back := readFile(t, dir)
	assert.Equal(t, full.Runs[0].Detections, back.Runs[0].Detections)
	var a, b bytes.Buffer
	require.NoError(t, Markdown(&a, full, nil))
	require.NoError(t, Markdown(&b, back, nil))
	assert.Equal(t, a.String(), b.String())
}

func readFile(t *testing.T, dir string) *results.File {
	t.Helper()
	f, err := results.Read(dir)
	require.NoError(t, err)
	return f
}

// A shadow run's facts set what users got of the candidate beside what it
// served by its own metrics.
func TestServedFacts(t *testing.T) {
	r := &results.Run{Scores: results.Scores{BlastRadius: results.BlastRadius{TotalRequests: 1000}},
		CandidateServed: &results.Served{Requests: 842, Errors: 203}}
	facts := servedFacts(r)
	require.Len(t, facts, 1)
	assert.Equal(t, "842 requests, 203 failed (5xx); users got about 0 of its answers, 0 failed", facts[0][1])
	assert.Nil(t, servedFacts(&results.Run{}), "no trace, no fact")
}

func TestLoadTextNamesIncompleteWorkers(t *testing.T) {
	l := results.Load{Profile: "constant:rate=100", Users: 100, Generator: results.LoadInCluster, LostShare: 0.25,
		Workers: []results.LoadWorker{{Name: "load-worker-0", Share: 0.75, Complete: true},
			{Name: "load-worker-1", Share: 0.25, Error: "stopped answering"}}}
	s := loadText(l)
	assert.Contains(t, s, "from 2 in-cluster workers")
	assert.Contains(t, s, "worker load-worker-1 (25% of the load) incomplete: stopped answering")
	assert.Contains(t, s, "25% of the load lost with its workers before the stop")
	assert.NotContains(t, s, "load-worker-0")
	assert.NotContains(t, loadText(results.Load{Profile: "constant:rate=1"}), "workers")
}
