package scenario

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/harness/results"
)

func TestShippedRootCauses(t *testing.T) {
	set, err := LoadAll(filepath.Join("..", "..", "scenarios"))
	require.NoError(t, err)
	want := map[string]results.RootCause{
		"good-release": results.RootCauseNone, "high-error-rate": results.RootCauseErrorRate,
		"low-error-rate": results.RootCauseErrorRate, "latency-regression": results.RootCauseLatency,
		"crash-loop": results.RootCauseCrash, "late-onset": results.RootCauseErrorRate,
		"bursty-errors": results.RootCauseErrorRate, "user-segment": results.RootCauseUserSegment,
		"pod-kills-good-release": results.RootCauseNone, "stable-incident-good-release": results.RootCauseNone,
		"low-traffic": results.RootCauseErrorRate,
	}
	require.Len(t, set, len(want))
	for _, s := range set {
		assert.Equal(t, want[s.Name], s.RootCause, s.Name)
	}
}

func TestFaultRootCause(t *testing.T) {
	for _, tc := range []struct {
		f    demoapp.Faults
		want results.RootCause
	}{
		{demoapp.Faults{}, results.RootCauseNone},
		{demoapp.Faults{ErrorRate: 0.3}, results.RootCauseErrorRate},
		{demoapp.Faults{ErrorRate: 0.3, UserSegment: 0.1}, results.RootCauseUserSegment},
		{demoapp.Faults{ErrorRate: 0.3, CrashAfterRequests: 5}, results.RootCauseCrash},
		{demoapp.Faults{Latency: 1}, results.RootCauseLatency},
		{demoapp.Faults{LeakMiBPerSecond: 8}, results.RootCauseMemoryLeak},
		{demoapp.Faults{Readiness: demoapp.ReadinessFlapping}, results.RootCauseReadiness},
		{demoapp.Faults{Readiness: demoapp.ReadinessReady}, results.RootCauseNone},
	} {
		assert.Equal(t, tc.want, FaultRootCause(tc.f), "%+v", tc.f)
	}
}
