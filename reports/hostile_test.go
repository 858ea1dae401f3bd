package reports

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/blastradius/blastradius/harness/results"
)

// Payloads that would run script, break out of a context, inject markup or
// Markdown, or blow a line up, if anything were left unescaped. The script
// ones mark the page with data-pwned, which the browser test looks for.
var hostile = []string{
	`<script>document.documentElement.setAttribute('data-pwned','1')</script>`,
	`"><img src=x onerror="document.documentElement.setAttribute('data-pwned','2')">`,
	`</script><script>document.documentElement.setAttribute('data-pwned','3')</script>`,
	`'; document.documentElement.setAttribute('data-pwned','4'); '`,
	`</title><svg onload="document.documentElement.setAttribute('data-pwned','5')">`,
	`</style><style>body{display:none}</style>`,
	`{{.CSP}} {{template "report" .}} {{`,
	"| a | b |\n## injected heading [link](javascript:alert(1)) ![img](http://evil.example/x.png) <!-- @everyone `code`",
	"]]><!-- --><![CDATA[ x ]]> &amp; \x00\x01\x1b[31m",
	"\u202eevil\u200b",
}

func hostileText(i int) string { return hostile[i%len(hostile)] }

// hostileFixture puts the payloads into every untrusted field.
func hostileFixture() *results.File {
	f := fixture()
	long := strings.Repeat("A very long line without an end ", 4000) // ~128 KB
	f.Environment.Args = []string{"run", hostileText(0), hostileText(6)}
	f.Environment.Harness = hostileText(1)
	f.Environment.Platform = hostileText(4)
	for i := range f.Runs {
		r := &f.Runs[i]
		r.Description = hostileText(i) + " " + hostileText(7)
		r.ScenarioFile = hostileText(i + 2)
		r.Namespace = hostileText(i + 3)
		r.Outcome = results.Outcome(hostileText(i + 4))
		if r.Error != "" {
			r.Error = hostileText(2) + "\n" + long
		}
		r.Expectations = append(r.Expectations, results.Expectation{Name: hostileText(i + 5), OK: false, Message: hostileText(i+6) + long})
		// A worker's name and error come from what its pod answered.
		r.Load.Generator = results.LoadInCluster
		r.Load.Workers = []results.LoadWorker{{Name: hostileText(i + 1), Share: 0.5, Error: hostileText(i + 2)},
			{Name: hostileText(i + 3), Share: 0.5, Complete: true}}
		r.Load.LostShare = 0.5
		// One event of each payload the fixture lacks, and a fault that
		// only events tell of in the third run (its chart reads them).
		r.Events = append(r.Events,
			results.Event{Time: at(applied + 2), Kind: results.EventAnalysisRun, AnalysisRun: &results.AnalysisRunStatus{}},
			results.Event{Time: at(applied + 2), Kind: results.EventReplicaSet, ReplicaSet: &results.ReplicaSetStatus{Replicas: 1}},
			results.Event{Time: at(applied + 3), Kind: results.EventFaultInjected, Fault: &results.FaultChange{Index: len(r.Faults)}},
			results.Event{Time: at(applied + 9), Kind: results.EventFaultCleared, Fault: &results.FaultChange{Index: len(r.Faults)}})
		if i != 2 {
			r.Faults = append(r.Faults, results.FaultRecord{Kind: hostileText(i), Description: hostileText(i + 1), At: 3, InjectedAt: atp(applied + 3),
				Touched: []string{hostileText(i + 2)}, Error: hostileText(i + 3)})
		}
		for j := range r.Events {
			hostileEvent(&r.Events[j], i+j)
		}
		for j := range r.Analysis {
			r.Analysis[j].Explanation = hostileText(j) + long
			r.Analysis[j].Error = hostileText(j + 1)
			r.Analysis[j].Analyzer = hostileText(j + 2)
			// Other analyzers' answers: every text, the verdict and one
			// analyzer's name.
			for k := range r.Analysis[j].Shadow {
				sh := &r.Analysis[j].Shadow[k]
				sh.Explanation = hostileText(j+k) + long
				if k == 1 {
					sh.Verdict = results.AnalysisVerdict(hostileText(j + 4))
				}
				if k == 2 {
					sh.Analyzer = hostileText(i + j)
				}
			}
		}
		if n := len(r.Detections); n > 0 {
			r.Detections[n-1].Analyzer = hostileText(i + 7)
		}
		r.Logs = append(r.Logs, results.LogExcerpt{Pod: hostileText(i), Container: hostileText(i + 1), Version: hostileText(i + 2),
			Lines: strings.Join(hostile, "\n") + "\n" + long})
	}
	// A version name is what the demo app says in X-Version: untrusted too.
	bad := hostileText(1)
	r := &f.Runs[0]
	r.Candidate = bad
	for j := range r.Series {
		for v, vs := range r.Series[j].Versions {
			if v == "bad-green" {
				delete(r.Series[j].Versions, v)
				r.Series[j].Versions[bad] = vs
			}
		}
	}
	// A scenario name, too, in a run set edited by hand.
	f.Runs[1].Scenario = hostileText(0)
	f.Runs[1].ID = hostileText(0) + "/canary/none/seed-1"
	return f
}

// hostileEvent puts payloads into every untrusted field of e: what Argo,
// the demo app and the analyzer said, object names, a converted message.
func hostileEvent(e *results.Event, n int) {
	e.Object = hostileText(n + 1)
	e.Detail = hostileText(n + 2)
	if s := e.Rollout; s != nil {
		s.Phase, s.Message = hostileText(n+3), hostileText(n)+" "+s.Message
	}
	if s := e.AnalysisRun; s != nil {
		s.Phase = hostileText(n + 3)
	}
	if m := e.Measurement; m != nil {
		m.AnalysisRun, m.Metric, m.Message = hostileText(n+3), hostileText(n+4), hostileText(n)
		m.Phase = results.MeasurementPhase(hostileText(n + 5))
		m.Value = `{"explanation":` + jsonString(hostileText(n)) + `,"value":0.3}`
	}
	if s := e.ReplicaSet; s != nil {
		s.Image = hostileText(n)
	}
	if p := e.Pod; p != nil {
		p.Image, p.Phase, p.Waiting = hostileText(n), hostileText(n+3), hostileText(n+4)
	}
	if f := e.Fault; f != nil {
		f.Kind, f.Description, f.Error = hostileText(n), hostileText(n+3), hostileText(n+4)
	}
}

func jsonString(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteString(hex.EncodeToString([]byte{byte(r)}))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestHostileHTML(t *testing.T) {
	var buf bytes.Buffer
	f := hostileFixture()
	require.NoError(t, HTML(&buf, f, Compare(f, f)))
	assert.Less(t, buf.Len(), 10<<20, "long lines are clipped")
	doc, scripts := inertPage(t, buf.Bytes())
	assert.Equal(t, 1+len(f.Runs), scripts, "the page's script and one data block per chart")
	testHostileText(t, doc)
}

// inertPage checks that nothing of a report page came through as markup:
// no payload's tag, no event handler or style attribute, no link out, no
// script or style but the page's own. It returns the parsed page and its
// number of script elements.
func inertPage(t *testing.T, page []byte) (*html.Node, int) {
	t.Helper()
	for _, bad := range []string{"<script>document", "</script><script>", "<img", "<svg onload", "</style><style>", "onerror=\"", "<!-- @everyone"} {
		assert.False(t, bytes.Contains(page, []byte(bad)), "%q in the page", bad)
	}
	doc := parseHTML(t, page)
	scripts := 0
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		for _, a := range n.Attr {
			assert.False(t, strings.HasPrefix(strings.ToLower(a.Key), "on"), "event handler attribute %s on <%s>", a.Key, n.Data)
			assert.NotEqual(t, "style", a.Key, "style attribute on <%s>", n.Data)
			if a.Key == "href" {
				assert.True(t, strings.HasPrefix(a.Val, "#"), "href %q", a.Val)
			}
			assert.NotContains(t, a.Val, "javascript:")
		}
		switch n.Data {
		case "script":
			scripts++
			if typ, _ := attr(n, "type"); typ == "application/json" {
				return
			}
			assert.Equal(t, reportJS, textOf(n), "the only executable script is the page's own")
		case "style":
			assert.Equal(t, reportCSS, textOf(n), "the only style is the page's own")
		case "img", "iframe", "object", "embed", "link", "base", "form", "meta":
			if n.Data == "meta" {
				return
			}
			t.Errorf("unexpected element <%s>", n.Data)
		}
	})
	return doc, scripts
}

// testHostileText checks that hostileFixture's payloads reached the page
// as text, wherever the fixture put them.
func testHostileText(t *testing.T, doc *html.Node) {
	// The payloads are there, as text.
	txt := textOf(doc)
	assert.Contains(t, txt, hostile[0])
	assert.Contains(t, txt, hostile[2])
	assert.Contains(t, txt, "{{.CSP}} {{template")

	// The typed payloads reach the event log as text, every one of them.
	var events strings.Builder
	for _, n := range find(doc, func(n *html.Node) bool { return n.Data == "pre" && hasClass(n, "events") }) {
		events.WriteString(textOf(n))
	}
	for _, h := range hostile[:7] {
		assert.Contains(t, events.String(), oneLineText(h))
	}
	// The third run's fault is known from its events only: its shade says
	// what they said.
	shades := find(byID(doc, "run-3"), func(n *html.Node) bool {
		return n.Data == "rect" && hasClass(n, "fault") && textOf(n) != "" // not the legend's
	})
	require.Len(t, shades, 1)
	title := textOf(shades[0])
	assert.Contains(t, title, "injected at 3.0s")
	assert.Contains(t, title, "cleared at 9.0s")
	assert.True(t, slices.ContainsFunc(hostile[:7], func(h string) bool { return strings.Contains(title, h) }), title)

	// Shadow answers and detections: their text is in the marks' titles,
	// their names on the lanes, the scoreboard and the analyzers' table.
	var shadowTitles strings.Builder
	for _, n := range find(doc, func(n *html.Node) bool { return n.Data == "circle" && hasClass(n, "mark") }) {
		if strings.Contains(textOf(n), "in shadow") {
			shadowTitles.WriteString(textOf(n))
		}
	}
	assert.Contains(t, shadowTitles.String(), hostile[0])
	assert.Contains(t, shadowTitles.String(), hostile[2])
	assert.NotEmpty(t, find(doc, func(n *html.Node) bool { return n.Data == "g" && hasClass(n, "detection") }))
	var boards strings.Builder
	for _, n := range find(doc, func(n *html.Node) bool { return n.Data == "table" && hasClass(n, "analyzers") }) {
		boards.WriteString(textOf(n))
	}
	assert.Contains(t, boards.String(), "## injected heading [link](jav", "a hostile analyzer name, as text")

	// The hover data carries the hostile version name as a JSON string.
	d := byID(doc, "data-c1")
	require.NotNil(t, d)
	assert.Contains(t, textOf(d), `\u003cimg src=x onerror=`)
}

func TestHostileJUnit(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, JUnit(&buf, hostileFixture()))
	out := buf.String()
	assert.NotContains(t, out, "<script>")
	assert.NotContains(t, out, "<img")
	assert.NotContains(t, out, "\x00")
	assert.NotContains(t, out, "\x1b")
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc), "well-formed")
	var msgs []string
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				msgs = append(msgs, c.Failure.Message, c.Failure.Text)
			}
			if c.Error != nil {
				msgs = append(msgs, c.Error.Message)
			}
		}
	}
	joined := strings.Join(msgs, "\n")
	assert.Contains(t, joined, hostile[0], "the text survives, escaped")
	assert.Contains(t, joined, "]]><!-- -->")
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				assert.Less(t, len(c.Failure.Message), 1000, "messages are one clipped line")
				assert.NotContains(t, c.Failure.Message, "\n")
			}
		}
	}
	assert.Less(t, buf.Len(), 1<<20)
}

func TestHostileMarkdown(t *testing.T) {
	var buf bytes.Buffer
	f := hostileFixture()
	require.NoError(t, Markdown(&buf, f, Compare(f, f)))
	out := buf.String()
	for _, bad := range []string{"<script", "<img", "<!--", "](javascript", "![img](", "`code`", "{{.CSP}}", "@everyone"} {
		assert.NotContains(t, out, bad)
	}
	assert.Contains(t, out, "&lt;script&gt;")
	assert.Contains(t, out, "@\u200beveryone")
	assert.Contains(t, out, "| \\| a \\| b \\| \\#\\# injected heading", "a hostile analyzer name in the analyzers' table, escaped")
	for _, line := range strings.Split(out, "\n") {
		assert.Less(t, len(line), 4000, "no long lines")
		assert.False(t, strings.HasPrefix(line, "## injected"), "no injected heading")
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "|---") {
			cells := unescapedPipes(line) - 1
			assert.Contains(t, []int{7, 8, 9}, cells, "table row keeps its cells: %s", line)
		}
	}
}

// unescapedPipes counts the | of a table row that are not escaped.
func unescapedPipes(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

// Reports never read the environment: a secret planted there appears in no
// output.
func TestNoSecretsFromEnvironment(t *testing.T) {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	token := "brsecret-" + hex.EncodeToString(secret)
	for _, k := range []string{"BLASTRADIUS_TEST_SECRET", "OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, token)
	}
	dir := t.TempDir()
	f := hostileFixture()
	require.NoError(t, WriteAll(dir, f, fixture()))
	for _, name := range []string{HTMLFile, JUnitFile, MarkdownFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.NotContains(t, string(data), token, name)
		assert.NotContains(t, string(data), "brsecret-", name)
	}
}

func TestClip(t *testing.T) {
	assert.Equal(t, "abc", clip("abc", 3))
	assert.Equal(t, "ab… (1 more bytes)", clip("abc", 2))
	assert.Equal(t, "é… (2 more bytes)", clip("éé", 1), "never cuts a rune")
	assert.Equal(t, "a\uFFFDb", clip("a\xffb", 10))
	_ = time.Second
}
