package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/reports"
)

func reportSet(t *testing.T, failed int64, verdict results.Verdict) string {
	t.Helper()
	applied := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	f := &results.File{SchemaVersion: results.SchemaVersion, Environment: results.Environment{Platform: "local", Harness: "test"}}
	for seed := int64(1); seed <= 2; seed++ {
		r := results.Run{ID: "s/canary-analysis/threshold/seed-" + string(rune('0'+seed)), Scenario: "s", Strategy: "canary-analysis",
			Analyzer: "threshold", Seed: seed, GroundTruth: "bad", Stable: "blue", Candidate: "bad-green", Outcome: "aborted",
			AppliedAt: applied, StartedAt: applied.Add(-time.Minute), EndedAt: applied.Add(time.Minute),
			Expectations: []results.Expectation{{Name: "verdict", OK: true, Message: "ok"}}}
		r.Verdict = verdict
		r.BlastRadius.FailedRequests = failed
		for i := 0; i < 60; i++ {
			r.Series = append(r.Series, results.Second{Index: i, Requests: 100, Versions: map[string]results.VersionSecond{"blue": {Requests: 100}}})
		}
		f.Runs = append(f.Runs, r)
	}
	dir := t.TempDir()
	require.NoError(t, results.Write(dir, f))
	return dir
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return ExitHarness
	}
	return ExitOK
}

func TestReportWritesFiles(t *testing.T) {
	dir := reportSet(t, 40, results.VerdictDetected)
	out, err := run(t, "report", dir)
	require.NoError(t, err)
	for _, name := range []string{reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile} {
		assert.FileExists(t, filepath.Join(dir, name))
		assert.Contains(t, out, filepath.Join(dir, name))
	}
	// The path of results.json itself works too.
	_, err = run(t, "report", filepath.Join(dir, results.FileName))
	require.NoError(t, err)
}

func TestReportBaseline(t *testing.T) {
	old := reportSet(t, 40, results.VerdictDetected)

	same := reportSet(t, 44, results.VerdictDetected)
	out, err := run(t, "report", same, "--baseline", old)
	require.NoError(t, err, "4 more failed requests is noise")
	assert.Contains(t, out, "no regression")

	worse := reportSet(t, 400, results.VerdictMissed)
	out, err = run(t, "report", worse, "--baseline", old)
	require.Error(t, err)
	assert.Equal(t, ExitExpectation, exitCode(err))
	assert.Contains(t, out, "s/canary-analysis/threshold: failed requests 40.0±0.0 → 400.0±0.0, above the noise limit 50.0")
	assert.Contains(t, out, "wrong verdicts 0/2 → 2/2")
	md, err := os.ReadFile(filepath.Join(worse, reports.MarkdownFile))
	require.NoError(t, err)
	assert.Contains(t, string(md), "Regression against the baseline")
}

func TestReportSameVerdicts(t *testing.T) {
	old := reportSet(t, 40, results.VerdictMissed)
	better := reportSet(t, 30, results.VerdictDetected)
	out, err := run(t, "report", better, "--baseline", old)
	require.NoError(t, err, "missed -> detected is no regression")
	assert.Contains(t, out, "no regression")

	out, err = run(t, "report", better, "--baseline", old, "--same-verdicts")
	require.Error(t, err)
	assert.Equal(t, ExitExpectation, exitCode(err))
	assert.Contains(t, out, "s/canary-analysis/threshold/seed-1: verdict missed -> detected")
	assert.Contains(t, out, "s/canary-analysis/threshold/seed-2: verdict missed -> detected")

	_, err = run(t, "report", reportSet(t, 41, results.VerdictMissed), "--baseline", old, "--same-verdicts")
	require.NoError(t, err)
	_, err = run(t, "report", better, "--same-verdicts")
	assert.Equal(t, ExitHarness, exitCode(err), "--same-verdicts needs --baseline")
}

func TestReportErrors(t *testing.T) {
	_, err := run(t, "report", t.TempDir())
	assert.Equal(t, ExitHarness, exitCode(err), "no results.json")
	_, err = run(t, "report", reportSet(t, 1, results.VerdictDetected), "--baseline", t.TempDir())
	assert.Equal(t, ExitHarness, exitCode(err))
	_, err = run(t, "report")
	assert.Error(t, err, "DIR is required")
}
