package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Statuses of a test in the report.
const (
	statusPassed  = "passed"
	statusFailed  = "failed"
	statusSkipped = "skipped"
)

// event is one line of go tool test2json's output.
type event struct {
	Action  string  `json:"Action"`
	Test    string  `json:"Test"`
	Output  string  `json:"Output"`
	Elapsed float64 `json:"Elapsed"`
}

// result is one test's outcome.
type result struct {
	Test    string  `json:"test"`
	Status  string  `json:"status"`
	Seconds float64 `json:"seconds"`
	// Reason says why a test was skipped or failed: the skip list's
	// reason, the test's own skip message, or its failure messages.
	Reason string `json:"reason,omitempty"`
	// SkipList is true when the skip list left the test out.
	SkipList bool `json:"skipList,omitempty"`
}

// collector turns test2json events into results, test by test; shards
// share one.
type collector struct {
	mu     sync.Mutex
	output map[string][]string // output lines by test, until it ends
	done   map[string]result
	order  []string
}

func newCollector() *collector {
	return &collector{output: map[string][]string{}, done: map[string]result{}}
}

// add takes one line of test2json output; it returns the result of a test
// that this line ended.
func (c *collector) add(line []byte) (result, bool, error) {
	var e event
	if err := json.Unmarshal(line, &e); err != nil {
		return result{}, false, fmt.Errorf("test2json line %q: %w", line, err)
	}
	if e.Test == "" {
		return result{}, false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e.Action {
	case "output":
		c.output[e.Test] = append(c.output[e.Test], strings.TrimRight(e.Output, "\n"))
	case "pass", "fail", "skip":
		r := result{Test: e.Test, Seconds: e.Elapsed}
		switch e.Action {
		case "pass":
			r.Status = statusPassed
		case "fail":
			r.Status, r.Reason = statusFailed, failureReason(c.output[e.Test])
		case "skip":
			r.Status, r.Reason = statusSkipped, skipReason(c.output[e.Test])
		}
		delete(c.output, e.Test)
		if _, seen := c.done[e.Test]; !seen {
			c.order = append(c.order, e.Test)
		}
		c.done[e.Test] = r
		return r, true, nil
	}
	return result{}, false, nil
}

// Lines of a test's output that say what went wrong: t.Error/t.Fatal lines
// (file.go:NN: ...), testify's "Error:" blocks, panics, the test binary's
// timeout, and error-level log lines of the fixtures (logrus).
var (
	locationLine = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: (.*)$`)
	testifyError = regexp.MustCompile(`^\s*Error:\s+(.*)$`)
	logrusError  = regexp.MustCompile(`level=(?:error|fatal)\s+msg="((?:[^"\\]|\\.)*)"`)
	panicLine    = regexp.MustCompile(`^(panic: .*|\s*test timed out after .*)$`)
)

// failureReason condenses a failed test's output to a few lines.
func failureReason(lines []string) string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" || len(out) >= 4 {
			return
		}
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, l := range lines {
		switch {
		case testifyError.MatchString(l):
			add(testifyError.FindStringSubmatch(l)[1])
		case panicLine.MatchString(l):
			add(l)
		case logrusError.MatchString(l):
			add(strings.ReplaceAll(logrusError.FindStringSubmatch(l)[1], `\"`, `"`))
		case locationLine.MatchString(l) && !strings.Contains(l, "Error Trace:"):
			add(locationLine.FindStringSubmatch(l)[1])
		}
	}
	if len(out) == 0 {
		return "failed without a message (see test2json.jsonl)"
	}
	return strings.Join(out, "; ")
}

// skipReason is a test's own skip message, if it gave one.
func skipReason(lines []string) string {
	for _, l := range lines {
		if m := locationLine.FindStringSubmatch(l); m != nil {
			return "skipped by the test: " + strings.TrimSpace(m[1])
		}
	}
	return "skipped by the test, without a message"
}

// report is what a run found, for the table, results.json and summary.md.
type report struct {
	ArgoRollouts string    `json:"argoRollouts"`
	Command      string    `json:"command"`     // the runner's
	TestCommand  string    `json:"testCommand"` // the test binary's, in the module's test/e2e
	Started      time.Time `json:"started"`
	Seconds      float64   `json:"seconds"`
	Passed       int       `json:"passed"`
	Failed       int       `json:"failed"`
	Skipped      int       `json:"skipped"`
	Tests        []result  `json:"tests"`
	// Incomplete says why the run did not finish, when it did not.
	Incomplete string `json:"incomplete,omitempty"`
}

// tally accounts for every selected test: its result, the skip list's entry,
// or, when it never reported (its suite failed to set up, the binary timed
// out or was interrupted), a failure that says so. Suite-level results count
// only where they explain a missing test.
func tally(sel selection, c *collector) report {
	var r report
	for _, t := range sel.Run {
		res, ok := c.done[t.String()]
		if !ok {
			res = result{Test: t.String(), Status: statusFailed, Reason: "did not run"}
			if suite, ok := c.done[t.Suite]; ok && t.Method != "" {
				res.Reason = fmt.Sprintf("did not run: %s %s", t.Suite, suite.Status)
				if suite.Reason != "" {
					res.Reason += ": " + suite.Reason
				}
				if suite.Status == statusSkipped {
					res.Status = statusSkipped
				}
			}
		}
		r.Tests = append(r.Tests, res)
	}
	// A suite that failed outside its tests (its teardown, say) while every
	// test of it passed is a failure of its own.
	suiteFailed := map[string]bool{}
	for _, res := range r.Tests {
		if suite, _, _ := strings.Cut(res.Test, "/"); res.Status == statusFailed {
			suiteFailed[suite] = true
		}
	}
	seen := map[string]bool{}
	for _, t := range sel.Run {
		res, ok := c.done[t.Suite]
		if t.Method == "" || seen[t.Suite] || !ok || res.Status != statusFailed || suiteFailed[t.Suite] {
			continue
		}
		seen[t.Suite] = true
		res.Reason = "the suite failed outside its tests: " + res.Reason
		r.Tests = append(r.Tests, res)
	}
	for t, s := range sel.Skipped {
		r.Tests = append(r.Tests, result{Test: t.String(), Status: statusSkipped, Reason: s.Reason, SkipList: true})
	}
	sort.Slice(r.Tests, func(i, j int) bool { return r.Tests[i].Test < r.Tests[j].Test })
	for _, t := range r.Tests {
		switch t.Status {
		case statusPassed:
			r.Passed++
		case statusFailed:
			r.Failed++
		case statusSkipped:
			r.Skipped++
		}
	}
	return r
}
