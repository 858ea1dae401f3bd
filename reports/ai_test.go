package reports

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/blastradius/blastradius/harness/results"
)

// aiRun is one run gated by an AI analyzer, hand-written (no model's
// answer): its calls carry AI records, its detection the usage and the
// root cause it named. With chaos, every call failed and the policy made
// the verdict.
type aiRun struct {
	spec      runSpec
	rootCause results.RootCause // the release's
	named     results.RootCause // what the analyzer named when it failed
	chaos     results.Chaos
	policy    results.FailurePolicy
	failure   string // of every call under chaos
}

func (a aiRun) build() results.Run {
	a.spec.withAnalysis = true
	r := synth(a.spec)
	r.RootCause = a.rootCause
	d := results.Detection{Analyzer: a.spec.analyzer, Gating: true, Measurements: len(r.Analysis), AI: &results.AIUsage{}}
	for i := range r.Analysis {
		c := &r.Analysis[i]
		call := results.AICall{Model: "gpt-test", LatencySeconds: float64(1 + i%2), Attempts: 1, Status: 200,
			PromptTokens: 1200, CompletionTokens: 80, CostUSD: 0.002, Policy: a.policy, Chaos: a.chaos,
			RootCause: "the candidate answers 500 on /color", Remediation: "roll back to blue",
			Raw: `{"promote": false, "confidence": 0.9, "category": "` + string(a.named) + `"}`}
		if a.chaos != "" {
			call.Failure, call.Attempts, call.Retries, call.Status = a.failure, 3, 2, 0
			call.RootCause, call.Remediation, call.Raw, call.CostUSD, call.PromptTokens, call.CompletionTokens = "", "", "", 0, 0, 0
			c.Verdict = a.policy.Verdict()
		}
		if c.Verdict == results.AnalysisFail {
			c.Category = a.named
			d.Failed++
			if d.Failed == 2 && d.AtSeconds == nil {
				at := c.Time.Sub(r.AppliedAt).Seconds()
				d.AtSeconds, d.DetectedAt = &at, &c.Time
				if on := r.Timing.FaultOnsetSeconds; on != nil && *on <= at {
					d.TimeToDetectSeconds = ptr(at - *on)
				}
			}
		}
		c.AI = &call
		d.AI.Add(call)
	}
	if d.AtSeconds != nil && a.named != "" {
		d.Category = a.named
		if r.GroundTruth == results.Bad {
			ok := a.named == a.rootCause
			d.RootCauseCorrect, r.RootCauseCorrect = &ok, &ok
		}
	}
	r.Detections = []results.Detection{d}
	return r
}

// aiFixture is the fixture with five runs of AI analyzers added: two
// detections that named the root cause, right and wrong; a bad release
// missed under fail-open chaos, a false alarm under fail-closed chaos, and
// an inconclusive under the inconclusive policy.
func aiFixture() *results.File {
	f := fixture()
	spec := func(scenario, analyzer string, seed int64, truth results.GroundTruth, v results.Verdict, o results.Outcome, candErr, decideAt float64) runSpec {
		return runSpec{scenario: scenario, strategy: "canary-analysis", analyzer: analyzer, seed: seed, truth: truth, stable: "blue", candidate: "bad-green",
			verdict: v, outcome: o, seconds: 40, rate: 100, candErr: candErr, decideAt: decideAt, steps: []int64{10, 20, 50}}
	}
	for _, a := range []aiRun{
		{spec: spec("ai-judgement", "llm", 1, results.Bad, results.VerdictDetected, results.OutcomeAborted, 0.25, 12.4),
			rootCause: results.RootCauseErrorRate, named: results.RootCauseErrorRate},
		{spec: spec("ai-judgement", "llm", 2, results.Bad, results.VerdictDetected, results.OutcomeAborted, 0.25, 12.4),
			rootCause: results.RootCauseErrorRate, named: results.RootCauseLatency},
		{spec: spec("ai-chaos", "llm", 1, results.Bad, results.VerdictMissed, results.OutcomePromoted, 0.25, 30),
			rootCause: results.RootCauseErrorRate, chaos: results.ChaosDown, policy: results.PolicyFailOpen, failure: "transport"},
		{spec: spec("ai-chaos", "llm", 2, results.Good, results.VerdictFalseAlarm, results.OutcomeAborted, 0, 12.4),
			rootCause: results.RootCauseNone, chaos: results.ChaosServerError, policy: results.PolicyFailClosed, failure: "server-error"},
		{spec: spec("ai-chaos", "agent", 3, results.Good, results.VerdictInconclusive, results.OutcomeTimeout, 0, 30),
			rootCause: results.RootCauseNone, chaos: results.ChaosGarbage, policy: results.PolicyInconclusive, failure: "unparseable"},
	} {
		f.Runs = append(f.Runs, a.build())
	}
	return f
}

// runIndex is the 1-based index of the run with the ID: its anchor run-N.
func runIndex(t *testing.T, f *results.File, id string) string {
	t.Helper()
	for i := range f.Runs {
		if f.Runs[i].ID == id {
			return "run-" + strconv.Itoa(i+1)
		}
	}
	t.Fatalf("no run %s", id)
	return ""
}

func TestHTMLAIAnalyzers(t *testing.T) {
	f := aiFixture()
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, nil))
	doc := parseHTML(t, buf.Bytes())
	tables := func(n *html.Node, class string) []*html.Node {
		return find(n, func(c *html.Node) bool { return c.Data == "table" && hasClass(c, class) })
	}
	rows := func(n *html.Node) []string {
		var out []string
		for _, tr := range find(n, func(c *html.Node) bool { return c.Data == "tr" }) {
			var cells []string
			for c := tr.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode {
					cells = append(cells, textOf(c))
				}
			}
			out = append(out, strings.Join(cells, " | "))
		}
		return out
	}

	// The run: every AI call's record, its text collapsed by default.
	run := byID(doc, runIndex(t, f, "ai-judgement/canary-analysis/llm/seed-1"))
	require.NotNil(t, run)
	ai := tables(run, "ai")
	require.Len(t, ai, 1)
	got := rows(ai[0])
	assert.Equal(t, "t | analyzer | verdict | category | model | latency (s) | attempts | HTTP | tokens in / out | cost | failure | policy | chaos", got[0])
	assert.Equal(t, "4.9s | llm gating | ● fail | error-rate | gpt-test | 1.00 | 1 (0 retries) | 200 | 1200 / 80 | $0.0020 | – | – | –", got[1])
	assert.Contains(t, got[2], "root cause: the candidate answers 500 on /color")
	assert.Contains(t, got[2], "remediation: roll back to blue")
	assert.Contains(t, got[2], `raw answer (63 bytes)`)
	assert.Equal(t, "9.9s | llm gating | ● fail | error-rate | gpt-test | 2.00 | 1 (0 retries) | 200 | 1200 / 80 | $0.0020 | – | – | –", got[3])
	for _, d := range find(run, func(n *html.Node) bool { return n.Data == "details" }) {
		_, open := attr(d, "open")
		assert.False(t, open, "collapsed by default")
	}
	raw := find(run, func(n *html.Node) bool { return n.Data == "pre" && hasClass(n, "raw") })
	require.Len(t, raw, 2)
	assert.Equal(t, `{"promote": false, "confidence": 0.9, "category": "error-rate"}`, textOf(raw[0]))
	summary := textOf(find(run, func(n *html.Node) bool { return n.Data == "summary" && strings.HasPrefix(textOf(n), "AI calls") })[0])
	assert.Equal(t, "AI calls (2: 2 calls, $0.0040 in all, 2400 prompt and 160 completion tokens, mean latency 1.50 s, max 2.00 s)", summary)
	facts := textOf(find(run, func(n *html.Node) bool { return n.Data == "dl" && hasClass(n, "kv") })[0])
	assert.Contains(t, facts, "root cause of the releaseerror-rate")
	assert.Contains(t, facts, "root cause named by llmerror-rate (right)")
	wrong := textOf(byID(doc, runIndex(t, f, "ai-judgement/canary-analysis/llm/seed-2")))
	assert.Contains(t, wrong, "root cause named by llmlatency (wrong)")

	// A chaos run: the failure, the policy, the chaos, the retries.
	chaos := rows(tables(byID(doc, runIndex(t, f, "ai-chaos/canary-analysis/llm/seed-1")), "ai")[0])
	assert.Equal(t, "4.9s | llm gating | ● pass | – | gpt-test | 1.00 | 3 (2 retries) | – | 0 / 0 | $0.0000 | transport | failOpen | down", chaos[1])

	// The scoreboard: root cause and cost next to detection, in the AI
	// scenarios only.
	judged := byID(doc, "scenario-5")
	require.NotNil(t, judged)
	assert.Contains(t, textOf(judged), "ai-judgement")
	stats := rows(tables(judged, "analyzers")[0])
	assert.Equal(t, "analyzer | gated | detected | root cause right | median detected at (s) | median time to detect (s) | median failed before detection | false alarms on good releases | AI calls | cost per decision | mean latency (s)", stats[0])
	assert.Equal(t, "llm | 2 | 2/2 | 1/2 (50.0%) | 9.9 | 9.7 | – | – | 4 | $0.0020 | 1.50", stats[1])
	cells := find(judged, func(n *html.Node) bool { return n.Data == "span" && hasClass(n, "rc") })
	require.Len(t, cells, 2)
	assert.Equal(t, "error-rate ✓", textOf(cells[0]))
	assert.True(t, hasClass(cells[0], "right"))
	assert.Equal(t, "latency ✗", textOf(cells[1]))
	assert.True(t, hasClass(cells[1], "wrong"))
	chaosBoard := rows(tables(byID(doc, "scenario-6"), "analyzers")[0])
	assert.Equal(t, "analyzer | gated | detected | median detected at (s) | median time to detect (s) | median failed before detection | false alarms on good releases | AI calls | cost per decision | mean latency (s)", chaosBoard[0],
		"no bad release stopped naming a cause: no root-cause column")
	assert.Contains(t, chaosBoard[1], "llm | 2 | 1/2 |")
	assert.Contains(t, chaosBoard[1], "| 1 of 1 | 8 (8 failed: server-error 2, transport 6) | $0.0000 |")
	for _, id := range []string{"scenario-1", "scenario-2"} {
		head := rows(tables(byID(doc, id), "analyzers")[0])[0]
		assert.NotContains(t, head, "AI calls", "%s: no AI analyzer", id)
		assert.NotContains(t, head, "root cause", "%s: no root cause named", id)
	}

	// The chaos table: which policy let a bad release through, which
	// stopped a good one.
	require.NotNil(t, byID(doc, "chaos"))
	ct := tables(doc, "chaos")
	require.Len(t, ct, 1)
	got = rows(ct[0])
	require.Len(t, got, 4)
	assert.Equal(t, "llm | down | failOpen | ✗ | missed 1 | 1 missed bad release(s) (fail-open: the failed calls passed)", got[1])
	assert.Equal(t, "llm | server-error | failClosed | ! | false-alarm 1 | 1 false alarm(s) (fail-closed: the failed calls failed)", got[2])
	assert.Equal(t, "agent | garbage | inconclusive | ? | inconclusive 1 | none", got[3])
	links := find(ct[0], func(n *html.Node) bool { return n.Data == "a" })
	require.Len(t, links, 3)
	href, _ := attr(links[0], "href")
	assert.Equal(t, "#"+runIndex(t, f, "ai-chaos/canary-analysis/llm/seed-1"), href)
}

// A report of runs without AI analyzers has none of their columns,
// sections or lines.
func TestNoAIColumnsWithoutAI(t *testing.T) {
	f := fixture()
	var page, md, ju bytes.Buffer
	require.NoError(t, HTML(&page, f, nil))
	require.NoError(t, Markdown(&md, f, nil))
	require.NoError(t, JUnit(&ju, f))
	for _, not := range []string{"AI calls", "cost per decision", "mean latency", "root cause", "Analysis-path chaos", `id="chaos"`, `class="small ai"`} {
		assert.NotContains(t, page.String(), not)
	}
	assert.NotContains(t, md.String(), "root cause")
	assert.NotContains(t, md.String(), "AI calls")
	assert.NotContains(t, ju.String(), "root cause")
}

func TestMarkdownAIAnalyzers(t *testing.T) {
	f := aiFixture()
	var buf bytes.Buffer
	require.NoError(t, Markdown(&buf, f, nil))
	out := buf.String()
	require.Contains(t, out, "### Analyzers: root cause and cost\n\n")
	section := mdSection(out, "### Analyzers: root cause and cost")
	assert.Equal(t, "### Analyzers: root cause and cost\n\n"+
		"- **llm**: root cause right 1/2 (50.0%) of the bad releases it stopped naming one; "+
		"12 AI calls \\(8 failed: server-error 2, transport 6\\), \\$0.0007 per decision, mean latency 1.50 s, model gpt-test\n"+
		"- **agent**: 6 AI calls \\(6 failed: unparseable 6\\), \\$0.0000 per decision, mean latency 1.50 s, model gpt-test\n\n", section,
		"no line for the analyzers that named no cause and made no AI call")

	var ju bytes.Buffer
	require.NoError(t, JUnit(&ju, f))
	assert.Contains(t, ju.String(), "detection llm (gating): t=9.9s, 2 of 2 measurements failed, root cause named latency ✗")
}

// hostileAI is aiFixture with the payloads in every text an AI analyzer
// returns (Model, RootCause, Remediation, Raw), in its failure kind, and
// in a category read from a hand-edited file.
func hostileAI() *results.File {
	f := aiFixture()
	long := strings.Repeat("a long answer without an end ", 2000)
	for i := range f.Runs {
		r := &f.Runs[i]
		for j := range r.Analysis {
			a := r.Analysis[j].AI
			if a == nil {
				continue
			}
			a.Model = hostileText(i + j)
			a.RootCause = hostileText(i+j+1) + "\n## injected\n| x | y |"
			a.Remediation = hostileText(i + j + 2)
			a.Raw = strings.Join(hostile, "\n") + long
			if a.Failure != "" {
				a.Failure = hostileText(j + 3)
			}
			if r.Analysis[j].Category != "" {
				r.Analysis[j].Category = results.RootCause(hostileText(j + 4))
			}
		}
		for j := range r.Detections {
			d := &r.Detections[j]
			if d.Category != "" {
				d.Category = results.RootCause(hostileText(i + 7))
			}
			if d.AI != nil && len(d.AI.Failures) > 0 {
				d.AI.Failures = map[string]int{hostileText(i): 1, hostileText(7): 2}
			}
		}
	}
	return f
}

// mdSection is the part of a Markdown document from the heading to the
// next heading.
func mdSection(doc, heading string) string {
	s := doc[strings.Index(doc, heading):]
	if i := strings.Index(s[len(heading):], "\n### "); i >= 0 {
		return s[:len(heading)+i+1]
	}
	return s
}

func TestHostileAIHTML(t *testing.T) {
	var buf bytes.Buffer
	f := hostileAI()
	require.NoError(t, HTML(&buf, f, nil))
	doc, _ := inertPage(t, buf.Bytes())
	// The payloads are there, as text: the raw answer whole (clipped) in
	// its collapsed block, newlines kept.
	run := byID(doc, runIndex(t, f, "ai-judgement/canary-analysis/llm/seed-1"))
	raw := find(run, func(n *html.Node) bool { return n.Data == "pre" && hasClass(n, "raw") })
	require.NotEmpty(t, raw)
	assert.True(t, strings.HasPrefix(textOf(raw[0]), hostile[0]+"\n"+hostile[1]+"\n"+hostile[2]), "the raw answer as text, lines kept")
	assert.Less(t, len(textOf(raw[0])), 4*maxRawRunes+100, "clipped")
	assert.Contains(t, textOf(run), ", clipped)")
	aiText := textOf(find(run, func(n *html.Node) bool { return n.Data == "table" && hasClass(n, "ai") })[0])
	assert.Contains(t, aiText, hostile[0])
	assert.Contains(t, aiText, "## injected")
	assert.Less(t, buf.Len(), 10<<20)
}

func TestHostileAIMarkdown(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Markdown(&buf, hostileAI(), nil))
	out := buf.String()
	for _, bad := range []string{"<script", "<img", "<!--", "](javascript", "![img](", "`code`", "{{.CSP}}", "@everyone"} {
		assert.NotContains(t, out, bad)
	}
	section := mdSection(out, "### Analyzers: root cause and cost")
	assert.Contains(t, section, "&lt;/script&gt;&lt;script&gt;document", "a model's name, as text")
	assert.Contains(t, section, "\\| a \\| b \\| \\#\\# injected heading", "a failure kind, escaped")
	for _, line := range strings.Split(out, "\n") {
		assert.Less(t, len(line), 4000, "no long lines")
		assert.False(t, strings.HasPrefix(line, "## injected"), "no injected heading")
	}
	for _, line := range strings.Split(strings.TrimSpace(section), "\n")[2:] {
		if line == "" {
			continue
		}
		assert.True(t, strings.HasPrefix(line, "- **"), "one list item a line: %q", line)
	}
}

// A hostile category reaches system-out as text, the XML well-formed.
func TestHostileAIJUnit(t *testing.T) {
	f := hostileAI()
	var buf bytes.Buffer
	require.NoError(t, JUnit(&buf, f))
	assert.NotContains(t, buf.String(), "<script>")
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc), "well-formed")
	var out strings.Builder
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			out.WriteString(c.SystemOut)
		}
	}
	i := len(fixture().Runs) // the first AI run
	assert.Contains(t, out.String(), "root cause named "+clip(hostileText(i+7), 40)+" ✓")
}

// In a browser, no payload of an AI analyzer's text runs, the raw answers
// opened or not.
func TestChromiumHostileAIReport(t *testing.T) {
	f := hostileAI()
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, f, nil))
	// Every <details> open, so that the raw answers are rendered too.
	page := bytes.ReplaceAll(buf.Bytes(), []byte("<details"), []byte("<details open"))
	inertInBrowser(t, page)
}
