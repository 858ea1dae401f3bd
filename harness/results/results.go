// Package results is the vocabulary every package of a run shares (event
// kinds, outcomes, verdicts, fault records, series, scores) and the schema of
// results.json, written by `blastradius run` and read by the reports. It is a
// leaf: it imports nothing of this module, so a reader of results.json
// compiles nothing else. The schema is versioned; field names marked fixed in
// docs/scoring.md are relied on by scripts outside the repo.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// SchemaVersion is bumped on any incompatible change. Version 2 made events
// typed (docs/scoring.md says what changed); Read still reads version 1.
const SchemaVersion = 2

// FileName is the results file in a run set's output directory.
const FileName = "results.json"

// File is one run set.
type File struct {
	SchemaVersion int         `json:"schemaVersion"`
	Environment   Environment `json:"environment"`
	Runs          []Run       `json:"runs"`
}

// Environment says where and with what the runs ran.
type Environment struct {
	Platform     string    `json:"platform"`
	Kubernetes   string    `json:"kubernetes"`
	ArgoRollouts string    `json:"argoRollouts"`
	Harness      string    `json:"harness"`
	GoVersion    string    `json:"goVersion"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	Args         []string  `json:"args"`
}

// Run is one scenario × strategy × analyzer × seed.
type Run struct {
	ID           string      `json:"id"`
	Scenario     string      `json:"scenario"`
	ScenarioFile string      `json:"scenarioFile"`
	Description  string      `json:"description,omitempty"`
	Strategy     string      `json:"strategy"`
	Analyzer     string      `json:"analyzer"`
	Seed         int64       `json:"seed"`
	GroundTruth  GroundTruth `json:"groundTruth"`
	// RootCause is the category of the release's defect, none when good:
	// what an analyzer that names a root cause should have named.
	RootCause RootCause `json:"rootCause,omitempty"`
	Stable    string    `json:"stable"`
	Candidate string    `json:"candidate"`
	// TimeScale is the run's time scale (run --time-scale, a run set's):
	// the release compressed by it, the load's rate divided by it
	// (docs/runner.md); 1 when none was given.
	TimeScale float64 `json:"timeScale,omitempty"`
	Namespace string  `json:"namespace"`

	Scores

	Outcome      Outcome       `json:"outcome"`
	Error        string        `json:"error,omitempty"`
	Expectations []Expectation `json:"expectations"`
	StartedAt    time.Time     `json:"startedAt"`
	AppliedAt    time.Time     `json:"candidateAppliedAt"`
	// Window is what was scored: records.ndjson scored with these bounds
	// and load.sloSeconds gives the blast-radius fields exactly.
	Window  Window        `json:"window"`
	EndedAt time.Time     `json:"endedAt"`
	Load    Load          `json:"load"`
	Events  []Event       `json:"events"`
	Faults  []FaultRecord `json:"faults"`
	Series  []Second      `json:"series"`
	// Analysis is every call Argo made to the analysis endpoint for this run,
	// with the analyzer's verdict and explanation (untrusted text).
	Analysis []AnalysisCall `json:"analysis"`
	// Logs are excerpts of the candidate's pod logs (untrusted text).
	Logs []LogExcerpt `json:"logs"`
	// Records is the per-request NDJSON file, relative to results.json.
	Records string `json:"records"`
	// Trace is the analysis trace file (analyzer.Trace, NDJSON), relative
	// to results.json; empty for runs without analysis.
	Trace string `json:"trace,omitempty"`
	// Detections say, per analyzer, when it failed (gating) or would have
	// failed (shadow) the release on this run's traffic.
	Detections []Detection `json:"detections,omitempty"`
	// CandidateServed is what the candidate's pods counted themselves over
	// the scoring window (from the analysis trace): under shadow most of it
	// was mirrored traffic whose answers no user saw, so it is what only the
	// analyzers saw; nil without a trace.
	CandidateServed *Served `json:"candidateServed,omitempty"`
	// RootCauseCorrect is the gating analyzer's Detection.RootCauseCorrect:
	// whether it named the bad release's root cause when it stopped it.
	RootCauseCorrect *bool `json:"rootCauseCorrect,omitempty"`
	// Stages is where the run's wall time went, step by step in order, the
	// last one "cleanup" (docs/runner.md).
	Stages []Stage `json:"stages,omitempty"`
}

// Stage is the wall time of one step of a run.
type Stage struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Detection is one analyzer's record over a run's measurements. The gating
// analyzer's answers went to Argo; every other analyzer answered the same
// measurements in shadow, and Argo never saw them.
type Detection struct {
	Analyzer     string `json:"analyzer"`
	Gating       bool   `json:"gating"`
	Measurements int    `json:"measurements"`
	Failed       int    `json:"failed"` // failed measurements
	// DetectedAt is the measurement at which failures exceeded the run's
	// failure limit: when Argo aborted, or would have aborted, the release.
	DetectedAt *time.Time `json:"detectedAt,omitempty"`
	AtSeconds  *float64   `json:"atSeconds"` // DetectedAt, in seconds since the candidate was applied
	// TimeToDetectSeconds is from the fault onset, as Timing's; nil
	// without an onset before the detection.
	TimeToDetectSeconds *float64 `json:"timeToDetectSeconds"`
	// FailedBeforeDetect counts the requests the load generator saw fail
	// that were sent before DetectedAt: the blast radius had this analyzer
	// gated (an upper bound: Argo's abort takes a moment more).
	FailedBeforeDetect *int64 `json:"failedBeforeDetect"`
	// Category is the root cause the analyzer named when it detected (its
	// first failing answer's), empty if it names none.
	Category RootCause `json:"category,omitempty"`
	// RootCauseCorrect says whether Category is the release's RootCause:
	// set on a bad release the analyzer detected and named a category for.
	RootCauseCorrect *bool `json:"rootCauseCorrect,omitempty"`
	// AI sums an AI analyzer's calls in this run; nil for the others.
	AI *AIUsage `json:"ai,omitempty"`
}

// Expectation is one check of a scenario's expect block.
type Expectation struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// Load summarises what the load generator sent and saw.
type Load struct {
	Profile       string  `json:"profile"`
	Users         int     `json:"users"`
	SLOSeconds    float64 `json:"sloSeconds"`
	Total         int64   `json:"total"`
	Unattributed  int64   `json:"unattributed"`
	Aborted       int64   `json:"aborted"`
	AchievedRate  float64 `json:"achievedRate"`
	RequestedRate float64 `json:"requestedRate"`
	PreviewTotal  int64   `json:"previewTotal,omitempty"`
	// Generator is where the users' load was generated: LoadLocal (the
	// harness's own generator) or LoadInCluster (worker pods).
	Generator LoadGenerator `json:"generator,omitempty"`
	// Workers are the in-cluster load workers, one entry each.
	Workers []LoadWorker `json:"workers,omitempty"`
	// LostShare is the share of the load whose workers stopped answering
	// before the load was stopped: from each one's Lost time on, that share
	// of the users' requests was not measured.
	LostShare float64 `json:"lostShare,omitempty"`
}

// LoadGenerator is where a run's load is generated.
type LoadGenerator string

// The load generators.
const (
	LoadLocal     LoadGenerator = "local"
	LoadInCluster LoadGenerator = "in-cluster"
)

// LoadWorker is what became of one in-cluster load worker.
type LoadWorker struct {
	Name  string  `json:"name"`  // its pod
	Share float64 `json:"share"` // of the rate and of the users
	// Records is how many of its requests' records reached the harness;
	// Sent is its own count, when it could give it.
	Records int64  `json:"records"`
	Sent    *int64 `json:"sent,omitempty"`
	// Complete: it finished and every record it sent arrived.
	Complete  bool      `json:"complete"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	LateStart bool      `json:"lateStart,omitempty"` // it got the start after the shared start time
	// Lost is when it stopped answering, if it did.
	Lost  time.Time `json:"lost,omitzero"`
	Error string    `json:"error,omitempty"`
}

// AnalysisCall is one measurement the analysis endpoint served.
type AnalysisCall struct {
	Time        time.Time       `json:"time"`
	Analyzer    string          `json:"analyzer"`
	Hash        string          `json:"hash"`
	StableHash  string          `json:"stableHash,omitempty"`
	Verdict     AnalysisVerdict `json:"verdict"`
	Value       float64         `json:"value"` // the analyzer's main measure; threshold: the error rate
	P99Seconds  float64         `json:"p99Seconds"`
	Requests    float64         `json:"requests"`
	Explanation string          `json:"explanation"`
	Error       string          `json:"error,omitempty"`
	// Category is the root cause the analyzer named, if it names one.
	Category RootCause `json:"category,omitempty"`
	AI       *AICall   `json:"ai,omitempty"` // AI analyzers only
	// Shadow are the other analyzers' answers on the same window, which
	// went nowhere.
	Shadow []ShadowAnswer `json:"shadow,omitempty"`
}

// ShadowAnswer is one analyzer's answer to a measurement it did not gate.
type ShadowAnswer struct {
	Analyzer    string          `json:"analyzer"`
	Verdict     AnalysisVerdict `json:"verdict"`
	Value       float64         `json:"value"`
	Explanation string          `json:"explanation"`
	Category    RootCause       `json:"category,omitempty"`
	AI          *AICall         `json:"ai,omitempty"`
}

// LogExcerpt is the tail of one container's log.
type LogExcerpt struct {
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Version   string `json:"version"`
	Lines     string `json:"lines"`
}

// Failed reports whether any expectation of the run failed.
func (r *Run) Failed() bool {
	for _, e := range r.Expectations {
		if !e.OK {
			return true
		}
	}
	return false
}

// Write writes f to dir/results.json atomically.
func Write(dir string, f *File) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return WriteAtomic(filepath.Join(dir, FileName), append(data, '\n'))
}

// WriteAtomic writes a file of a run set's output directory through a temp
// file and a rename, so that an interrupted write never leaves a truncated
// file. It creates the directory.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Read reads dir/results.json (or the file itself if path is a file), of
// this schema version or version 1.
func Read(path string) (*File, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, FileName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v struct {
		SchemaVersion int `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var f *File
	switch v.SchemaVersion {
	case SchemaVersion:
		f = &File{}
		err = json.Unmarshal(data, f)
	case 1:
		f, err = readV1(data)
	default:
		return nil, fmt.Errorf("%s: schemaVersion %d, this blastradius reads 1 to %d", path, v.SchemaVersion, SchemaVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Served counts requests a version's pods answered, by their own metrics.
type Served struct {
	Requests float64 `json:"requests"`
	Errors   float64 `json:"errors"` // 5xx
}

// AICall is what one answer of an AI analyzer (llm, agent) cost and said
// beyond its verdict. Model, RootCause, Remediation and Raw come from the
// model or agent: untrusted text, escaped wherever shown.
type AICall struct {
	Model            string        `json:"model,omitempty"`
	LatencySeconds   float64       `json:"latencySeconds"` // the whole call, retries and waits included
	Attempts         int           `json:"attempts"`       // HTTP requests sent
	Retries          int           `json:"retries"`
	Status           int           `json:"status"` // HTTP status of the last attempt, 0 without one
	PromptTokens     int64         `json:"promptTokens"`
	CompletionTokens int64         `json:"completionTokens"`
	CostUSD          float64       `json:"costUSD"`
	Failure          string        `json:"failure,omitempty"` // timeout, rate-limited, server-error, transport, rejected, refusal, unparseable; empty when answered
	Policy           FailurePolicy `json:"policy"`            // what a failure became
	Chaos            Chaos         `json:"chaos,omitempty"`   // injected on this call
	RootCause        string        `json:"rootCause,omitempty"`
	Remediation      string        `json:"remediation,omitempty"`
	Raw              string        `json:"raw,omitempty"` // the answer as received, bounded
}

// AIUsage sums an AI analyzer's calls over a run: the cost and latency of
// its decisions.
type AIUsage struct {
	Calls              int            `json:"calls"`
	Failures           map[string]int `json:"failures,omitempty"` // by AICall.Failure
	PromptTokens       int64          `json:"promptTokens"`
	CompletionTokens   int64          `json:"completionTokens"`
	CostUSD            float64        `json:"costUSD"`
	MeanLatencySeconds float64        `json:"meanLatencySeconds"`
	MaxLatencySeconds  float64        `json:"maxLatencySeconds"`
}

// Add counts one call in.
func (u *AIUsage) Add(c AICall) {
	u.MeanLatencySeconds = (u.MeanLatencySeconds*float64(u.Calls) + c.LatencySeconds) / float64(u.Calls+1)
	u.Calls++
	u.MaxLatencySeconds = max(u.MaxLatencySeconds, c.LatencySeconds)
	u.PromptTokens += c.PromptTokens
	u.CompletionTokens += c.CompletionTokens
	u.CostUSD += c.CostUSD
	if c.Failure != "" {
		if u.Failures == nil {
			u.Failures = map[string]int{}
		}
		u.Failures[c.Failure]++
	}
}
