package analysis

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// Threshold is the simplest analyzer, the one most teams write first: fail
// when the candidate's error rate or p99 latency over the window is above a
// fixed threshold; too little traffic to tell is inconclusive.
type Threshold struct{}

// Name is "threshold".
func (Threshold) Name() string { return "threshold" }

// Analyze judges the candidate pods only; the stable's samples are ignored.
func (Threshold) Analyze(_ context.Context, w Window) (Verdict, error) {
	if len(w.Candidate) == 0 {
		return Verdict{Verdict: Inconclusive, Explanation: fmt.Sprintf("no pods with hash %s in %s", w.CandidateHash, w.Namespace)}, nil
	}
	total := Merge(w.Candidate)
	v := Verdict{Requests: total.Requests}
	if total.Requests > 0 {
		v.Value = total.Errors / total.Requests
	}
	if p99 := Quantile(0.99, total.Buckets, total.Latencies); !math.IsNaN(p99) {
		v.P99 = p99
	}
	span := total.To.Sub(total.From).Round(100 * time.Millisecond)
	where := fmt.Sprintf("over %v on %d candidate pods", span, len(w.Candidate))
	if total.Requests < float64(w.MinRequests) {
		v.Verdict = Inconclusive
		v.Explanation = fmt.Sprintf("%.0f requests %s, need %d%s", total.Requests, where, w.MinRequests, scrapeErrors(w.Candidate))
		return v, nil
	}

	v.Confidence = 1
	var over []string
	if v.Value > w.MaxErrorRate {
		over = append(over, fmt.Sprintf("error rate %.2f%% (%.0f/%.0f) > %.2f%%", 100*v.Value, total.Errors, total.Requests, 100*w.MaxErrorRate))
	}
	if w.MaxP99 > 0 && v.P99 > w.MaxP99.Seconds() {
		over = append(over, fmt.Sprintf("p99 %v > %v", seconds(v.P99), w.MaxP99))
	}
	if len(over) > 0 {
		v.Verdict = Fail
		v.Explanation = strings.Join(over, "; ") + " " + where
		return v, nil
	}
	v.Verdict = Pass
	v.Explanation = fmt.Sprintf("error rate %.2f%% (%.0f/%.0f), p99 %v %s", 100*v.Value, total.Errors, total.Requests, seconds(v.P99), where)
	return v, nil
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

// scrapeErrors says why pods gave no data, which is the interesting part of
// an inconclusive verdict (a crash-looping candidate, say).
func scrapeErrors(samples []PodSample) string {
	var errs []string
	for _, s := range samples {
		if s.ScrapeError != "" {
			errs = append(errs, s.Pod+": "+s.ScrapeError)
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return "; unscrapeable: " + strings.Join(errs, "; ")
}
