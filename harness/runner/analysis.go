package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/score"
)

// recordAnalysis writes the run's analysis trace beside its records, and
// each analyzer's detection: the gating one's from what Argo was told, the
// others' from their shadow answers (or, when Argo queried Prometheus
// itself or ran a metric plugin, from replaying the trace at Argo's
// measurement times). A run whose strategy has no analysis gets a trace
// too, asked every analysis interval from the candidate's apply to the
// window's end: what each analyzer would have said had the strategy had one.
func (x *run) recordAnalysis(ctx context.Context) error {
	if x.r.Analysis == nil || x.applied.IsZero() {
		return nil
	}
	calls := x.r.Analysis.Recorded(x.ns)
	cand, stable := x.hashes(ctx, calls)
	if cand == "" {
		return nil // the candidate never ran: nothing was analysed
	}
	tr, ok := x.r.Analysis.Trace(x.ns, cand, stable)
	if !ok {
		return nil
	}
	x.describeTrace(tr)
	served := analyzer.Sum(tr.Candidate, x.res.Window.Start.Sub(tr.Start).Seconds(), x.res.Window.End.Sub(tr.Start).Seconds())
	x.res.CandidateServed = &results.Served{Requests: served.Requests, Errors: served.Errors}
	verdicts, times := x.verdicts(ctx, tr, calls)
	tr.Analyses = times
	rel := filepath.Join(filepath.Dir(x.res.Records), "trace.ndjson")
	if err := analyzer.WriteTraces(filepath.Join(x.r.OutDir, rel), tr); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	x.res.Trace = rel
	return x.detections(tr, verdicts)
}

// hashes are the candidate's and the stable's pod-template hashes: those
// Argo passed to the endpoint, else those of the ReplicaSets running the
// two versions' images.
func (x *run) hashes(ctx context.Context, calls []results.AnalysisCall) (cand, stable string) {
	for _, c := range calls {
		if c.Hash != "" {
			return c.Hash, c.StableHash
		}
	}
	rss, err := x.r.client.AppsV1().ReplicaSets(x.ns).List(ctx, metav1.ListOptions{LabelSelector: analysis.HashLabel})
	if err != nil {
		return "", ""
	}
	for _, rs := range rss.Items {
		for _, c := range rs.Spec.Template.Spec.Containers {
			switch c.Image {
			case x.candidateImage():
				cand = rs.Labels[analysis.HashLabel]
			case x.stableImage():
				stable = rs.Labels[analysis.HashLabel]
			}
		}
	}
	return cand, stable
}

// describeTrace names the trace and adds what the run knows: the ground
// truth, Argo's decision rule, and the onset.
func (x *run) describeTrace(tr *analyzer.Trace) {
	tr.ID, tr.GroundTruth, tr.RootCause = x.spec.ID, x.sc.GroundTruth, x.sc.RootCause
	tr.Loop = analyzer.Loop{FailureLimit: x.sc.Analysis.FailureLimit, InconclusiveLimit: x.sc.Analysis.InconclusiveLimit}
	tr.Params = x.sc.AnalysisParams()
	tr.Labels = map[string]string{
		"scenario": x.sc.Name, "strategy": x.spec.Strategy, "analyzer": x.spec.Analyzer,
		"seed": strconv.FormatInt(x.spec.Seed, 10), "stable": x.sc.Stable.Tag, "candidate": x.sc.Candidate.Tag,
	}
	if on := x.res.Timing.FaultOnsetSeconds; on != nil && x.sc.GroundTruth == results.Bad {
		t := x.applied.Add(time.Duration(*on * float64(time.Second))).Sub(tr.Start).Seconds()
		tr.Onset = &t
	}
}

// verdicts are every analyzer's answers at the run's analysis times.
func (x *run) verdicts(ctx context.Context, tr *analyzer.Trace, calls []results.AnalysisCall) (map[string][]answer, []float64) {
	out := map[string][]answer{}
	info, _ := analysis.Lookup(x.spec.Analyzer)
	if !x.traits.HasAnalysis() {
		return x.replayAll(ctx, tr, out, x.everyInterval(tr))
	}
	if info.Provider == analysis.ProviderWeb {
		var times []float64
		for _, c := range calls {
			if c.Error != "" {
				continue
			}
			times = append(times, c.Time.Sub(tr.Start).Seconds())
			out[c.Analyzer] = append(out[c.Analyzer], answer{c.Verdict, c.Category, c.AI})
			for _, s := range c.Shadow {
				out[s.Analyzer] = append(out[s.Analyzer], answer{s.Verdict, s.Category, s.AI})
			}
		}
		// The endpoint's own analysis times are exact (a call's time is
		// when it arrived, a little before its data was read).
		if len(tr.Analyses) == len(times) {
			times = tr.Analyses
		}
		return out, times
	}
	// Argo measured each metric itself (prometheus), or through a plugin
	// (metric-ai, whose agent calls to the endpoint are in the run's
	// analysis calls): its verdict at a time is the worst of the metrics';
	// the others replay the trace at those times.
	byTime := map[time.Time]results.AnalysisVerdict{}
	for _, e := range x.w.Events() {
		if e.Kind != results.EventMeasurement || e.Measurement == nil {
			continue
		}
		byTime[e.Time] = worse(byTime[e.Time], measurementVerdict(e.Measurement.Phase))
	}
	instants := make([]time.Time, 0, len(byTime))
	for t := range byTime {
		instants = append(instants, t)
	}
	slices.SortFunc(instants, func(a, b time.Time) int { return a.Compare(b) })
	times := make([]float64, len(instants))
	for i, t := range instants {
		times[i] = t.Sub(tr.Start).Seconds()
		out[x.spec.Analyzer] = append(out[x.spec.Analyzer], answer{Verdict: byTime[t]})
	}
	return x.replayAll(ctx, tr, out, times)
}

// everyInterval are the analysis times of a run without analysis: every
// scaled interval from the candidate's apply to the window's end.
func (x *run) everyInterval(tr *analyzer.Trace) []float64 {
	step := x.sc.Scaled(x.sc.Analysis.Interval)
	var times []float64
	for t := x.applied.Add(step); !t.After(x.res.Window.End); t = t.Add(step) {
		times = append(times, t.Sub(tr.Start).Seconds())
	}
	return times
}

// replayAll asks every builtin analyzer but the gating one at the times,
// on the trace, into out. The external ones are not replayed: each answer
// would cost a model call.
func (x *run) replayAll(ctx context.Context, tr *analyzer.Trace, out map[string][]answer, times []float64) (map[string][]answer, []float64) {
	tr.Analyses = times
	for _, a := range analysis.Builtin() {
		if a.Name() == x.spec.Analyzer {
			continue
		}
		d, err := analyzer.Replay(ctx, tr, a)
		if err != nil {
			continue
		}
		for _, v := range d.Verdicts {
			out[a.Name()] = append(out[a.Name()], answer{v.Verdict, v.Category, v.AI})
		}
	}
	return out, times
}

func measurementVerdict(p results.MeasurementPhase) results.AnalysisVerdict {
	switch p {
	case results.MeasurementSuccessful:
		return results.AnalysisPass
	case results.MeasurementFailed:
		return results.AnalysisFail
	}
	return results.AnalysisInconclusive
}

// worse orders verdicts fail > inconclusive > pass > none.
func worse(a, b results.AnalysisVerdict) results.AnalysisVerdict {
	rank := map[results.AnalysisVerdict]int{results.AnalysisPass: 1, results.AnalysisInconclusive: 2, results.AnalysisFail: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// detections apply Argo's failure limit to each analyzer's answers and
// count, from the records, what had failed by then.
func (x *run) detections(tr *analyzer.Trace, verdicts map[string][]answer) error {
	var marks []time.Time
	for _, info := range analysis.Catalog() {
		vs, ok := verdicts[info.Name]
		if !ok {
			continue
		}
		var d analyzer.Decision
		var failed, inconclusive int
		det := results.Detection{Analyzer: info.Name, Gating: info.Name == x.spec.Analyzer, Measurements: len(vs)}
		for i, v := range vs {
			if v.Verdict == results.AnalysisFail {
				det.Failed++
			}
			if v.AI != nil {
				if det.AI == nil {
					det.AI = &results.AIUsage{}
				}
				det.AI.Add(*v.AI)
			}
			before := d.Failed
			d.Decide(tr.Analyses[i], v.Verdict, &failed, &inconclusive, tr.Loop)
			if before == nil && d.Failed != nil {
				det.Category = v.Category
			}
		}
		if d.Failed != nil && det.Category != "" && x.sc.GroundTruth == results.Bad {
			det.RootCauseCorrect = ptr(det.Category == x.sc.RootCause)
		}
		if det.Gating {
			x.res.RootCauseCorrect = det.RootCauseCorrect
		}
		if d.Failed != nil {
			at := tr.Start.Add(time.Duration(*d.Failed * float64(time.Second)))
			det.DetectedAt = &at
			det.AtSeconds = ptr(at.Sub(x.applied).Seconds())
			if on := x.res.Timing.FaultOnsetSeconds; on != nil && *det.AtSeconds >= *on {
				det.TimeToDetectSeconds = ptr(*det.AtSeconds - *on)
			}
			marks = append(marks, at)
		}
		x.res.Detections = append(x.res.Detections, det)
	}
	if len(marks) == 0 {
		return nil
	}
	f, err := os.Open(filepath.Join(x.r.OutDir, x.res.Records))
	if err != nil {
		return err
	}
	defer f.Close()
	counts, err := score.FailedBefore(x.scoreInput(), f, marks)
	if err != nil {
		return err
	}
	k := 0
	for i := range x.res.Detections {
		if x.res.Detections[i].DetectedAt != nil {
			x.res.Detections[i].FailedBeforeDetect = &counts[k]
			k++
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// answer is one analyzer's answer to one measurement, as the run keeps it.
type answer struct {
	Verdict  results.AnalysisVerdict
	Category results.RootCause
	AI       *results.AICall
}
