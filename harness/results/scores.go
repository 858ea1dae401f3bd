package results

import "time"

// Scores are one run's scores (definitions: docs/scoring.md, computed by
// harness/score). The JSON names are read by external scripts.
type Scores struct {
	Verdict     Verdict     `json:"verdict"`
	BlastRadius BlastRadius `json:"blastRadius"`
	Timing      Timing      `json:"timing"`
	// Excluded counts records not scored: aborted by the harness, or sent
	// outside the window.
	Excluded int64 `json:"excludedRequests"`
}

// BlastRadius counts what users saw within the window.
type BlastRadius struct {
	TotalRequests           int64   `json:"totalRequests"`
	FailedRequests          int64   `json:"failedRequests"`
	CandidateFailedRequests int64   `json:"candidateFailedRequests"`
	UnattributedErrors      int64   `json:"unattributedErrors"`
	CandidateShare          float64 `json:"candidateShare"`
	PeakExposure            int64   `json:"peakExposure"`
	PeakExposureRate        float64 `json:"peakExposureRate"`
	UsersAffected           int     `json:"usersAffected"`
	UsersTotal              int     `json:"usersTotal"`
}

// Timing holds seconds since the candidate was applied (or between two
// moments); nil, null in JSON, when not applicable.
type Timing struct {
	FaultOnsetSeconds                   *float64 `json:"faultOnsetSeconds"`
	TimeToFirstFailedMeasurementSeconds *float64 `json:"timeToFirstFailedMeasurementSeconds"`
	TimeToAbortSeconds                  *float64 `json:"timeToAbortSeconds"`
	TimeToDetectSeconds                 *float64 `json:"timeToDetectSeconds"`
	TimeToRecoverSeconds                *float64 `json:"timeToRecoverSeconds"`
	TimeToPromoteSeconds                *float64 `json:"timeToPromoteSeconds"`
}

// Window is the scoring window: requests sent in [Start, End) count.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether a request sent at t is in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// VersionSecond is one version's requests within one second. Percentiles
// are exact (nearest rank) over the second's latencies.
type VersionSecond struct {
	Requests int64         `json:"requests"`
	Failed   int64         `json:"failed"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
}

// Second is one second of the window.
type Second struct {
	Index    int       `json:"index"` // seconds since the window's start
	Start    time.Time `json:"start"`
	Requests int64     `json:"requests"` // all versions and unattributed
	Failed   int64     `json:"failed"`
	// Versions holds attributed requests by version; Unattributed the rest.
	Versions     map[string]VersionSecond `json:"versions"`
	Unattributed VersionSecond            `json:"unattributed"`
}
