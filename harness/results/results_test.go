package results

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIsALeaf keeps results.json readable without compiling the harness:
// the package imports the standard library only.
func TestIsALeaf(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range ast.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			first := strings.Split(path, "/")[0]
			assert.NotContains(t, first, ".", "%s imports %s: results imports the standard library only", f, path)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f := &File{SchemaVersion: SchemaVersion, Runs: []Run{{ID: "a", GroundTruth: Bad, Outcome: OutcomeAborted,
		Window: Window{Start: at, End: at.Add(time.Minute)},
		Events: []Event{{Time: at, Kind: EventRollout, Object: "demo", Rollout: &RolloutStatus{Phase: "Paused", Step: 1, Steps: 6, Weight: 10}}}}}}
	require.NoError(t, Write(dir, f))
	got, err := Read(dir)
	require.NoError(t, err)
	assert.Equal(t, f.Runs[0].Events, got.Runs[0].Events)
	assert.True(t, got.Runs[0].Window.End.Equal(at.Add(time.Minute)))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "no temp file left behind")

	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), []byte(`{"schemaVersion": 9}`), 0o644))
	_, err = Read(dir)
	assert.ErrorContains(t, err, "schemaVersion 9, this blastradius reads 1 to 2")
}

// TestReadV1 converts the sentences of a schemaVersion 1 file into typed
// events, in the formats the old runner wrote them.
func TestReadV1(t *testing.T) {
	v1 := `{"schemaVersion": 1, "runs": [{"id": "r", "groundTruth": "bad", "outcome": "aborted",
	  "faults": [{"kind": "traffic", "description": "traffic x3", "atSeconds": 5}],
	  "events": [
	    {"time": "2026-11-30T12:00:01Z", "kind": "rollout", "object": "demo", "message": "phase Paused step 1/6 weight 10 abort false CanaryPauseStep"},
	    {"time": "2026-11-30T12:00:02Z", "kind": "measurement", "object": "demo-6c4-2/candidate-health", "phase": "Failed", "value": "{\"verdict\":\"fail\"}", "message": "Failed metric assessed Failed"},
	    {"time": "2026-11-30T12:00:03Z", "kind": "fault", "message": "injected: traffic x3"},
	    {"time": "2026-11-30T12:00:04Z", "kind": "fault", "message": "cleared: traffic x3 (restore faults: gone)"},
	    {"time": "2026-11-30T12:00:05Z", "kind": "load", "message": "load stopped"},
	    {"time": "2026-11-30T12:00:06Z", "kind": "analysis-run", "object": "demo-6c4-2", "message": "phase Failed"},
	    {"time": "2026-11-30T12:00:07Z", "kind": "aborted", "message": "rollout aborted"}
	  ]}]}`
	path := filepath.Join(t.TempDir(), "old.json")
	require.NoError(t, os.WriteFile(path, []byte(v1), 0o644))
	f, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, SchemaVersion, f.SchemaVersion)
	ev := f.Runs[0].Events
	require.Len(t, ev, 7)
	assert.Equal(t, &RolloutStatus{Phase: "Paused", Step: 1, Steps: 6, Weight: 10, Message: "CanaryPauseStep"}, ev[0].Rollout)
	assert.Equal(t, &Measurement{AnalysisRun: "demo-6c4-2", Metric: "candidate-health", Phase: MeasurementFailed,
		Value: `{"verdict":"fail"}`, Message: "metric assessed Failed"}, ev[1].Measurement)
	assert.Equal(t, EventFaultInjected, ev[2].Kind)
	assert.Equal(t, &FaultChange{Index: 0, Kind: "traffic", Description: "traffic x3"}, ev[2].Fault)
	assert.Equal(t, EventFaultCleared, ev[3].Kind)
	assert.Equal(t, 0, ev[3].Fault.Index, "an error after the description still finds the record")
	assert.Equal(t, EventLoadStopped, ev[4].Kind)
	assert.Equal(t, &AnalysisRunStatus{Phase: "Failed"}, ev[5].AnalysisRun)
	assert.Equal(t, EventAborted, ev[6].Kind)
	assert.True(t, ev[6].Kind.IsDecision() && ev[6].Kind.Stops())
	assert.Equal(t, "rollout aborted", ev[6].Detail, "untyped events keep their text for people")
}

func TestVocabulary(t *testing.T) {
	for _, o := range []Outcome{OutcomeAborted, OutcomeDegraded, OutcomePromoted, OutcomeTimeout} {
		k, ok := o.DecisionEvent()
		assert.True(t, ok && k.IsDecision(), o)
	}
	_, ok := OutcomeError.DecisionEvent()
	assert.False(t, ok, "an error is no decision")
	assert.True(t, VerdictDetected.AppliesTo(Bad))
	assert.False(t, VerdictDetected.AppliesTo(Good))
	assert.True(t, VerdictInconclusive.AppliesTo(Good))
	assert.False(t, Verdict("nope").AppliesTo(Bad))
}
