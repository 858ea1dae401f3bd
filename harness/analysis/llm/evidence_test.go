package llm

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/blastradius/blastradius/harness/analyzer"
)

func TestEvidenceFromInput(t *testing.T) {
	ev := testEvidence()
	c, s := ev.Candidate, ev.Stable
	// Candidate: 10 points (10, 20] of 10 requests, 3 errors.
	if ev.From != 10 || ev.To != 20 || c.Requests != 100 || c.RequestsPerSecond != 10 || math.Abs(float64(c.ErrorRate)-0.3) > 1e-12 {
		t.Errorf("candidate %+v from %v to %v", c, ev.From, ev.To)
	}
	if s.Requests != 100 || s.ErrorRate != 0 || s.Pods != 2 || s.ReadyPods != 2 {
		t.Errorf("stable %+v", s)
	}
	// Candidate histogram: 20 <= 0.05, 50 <= 0.1, 100 <= 0.5: p50 = 0.1, p99 interpolated in (0.1, 0.5].
	if c.P50Seconds != 0.1 || math.Abs(float64(c.P99Seconds)-(0.1+0.4*49/50)) > 1e-12 {
		t.Errorf("quantiles %v %v", c.P50Seconds, c.P99Seconds)
	}
	if len(ev.CandidateSeries) != 10 || len(ev.StableSeries) != 10 || ev.CandidateSeries[0].T != 11 || ev.CandidateSeries[0].Errors != 3 {
		t.Errorf("series %+v", ev.CandidateSeries)
	}
	if ev.SLO.MaxErrorRate != 0.05 || ev.SLO.MaxP99Seconds != 0 { // MaxP99 0: not checked
		t.Errorf("slo %+v", ev.SLO)
	}
	// Newest first.
	if got := ev.Logs[1].Lines; len(got) != 2 || got[0] != injection {
		t.Errorf("logs %q", got)
	}
}

func TestEvidenceNoDataMarshals(t *testing.T) {
	ev := EvidenceFromInput(analyzer.Input{Now: 5, Step: 1})
	b, err := json.Marshal(ev)
	if err != nil || !strings.Contains(string(b), `"errorRate":null`) {
		t.Errorf("%v %s", err, b)
	}
}

func TestBoundLogs(t *testing.T) {
	var lines []string
	for i := range 100 {
		lines = append(lines, strings.Repeat("x", 1000)+string(rune('a'+i%26)))
	}
	lines = append(lines, "\x1b[31mred\x1b[0m\nsecond line\u202e\x00end", "  ")
	got := BoundLogs(lines)
	if len(got) > MaxLogLines {
		t.Errorf("%d lines", len(got))
	}
	total := 0
	for _, l := range got {
		total += len(l)
		if len(l) > MaxLogLineBytes {
			t.Errorf("line of %d bytes", len(l))
		}
	}
	if total > MaxLogBytes {
		t.Errorf("%d bytes", total)
	}
	if got[0] != "[31mred[0m second lineend" {
		t.Errorf("newest line cleaned to %q", got[0])
	}
}
