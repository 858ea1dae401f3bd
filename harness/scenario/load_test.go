package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/loadgen"
)

// head is a valid scenario of 7 lines; test cases append spec fields from
// line 8 on, indented by two spaces.
const head = `apiVersion: blastradius.dev/v1
kind: Scenario
metadata:
  name: t
spec:
  stable: blue
  candidate: bad-green
`

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// messages loads content from a temporary file and returns its error
// messages with the file's path replaced by FILE.
func messages(t *testing.T, content string) []string {
	t.Helper()
	path := write(t, t.TempDir(), "s.yaml", content)
	_, err := Load(path)
	require.Error(t, err)
	var out []string
	for _, e := range Errors(err) {
		var se *Error
		require.ErrorAs(t, e, &se, "every error is an *Error: %v", e)
		assert.Equal(t, path, se.File)
		out = append(out, strings.ReplaceAll(e.Error(), path, "FILE"))
	}
	return out
}

func load(t *testing.T, content string) *Scenario {
	t.Helper()
	s, err := Load(write(t, t.TempDir(), "s.yaml", content))
	require.NoError(t, err)
	return s
}

var knownAnalyzers = strings.Join(analysis.Names(), ", ")

func TestValidationErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec string // appended to head from line 8
		want []string
	}{
		{"unknown field", "  replicaz: 3\n", []string{"FILE:8: spec.replicaz: unknown field"}},
		{"duplicate field", "  stable: green\n", []string{"FILE:8: spec.stable: duplicate field (first at line 6)"}},
		{"bad duration", "  load:\n    slo: 5 ms\n", []string{`FILE:9: spec.load.slo: invalid duration "5 ms"`}},
		{"duration without unit", "  load:\n    slo: 500\n",
			[]string{`FILE:9: spec.load.slo: invalid duration "500" (missing unit: write e.g. 500ms or 500s)`}},
		{"duration of the wrong kind", "  timeout: [1m]\n", []string{`FILE:8: spec.timeout: must be a duration such as "30s", got a list`}},
		{"negative slo", "  load:\n    slo: -1s\n", []string{"FILE:9: spec.load.slo: must be positive, got -1s"}},
		{"unknown strategy", "  strategies: [canary, canary-analysis, canery]\n", []string{
			`FILE:8: spec.strategies[2]: unknown strategy "canery" (known: deployment-rolling, canary, canary-analysis, canary-step-analysis, blue-green, blue-green-analysis, canary-traffic, canary-traffic-analysis, dark-launch, shadow)`}},
		{"strategies as a block list", "  strategies:\n  - canary\n  - canary\n", []string{`FILE:10: spec.strategies[1]: duplicate strategy "canary"`}},
		{"empty strategies", "  strategies: []\n", []string{"FILE:8: spec.strategies: must not be empty (leave it out for the default)"}},
		{"strategies not a list", "  strategies: canary\n", []string{`FILE:8: spec.strategies: must be a list, got "canary"`}},
		{"unknown analyzer", "  analyzers: [oracle]\n", []string{`FILE:8: spec.analyzers[0]: unknown analyzer "oracle" (known: ` + knownAnalyzers + `)`}},
		{"analyzer none", "  analyzers: [none]\n", []string{`FILE:8: spec.analyzers[0]: unknown analyzer "none" (known: ` + knownAnalyzers + `)`}},
		{"confidence", "  analysis: {confidence: 1}\n", []string{`FILE:8: spec.analysis.confidence: must be in [0.5, 1), got 1`}},
		{"alpha", "  analysis: {alpha: 0}\n", []string{`FILE:8: spec.analysis.alpha: must be in (0, 0.5], got 0`}},
		{"scores", "  analysis: {passScore: 60, marginalScore: 70}\n", []string{`FILE:8: spec.analysis.marginalScore: must not be above passScore (60), got 70`}},
		{"minRequests", "  analysis: {minRequests: 0}\n", []string{`FILE:8: spec.analysis.minRequests: must be between 1 and 1000000, got 0`}},
		{"inconclusiveLimit", "  analysis: {inconclusiveLimit: -1}\n", []string{`FILE:8: spec.analysis.inconclusiveLimit: must not be negative, got -1`}},
		{"scrapeInterval", "  analysis: {scrapeInterval: 0s}\n", []string{`FILE:8: spec.analysis.scrapeInterval: must be positive, got 0s`}},
		{"replicas zero", "  replicas: 0\n", []string{"FILE:8: spec.replicas: must be between 1 and 50, got 0"}},
		{"replicas too many", "  replicas: 51\n", []string{"FILE:8: spec.replicas: must be between 1 and 50, got 51"}},
		{"replicas quoted", "  replicas: \"10\"\n", []string{`FILE:8: spec.replicas: must be a whole number, got "10"`}},
		{"replicas fractional", "  replicas: 2.5\n", []string{"FILE:8: spec.replicas: must be a whole number, got 2.5"}},
		{"step not whole pods", "  steps: [10, 15, 50]\n", []string{
			"FILE:8: spec.steps[1]: weight 15 is not a multiple of 10: with 10 replicas each step must move whole pods"}},
		{"steps not ascending", "  steps:\n  - 20\n  - 10\n", []string{
			"FILE:10: spec.steps[1]: must be greater than the step before (20): weights only go up, got 10"}},
		{"step 100", "  steps: [50, 100]\n", []string{
			"FILE:8: spec.steps[1]: must be a weight between 1 and 99 percent (the full promotion follows the last step), got 100"}},
		{"empty steps", "  steps: []\n", []string{"FILE:8: spec.steps: must not be empty (leave it out for the default [10 20 50])"}},
		{"replicas without whole-pod weights", "  replicas: 3\n  steps: [50]\n", []string{
			"FILE:9: spec.steps[0]: no weight below 100 puts whole pods of 3 replicas on the candidate; use replicas such as 4, 5, 10 or 20"}},
		{"default steps with 4 replicas", "  replicas: 4\n", []string{
			"FILE:8: spec.replicas: the default steps [10 20 50] need replicas that put whole pods at each weight; set spec.steps to multiples of 25"}},
		{"zero step pause", "  stepPause: 0s\n", []string{"FILE:8: spec.stepPause: must be positive, got 0s"}},
		{"time scale zero", "  timeScale: 0\n", []string{"FILE:8: spec.timeScale: must be greater than 0 and at most 10, got 0"}},
		{"time scale too big", "  timeScale: 11\n", []string{"FILE:8: spec.timeScale: must be greater than 0 and at most 10, got 11"}},
		{"scaled pause below a second", "  timeScale: 0.01\n", []string{
			"FILE:8: spec.stepPause: 10s scaled by timeScale 0.01 is 100ms; Argo Rollouts counts pauses in whole seconds, so it must be at least 1s",
			"FILE:8: spec.analysis.interval: 5s scaled by timeScale 0.01 is 50ms; it must be at least 1s"}},
		{"scaled interval below a second", "  timeScale: 0.1\n  analysis:\n    interval: 5s\n", []string{
			"FILE:10: spec.analysis.interval: 5s scaled by timeScale 0.1 is 500ms; it must be at least 1s"}},
		{"timeout shorter than the steps", "  timeout: 30s\n", []string{
			"FILE:8: spec.timeout: 30s is too short for the canary steps: 3 steps × 10s (stepPause scaled by timeScale) = 30s"}},
		{"timeout short without canary", "  timeout: 30s\n  strategies: [blue-green]\n", nil},
		{"ground truth", "  groundTruth: meh\n", []string{`FILE:8: spec.groundTruth: must be good or bad, got "meh"`}},
		{"profile and rate", "  load:\n    profile: constant:rate=10\n    rate: 10\n", []string{
			"FILE:10: spec.load.rate: set either profile or rate (the shorthand for constant:rate=N), not both"}},
		{"bad profile", "  load:\n    profile: square:rate=10\n", []string{
			`FILE:9: spec.load.profile: unknown profile "square" (want constant, linear or sine)`}},
		{"invalid sine", "  load:\n    profile: sine:rate=10,amplitude=20,period=10s\n", []string{
			"FILE:9: spec.load.profile: amplitude: must be >= 0 and < the mean rate 10 (got 20)"}},
		{"zero rate", "  load:\n    rate: 0\n", []string{"FILE:9: spec.load.rate: must be > 0 (got 0)"}},
		{"users", "  load:\n    users: 0\n", []string{"FILE:9: spec.load.users: must be between 1 and 100000, got 0"}},
		{"preview share", "  load:\n    previewShare: 1\n", []string{"FILE:9: spec.load.previewShare: must be at least 0 and less than 1, got 1"}},
		{"workers", "  load:\n    workers: 0\n", []string{"FILE:9: spec.load.workers: must be between 1 and 64, got 0"}},
		{"workers over users", "  load:\n    users: 3\n    workers: 4\n", []string{
			"FILE:10: spec.load.workers: 4 workers need at least as many users (users: 3)"}},
		{"negative warmup", "  load:\n    warmup: -1s\n", []string{"FILE:9: spec.load.warmup: must not be negative, got -1s"}},
		{"keepAlive not a bool", "  load:\n    keepAlive: yes\n", []string{`FILE:9: spec.load.keepAlive: must be true or false, got "yes"`}},
		{"load unknown field", "  load:\n    rps: 10\n", []string{"FILE:9: spec.load.rps: unknown field"}},
		{"load not a mapping", "  load: 100\n", []string{"FILE:8: spec.load: must be a mapping, got 100"}},
		{"api key inline", "  analysis:\n    apiKey: sk-123\n", []string{"FILE:9: spec.analysis.apiKey: secrets are never read from scenario files " +
			"(a scenario is committed and shared): give the model's key in OPENAI_API_KEY or a file named by --llm-api-key-file"}},
		{"ai fields", "  analysis:\n    policy: yolo\n    chaos: fire\n    budget: 0s\n", []string{
			"FILE:9: spec.analysis.policy: must be one of inconclusive, failOpen, failClosed, got \"yolo\"",
			"FILE:10: spec.analysis.chaos: must be one of down, slow, rate-limited, server-error, garbage, prose, fenced, no-promote, got \"fire\"",
			"FILE:11: spec.analysis.budget: must be positive, got 0s"}},
		{"failure limit", "  analysis:\n    count: 3\n    failureLimit: 3\n", []string{
			"FILE:10: spec.analysis.failureLimit: must be less than count (3), or the analysis can never fail, got 3"}},
		{"max error rate", "  analysis:\n    maxErrorRate: 1\n", []string{
			"FILE:9: spec.analysis.maxErrorRate: must be in [0, 1), got 1"}},
		{"analysis values", "  analysis:\n    count: 0\n    window: 0s\n    maxP99: .inf\n", []string{
			"FILE:9: spec.analysis.count: must be between 1 and 1000, got 0",
			"FILE:10: spec.analysis.window: must be positive, got 0s",
			`FILE:11: spec.analysis.maxP99: invalid duration ".inf"`}},
		{"fault without at", "  faults:\n  - traffic: {factor: 2}\n", []string{"FILE:9: spec.faults[0].at: required"}},
		{"fault without kind", "  faults:\n  - at: 10s\n", []string{"FILE:9: spec.faults[0]: needs one of podKill, runtime, traffic or analysisPath"}},
		{"fault with two kinds", "  faults:\n  - at: 10s\n    podKill: {target: stable}\n    traffic: {factor: 2}\n", []string{
			"FILE:11: spec.faults[0].traffic: one fault per entry: this entry already has podKill"}},
		{"fault unknown field", "  faults:\n  - at: 10s\n    podkill: {target: stable}\n", []string{
			"FILE:9: spec.faults[0]: needs one of podKill, runtime, traffic or analysisPath",
			"FILE:10: spec.faults[0].podkill: unknown field"}},
		{"fault target", "  faults:\n  - at: 10s\n    podKill: {target: both}\n", []string{
			`FILE:10: spec.faults[0].podKill.target: must be stable or candidate, got "both"`}},
		{"fault target missing", "  faults:\n  - at: 10s\n    podKill:\n      count: 1\n", []string{
			"FILE:10: spec.faults[0].podKill.target: required"}},
		{"kill more pods than replicas", "  faults:\n  - at: 10s\n    podKill: {target: stable, count: 11}\n", []string{
			"FILE:10: spec.faults[0].podKill.count: must be at most spec.replicas (10), got 11"}},
		{"clear before at", "  faults:\n  - at: 10s\n    clear: 10s\n    traffic: {factor: 2}\n", []string{
			"FILE:10: spec.faults[0].clear: must be after at (10s), got 10s"}},
		{"at after timeout", "  timeout: 2m\n  faults:\n  - at: 2m\n    traffic: {factor: 2}\n", []string{
			"FILE:10: spec.faults[0].at: 2m0s is not before the timeout (2m0s)"}},
		{"clear after timeout", "  timeout: 2m\n  faults:\n  - at: 1m\n    clear: 3m\n    traffic: {factor: 2}\n", []string{
			"FILE:11: spec.faults[0].clear: 3m0s is after the timeout (2m0s); leave clear out for a fault that lasts to the end"}},
		{"traffic factor", "  faults:\n  - at: 10s\n    traffic: {factor: 1}\n  - at: 20s\n    traffic: {factor: 20}\n", []string{
			"FILE:10: spec.faults[0].traffic.factor: must be greater than 0 and at most 10, and not 1 (above 1 a spike, below 1 a drop), got 1",
			"FILE:12: spec.faults[1].traffic.factor: must be greater than 0 and at most 10, and not 1 (above 1 a spike, below 1 a drop), got 20"}},
		{"overlapping traffic", "  faults:\n  - at: 10s\n    clear: 30s\n    traffic: {factor: 2}\n  - at: 20s\n    traffic: {factor: 0.5}\n", []string{
			"FILE:12: spec.faults[1]: overlaps spec.faults[0]: traffic changes must not overlap in time"}},
		{"analysis path", "  analyzers: [llm]\n  faults:\n  - at: 10s\n    clear: 30s\n    analysisPath: {chaos: slow}\n  - at: 20s\n    analysisPath: {chaos: lava}\n  - at: 25s\n    analysisPath: {chaos: down}\n", []string{
			"FILE:14: spec.faults[1].analysisPath.chaos: must be one of down, slow, rate-limited, server-error, garbage, prose, fenced, no-promote, got \"lava\"",
			"FILE:15: spec.faults[2]: overlaps spec.faults[0]: analysis-path faults must not overlap in time"}},
		{"analysis path without an AI analyzer", "  faults:\n  - at: 10s\n    analysisPath: {chaos: down}\n", []string{
			"FILE:10: spec.faults[0].analysisPath.chaos: acts on the calls of llm and agent, and spec.analyzers names neither"}},
		{"overlapping runtime", "  faults:\n  - at: 10s\n    runtime: {target: stable, faults: {errorRate: 0.1}}\n  - at: 20s\n    runtime: {target: stable, faults: {latency: 1s}}\n  - at: 20s\n    runtime: {target: candidate, faults: {latency: 1s}}\n", []string{
			"FILE:11: spec.faults[1]: overlaps spec.faults[0] on the stable pods: runtime faults replace each other, so they must not overlap in time; merge them"}},
		{"runtime fault field", "  faults:\n  - at: 10s\n    runtime:\n      target: stable\n      faults:\n        errorRate: 1.5\n        latency: 5\n        errorRat: 0.1\n", []string{
			"FILE:13: spec.faults[0].runtime.faults.errorRate: must be between 0 and 1, got 1.5",
			`FILE:14: spec.faults[0].runtime.faults.latency: must be a duration string like "250ms", got 5`,
			"FILE:15: spec.faults[0].runtime.faults.errorRat: unknown field"}},
		{"runtime fault rule across fields", "  faults:\n  - at: 10s\n    runtime:\n      target: stable\n      faults:\n        errorRate: 0.5\n        burstLength: 2s\n", []string{
			"FILE:12: spec.faults[0].runtime.faults.burstPeriod: burst period and burst length must be set together"}},
		{"runtime crash on start", "  faults:\n  - at: 10s\n    runtime: {target: stable, faults: {crashOnStart: true}}\n", []string{
			"FILE:10: spec.faults[0].runtime.faults.crashOnStart: is read at process start only and has no effect at run time; use crashAfterRequests or crashPath, or a crash- candidate"}},
		{"runtime pods", "  faults:\n  - at: 10s\n    runtime: {target: stable, pods: 0, faults: {}}\n", []string{
			"FILE:10: spec.faults[0].runtime.pods: must be at least 1 (leave pods out for all of the target's pods), got 0"}},
		{"runtime faults missing", "  faults:\n  - at: 10s\n    runtime: {target: stable}\n", []string{
			"FILE:10: spec.faults[0].runtime.faults: required"}},
		{"faults not a list", "  faults: {at: 10s}\n", []string{"FILE:8: spec.faults: must be a list, got a mapping"}},
		{"unknown verdict", "  expect:\n    verdict: caught\n", []string{
			`FILE:9: spec.expect.verdict: unknown verdict "caught" (known: detected, missed, false-alarm, promoted, inconclusive)`}},
		{"verdict against ground truth", "  expect:\n    verdict: [promoted, inconclusive]\n", []string{
			`FILE:9: spec.expect.verdict[0]: "promoted" cannot happen: this release is bad (ground truth)`}},
		{"expectation strategy not run", "  strategies: [canary]\n  expect:\n    verdict: missed\n    strategies: [canary-analysis]\n", []string{
			`FILE:11: spec.expect.strategies[0]: strategy "canary-analysis" is not in spec.strategies (canary)`}},
		{"expectations overlap", "  expect:\n  - verdict: missed\n    strategies: [canary]\n  - verdict: detected\n    strategies: [canary-analysis, canary]\n", []string{
			`FILE:12: spec.expect[1].strategies[1]: strategy "canary" already has an expectation (spec.expect[0])`}},
		{"two default expectations", "  expect:\n  - verdict: missed\n  - verdict: detected\n", []string{
			"FILE:10: spec.expect[1]: a second expectation without strategies (the first is spec.expect[0]); name the strategies each applies to"}},
		{"empty expectation", "  expect:\n    strategies: [canary]\n", []string{
			"FILE:8: spec.expect: empty expectation: set verdict, maxFailedRequests or maxTimeToDetect"}},
		{"expect numbers", "  expect:\n    maxFailedRequests: -1\n    maxTimeToDetect: 0s\n", []string{
			"FILE:9: spec.expect.maxFailedRequests: must not be negative, got -1",
			"FILE:10: spec.expect.maxTimeToDetect: must be positive, got 0s"}},
		{"expect unknown field", "  expect:\n    verdicts: [missed]\n", []string{
			"FILE:8: spec.expect: empty expectation: set verdict, maxFailedRequests or maxTimeToDetect",
			"FILE:9: spec.expect.verdicts: unknown field"}},
		{"seeds", "  seeds: [3, 3, -1]\n", []string{
			"FILE:8: spec.seeds[1]: duplicate seed 3",
			"FILE:8: spec.seeds[2]: must not be negative, got -1"}},
		{"repeat and seeds", "  seeds: [1, 2]\n  repeat: 3\n", []string{
			"FILE:9: spec.repeat: is 3 but seeds lists 2; with several seeds each seed is one repetition (list one seed to count up from it)"}},
		{"repeat zero", "  repeat: 0\n", []string{"FILE:8: spec.repeat: must be between 1 and 1000, got 0"}},
		{"whole pods with 5 replicas", "  replicas: 5\n  steps: [20, 40]\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := head + tc.spec
			if tc.want == nil {
				load(t, content)
				return
			}
			assert.Equal(t, tc.want, messages(t, content))
		})
	}
}

func TestVersionAndDocumentErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		want    []string
	}{
		{"missing required", "apiVersion: blastradius.dev/v1\nkind: Scenario\nmetadata:\n  description: x\nspec:\n  replicas: 10\n", []string{
			"FILE:3: metadata.name: required",
			"FILE:5: spec.stable: required",
			"FILE:5: spec.candidate: required"}},
		{"missing spec and metadata", "apiVersion: blastradius.dev/v1\nkind: Scenario\n", []string{
			"FILE:1: metadata: required",
			"FILE:1: spec: required"}},
		{"null spec", "apiVersion: blastradius.dev/v1\nkind: Scenario\nmetadata: {name: x}\nspec:\n", []string{
			"FILE:4: spec: required"}},
		{"wrong api", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {stable: blue, candidate: green}\nstatus: {}\n", []string{
			`FILE:1: apiVersion: unsupported apiVersion "v1" (want blastradius.dev/v1)`,
			`FILE:2: kind: unsupported kind "Pod" (want Scenario)`,
			"FILE:5: status: unknown field"}},
		{"bad name", "apiVersion: blastradius.dev/v1\nkind: Scenario\nmetadata:\n  name: High_Errors\n  labels: {}\nspec: {stable: blue, candidate: green}\n", []string{
			`FILE:4: metadata.name: must be a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), got "High_Errors"`,
			"FILE:5: metadata.labels: unknown field"}},
		{"versions", "apiVersion: blastradius.dev/v1\nkind: Scenario\nmetadata: {name: x}\nspec:\n  stable: bad-blue\n  candidate: purple-rain\n", []string{
			`FILE:5: spec.stable: must be a good version, "bad-blue" is bad (to model an incident on the stable version, use a runtime fault with target: stable)`,
			`FILE:6: spec.candidate: unknown version "purple-rain" (blastradius images list shows them all)`}},
		{"same version", "apiVersion: blastradius.dev/v1\nkind: Scenario\nmetadata: {name: x}\nspec:\n  stable: blue\n  candidate: blue\n", []string{
			`FILE:6: spec.candidate: must differ from spec.stable (both are "blue"): there would be nothing to release`}},
		{"runtime fault on a good candidate", "apiVersion: blastradius.dev/v1\nkind: Scenario\nmetadata: {name: x}\nspec:\n  stable: blue\n  candidate: green\n  faults:\n  - at: 5s\n    runtime: {target: candidate, faults: {errorRate: 0.3}}\n  expect:\n    maxTimeToDetect: 1m\n", []string{
			`FILE:9: spec.faults[0].runtime.target: a runtime fault on the candidate changes how "green" behaves; set spec.groundTruth to good or bad`,
			"FILE:11: spec.expect.maxTimeToDetect: applies to bad releases only; this release is good (ground truth)"}},
		{"syntax", "apiVersion: blastradius.dev/v1\nkind: Scenario\nmetadata:\n  name: x\n bad: [\n", []string{
			"FILE:4: invalid YAML: did not find expected key"}},
		// The YAML library names the line where the construct it was reading started.
		{"tabs", "apiVersion: blastradius.dev/v1\nkind: Scenario\n\tspec: {}\n", []string{
			"FILE:2: invalid YAML: found a tab character that violates indentation"}},
		{"two documents", head + "---\n" + head, []string{
			"FILE:8: a second YAML document; put one scenario per file"}},
		{"empty", "# nothing\n", []string{
			"FILE: empty file; want a scenario (apiVersion: blastradius.dev/v1, kind: Scenario)"}},
		{"not a mapping", "- a\n- b\n", []string{"FILE:1: must be a mapping, got a list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, messages(t, tc.content))
		})
	}
}

func TestDefaults(t *testing.T) {
	s := load(t, head)
	assert.Equal(t, "t", s.Name)
	assert.Equal(t, "blue", s.Stable.Tag)
	assert.Equal(t, "bad-green", s.Candidate.Tag)
	assert.Equal(t, results.Bad, s.GroundTruth)
	assert.True(t, s.GroundTruth == results.Bad)
	assert.Equal(t, 10, s.Replicas)
	assert.Equal(t, LoadSpec{
		Profile:      loadgen.ConstantProfile(100),
		Users:        100,
		SLO:          time.Second,
		Warmup:       10 * time.Second,
		PreviewShare: 0.1,
	}, s.Load)
	assert.Equal(t, strategy.Defaults(), s.Strategies)
	assert.Equal(t, []string{"deployment-rolling", "canary", "canary-analysis", "canary-step-analysis", "blue-green", "blue-green-analysis"}, s.Strategies)
	assert.Equal(t, []string{"threshold"}, s.Analyzers)
	assert.Equal(t, Analysis{Interval: 5 * time.Second, Count: 6, FailureLimit: 1, InconclusiveLimit: 5, Params: analyzer.Defaults}, s.Analysis)
	assert.Equal(t, []int{10, 20, 50}, s.Steps)
	assert.Equal(t, 10*time.Second, s.StepPause)
	assert.Equal(t, 1.0, s.TimeScale)
	assert.Empty(t, s.Faults)
	assert.Equal(t, 1, s.Repeat)
	assert.Equal(t, []int64{1}, s.Seeds)
	assert.Equal(t, 10*time.Minute, s.Timeout)
	assert.Empty(t, s.Expect)
	assert.Nil(t, s.ExpectFor("canary"))
}

func TestEveryField(t *testing.T) {
	s := load(t, `apiVersion: blastradius.dev/v1
kind: Scenario
metadata:
  name: all-fields
  description: every field set
spec:
  stable: blue
  candidate: green
  groundTruth: bad
  replicas: 20
  load:
    profile: "sine:rate=100,amplitude=50,period=10s"
    users: 200
    slo: 500ms
    warmup: 0
    keepAlive: true
    previewShare: 0.2
    workers: 4
  strategies: [canary-analysis, canary]
  analyzers: [threshold]
  analysis:
    interval: 2s
    count: 3
    failureLimit: 0
    maxErrorRate: 0
    maxP99: 800ms
    window: 20s
  steps: [5, 25, 95]
  stepPause: 10s
  timeScale: 0.5
  faults:
  - at: 30s
    clear: 1m
    podKill: {target: candidate, count: 2}
  - at: 20s
    runtime: {target: stable, pods: 2, faults: {errorRate: 0.3, latency: 250ms}}
  - at: 40s
    clear: 70s
    traffic: {factor: 0.5}
  repeat: 3
  seeds: [7]
  timeout: 5m
  expect:
  - verdict: detected
    maxFailedRequests: 0
    maxTimeToDetect: 1m
    strategies: [canary-analysis]
  - verdict: [missed, inconclusive]
`)
	assert.Equal(t, "every field set", s.Description)
	assert.Equal(t, results.Bad, s.GroundTruth, "groundTruth overrides the catalog")
	assert.Equal(t, 20, s.Replicas)
	assert.Equal(t, loadgen.SineProfile(100, 50, 10*time.Second), s.Load.Profile)
	assert.Equal(t, LoadSpec{Profile: s.Load.Profile, Users: 200, SLO: 500 * time.Millisecond, KeepAlive: true, PreviewShare: 0.2, Workers: 4}, s.Load)
	assert.Equal(t, []string{"canary-analysis", "canary"}, s.Strategies)
	want := analyzer.Defaults
	want.MaxErrorRate, want.MaxP99, want.Window = 0, 800*time.Millisecond, 20*time.Second
	assert.Equal(t, Analysis{Interval: 2 * time.Second, Count: 3, InconclusiveLimit: 2, Params: want}, s.Analysis)
	assert.Equal(t, []int{5, 25, 95}, s.Steps)
	assert.Equal(t, 5*time.Second, s.Scaled(s.StepPause))
	assert.Equal(t, time.Second, s.Scaled(s.Analysis.Interval))
	require.Len(t, s.Faults, 3)
	assert.Equal(t, Fault{At: 30 * time.Second, Clear: time.Minute, Line: 32, PodKill: &PodKill{Target: TargetCandidate, Count: 2}}, s.Faults[0])
	assert.Equal(t, FaultPodKill, s.Faults[0].Kind())
	assert.Equal(t, &RuntimeFault{Target: TargetStable, Pods: 2, Faults: demoapp.Faults{ErrorRate: 0.3, Latency: 250 * time.Millisecond}}, s.Faults[1].Runtime)
	assert.Equal(t, FaultRuntime, s.Faults[1].Kind())
	assert.Zero(t, s.Faults[1].Clear)
	assert.Equal(t, &TrafficChange{Factor: 0.5}, s.Faults[2].Traffic)
	assert.Equal(t, FaultTraffic, s.Faults[2].Kind())
	assert.Equal(t, 70*time.Second, s.Faults[2].End())
	assert.Equal(t, 3, s.Repeat)
	assert.Equal(t, []int64{7, 8, 9}, s.Seeds)
	assert.Equal(t, 5*time.Minute, s.Timeout)
	require.Len(t, s.Expect, 2)
	e := s.ExpectFor("canary-analysis")
	require.NotNil(t, e)
	assert.Equal(t, []results.Verdict{results.VerdictDetected}, e.Verdicts)
	require.NotNil(t, e.MaxFailedRequests)
	assert.Equal(t, int64(0), *e.MaxFailedRequests)
	require.NotNil(t, e.MaxTimeToDetect)
	assert.Equal(t, time.Minute, *e.MaxTimeToDetect)
	e = s.ExpectFor("canary")
	require.NotNil(t, e, "the expectation without strategies covers the rest")
	assert.True(t, e.AllowsVerdict(results.VerdictMissed))
	assert.True(t, e.AllowsVerdict(results.VerdictInconclusive))
	assert.False(t, e.AllowsVerdict(results.VerdictDetected))
}

func TestGroundTruth(t *testing.T) {
	for _, tc := range []struct {
		candidate, override string
		bad                 bool
	}{
		{"green", "", false},
		{"bad-green", "", true},
		{"late-green", "", true},
		{"green", "bad", true},
		{"bad-green", "good", false},
	} {
		content := strings.Replace(head, "bad-green", tc.candidate, 1)
		if tc.override != "" {
			content += "  groundTruth: " + tc.override + "\n"
		}
		s := load(t, content)
		assert.Equal(t, tc.bad, s.GroundTruth == results.Bad, "%s %s", tc.candidate, tc.override)
	}
}

func TestRepeatAndSeeds(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		seeds []int64
	}{
		{"", []int64{1}},
		{"  repeat: 3\n", []int64{1, 2, 3}},
		{"  seeds: [10]\n  repeat: 2\n", []int64{10, 11}},
		{"  seeds: [5, 9, 2]\n", []int64{5, 9, 2}},
		{"  seeds: [5, 9]\n  repeat: 2\n", []int64{5, 9}},
	} {
		s := load(t, head+tc.spec)
		assert.Equal(t, tc.seeds, s.Seeds, tc.spec)
		assert.Equal(t, len(tc.seeds), s.Repeat, tc.spec)
	}
}

func TestScaled(t *testing.T) {
	s := &Scenario{TimeScale: 0.3}
	assert.Equal(t, 6*time.Second, s.Scaled(20*time.Second))
	assert.Equal(t, 333*time.Millisecond, (&Scenario{TimeScale: 1.0 / 3}).Scaled(time.Second), "rounded to the millisecond")
	assert.Equal(t, 20*time.Second, (&Scenario{}).Scaled(20*time.Second), "an unset scale is 1")
}

func TestAnalysisParamsScaleTheScrapeInterval(t *testing.T) {
	s := load(t, head)
	assert.Equal(t, 5*time.Second, s.AnalysisParams().ScrapeInterval)
	require.NoError(t, s.SetTimeScale(0.5))
	assert.Equal(t, 2500*time.Millisecond, s.AnalysisParams().ScrapeInterval, "scaled with the analysis interval")
	assert.Equal(t, 5*time.Second, s.Analysis.ScrapeInterval, "the file's value stays")
	s.TimeScale = 0.1 // a scale the intervals refuse; the floor still holds
	assert.Equal(t, time.Second, s.AnalysisParams().ScrapeInterval, "never under 1s")
}

func TestAliasesAndNulls(t *testing.T) {
	s := load(t, head+`  load:
    slo: &slo 300ms
  analysis:
    maxP99: *slo
  expect:
  faults: ~
`)
	assert.Equal(t, 300*time.Millisecond, s.Analysis.MaxP99)
	assert.Empty(t, s.Expect)
}

func TestLoadAll(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.yml", strings.Replace(head, "name: t", "name: b", 1))
	write(t, dir, "a.yaml", strings.Replace(head, "name: t", "name: a", 1))
	write(t, dir, "notes.txt", "not a scenario")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	write(t, filepath.Join(dir, "sub"), "c.yaml", strings.Replace(head, "name: t", "name: c", 1))

	ss, err := LoadAll(dir, filepath.Join(dir, "a.yaml"), filepath.Join(dir, "sub"))
	require.NoError(t, err)
	var names []string
	for _, s := range ss {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"a", "b", "c"}, names, "sorted, subdirectories only when named, each file once")
	assert.Equal(t, filepath.Join(dir, "a.yaml"), ss[0].File)

	dup := write(t, filepath.Join(dir, "sub"), "d.yaml", strings.Replace(head, "name: t", "name: a", 1))
	_, err = LoadAll(dir, dup)
	require.Error(t, err)
	assert.Equal(t, dup+`:4: metadata.name: duplicate scenario name "a" (also in `+filepath.Join(dir, "a.yaml")+")", err.Error())

	empty := t.TempDir()
	_, err = LoadAll(empty)
	require.Error(t, err)
	assert.Equal(t, empty+": no scenario files (*.yaml, *.yml) in the directory", err.Error())

	_, err = LoadAll()
	assert.EqualError(t, err, "no scenario files given")

	// Every file's errors are reported, not just the first file's.
	bad := t.TempDir()
	write(t, bad, "x.yaml", head+"  replicas: 0\n")
	write(t, bad, "y.yaml", head+"  timeout: soon\n")
	_, err = LoadAll(bad, filepath.Join(bad, "missing.yaml"))
	errs := Errors(err)
	require.Len(t, errs, 3)
	assert.Equal(t, filepath.Join(bad, "x.yaml")+":8: spec.replicas: must be between 1 and 50, got 0", errs[1].Error())
	assert.Equal(t, filepath.Join(bad, "y.yaml")+`:8: spec.timeout: invalid duration "soon"`, errs[2].Error())
	assert.ErrorIs(t, errs[0], os.ErrNotExist)
}

func TestSetTimeScaleChecksWhatTheFileWouldHave(t *testing.T) {
	s := load(t, head+"  stepPause: 10s\n  steps: [20, 50]\n  timeout: 30s\n  analysis:\n    interval: 4s\n")
	require.NoError(t, s.SetTimeScale(0.5))
	assert.Equal(t, 5*time.Second, s.Scaled(s.StepPause))
	assert.Equal(t, 2*time.Second, s.Scaled(s.Analysis.Interval))

	for _, c := range []struct {
		scale float64
		want  string
	}{
		{0, "greater than 0"},
		{11, "at most 10"},
		{0.05, "stepPause 10s at time scale 0.05 is 500ms"},
		{0.2, "analysis interval 4s at time scale 0.2 is 800ms"},
		{2, "timeout 30s is too short for the canary steps at time scale 2: 2 steps × 20s = 40s"},
	} {
		err := s.SetTimeScale(c.scale)
		require.Error(t, err, c.scale)
		assert.Contains(t, err.Error(), c.want)
	}
	assert.Equal(t, 0.5, s.RunTimeScale, "a refused scale changes nothing")
	assert.Equal(t, 1.0, s.TimeScale, "the file's own stays")
}

// TestRunTimeScaleCompressesTheRelease: at a run's time scale F the release
// is F times as fast and the load 1/F times the rate, so every step and
// every analysis window holds the requests it would at 1; the file's own
// timeScale paces Argo alone.
func TestRunTimeScaleCompressesTheRelease(t *testing.T) {
	s := load(t, head+`  timeScale: 0.5
  load:
    rate: 100
    warmup: 10s
  analysis:
    window: 10s
    scrapeInterval: 4s
  faults:
  - at: 40s
    clear: 50s
    traffic: {factor: 2}
`)
	assert.Equal(t, 5*time.Second, s.Scaled(s.StepPause), "the file's timeScale paces Argo")
	assert.Equal(t, 10*time.Second, s.Compressed(s.Load.Warmup), "and nothing else")
	assert.Equal(t, 100.0, s.LoadProfile().Rate)
	assert.Equal(t, 10*time.Second, s.AnalysisParams().Window)
	assert.Equal(t, 2*time.Second, s.AnalysisParams().ScrapeInterval)

	require.NoError(t, s.SetTimeScale(0.5))
	assert.Equal(t, 2500*time.Millisecond, s.Scaled(s.StepPause), "both scales multiply Argo's pace")
	assert.Equal(t, 5*time.Second, s.Compressed(s.Load.Warmup))
	assert.Equal(t, 20*time.Second, s.Compressed(s.Faults[0].At))
	assert.Equal(t, 200.0, s.LoadProfile().Rate, "twice the rate for half the time")
	assert.Equal(t, 5*time.Second, s.AnalysisParams().Window, "the same requests per window")
	assert.Equal(t, time.Second, s.AnalysisParams().ScrapeInterval, "never under 1s")
	assert.Equal(t, 100.0, s.Load.Profile.Rate, "the file's values stay")

	sine := load(t, head+"  load:\n    profile: sine:rate=50,amplitude=20,period=60s\n")
	require.NoError(t, sine.SetTimeScale(0.5))
	p := sine.LoadProfile()
	assert.Equal(t, 100.0, p.Rate)
	assert.Equal(t, 40.0, p.Amplitude)
	assert.Equal(t, 30*time.Second, p.Period)

	fast := load(t, head+"  load:\n    rate: 900000\n")
	err := fast.SetTimeScale(0.5)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the load at time scale 0.5")
}
