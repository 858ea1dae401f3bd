package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// bench.json's schema name and version; readers refuse other versions.
const (
	Schema        = "blastradius.bench"
	SchemaVersion = 1
)

// Result is one bench run, as bench.json holds it. Rates and medians are
// null where they are undefined (no case to divide by, nothing detected).
type Result struct {
	Schema      string      `json:"schema"`
	Version     int         `json:"version"`
	Generated   time.Time   `json:"generated"`
	Environment Environment `json:"environment"`
	Corpus      Corpus      `json:"corpus"`
	Analyzers   []Metrics   `json:"analyzers"` // catalog order
}

// Environment is where the bench ran; costs depend on it.
type Environment struct {
	Harness   string `json:"harness,omitempty"` // blastradius version
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	Workers   int    `json:"workers"`
	// CostClock is how costNanosPerVerdict was measured: "thread-cpu"
	// (the worker thread's CPU clock) or "wall".
	CostClock       string  `json:"costClock"`
	WallSeconds     float64 `json:"wallSeconds"`
	TracesPerMinute float64 `json:"tracesPerMinute"` // traces replayed through every analyzer, per minute of wall time
}

// Corpus summarises the traces replayed.
type Corpus struct {
	Paths    []string          `json:"paths"`
	Files    int               `json:"files"`
	Traces   int               `json:"traces"`
	Good     int               `json:"good"`
	Bad      int               `json:"bad"`
	BySource map[string]Counts `json:"bySource"`
	ByModel  map[string]Counts `json:"byModel"` // the "model" label; recorded traces have none
}

// Confusion counts one analyzer's decisions against the ground truth. A run
// that failed is tp (bad) or fp (good); one that ended inconclusive without
// failing is inconclusive (split by truth in the two extra fields); the
// rest are tn (good) or fn (bad).
type Confusion struct {
	TP               int `json:"tp"`
	FP               int `json:"fp"`
	TN               int `json:"tn"`
	FN               int `json:"fn"`
	Inconclusive     int `json:"inconclusive"`
	InconclusiveGood int `json:"inconclusiveGood"`
	InconclusiveBad  int `json:"inconclusiveBad"`
}

// Interval is a confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Stratum is recall over the bad cases of one error-increase range.
type Stratum struct {
	Stratum  string   `json:"stratum"` // percentage points, e.g. "2-3"
	Bad      int      `json:"bad"`
	Detected int      `json:"detected"`
	Recall   *float64 `json:"recall"`
}

// Metrics are one analyzer's scores (docs/bench.md, "Metrics").
type Metrics struct {
	Name     string `json:"name"`
	Cases    int    `json:"cases"`
	Good     int    `json:"good"`
	Bad      int    `json:"bad"`
	Detected int    `json:"detected"` // bad cases failed (= confusion.tp)

	Precision      *float64 `json:"precision"`
	Recall         *float64 `json:"recall"`
	FalseAlarmRate *float64 `json:"falseAlarmRate"`

	MedianTimeToDetectSeconds  *float64  `json:"medianTimeToDetectSeconds"`
	MedianTimeToDetectCI       *Interval `json:"medianTimeToDetectCI"`
	P90TimeToDetectSeconds     *float64  `json:"p90TimeToDetectSeconds"`
	MedianFailedBeforeDetect   *float64  `json:"medianFailedBeforeDetect"`
	MedianFailedBeforeDetectCI *Interval `json:"medianFailedBeforeDetectCI"`
	P90FailedBeforeDetect      *float64  `json:"p90FailedBeforeDetect"`

	// SPRTRatio is this analyzer's median failed-before-detect over sprt's,
	// on the SPRTPairs bad cases both detected.
	SPRTRatio *float64 `json:"sprtRatio"`
	SPRTPairs int      `json:"sprtPairs"`

	Confusion           Confusion `json:"confusion"`
	CostNanosPerVerdict float64   `json:"costNanosPerVerdict"`
	Verdicts            int64     `json:"verdicts"`

	RecallByIncrease     []Stratum `json:"recallByIncrease"`
	RecallAtLeast2Points *float64  `json:"recallAtLeast2Points"` // bad cases with errorIncrease >= 0.02
	BadAtLeast2Points    int       `json:"badAtLeast2Points"`

	// RootCauseAccuracy is RootCauseCorrect over RootCauseNamed: the
	// detected bad cases of a known root cause (Trace.RootCause) where the
	// verdict that failed the run named a category, and those where it
	// named the trace's. Null when there is no such case.
	RootCauseAccuracy *float64 `json:"rootCauseAccuracy"`
	RootCauseNamed    int      `json:"rootCauseNamed"`
	RootCauseCorrect  int      `json:"rootCauseCorrect"`

	// AI sums the call records of an AI analyzer's verdicts; nil for an
	// analyzer without any.
	AI *AIMetrics `json:"ai,omitempty"`
}

// AIMetrics are an AI analyzer's calls over the corpus: the usage a run's
// detection records (calls, failures by kind, tokens, total cost, mean and
// maximum latency), the cost per decision (one call a verdict) and the
// 95th percentile of the latency (type 7, as the other quantiles).
type AIMetrics struct {
	results.AIUsage
	CostPerDecisionUSD float64 `json:"costPerDecisionUSD"`
	P95LatencySeconds  float64 `json:"p95LatencySeconds"`
}

// Analyzer returns the named analyzer's metrics.
func (r *Result) Analyzer(name string) (Metrics, bool) {
	for _, m := range r.Analyzers {
		if m.Name == name {
			return m, true
		}
	}
	return Metrics{}, false
}

// Write writes dir/bench.json and dir/bench.html.
func (r *Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "bench.json"), append(b, '\n')); err != nil {
		return err
	}
	html, err := r.HTML()
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "bench.html"), html)
}

// writeFile writes atomically: a reader never sees half a file.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads a bench.json.
func Load(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		var off int64 = -1
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = se.Offset
		case errors.As(err, &te):
			off = te.Offset
		}
		if off >= 0 {
			return nil, fmt.Errorf("%s:%d: %w", path, 1+bytes.Count(b[:min(int(off), len(b))], []byte("\n")), err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != Schema || r.Version != SchemaVersion {
		return nil, fmt.Errorf("%s: schema %q version %d, want %q version %d", path, r.Schema, r.Version, Schema, SchemaVersion)
	}
	return &r, nil
}
