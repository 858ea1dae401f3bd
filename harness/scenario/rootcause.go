package scenario

import (
	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/harness/results"
)

// rootCause is the category of the release's defect, what an analyzer that
// explains itself should name: none for a good release; else the last
// runtime fault that targets the candidate, if any (it is what makes the
// release bad), or the candidate version's own.
func rootCause(s *Scenario) results.RootCause {
	if s.GroundTruth == results.Good {
		return results.RootCauseNone
	}
	rc := s.Candidate.RootCause
	for _, f := range s.Faults {
		if f.Runtime != nil && f.Runtime.Target == TargetCandidate {
			rc = FaultRootCause(f.Runtime.Faults)
		}
	}
	if rc == "" || rc == results.RootCauseNone {
		return results.RootCauseOther
	}
	return rc
}

// FaultRootCause is the category of a set of demo app faults: the one that
// shows first to a user, when several are set (a crash hides the rest).
func FaultRootCause(f demoapp.Faults) results.RootCause {
	switch {
	case f.CrashOnStart || f.CrashAfterRequests > 0 || f.CrashPath != "":
		return results.RootCauseCrash
	case f.UserSegment > 0:
		return results.RootCauseUserSegment
	case f.ErrorRate > 0:
		return results.RootCauseErrorRate
	case f.Latency > 0 || f.CPUBurn > 0:
		return results.RootCauseLatency
	case f.LeakMiBPerSecond > 0:
		return results.RootCauseMemoryLeak
	case f.Readiness != "" && f.Readiness != demoapp.ReadinessReady:
		return results.RootCauseReadiness
	}
	return results.RootCauseNone
}
