package demo

import (
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// State is everything a viewer shows at one instant: the dashboard gets it
// as JSON over Server-Sent Events, the terminal view renders it. It is a
// value: a viewer never reaches back into the session.
type State struct {
	Seq  uint64    `json:"seq"` // increases with every snapshot
	Time time.Time `json:"time"`
	// Phase is what the session is doing.
	Phase Phase `json:"phase"`
	// Connected is false while the cluster's API server does not answer;
	// Notice then says so (the dashboard keeps drawing the traffic).
	Connected bool   `json:"connected"`
	Notice    string `json:"notice,omitempty"`

	// Dashboard is the dashboard's address, for the terminal view.
	Dashboard string `json:"dashboard,omitempty"`
	Platform  string `json:"platform"`
	Namespace string `json:"namespace"`
	// Strategy and Analyzer are those of the next release (a release in
	// progress keeps its own, in Release).
	Strategy   string   `json:"strategy"`
	Analyzer   string   `json:"analyzer"`
	Strategies []Choice `json:"strategies"`
	Analyzers  []Choice `json:"analyzers"`
	Variants   []Choice `json:"variants"` // the bad releases on offer
	Faults     []Choice `json:"faults"`   // the runtime faults on offer

	// Stable is the version serving users between releases; Versions maps
	// every version tag on screen to its colour.
	Stable   string             `json:"stable"`
	Versions map[string]Version `json:"versions"`
	SLO      SLO                `json:"slo"`

	// Grid is the most recent requests, oldest first.
	Grid []Cell `json:"grid"`
	// Series is the last seconds of load, oldest first.
	Series []Tick `json:"series"`

	Rollout     Rollout       `json:"rollout"`
	ReplicaSets []ReplicaSet  `json:"replicaSets"`
	Analysis    []AnalysisRun `json:"analysis"`

	// Release is the release in progress, or the last one.
	Release *Release  `json:"release,omitempty"`
	History []Release `json:"history"` // ended releases, newest first

	Controls map[Control]Availability `json:"controls"`
	Log      []LogLine                `json:"log"` // newest last

	HeapBytes uint64 `json:"heapBytes"` // the harness's live heap, for soak checks
}

// Phase is the session's state.
type Phase string

const (
	PhaseStarting  Phase = "starting"  // bringing the cluster and the stable version up
	PhaseIdle      Phase = "idle"      // the stable version serves; ready for a release
	PhaseReleasing Phase = "releasing" // a candidate is rolling out; Argo decides
	PhaseSettling  Phase = "settling"  // decided; traffic settles, then the score
	PhaseSwitching Phase = "switching" // redeploying the stable version under another strategy
	PhaseStopping  Phase = "stopping"
)

// Choice is one option of a control.
type Choice struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
}

// Version is how a version looks on screen.
type Version struct {
	Color string `json:"color"` // the catalog colour, e.g. "green"
	Good  bool   `json:"good"`
	// Variant is the catalog's defect prefix ("bad", "slow", ...); "" when healthy.
	Variant string `json:"variant,omitempty"`
}

// SLO is what counts as a failed request, and the error-rate line drawn.
type SLO struct {
	LatencyMs float64 `json:"latencyMs"` // 0: none
	ErrorRate float64 `json:"errorRate"` // the chart's SLO line, a fraction
}

// Cell is one request of the grid.
type Cell struct {
	Version string `json:"v"` // "" when no version answered
	Failed  bool   `json:"f"`
	AgeMs   int64  `json:"a"` // how long ago it was sent
}

// Tick is one second of load by version.
type Tick struct {
	Unix     int64                `json:"t"`
	Versions map[string]TickStats `json:"v"`
}

// TickStats are one version's requests in one second ("" is unattributed).
type TickStats struct {
	Requests int64 `json:"n"`
	Failed   int64 `json:"f"`
}

// Rollout is the workload as Argo (or the Deployment controller) reports it.
type Rollout struct {
	Kind    string `json:"kind"` // Rollout or Deployment; "" before it exists
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	Step    int64  `json:"step"`
	Steps   int64  `json:"steps"`
	// SetWeight is the candidate's weight Argo set, percent; -1 unknown.
	SetWeight int64 `json:"setWeight"`
	// ObservedShare is the candidate's share of the requests the load saw
	// in the last seconds, percent; -1 with no candidate.
	ObservedShare float64 `json:"observedShare"`
	Paused        bool    `json:"paused"`
	Aborted       bool    `json:"aborted"`
}

// ReplicaSet is one version's ReplicaSet and its pods.
type ReplicaSet struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Replicas int32  `json:"replicas"`
	Ready    int32  `json:"ready"`
	Pods     []Pod  `json:"pods"`
}

// Pod is one pod of a ReplicaSet.
type Pod struct {
	Name     string `json:"name"`
	Phase    string `json:"phase"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
	Waiting  string `json:"waiting,omitempty"` // e.g. CrashLoopBackOff
	Gone     bool   `json:"gone,omitempty"`    // terminating
}

// AnalysisRun is one of Argo's AnalysisRuns with its measurements.
type AnalysisRun struct {
	Name         string        `json:"name"`
	Phase        string        `json:"phase"`
	Measurements []Measurement `json:"measurements"` // oldest first
}

// Measurement is one measurement as Argo recorded it; Explanation is the
// analyzer's (untrusted for AI analyzers: viewers escape it).
type Measurement struct {
	Metric      string    `json:"metric"`
	Phase       string    `json:"phase"`
	Value       string    `json:"value,omitempty"`
	Explanation string    `json:"explanation,omitempty"`
	At          time.Time `json:"at"`
}

// Release is one release: its live blast radius, then its score.
type Release struct {
	ID        int       `json:"id"`
	Strategy  string    `json:"strategy"`
	Analyzer  string    `json:"analyzer"`
	Stable    string    `json:"stable"`
	Candidate string    `json:"candidate"`
	Good      bool      `json:"good"` // the catalog's ground truth
	StartedAt time.Time `json:"startedAt"`
	// Live blast radius since the candidate was applied.
	Requests      int64    `json:"requests"`
	Failed        int64    `json:"failed"`
	UsersAffected int      `json:"usersAffected"`
	SinceOnsetS   *float64 `json:"sinceOnsetS,omitempty"` // since the first failed request of the release
	ElapsedS      float64  `json:"elapsedS"`
	Faults        []string `json:"faults,omitempty"` // runtime faults injected by hand
	// Outcome is set once Argo decided; Score once the release ended.
	Outcome results.Outcome `json:"outcome,omitempty"`
	Score   *Score          `json:"score,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// Score is a release's score, from the load's records (docs/scoring.md).
type Score struct {
	Verdict        results.Verdict `json:"verdict"`
	FailedRequests int64           `json:"failedRequests"`
	TotalRequests  int64           `json:"totalRequests"`
	UsersAffected  int             `json:"usersAffected"`
	TimeToDetectS  *float64        `json:"timeToDetectS,omitempty"`
	TimeToRecoverS *float64        `json:"timeToRecoverS,omitempty"`
}

// Control names a thing a viewer can ask for.
type Control string

const (
	ControlReleaseGood Control = "release-good"
	ControlReleaseBad  Control = "release-bad"
	ControlFault       Control = "fault"
	ControlPromote     Control = "promote"
	ControlAbort       Control = "abort"
	ControlStrategy    Control = "strategy"
	ControlAnalyzer    Control = "analyzer"
)

// Controls lists every control, in the order viewers show them.
var Controls = []Control{ControlReleaseGood, ControlReleaseBad, ControlFault, ControlPromote, ControlAbort, ControlStrategy, ControlAnalyzer}

// Availability says whether a control can act now, and if not, why.
type Availability struct {
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason,omitempty"`
}

// LogLine is one line of the session's log, for the audience.
type LogLine struct {
	Time time.Time `json:"time"`
	Kind LogKind   `json:"kind"`
	Text string    `json:"text"`
}

// LogKind sorts log lines.
type LogKind string

const (
	LogInfo    LogKind = "info"
	LogRefused LogKind = "refused" // a control that could not act
	LogError   LogKind = "error"
	LogVerdict LogKind = "verdict" // a release ended
)
