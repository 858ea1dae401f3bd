// Package analysis is the endpoint that Argo Rollouts' web metric provider
// calls during a rollout's analysis, and the analyzers that judge a
// candidate. The Server finds the candidate's (and the stable's) pods by
// their pod-template hash, scrapes their Prometheus /metrics into per-pod
// series, turns them into deltas over the asked window and hands those to
// the named Analyzer, whose Verdict goes back to Argo as JSON.
package analysis

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// Verdicts, as Argo's success and failure conditions test them.
const (
	Pass         = results.AnalysisPass
	Fail         = results.AnalysisFail
	Inconclusive = results.AnalysisInconclusive
)

// HashLabel is the label Argo puts on every pod of a Rollout's ReplicaSet.
const HashLabel = "rollouts-pod-template-hash"

// The demo app's metrics (demoapp.MetricRequests, demoapp.MetricDuration).
const (
	MetricRequests = "demoapp_http_requests_total"
	MetricDuration = "demoapp_http_request_duration_seconds"
	metricStart    = "process_start_time_seconds"
)

// Analyzer judges a candidate from the pods' metrics over a window. It is
// the seam later analyzers (Prometheus, statistical, sequential, LLM)
// plug into.
type Analyzer interface {
	Name() string
	Analyze(ctx context.Context, w Window) (Verdict, error)
}

// Thresholds come with each query, so one server serves many runs.
type Thresholds struct {
	MaxErrorRate float64       // fail above this fraction of 5xx responses
	MaxP99       time.Duration // fail above this p99 latency; 0: not checked
	Window       time.Duration // how far back the deltas reach
	MinRequests  int           // fewer candidate requests: inconclusive
}

// DefaultThresholds fill in query parameters left out.
var DefaultThresholds = Thresholds{MaxErrorRate: 0.05, MaxP99: time.Second, Window: 10 * time.Second, MinRequests: 20}

// Window is what an analyzer sees: per-pod deltas from To-Window to To.
type Window struct {
	Namespace, CandidateHash, StableHash string
	Candidate, Stable                    []PodSample
	From, To                             time.Time
	Thresholds
}

// PodSample is one pod's metric deltas over (about) the window. The span
// From..To is what the scrapes actually cover: a little more or less than
// the window, or shorter for a pod scraped for the first time.
type PodSample struct {
	Pod         string
	Ready       bool
	Restarts    int32
	From, To    time.Time
	Requests    float64            // app requests answered
	Errors      float64            // of which 5xx
	Codes       map[string]float64 // requests by status code
	Buckets     []Bucket           // cumulative latency counts, finite bounds ascending
	Latencies   float64            // observations in the histogram (its +Inf bucket)
	LatencySum  float64            // seconds
	Resets      int                // counter resets seen (process restarts)
	ScrapeError string             // the last scrape's error, if it failed
}

// Bucket is a cumulative histogram bucket.
type Bucket struct{ UpperBound, Count float64 }

// Verdict is the endpoint's answer. Argo records the whole JSON object as
// the measurement's value, so it carries what was measured, not only the
// decision.
type Verdict struct {
	Verdict     results.AnalysisVerdict `json:"verdict"`     // pass, fail or inconclusive
	Value       float64                 `json:"value"`       // the analyzer's main measure; threshold: the error rate
	P99         float64                 `json:"p99"`         // seconds
	Requests    float64                 `json:"requests"`    // candidate requests in the window
	Confidence  float64                 `json:"confidence"`  // 0..1
	Explanation string                  `json:"explanation"` // for people reading the AnalysisRun
	Cost        float64                 `json:"cost"`        // what the verdict cost (e.g. LLM dollars); 0 for metrics
}

// Merge adds up pod samples: the candidate as a whole.
func Merge(samples []PodSample) PodSample {
	var out PodSample
	out.Codes = map[string]float64{}
	bounds := map[float64]float64{}
	for i, s := range samples {
		if i == 0 || s.From.Before(out.From) {
			out.From = s.From
		}
		if s.To.After(out.To) {
			out.To = s.To
		}
		out.Requests += s.Requests
		out.Errors += s.Errors
		out.Latencies += s.Latencies
		out.LatencySum += s.LatencySum
		out.Resets += s.Resets
		out.Restarts += s.Restarts
		for c, n := range s.Codes {
			out.Codes[c] += n
		}
		for _, b := range s.Buckets {
			bounds[b.UpperBound] += b.Count
		}
	}
	for ub, n := range bounds {
		out.Buckets = append(out.Buckets, Bucket{ub, n})
	}
	slices.SortFunc(out.Buckets, func(a, b Bucket) int { return cmp.Compare(a.UpperBound, b.UpperBound) })
	return out
}

// Quantile estimates the q-quantile from cumulative buckets and the total
// count, interpolating linearly within the bucket as Prometheus's
// histogram_quantile does (the first bucket starts at 0). A rank beyond the
// last finite bound yields that bound. No observations: NaN.
func Quantile(q float64, buckets []Bucket, count float64) float64 {
	if count <= 0 {
		return math.NaN()
	}
	rank := q * count
	lower, below := 0.0, 0.0
	for _, b := range buckets {
		if b.Count >= rank {
			if b.Count == below {
				return b.UpperBound
			}
			return lower + (b.UpperBound-lower)*(rank-below)/(b.Count-below)
		}
		lower, below = b.UpperBound, b.Count
	}
	return lower
}
