package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/loadgen"
)

// runShipped runs the scenarios of scenarios/DIR on the local platform,
// skipping without the tools, and reads the results back.
func runShipped(t *testing.T, dir string, parallel int) (string, *results.File, *bytes.Buffer) {
	t.Helper()
	bin := os.Getenv("BLASTRADIUS_BIN")
	if testing.Short() || bin == "" {
		t.Skip("needs the tools: run `make test` (BLASTRADIUS_BIN unset or -short)")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runScenarios(context.Background(), &stdout, &stderr,
		runOptions{platform: "local", out: out, parallel: parallel, binDir: bin, quiet: true},
		[]string{filepath.Join("..", "..", "scenarios", dir)}, nil)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	set, err := results.Read(out)
	require.NoError(t, err)
	return out, set, &stdout
}

// runBinary runs the built bin/blastradius with args, as a user would, and
// returns its stdout and stderr.
func runBinary(t *testing.T, args ...string) (string, string) {
	t.Helper()
	bin := os.Getenv("BLASTRADIUS_BIN")
	if testing.Short() || bin == "" {
		t.Skip("needs the tools: run `make test` (BLASTRADIUS_BIN unset or -short)")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, "blastradius"), append(args, "--bin", bin)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr:\n%s", stderr.String())
	return stdout.String(), stderr.String()
}

// klogLine is the header of a klog line (client-go's log): I1201
// 13:16:32.123456   1234 file.go:12].
var klogLine = regexp.MustCompile(`(?m)^[IWEF][0-9]{4} [0-9:.]+ +[0-9]+ [^ ]+:[0-9]+\]`)

func TestKlogLineMatchesClientGoLines(t *testing.T) {
	assert.Regexp(t, klogLine, "run 1/1: x\nE1201 13:16:32.123456    1234 event.go:359] \"Server rejected event (will not retry!)\"")
	assert.NotRegexp(t, klogLine, "[smoke/canary-analysis/threshold/seed-1] t+  3s Progressing step 1/6")
}

// TestRunSmokeScenario runs the short smoke scenario end to end on the local
// platform with the built binary: a bad release under canary-analysis must
// be detected by Argo through the threshold analyzer, every request
// accounted for, and the terminal must show the user's lines only.
func TestRunSmokeScenario(t *testing.T) {
	out := t.TempDir()
	stdoutText, stderrText := runBinary(t, "run", filepath.Join("..", "..", "scenarios", "smoke"), "--out", out)
	set, err := results.Read(out)
	require.NoError(t, err)
	stdout := bytes.NewBufferString(stdoutText)
	assert.NotRegexp(t, klogLine, stderrText, "library log lines belong in the cluster's log files, not on the terminal")
	assert.NotRegexp(t, klogLine, stdoutText)
	assert.Contains(t, stderrText, "smoke/canary-analysis/threshold/seed-1] t+", "the run's status lines (plain, without a terminal)")
	require.Len(t, set.Runs, 1)
	r := set.Runs[0]
	assert.Equal(t, "smoke", r.Scenario)
	assert.Equal(t, "canary-analysis", r.Strategy)
	assert.Equal(t, results.Bad, r.GroundTruth)
	assert.Equal(t, results.VerdictDetected, r.Verdict)
	assert.Equal(t, results.OutcomeAborted, r.Outcome)
	assert.Positive(t, r.BlastRadius.CandidateFailedRequests)
	assert.NotNil(t, r.Timing.TimeToDetectSeconds)
	assert.False(t, r.Failed(), "expectations: %+v", r.Expectations)
	assert.Equal(t, r.Load.Total, r.BlastRadius.TotalRequests+r.Excluded, "every request is accounted for")
	assert.Equal(t, r.AppliedAt, r.Window.Start)
	assert.True(t, r.Window.End.After(r.Window.Start))
	assertRecomputes(t, filepath.Join(out, r.Records), r)
	assert.NotEmpty(t, set.Environment.Kubernetes)
	require.NotEmpty(t, r.Stages)
	assert.Equal(t, "namespace", r.Stages[0].Name)
	assert.Equal(t, "cleanup", r.Stages[len(r.Stages)-1].Name, "where the run's time went, step by step")
	assert.FileExists(t, filepath.Join(out, r.Records))
	assert.Contains(t, stdout.String(), "smoke")
	for _, f := range []string{"report.html", "junit.xml", "summary.md"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
}

// assertRecomputes recomputes the fixed blast-radius fields of r from its
// records with the published window and SLO, following docs/scoring.md
// rather than calling harness/score, and checks that no request of the run
// was sent outside the window but the warm-up before it.
func assertRecomputes(t *testing.T, records string, r results.Run) {
	t.Helper()
	f, err := os.Open(records)
	require.NoError(t, err)
	defer f.Close()
	slo := time.Duration(r.Load.SLOSeconds * float64(time.Second))
	var total, failed, candFailed, after int64
	hurt := map[string]bool{}
	require.NoError(t, loadgen.ReadRecords(f, func(rec loadgen.Record) error {
		if rec.Time.Before(r.Window.Start) || rec.Aborted {
			return nil
		}
		if !rec.Time.Before(r.Window.End) {
			after++
			return nil
		}
		total++
		if rec.Code >= 500 || rec.Code == 0 || (slo > 0 && rec.Latency > slo) {
			failed++
			if rec.Version == r.Candidate {
				candFailed++
			}
			if rec.User != "" {
				hurt[rec.User] = true
			}
		}
		return nil
	}))
	assert.Zero(t, after, "requests sent after the window's end")
	b := r.BlastRadius
	assert.Equal(t, b.TotalRequests, total, "totalRequests")
	assert.Equal(t, b.FailedRequests, failed, "failedRequests")
	assert.Equal(t, b.CandidateFailedRequests, candFailed, "candidateFailedRequests")
	assert.Equal(t, b.UsersAffected, len(hurt), "usersAffected")
}

// TestRecomputeResultsDir checks a whole run set the way the smoke test
// checks its run: BLASTRADIUS_RESULTS=out go test ./harness/cli -run
// TestRecomputeResultsDir (after `make scenario`).
func TestRecomputeResultsDir(t *testing.T) {
	dir := os.Getenv("BLASTRADIUS_RESULTS")
	if dir == "" {
		t.Skip("set BLASTRADIUS_RESULTS to a run set's output directory")
	}
	set, err := results.Read(dir)
	require.NoError(t, err)
	require.NotEmpty(t, set.Runs)
	for _, r := range set.Runs {
		if r.Error != "" {
			continue
		}
		t.Run(r.ID, func(t *testing.T) {
			assert.Equal(t, r.Load.Total, r.BlastRadius.TotalRequests+r.Excluded, "every request is accounted for")
			assertRecomputes(t, filepath.Join(dir, r.Records), r)
		})
	}
}

// TestRunAnalyzersEndToEnd runs scenarios/analyzers on the local platform:
// a bad release must be aborted by Argo's prometheus provider querying the
// cluster's real Prometheus, and by kayenta through the analysis endpoint;
// a good release must be promoted by both. Every run records its trace,
// the other analyzers' shadow answers, and a detection per analyzer.
func TestRunAnalyzersEndToEnd(t *testing.T) {
	out, set, _ := runShipped(t, "analyzers", 2)
	require.Len(t, set.Runs, 4)
	for _, r := range set.Runs {
		t.Run(r.ID, func(t *testing.T) {
			want, outcome := results.VerdictPromoted, results.OutcomePromoted
			if r.GroundTruth == results.Bad {
				want, outcome = results.VerdictDetected, results.OutcomeAborted
			}
			assert.Equal(t, want, r.Verdict, "expectations: %+v", r.Expectations)
			assert.Equal(t, outcome, r.Outcome)
			assert.False(t, r.Failed(), "expectations: %+v", r.Expectations)
			assertRecomputes(t, filepath.Join(out, r.Records), r)

			var measured []string
			for _, e := range r.Events {
				if e.Kind == results.EventMeasurement && e.Measurement.Phase != results.MeasurementError {
					measured = append(measured, e.Measurement.Metric)
				}
			}
			if r.Analyzer == "prometheus" {
				assert.Contains(t, measured, "error-rate", "Argo measured through Prometheus")
				assert.Empty(t, r.Analysis, "Argo never called the endpoint")
			} else {
				assert.Contains(t, measured, "candidate-health")
				require.NotEmpty(t, r.Analysis)
				for _, c := range r.Analysis {
					assert.Equal(t, "kayenta", c.Analyzer)
					assert.Len(t, c.Shadow, len(analysis.Builtin())-1, "every other builtin analyzer answered in shadow")
				}
			}
			require.Len(t, r.Detections, len(analysis.Builtin()))
			for _, d := range r.Detections {
				assert.Equal(t, d.Analyzer == r.Analyzer, d.Gating, d.Analyzer)
				assert.Positive(t, d.Measurements, d.Analyzer)
				if d.Gating && r.GroundTruth == results.Bad {
					require.NotNil(t, d.DetectedAt, "the gating analyzer failed the release")
					require.NotNil(t, d.FailedBeforeDetect)
					assert.LessOrEqual(t, *d.FailedBeforeDetect, r.BlastRadius.FailedRequests)
				}
			}
			require.NotEmpty(t, r.Trace)
			n := 0
			require.NoError(t, analyzer.ReadTraces(filepath.Join(out, r.Trace), func(tr *analyzer.Trace) error {
				n++
				assert.Equal(t, r.ID, tr.ID)
				assert.Equal(t, r.GroundTruth, tr.GroundTruth)
				assert.NotEmpty(t, tr.Candidate)
				assert.NotEmpty(t, tr.Stable)
				assert.NotEmpty(t, tr.Analyses)
				return nil
			}))
			assert.Equal(t, 1, n)
		})
	}
}
