// Package threshold is the analyzer most teams write first: fail when the
// candidate's error rate or p99 latency over the last window is above a
// fixed limit. It looks at the candidate only.
package threshold

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// Name is the analyzer's catalog name.
const Name = "threshold"

// Analyzer is the threshold analyzer; MinRequests below Params.MinRequests
// is inconclusive.
type Analyzer struct{}

// New returns the analyzer.
func New() analyzer.Analyzer { return Analyzer{} }

// Name is "threshold".
func (Analyzer) Name() string { return Name }

// Analyze judges the candidate's points within the window ending at Now.
func (Analyzer) Analyze(_ context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	return Judge(in, in.Params.MinRequests), nil
}

// Window sums the candidate's points in (Now-Window, Now] and measures
// them: error rate (NaN without requests) and p99 (NaN without latencies).
func Window(in analyzer.Input) (total analyzer.Point, errorRate, p99 float64) {
	total = analyzer.Sum(in.Candidate, in.Now-in.Params.Window.Seconds(), in.Now)
	return total, total.ErrorRate(), total.Quantile(0.99, in.Bounds)
}

// Judge applies the limits with the given minimum of requests; the
// prometheus analyzer's replay shares it.
func Judge(in analyzer.Input, minRequests int) analyzer.Verdict {
	p := in.Params
	total, rate, p99 := Window(in)
	v := analyzer.Verdict{Requests: total.Requests, Value: zeroNaN(rate), P99: zeroNaN(p99)}
	where := fmt.Sprintf("over %v on %d candidate pods", p.Window, total.Pods)
	if len(in.Candidate) == 0 {
		v.Verdict, v.Explanation = analyzer.Inconclusive, "no candidate data yet"+scrapeErrors(in.Pods)
		return v
	}
	if total.Requests < float64(max(minRequests, 1)) {
		v.Verdict = analyzer.Inconclusive
		v.Explanation = fmt.Sprintf("%.0f requests %s, need %d%s", total.Requests, where, max(minRequests, 1), scrapeErrors(in.Pods))
		return v
	}
	v.Confidence = 1
	// A fail's category is the error rate when that limit tripped, else
	// the latency.
	var over []string
	if rate > p.MaxErrorRate {
		over = append(over, fmt.Sprintf("error rate %.2f%% (%.0f/%.0f) > %.2f%%", 100*rate, total.Errors, total.Requests, 100*p.MaxErrorRate))
		v.Category = results.RootCauseErrorRate
	}
	if p.MaxP99 > 0 && p99 > p.MaxP99.Seconds() {
		over = append(over, fmt.Sprintf("p99 %v > %v", seconds(p99), p.MaxP99))
		if v.Category == "" {
			v.Category = results.RootCauseLatency
		}
	}
	if len(over) > 0 {
		v.Verdict, v.Explanation = analyzer.Fail, strings.Join(over, "; ")+" "+where
		return v
	}
	v.Verdict = analyzer.Pass
	v.Explanation = fmt.Sprintf("error rate %.2f%% (%.0f/%.0f), p99 %v %s", 100*rate, total.Errors, total.Requests, seconds(p99), where)
	return v
}

func zeroNaN(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return f
}

func seconds(s float64) time.Duration {
	if math.IsNaN(s) {
		return 0
	}
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

// scrapeErrors says why pods gave no data, which is the interesting part of
// an inconclusive verdict (a crash-looping candidate, say).
func scrapeErrors(pods []analyzer.Pod) string {
	var errs []string
	for _, p := range pods {
		if p.ScrapeError != "" {
			errs = append(errs, p.Name+": "+p.ScrapeError)
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return "; unscrapeable: " + strings.Join(errs, "; ")
}
