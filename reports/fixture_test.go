package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
)

var base = time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)

func ptr(f float64) *float64 { return &f }

func at(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }

func atp(s float64) *time.Time { t := at(s); return &t }

// runSpec describes a synthetic run; the candidate is applied at base+60s.
type runSpec struct {
	scenario, strategy, analyzer string
	seed                         int64
	truth                        results.GroundTruth
	stable, candidate            string
	verdict                      results.Verdict
	outcome                      results.Outcome
	seconds                      int     // series length
	rate                         int64   // requests per second
	candErr                      float64 // fraction of the candidate's requests that fail
	decideAt                     float64 // seconds after applied; 0: none
	steps                        []int64 // canary weights, one step every 20 s
	expect                       []results.Expectation
	err                          string
	withAnalysis                 bool
	podEvents                    int
	// shadow: every other analyzer of the catalog answers the same
	// measurements, and the run records each analyzer's detection.
	// argoMeasured: the analyzer is prometheus, whose measurements Argo
	// took itself: events only, no analysis calls (implies shadow's
	// detections, the others replayed).
	shadow, argoMeasured bool
}

// fixtureAnalyzers are the catalog's analyzers, in its order.
var fixtureAnalyzers = []string{"threshold", "prometheus", "kayenta", "sprt", "sequential"}

// fixtureVerdict is how each analyzer of the fixture judges a measurement
// at t seconds of a candidate failing rate of its requests: on a bad
// release the statistical ones need a measurement or two more than the
// fixed limits; on a good one kayenta raises a false alarm from 10 s.
func fixtureVerdict(analyzer string, t, rate float64) (results.AnalysisVerdict, float64, string) {
	bad := rate > 0.05
	switch analyzer {
	case "threshold", "prometheus":
		v := results.AnalysisPass
		switch {
		case analyzer == "prometheus" && t <= 5:
			v = results.AnalysisInconclusive
		case bad:
			v = results.AnalysisFail
		}
		return v, rate, fmt.Sprintf("error rate %.2f%% over 10s", 100*rate)
	case "kayenta":
		switch {
		case t <= 5:
			return results.AnalysisInconclusive, 0, "3 candidate and 3 stable samples of 10s: too few for a 95% test"
		case bad:
			return results.AnalysisFail, 31, "error-rate: candidate higher (p=0.002), weight 1; score 31 < 75"
		case t >= 10:
			return results.AnalysisFail, 62, "p99-latency: candidate higher (p=0.031); score 62 < 75"
		}
		return results.AnalysisPass, 100, "no metric differs; score 100"
	case "sprt":
		if bad {
			return results.AnalysisFail, 2.9 * t / 5, fmt.Sprintf("log-likelihood ratio %.2f ≥ 2.89 at t=%gs", 2.9*t/5, t)
		}
		return results.AnalysisPass, -1.2, fmt.Sprintf("log-likelihood ratio -1.20 ≤ -1.20 at t=%gs", t)
	}
	if bad && t > 5 {
		return results.AnalysisFail, 140, fmt.Sprintf("Bayes factor 140 ≥ 1/α = 20 at t=%gs", t)
	}
	return results.AnalysisPass, 0.8, fmt.Sprintf("Bayes factor 0.8 < 1/α = 20 at t=%gs", t)
}

// fixtureDetections apply a failure limit of 1 (the second failed
// measurement fails the release) to each analyzer's verdicts at times.
func fixtureDetections(r *results.Run, gating string, times []float64, verdicts map[string][]results.AnalysisVerdict) {
	for _, name := range fixtureAnalyzers {
		vs, ok := verdicts[name]
		if !ok {
			continue
		}
		d := results.Detection{Analyzer: name, Gating: name == gating, Measurements: len(vs)}
		for i, v := range vs {
			if v != results.AnalysisFail {
				continue
			}
			d.Failed++
			if d.Failed == 2 && d.AtSeconds == nil {
				at := times[i]
				d.DetectedAt, d.AtSeconds = atp(applied+at), ptr(at)
				if on := r.Timing.FaultOnsetSeconds; on != nil && *on <= at {
					d.TimeToDetectSeconds = ptr(at - *on)
				}
				var failed int64
				for _, sec := range r.Series {
					if float64(sec.Index+1) <= at {
						failed += sec.Failed
					}
				}
				d.FailedBeforeDetect = &failed
			}
		}
		r.Detections = append(r.Detections, d)
	}
}

const applied = 60.0

// synth builds a full run from a spec: series, events, analysis and logs
// consistent with the decision.
func synth(s runSpec) results.Run {
	r := results.Run{
		ID: fmt.Sprintf("%s/%s/%s/seed-%d", s.scenario, s.strategy, s.analyzer, s.seed), Scenario: s.scenario,
		ScenarioFile: "scenarios/" + s.scenario + ".yaml", Description: "release " + s.stable + " -> " + s.candidate,
		Strategy: s.strategy, Analyzer: s.analyzer, Seed: s.seed, GroundTruth: s.truth, Stable: s.stable, Candidate: s.candidate,
		Namespace: fmt.Sprintf("br-%08x", s.seed*7919+int64(len(s.scenario))), Outcome: s.outcome, Error: s.err,
		Expectations: s.expect, StartedAt: at(0), AppliedAt: at(applied), EndedAt: at(applied + float64(s.seconds)),
		Load:    results.Load{Profile: fmt.Sprintf("constant:rate=%d", s.rate), Users: 200, SLOSeconds: 0.5, Total: s.rate * int64(s.seconds), AchievedRate: float64(s.rate), RequestedRate: float64(s.rate)},
		Records: "runs/" + strings.ReplaceAll(s.scenario+"_"+s.strategy, "/", "_") + "/records.ndjson",
	}
	if s.expect == nil {
		r.Expectations = []results.Expectation{}
	}
	r.Scores.Verdict = s.verdict
	ev := func(t float64, kind results.EventKind, object string) *results.Event {
		r.Events = append(r.Events, results.Event{Time: at(applied + t), Kind: kind, Object: object})
		return &r.Events[len(r.Events)-1]
	}
	ev(-10, results.EventLoadStarted, "")
	ev(0, results.EventCandidate, s.candidate)
	traits, _ := strategy.TraitsOf(s.strategy)

	// Weight over time.
	weight := func(t float64) float64 {
		if s.decideAt > 0 && t >= s.decideAt {
			if s.outcome == results.OutcomePromoted {
				return 100
			}
			return 0
		}
		if len(s.steps) == 0 {
			if traits.BlueGreen {
				return 0
			}
			return min(100, t*2) // a rolling update
		}
		i := int(t / 20)
		if i >= len(s.steps) {
			return 100
		}
		return float64(s.steps[i])
	}
	if len(s.steps) > 0 {
		for i, w := range s.steps {
			t := float64(i * 20)
			if s.decideAt > 0 && t >= s.decideAt {
				break
			}
			ev(t+0.5, results.EventRollout, "demo").Rollout = &results.RolloutStatus{Phase: "Paused", Step: int64(2*i + 1),
				Steps: int64(2 * len(s.steps)), Weight: w, Replicas: 10, ReadyReplicas: 10, Message: "CanaryPauseStep"}
		}
	} else if traits.BlueGreen {
		ev(1, results.EventRollout, "demo").Rollout = &results.RolloutStatus{Phase: "Progressing", Replicas: 2, ReadyReplicas: 1,
			Message: "active service cutover pending"}
	}

	// Series.
	var onset *float64
	var br results.BlastRadius
	var candServed int64
	for i := 0; i < s.seconds; i++ {
		w := weight(float64(i))
		cand := int64(float64(s.rate) * w / 100)
		stable := s.rate - cand
		candFailed := int64(float64(cand)*s.candErr + 0.5)
		sec := results.Second{Index: i, Start: at(applied + float64(i)), Requests: s.rate, Failed: candFailed,
			Versions: map[string]results.VersionSecond{}}
		if stable > 0 {
			sec.Versions[s.stable] = results.VersionSecond{Requests: stable, P50: 2 * time.Millisecond, P99: time.Duration(5+i%7) * time.Millisecond}
		}
		if cand > 0 {
			sec.Versions[s.candidate] = results.VersionSecond{Requests: cand, Failed: candFailed, P50: 3 * time.Millisecond, P99: time.Duration(8+i%5) * time.Millisecond}
			candServed += cand
		}
		if i%97 == 50 { // a proxy hiccup now and then
			sec.Unattributed = results.VersionSecond{Requests: 2, Failed: 2}
			sec.Requests += 2
			sec.Failed += 2
			br.UnattributedErrors += 2
		}
		if candFailed > 0 && onset == nil {
			onset = ptr(float64(i) + 0.2)
		}
		br.TotalRequests += sec.Requests
		br.FailedRequests += sec.Failed
		br.CandidateFailedRequests += candFailed
		if sec.Failed > br.PeakExposure {
			br.PeakExposure, br.PeakExposureRate = sec.Failed, float64(sec.Failed)/float64(sec.Requests)
		}
		r.Series = append(r.Series, sec)
	}
	if br.TotalRequests > 0 {
		br.CandidateShare = float64(candServed) / float64(br.TotalRequests)
	}
	br.UsersTotal = 200
	br.UsersAffected = int(min(200, br.FailedRequests/3))
	r.BlastRadius = br
	r.Timing.FaultOnsetSeconds = onset

	// Analysis: a measurement every 5 s.
	if s.withAnalysis {
		end := float64(s.seconds)
		if s.decideAt > 0 {
			end = s.decideAt
		}
		var times []float64
		verdicts := map[string][]results.AnalysisVerdict{}
		for t := 5.0; t <= end; t += 5 {
			w := weight(t)
			rate := 0.0
			if w > 0 {
				rate = s.candErr
			}
			if s.argoMeasured {
				times = append(times, t)
				for _, name := range fixtureAnalyzers {
					v, _, _ := fixtureVerdict(name, t, rate)
					verdicts[name] = append(verdicts[name], v)
				}
				v, value, _ := fixtureVerdict(s.analyzer, t, rate)
				phase := map[results.AnalysisVerdict]results.MeasurementPhase{results.AnalysisPass: results.MeasurementSuccessful,
					results.AnalysisFail: results.MeasurementFailed, results.AnalysisInconclusive: results.MeasurementInconclusive}[v]
				if v == results.AnalysisFail && r.Timing.TimeToFirstFailedMeasurementSeconds == nil {
					r.Timing.TimeToFirstFailedMeasurementSeconds = ptr(t)
				}
				ev(t, results.EventMeasurement, "demo-6c478f55cb-2/error-rate").Measurement = &results.Measurement{
					AnalysisRun: "demo-6c478f55cb-2", Metric: "error-rate", Phase: phase, Value: fmt.Sprintf("[%g]", value)}
				ev(t, results.EventMeasurement, "demo-6c478f55cb-2/p99-latency").Measurement = &results.Measurement{
					AnalysisRun: "demo-6c478f55cb-2", Metric: "p99-latency", Phase: results.MeasurementSuccessful, Value: "[0.009]"}
				continue
			}
			verdict, phase := results.AnalysisPass, results.MeasurementSuccessful
			if rate > 0.05 {
				verdict, phase = results.AnalysisFail, results.MeasurementFailed
				if r.Timing.TimeToFirstFailedMeasurementSeconds == nil {
					r.Timing.TimeToFirstFailedMeasurementSeconds = ptr(t)
				}
			}
			if w == 0 {
				verdict, phase = results.AnalysisInconclusive, results.MeasurementInconclusive
			}
			expl := fmt.Sprintf("error rate %.2f%% (%d/%d) over 10s on 2 candidate pods", 100*rate, int(rate*200), 200)
			call := results.AnalysisCall{Time: at(applied + t - 0.1), Analyzer: s.analyzer, Hash: "6c478f55cb",
				Verdict: verdict, Value: rate, P99Seconds: 0.009, Requests: 200, Explanation: expl}
			if s.shadow {
				times = append(times, t-0.1)
				verdicts[s.analyzer] = append(verdicts[s.analyzer], verdict)
				for _, name := range fixtureAnalyzers {
					if name == s.analyzer {
						continue
					}
					v, value, why := fixtureVerdict(name, t, s.candErr)
					call.Shadow = append(call.Shadow, results.ShadowAnswer{Analyzer: name, Verdict: v, Value: value, Explanation: why})
					verdicts[name] = append(verdicts[name], v)
				}
			}
			r.Analysis = append(r.Analysis, call)
			ev(t, results.EventMeasurement, "demo-6c478f55cb-2/candidate-health").Measurement = &results.Measurement{
				AnalysisRun: "demo-6c478f55cb-2", Metric: strategy.MetricName, Phase: phase,
				Value: fmt.Sprintf(`{"explanation":%q,"value":%g,"verdict":%q}`, expl, rate, verdict)}
		}
		if s.shadow || s.argoMeasured {
			r.Trace = "runs/" + strings.ReplaceAll(s.scenario+"_"+s.strategy+"_"+s.analyzer, "/", "_") + "/trace.ndjson"
			fixtureDetections(&r, s.analyzer, times, verdicts)
		}
	}
	for i := 0; i < s.podEvents; i++ {
		ev(float64(i%s.seconds)+0.3, results.EventPod, fmt.Sprintf("demo-787758c495-%05d", i)).Pod = &results.PodStatus{
			Image: "blastradius/demoapp:" + s.candidate, Phase: "Running", Ready: true}
	}

	// The decision.
	if s.decideAt > 0 {
		switch s.outcome {
		case results.OutcomeAborted:
			ev(s.decideAt-0.01, results.EventRollout, "demo").Rollout = &results.RolloutStatus{Phase: "Degraded", Steps: 6, Abort: true,
				Replicas: 10, ReadyReplicas: 10, Message: "RolloutAborted: Rollout aborted update to revision 2"}
			ev(s.decideAt, results.EventAborted, "demo")
			r.Timing.TimeToAbortSeconds = ptr(s.decideAt)
			r.Timing.TimeToRecoverSeconds = ptr(1.5)
			if onset != nil && *onset < s.decideAt {
				r.Timing.TimeToDetectSeconds = ptr(s.decideAt - *onset)
			}
		case results.OutcomePromoted:
			ev(s.decideAt, results.EventPromoted, "demo")
			r.Timing.TimeToPromoteSeconds = ptr(s.decideAt)
		case results.OutcomeTimeout:
			ev(s.decideAt, results.EventTimeout, "demo")
		}
	}
	ev(float64(s.seconds), results.EventLoadStopped, "")
	if s.candErr > 0 {
		r.Faults = []results.FaultRecord{{Kind: "pod-kill", Description: "kill 1 candidate pod(s)", At: 30, InjectedAt: atp(applied + 30), Touched: []string{"demo-787758c495-qkz82"}},
			{Kind: "traffic", Description: "traffic x3", At: 40, InjectedAt: atp(applied + 40), ClearedAt: atp(applied + 55)}}
		for i, f := range r.Faults {
			ev(f.At, results.EventFaultInjected, "").Fault = &results.FaultChange{Index: i, Kind: f.Kind, Description: f.Description}
			if f.ClearedAt != nil {
				ev(r.Faults[i].ClearedAt.Sub(r.AppliedAt).Seconds(), results.EventFaultCleared, "").Fault = &results.FaultChange{Index: i, Kind: f.Kind, Description: f.Description}
			}
		}
		var lines []string
		for i := 0; i < 20; i++ {
			lines = append(lines, fmt.Sprintf(`{"time":"2026-11-25T19:01:%02d.000Z","level":"ERROR","msg":"injected failure","version":%q,"path":"/color","user":"u-%03d"}`, i, s.candidate, i*7))
		}
		r.Logs = []results.LogExcerpt{{Pod: "demo-787758c495-qkz82", Container: "app", Version: s.candidate, Lines: strings.Join(lines, "\n")}}
	}
	if s.err != "" {
		r.Series, r.Scores = nil, results.Scores{}
	}
	return r
}

func environment0() results.Environment {
	return results.Environment{Platform: "local", Kubernetes: "v1.34.5", ArgoRollouts: "v1.10.2", Harness: "f834483", GoVersion: "go1.26.8",
		StartedAt: base, FinishedAt: base.Add(30 * time.Minute), Args: []string{"run", "scenarios/", "--out", "out"}}
}

// fixture is a small hand-made run set with every kind of outcome: detected,
// missed (failing its expectation), false alarm, promoted, inconclusive and
// a harness error. Two runs gated by the threshold endpoint carry the
// other analyzers' shadow answers and every analyzer's detection, and the
// last run was gated by prometheus (no analysis calls, detections only).
func fixture() *results.File {
	ok := func(msg string) []results.Expectation {
		return []results.Expectation{{Name: "verdict", OK: true, Message: msg}}
	}
	runs := []runSpec{
		{scenario: "high-error-rate", strategy: "canary-analysis", analyzer: "threshold", seed: 1, truth: results.Bad, stable: "blue", candidate: "bad-green",
			verdict: results.VerdictDetected, outcome: results.OutcomeAborted, seconds: 40, rate: 100, candErr: 0.25, decideAt: 12.4, steps: []int64{10, 20, 50},
			withAnalysis: true, shadow: true, expect: ok("verdict detected, want detected"), podEvents: 4},
		{scenario: "high-error-rate", strategy: "canary", analyzer: "none", seed: 1, truth: results.Bad, stable: "blue", candidate: "bad-green",
			verdict: results.VerdictMissed, outcome: results.OutcomePromoted, seconds: 70, rate: 100, candErr: 0.25, decideAt: 65, steps: []int64{10, 20, 50},
			expect: []results.Expectation{{Name: "verdict", OK: false, Message: "verdict missed, want detected"},
				{Name: "maxFailedRequests", OK: false, Message: "1302 failed requests, want at most 500"}}},
		{scenario: "good-release", strategy: "blue-green-analysis", analyzer: "threshold", seed: 1, truth: results.Good, stable: "blue", candidate: "green",
			verdict: results.VerdictFalseAlarm, outcome: results.OutcomeAborted, seconds: 30, rate: 50, decideAt: 20, withAnalysis: true, shadow: true,
			expect: []results.Expectation{{Name: "verdict", OK: false, Message: "verdict false-alarm, want promoted"}}},
		{scenario: "good-release", strategy: "canary", analyzer: "none", seed: 1, truth: results.Good, stable: "blue", candidate: "green",
			verdict: results.VerdictPromoted, outcome: results.OutcomePromoted, seconds: 70, rate: 50, decideAt: 61, steps: []int64{10, 20, 50},
			expect: ok("verdict promoted, want promoted")},
		{scenario: "low-traffic", strategy: "canary-analysis", analyzer: "threshold", seed: 2, truth: results.Bad, stable: "green", candidate: "bad-green",
			verdict: results.VerdictInconclusive, outcome: results.OutcomeTimeout, seconds: 50, rate: 2, decideAt: 45, steps: []int64{10},
			withAnalysis: true},
		{scenario: "crash-loop", strategy: "deployment-rolling", analyzer: "none", seed: 1, truth: results.Bad, stable: "blue", candidate: "crash-red",
			outcome: results.OutcomeError, seconds: 10, rate: 100, err: "apply candidate: the server was unable to return a response in the time allotted"},
		// Argo queried Prometheus itself: measurements in the events, no
		// analysis calls; the other analyzers replayed the trace.
		{scenario: "high-error-rate", strategy: "canary-analysis", analyzer: "prometheus", seed: 1, truth: results.Bad, stable: "blue", candidate: "bad-green",
			verdict: results.VerdictDetected, outcome: results.OutcomeAborted, seconds: 40, rate: 100, candErr: 0.25, decideAt: 15.5, steps: []int64{10, 20, 50},
			withAnalysis: true, argoMeasured: true, expect: ok("verdict detected, want detected")},
	}
	f := &results.File{SchemaVersion: results.SchemaVersion, Environment: environment0()}
	for _, s := range runs {
		f.Runs = append(f.Runs, synth(s))
	}
	return f
}

// generated is a run set of n runs of secs seconds each, shaped like the
// default scenario set with repetitions, for the size and speed checks.
func generated(n, secs int) *results.File {
	f := &results.File{SchemaVersion: results.SchemaVersion, Environment: environment0()}
	scenarios := []struct {
		name         string
		truth        results.GroundTruth
		stable, cand string
		err          float64
	}{
		{"high-error-rate", results.Bad, "blue", "bad-green", 0.25},
		{"low-error-rate", results.Bad, "blue", "lowerr-green", 0.02},
		{"good-release", results.Good, "blue", "green", 0},
		{"latency-regression", results.Bad, "yellow", "slow-orange", 0.1},
		{"segment", results.Bad, "purple", "segment-red", 0.1},
	}
	strategies := []struct {
		name, analyzer string
		steps          []int64
	}{
		{"deployment-rolling", "none", nil}, {"canary", "none", []int64{10, 20, 50}},
		{"canary-analysis", "threshold", []int64{10, 20, 50}}, {"canary-step-analysis", "threshold", []int64{10, 20, 50}},
		{"blue-green", "none", nil}, {"blue-green-analysis", "threshold", nil},
	}
	for i := 0; len(f.Runs) < n; i++ {
		sc := scenarios[i%len(scenarios)]
		st := strategies[(i/len(scenarios))%len(strategies)]
		seed := int64(i/(len(scenarios)*len(strategies)) + 1)
		s := runSpec{scenario: sc.name, strategy: st.name, analyzer: st.analyzer, seed: seed, truth: sc.truth, stable: sc.stable, candidate: sc.cand,
			seconds: secs, rate: 100, candErr: sc.err, steps: st.steps, withAnalysis: st.analyzer != "none", shadow: st.analyzer != "none", podEvents: 120,
			expect: []results.Expectation{{Name: "verdict", OK: true, Message: "verdict as expected"}}}
		switch {
		case st.analyzer != "none" && sc.err > 0.05:
			s.verdict, s.outcome, s.decideAt = results.VerdictDetected, results.OutcomeAborted, 25+float64(seed)
		case sc.truth == results.Bad:
			s.verdict, s.outcome, s.decideAt = results.VerdictMissed, results.OutcomePromoted, float64(secs)-20
		default:
			s.verdict, s.outcome, s.decideAt = results.VerdictPromoted, results.OutcomePromoted, float64(secs)-20
		}
		f.Runs = append(f.Runs, synth(s))
	}
	return f
}
