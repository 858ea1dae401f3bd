// Package results is the schema of results.json, written by `blastradius
// run` and read by the reports. The schema is versioned; field names marked
// fixed in docs/scoring.md are relied on by scripts outside the repo.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/blastradius/blastradius/harness/fault"
	"github.com/blastradius/blastradius/harness/score"
)

// SchemaVersion is bumped on any incompatible change.
const SchemaVersion = 1

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
	ID           string `json:"id"`
	Scenario     string `json:"scenario"`
	ScenarioFile string `json:"scenarioFile"`
	Description  string `json:"description,omitempty"`
	Strategy     string `json:"strategy"`
	Analyzer     string `json:"analyzer"`
	Seed         int64  `json:"seed"`
	GroundTruth  string `json:"groundTruth"` // good | bad
	Stable       string `json:"stable"`
	Candidate    string `json:"candidate"`
	Namespace    string `json:"namespace"`

	score.Scores

	// Outcome is how the run ended: promoted, aborted, degraded, timeout,
	// or error.
	Outcome      string         `json:"outcome"`
	Error        string         `json:"error,omitempty"`
	Expectations []Expectation  `json:"expectations"`
	StartedAt    time.Time      `json:"startedAt"`
	AppliedAt    time.Time      `json:"candidateAppliedAt"`
	EndedAt      time.Time      `json:"endedAt"`
	Load         Load           `json:"load"`
	Events       []Event        `json:"events"`
	Faults       []fault.Record `json:"faults"`
	Series       []score.Second `json:"series"`
	// Analysis is every call Argo made to the analysis endpoint for this run,
	// with the analyzer's verdict and explanation (untrusted text).
	Analysis []AnalysisCall `json:"analysis"`
	// Logs are excerpts of the candidate's pod logs (untrusted text).
	Logs []LogExcerpt `json:"logs"`
	// Records is the per-request NDJSON file, relative to results.json.
	Records string `json:"records"`
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
}

// Event is one timestamped observation of the run: rollout, analysis,
// ReplicaSet and pod changes, faults, load.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Object  string    `json:"object,omitempty"`
	Message string    `json:"message"`
	Phase   string    `json:"phase,omitempty"`
	Value   string    `json:"value,omitempty"`
}

// AnalysisCall is one measurement the analysis endpoint served.
type AnalysisCall struct {
	Time        time.Time `json:"time"`
	Analyzer    string    `json:"analyzer"`
	Hash        string    `json:"hash"`
	Verdict     string    `json:"verdict"` // pass | fail | inconclusive
	Value       float64   `json:"value"`   // the error rate, for threshold
	P99Seconds  float64   `json:"p99Seconds"`
	Requests    float64   `json:"requests"`
	Explanation string    `json:"explanation"`
	Error       string    `json:"error,omitempty"`
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

// Write writes f to dir/results.json through a temp file, so an interrupted
// write never leaves a truncated file.
func Write(dir string, f *File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+FileName+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, FileName))
}

// Read reads dir/results.json (or the file itself if path is a file).
func Read(path string) (*File, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, FileName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%s: schemaVersion %d, this blastradius reads %d", path, f.SchemaVersion, SchemaVersion)
	}
	return &f, nil
}
