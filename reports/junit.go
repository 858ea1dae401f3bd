package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// The JUnit XML shape most CI systems read (Jenkins, GitLab, GitHub test
// reporters): testsuites > testsuite (one per scenario) > testcase (one per
// run). encoding/xml escapes every value and replaces characters XML cannot
// carry with U+FFFD.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes f as JUnit XML: one test case per run, classname the
// scenario and name strategy/analyzer/seed-N. A case fails when an
// expectation of its scenario failed, with every failed expectation as the
// reason, and is an error when the harness failed the run. Runs without
// expectations pass: they are measurements, not tests.
func JUnit(w io.Writer, f *results.File) error {
	doc := junitSuites{Name: "blastradius"}
	var total time.Duration
	for _, sg := range byScenario(f) {
		s := junitSuite{Name: sg.Name, Properties: junitEnv(f, sg.Runs[0])}
		var suiteTime time.Duration
		for _, r := range sg.Runs {
			c := junitCase{Classname: r.Scenario, Name: runLabel(r), SystemOut: runSummary(r)}
			d := runDuration(r)
			suiteTime += d
			c.Time = fmt.Sprintf("%.3f", d.Seconds())
			if !r.StartedAt.IsZero() && (s.Timestamp == "" || r.StartedAt.UTC().Format(time.RFC3339) < s.Timestamp) {
				s.Timestamp = r.StartedAt.UTC().Format(time.RFC3339)
			}
			switch {
			case r.Error != "":
				c.Error = &junitProblem{Type: "harness", Message: clip(oneLineText(r.Error), 500), Text: clip(r.Error, 20000)}
				s.Errors++
			case r.Failed():
				var msgs []string
				for _, e := range failedExpectations(r) {
					msgs = append(msgs, e.Name+": "+e.Message)
				}
				c.Failure = &junitProblem{Type: "expectation", Message: clip(oneLineText(strings.Join(msgs, "; ")), 500),
					Text: clip(strings.Join(msgs, "\n"), 20000)}
				s.Failures++
			}
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		s.Time = fmt.Sprintf("%.3f", suiteTime.Seconds())
		total += suiteTime
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = fmt.Sprintf("%.3f", total.Seconds())
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitEnv(f *results.File, first *results.Run) []junitProperty {
	e := f.Environment
	props := []junitProperty{
		{"platform", e.Platform}, {"kubernetes", e.Kubernetes}, {"argoRollouts", e.ArgoRollouts},
		{"harness", e.Harness}, {"goVersion", e.GoVersion}, {"scenarioFile", first.ScenarioFile},
		{"groundTruth", string(first.GroundTruth)}, {"stable", first.Stable}, {"candidate", first.Candidate},
	}
	out := props[:0]
	for _, p := range props {
		if p.Value != "" {
			p.Value = clip(p.Value, 500)
			out = append(out, p)
		}
	}
	return out
}

func runDuration(r *results.Run) time.Duration {
	if r.StartedAt.IsZero() || r.EndedAt.Before(r.StartedAt) {
		return 0
	}
	return r.EndedAt.Sub(r.StartedAt)
}

// runSummary is one plain-text paragraph on a run, for system-out.
func runSummary(r *results.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: %s release %s -> %s, verdict %s, outcome %s\n", r.ID, r.GroundTruth, r.Stable, r.Candidate, Status(r), r.Outcome)
	br := r.BlastRadius
	fmt.Fprintf(&b, "failed requests %d of %d (candidate %d, unattributed %d), users affected %d of %d\n",
		br.FailedRequests, br.TotalRequests, br.CandidateFailedRequests, br.UnattributedErrors, br.UsersAffected, br.UsersTotal)
	t := r.Timing
	fmt.Fprintf(&b, "time to detect %s s, to abort %s s, to recover %s s, to promote %s s\n",
		secs(t.TimeToDetectSeconds), secs(t.TimeToAbortSeconds), secs(t.TimeToRecoverSeconds), secs(t.TimeToPromoteSeconds))
	for _, name := range analyzerOrder(detectionNames(r)) {
		d := detectionsOf(r)[name]
		role := "shadow"
		if d.Gating {
			role = "gating"
		}
		at := detectionText(r, d)
		if at == "—" {
			at = "none"
		}
		fmt.Fprintf(&b, "detection %s (%s): %s, %d of %d measurements failed", clip(name, maxAnalyzerRunes), role,
			at, d.Failed, d.Measurements)
		if rc, _ := rootCauseMark(d); rc != "" {
			fmt.Fprintf(&b, ", root cause named %s", rc)
		}
		b.WriteString("\n")
	}
	for _, e := range r.Expectations {
		ok := "ok"
		if !e.OK {
			ok = "FAILED"
		}
		fmt.Fprintf(&b, "expect %s: %s: %s\n", e.Name, ok, e.Message)
	}
	return clip(b.String(), 20000)
}

// oneLineText folds whitespace runs, newlines included, into single spaces.
func oneLineText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
