package results

import "time"

// Event is one timestamped observation of a run. Kind says which one of the
// typed payloads is set; nothing in the harness writes a sentence for
// another package to parse. Strings inside payloads that come from outside
// the harness (Argo's messages, an analyzer's answer) are untrusted text.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   EventKind `json:"kind"`
	Object string    `json:"object,omitempty"` // the Kubernetes object's name, where there is one

	Rollout     *RolloutStatus     `json:"rollout,omitempty"`
	AnalysisRun *AnalysisRunStatus `json:"analysisRun,omitempty"`
	Measurement *Measurement       `json:"measurement,omitempty"`
	ReplicaSet  *ReplicaSetStatus  `json:"replicaSet,omitempty"`
	Pod         *PodStatus         `json:"pod,omitempty"`
	Fault       *FaultChange       `json:"fault,omitempty"`
	// Detail is text for people only, never read by the harness: the
	// message of an event converted from a schemaVersion 1 file.
	Detail string `json:"detail,omitempty"`
}

// RolloutStatus is the part of a Rollout's status a run records.
type RolloutStatus struct {
	Phase         string `json:"phase"`
	Step          int64  `json:"step"`   // status.currentStepIndex
	Steps         int64  `json:"steps"`  // canary steps in the spec; 0 for blue-green
	Weight        int64  `json:"weight"` // the canary weight in effect, %: the last setWeight reached
	Abort         bool   `json:"abort"`
	Replicas      int64  `json:"replicas"`
	ReadyReplicas int64  `json:"readyReplicas"`
	Message       string `json:"message,omitempty"` // Argo's status.message (untrusted)
}

// AnalysisRunStatus is an AnalysisRun's phase.
type AnalysisRunStatus struct {
	Phase string `json:"phase"`
}

// Measurement is one completed analysis measurement as Argo recorded it.
type Measurement struct {
	AnalysisRun string           `json:"analysisRun"`
	Metric      string           `json:"metric"`
	Phase       MeasurementPhase `json:"phase"`
	// Value is the measured value as Argo stored it: for the web provider,
	// the analyzer's whole JSON answer (untrusted).
	Value   string `json:"value,omitempty"`
	Message string `json:"message,omitempty"` // Argo's message (untrusted)
}

// ReplicaSetStatus is a ReplicaSet's image and replica counts.
type ReplicaSetStatus struct {
	Image         string `json:"image"`
	Replicas      int32  `json:"replicas"`
	ReadyReplicas int32  `json:"readyReplicas"`
}

// PodStatus is what a run records of a pod.
type PodStatus struct {
	Image       string `json:"image"`
	Phase       string `json:"phase"`
	Ready       bool   `json:"ready"`
	Restarts    int32  `json:"restarts"`
	Waiting     string `json:"waiting,omitempty"` // a container's waiting reason, e.g. CrashLoopBackOff
	Terminating bool   `json:"terminating,omitempty"`
}

// FaultChange is a fault injected or cleared: Index points into Run.Faults.
type FaultChange struct {
	Index       int    `json:"index"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
	Error       string `json:"error,omitempty"`
}

// FaultRecord is what happened to one fault of the timeline.
type FaultRecord struct {
	Kind        string     `json:"kind"`
	Description string     `json:"description"`
	At          float64    `json:"atSeconds"`
	InjectedAt  *time.Time `json:"injectedAt"`
	ClearedAt   *time.Time `json:"clearedAt"`
	Touched     []string   `json:"touched,omitempty"`
	Error       string     `json:"error,omitempty"`
}
