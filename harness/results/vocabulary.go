package results

// The words every package of a run shares. Each is a typed string so that a
// misspelling is a compile error, and each set of values is listed once here.

// GroundTruth says whether a release should be promoted.
type GroundTruth string

const (
	Good GroundTruth = "good"
	Bad  GroundTruth = "bad"
)

// Verdict is a run's outcome judged against the candidate's ground truth.
type Verdict string

const (
	VerdictDetected     Verdict = "detected"     // bad, stopped
	VerdictMissed       Verdict = "missed"       // bad, went through
	VerdictFalseAlarm   Verdict = "false-alarm"  // good, stopped
	VerdictPromoted     Verdict = "promoted"     // good, went through
	VerdictInconclusive Verdict = "inconclusive" // nothing to judge
)

// Verdicts lists every verdict, in report order.
func Verdicts() []Verdict {
	return []Verdict{VerdictDetected, VerdictMissed, VerdictFalseAlarm, VerdictPromoted, VerdictInconclusive}
}

// AppliesTo reports whether the verdict can be the outcome of a release with
// the ground truth: detected and missed are about bad releases, promoted and
// false-alarm about good ones, inconclusive about either.
func (v Verdict) AppliesTo(gt GroundTruth) bool {
	switch v {
	case VerdictDetected, VerdictMissed:
		return gt == Bad
	case VerdictFalseAlarm, VerdictPromoted:
		return gt == Good
	case VerdictInconclusive:
		return true
	}
	return false
}

// Outcome is how a run ended, as the harness observed it.
type Outcome string

const (
	OutcomePromoted Outcome = "promoted" // the candidate became the stable version
	OutcomeAborted  Outcome = "aborted"  // Argo aborted the rollout
	OutcomeDegraded Outcome = "degraded" // the rollout or Deployment gave up without an abort
	OutcomeTimeout  Outcome = "timeout"  // no decision within the scenario's timeout
	// OutcomePaused: Argo paused the rollout on an inconclusive analysis,
	// which only a person ends (promote or abort): nothing more will happen.
	OutcomePaused Outcome = "paused"
	OutcomeError  Outcome = "error" // the harness could not carry the run out
)

// AnalysisVerdict is an analyzer's answer to one measurement, as Argo's
// success and failure conditions test it.
type AnalysisVerdict string

const (
	AnalysisPass         AnalysisVerdict = "pass"
	AnalysisFail         AnalysisVerdict = "fail"
	AnalysisInconclusive AnalysisVerdict = "inconclusive"
)

// RootCause is the category of what is wrong with a release: what an
// analyzer that explains itself (an LLM, an agent) should name, and what
// each bad catalog version and each runtime fault states of itself.
type RootCause string

const (
	RootCauseErrorRate   RootCause = "error-rate"
	RootCauseLatency     RootCause = "latency"
	RootCauseCrash       RootCause = "crash"
	RootCauseMemoryLeak  RootCause = "memory-leak"
	RootCauseReadiness   RootCause = "readiness"
	RootCauseUserSegment RootCause = "user-segment"
	RootCauseNone        RootCause = "none" // a good release
	RootCauseOther       RootCause = "other"
)

// RootCauses lists every category, in report order.
func RootCauses() []RootCause {
	return []RootCause{RootCauseErrorRate, RootCauseLatency, RootCauseCrash, RootCauseMemoryLeak,
		RootCauseReadiness, RootCauseUserSegment, RootCauseNone, RootCauseOther}
}

// Why an AI analyzer's call failed (AICall.Failure): the llm and agent
// analyzers name their failures alike, so reports and the bench count them
// together.
const (
	FailureTimeout     = "timeout"      // an attempt or the budget ran out
	FailureRateLimited = "rate-limited" // 429 after the retries
	FailureServer      = "server-error" // 5xx after the retries
	FailureTransport   = "transport"    // no HTTP answer after the retries
	FailureRejected    = "rejected"     // another 4xx: the request itself is wrong
	FailureRefusal     = "refusal"      // the model refused
	FailureUnparseable = "unparseable"  // no answer could be read
	FailureCanceled    = "canceled"     // the caller's context ended
)

// RootCauseNames are RootCauses as strings, for prompts and schemas.
func RootCauseNames() []string {
	var out []string
	for _, c := range RootCauses() {
		out = append(out, string(c))
	}
	return out
}

// MeasurementPhase is the phase Argo gives a completed measurement.
type MeasurementPhase string

const (
	MeasurementSuccessful   MeasurementPhase = "Successful"
	MeasurementFailed       MeasurementPhase = "Failed"
	MeasurementError        MeasurementPhase = "Error"
	MeasurementInconclusive MeasurementPhase = "Inconclusive"
)

// EventKind names one kind of observation in a run's event log.
type EventKind string

const (
	EventRollout       EventKind = "rollout"        // the Rollout's phase, step, weight or abort changed (Event.Rollout)
	EventAnalysisRun   EventKind = "analysis-run"   // an AnalysisRun changed phase (Event.AnalysisRun)
	EventMeasurement   EventKind = "measurement"    // an analysis measurement completed (Event.Measurement)
	EventReplicaSet    EventKind = "replicaset"     // a ReplicaSet's replica counts changed (Event.ReplicaSet)
	EventPod           EventKind = "pod"            // a pod's phase, readiness or restarts changed (Event.Pod)
	EventFaultInjected EventKind = "fault-injected" // the timeline injected a fault (Event.Fault)
	EventFaultCleared  EventKind = "fault-cleared"  // the timeline cleared a fault (Event.Fault)
	EventCandidate     EventKind = "candidate"      // the candidate was applied: the window starts
	EventLoadStarted   EventKind = "load-started"   // the load generator started
	EventLoadStopped   EventKind = "load-stopped"   // the load generator stopped: the window ends
	EventAborted       EventKind = "aborted"        // decision: Argo aborted the rollout
	EventDegraded      EventKind = "degraded"       // decision: the rollout went Degraded without an abort
	EventPromoted      EventKind = "promoted"       // decision: the candidate became the stable version
	EventTimeout       EventKind = "timeout"        // the run hit its timeout without a decision
	EventPaused        EventKind = "paused"         // decision: Argo paused the rollout on an inconclusive analysis, for a person to decide
)

// IsDecision reports whether the kind ends the wait for a decision: Argo's
// (or the Deployment controller's) verdict on the candidate, or the timeout.
func (k EventKind) IsDecision() bool {
	switch k {
	case EventAborted, EventDegraded, EventPromoted, EventTimeout, EventPaused:
		return true
	}
	return false
}

// Stops reports whether the kind is the strategy stopping the candidate.
func (k EventKind) Stops() bool { return k == EventAborted || k == EventDegraded }

// DecisionEvent is the event kind that records an outcome, if it has one.
func (o Outcome) DecisionEvent() (EventKind, bool) {
	switch o {
	case OutcomeAborted:
		return EventAborted, true
	case OutcomeDegraded:
		return EventDegraded, true
	case OutcomePromoted:
		return EventPromoted, true
	case OutcomeTimeout:
		return EventTimeout, true
	case OutcomePaused:
		return EventPaused, true
	}
	return "", false
}

// FailurePolicy says what verdict an AI analyzer's failed call (a timeout,
// a refusal, a 429 or 5xx past its retries, an unparseable answer) becomes.
type FailurePolicy string

const (
	PolicyInconclusive FailurePolicy = "inconclusive" // the default: Argo counts it against inconclusiveLimit
	PolicyFailOpen     FailurePolicy = "failOpen"     // pass: the rollout goes on
	PolicyFailClosed   FailurePolicy = "failClosed"   // fail: the rollout is stopped
)

// Policies lists every failure policy.
func Policies() []FailurePolicy {
	return []FailurePolicy{PolicyInconclusive, PolicyFailOpen, PolicyFailClosed}
}

// Verdict is the verdict a failed call becomes under p ("" is inconclusive).
func (p FailurePolicy) Verdict() AnalysisVerdict {
	switch p {
	case PolicyFailOpen:
		return AnalysisPass
	case PolicyFailClosed:
		return AnalysisFail
	}
	return AnalysisInconclusive
}

// Chaos is a failure injected on an AI analyzer's path to its model or
// agent, on every call of a run: what the analyzer's failure policy is
// there for.
type Chaos string

const (
	ChaosNone        Chaos = ""
	ChaosDown        Chaos = "down"         // connection refused
	ChaosSlow        Chaos = "slow"         // no answer until the call's budget runs out
	ChaosRateLimited Chaos = "rate-limited" // 429 with Retry-After
	ChaosServerError Chaos = "server-error" // 500
	ChaosGarbage     Chaos = "garbage"      // 200 with a body that is not the API's JSON
	ChaosProse       Chaos = "prose"        // the answer's JSON inside prose
	ChaosFenced      Chaos = "fenced"       // the answer's JSON inside a Markdown code fence
	ChaosNoPromote   Chaos = "no-promote"   // the answer without its promote field
)

// ChaosModes lists every chaos mode, in report order.
func ChaosModes() []Chaos {
	return []Chaos{ChaosDown, ChaosSlow, ChaosRateLimited, ChaosServerError, ChaosGarbage, ChaosProse, ChaosFenced, ChaosNoPromote}
}

// NeedsAnswer reports whether the mode transforms a real answer (and so
// needs the model or agent to answer) rather than replacing it.
func (c Chaos) NeedsAnswer() bool {
	return c == ChaosProse || c == ChaosFenced || c == ChaosNoPromote
}
