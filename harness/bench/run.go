package bench

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// Files lists the trace files of a corpus: every *.ndjson and *.ndjson.gz
// below each directory (recursively, in lexical order) and each file named.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".ndjson") || strings.HasSuffix(path, ".ndjson.gz")) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no *.ndjson or *.ndjson.gz trace files", strings.Join(paths, ", "))
	}
	return out, nil
}

// outcome is one analyzer's replay of one trace, reduced to what the
// metrics need.
type outcome struct {
	failed, inconclusive bool
	ttd, lost            float64 // bad and failed only
	cost                 int64   // nanoseconds of CPU (wall time where no thread clock)
	verdicts             int
	// category is what the verdict that failed the run named; empty when
	// it did not fail or named nothing.
	category results.RootCause
	ai       []results.AICall // the AI verdicts' call records, in order
}

// caseResult is one trace's outcomes, one per analyzer.
type caseResult struct {
	truth         results.GroundTruth
	rootCause     results.RootCause // empty: unknown
	source, model string
	points        float64 // the error increase in percentage points; NaN: not labelled
	out           []outcome
}

// Run replays every trace of the corpus through every analyzer, on
// runtime.NumCPU() workers, and computes the metrics of docs/bench.md.
// Memory stays flat in the corpus size: one reader holds a trace at a time,
// each worker one more, and the tallies keep two float64 per analyzer per
// bad case (time to detect and failed before detect, for the medians and
// the sprt pairing) and counters otherwise. The analyzers must be pure
// (the seam's contract), as every worker shares them.
func Run(ctx context.Context, paths []string, analyzers []analyzer.Analyzer) (*Result, error) {
	files, err := Files(paths)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	workers := runtime.NumCPU()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}

	traces := make(chan *analyzer.Trace, workers)
	records := make(chan caseResult, 4*workers)
	go func() {
		defer close(traces)
		for _, f := range files {
			err := analyzer.ReadTraces(f, func(t *analyzer.Trace) error {
				select {
				case traces <- t:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if err != nil {
				fail(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			// The thread CPU clock measures this goroutine only while it
			// keeps its thread.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for t := range traces {
				if ctx.Err() != nil {
					continue // drain
				}
				rec, err := replayCase(ctx, t, analyzers)
				if err != nil {
					fail(err)
					continue
				}
				records <- rec
			}
		})
	}
	go func() { wg.Wait(); close(records) }()

	agg := newAggregate(analyzers)
	for rec := range records {
		agg.add(rec)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := agg.result()
	res.Corpus.Paths, res.Corpus.Files = slices.Clone(paths), len(files)
	res.Environment = environment(workers)
	res.Environment.WallSeconds = time.Since(began).Seconds()
	if res.Environment.WallSeconds > 0 {
		res.Environment.TracesPerMinute = float64(res.Corpus.Traces) / res.Environment.WallSeconds * 60
	}
	res.Generated = time.Now().UTC().Truncate(time.Second)
	return res, nil
}

// replayCase replays t through every analyzer, timing each.
func replayCase(ctx context.Context, t *analyzer.Trace, analyzers []analyzer.Analyzer) (caseResult, error) {
	rec := caseResult{truth: t.GroundTruth, rootCause: t.RootCause, source: t.Source, model: t.Labels["model"], points: math.NaN(), out: make([]outcome, len(analyzers))}
	if v, err := strconv.ParseFloat(t.Labels["errorIncrease"], 64); err == nil {
		rec.points = math.Round(v*100*1e6) / 1e6
	}
	onset := Onset(t)
	for i, a := range analyzers {
		c0, thread := threadCPU()
		w0 := time.Now()
		d, err := analyzer.Replay(ctx, t, a)
		if err != nil {
			return rec, fmt.Errorf("trace %q: %s: %w", t.ID, a.Name(), err)
		}
		o := outcome{verdicts: len(d.Verdicts), failed: d.Failed != nil, inconclusive: d.Failed == nil && d.Inconclusive != nil}
		if c1, ok := threadCPU(); thread && ok {
			o.cost = c1 - c0
		} else {
			o.cost = time.Since(w0).Nanoseconds()
		}
		if o.failed && t.GroundTruth == results.Bad {
			o.ttd = math.Max(0, *d.Failed-onset)
			o.lost = FailedBefore(t, onset, *d.Failed)
		}
		if v, ok := failing(d, t.Loop); ok {
			o.category = v.Category
		}
		for _, v := range d.Verdicts {
			if v.AI != nil {
				o.ai = append(o.ai, *v.AI)
			}
		}
		rec.out[i] = o
	}
	return rec, nil
}

// failing is the verdict that made failures exceed the loop's limit: the
// one at d.Failed, whose category is the analyzer's root cause.
func failing(d analyzer.Decision, loop analyzer.Loop) (analyzer.Verdict, bool) {
	if d.Failed == nil {
		return analyzer.Verdict{}, false
	}
	n := 0
	for _, v := range d.Verdicts {
		if v.Verdict == analyzer.Fail {
			if n++; n > loop.FailureLimit {
				return v, true
			}
		}
	}
	return analyzer.Verdict{}, false
}

// Onset is when the candidate turned bad: the trace's Onset, or else the
// start of the candidate's first step (its first point's T minus Step).
// A trace without candidate points has onset 0.
func Onset(t *analyzer.Trace) float64 {
	switch {
	case t.Onset != nil:
		return *t.Onset
	case len(t.Candidate) > 0:
		return t.Candidate[0].T - t.Step
	}
	return 0
}

// FailedBefore counts the candidate's failed requests in the points with
// onset < T <= failed: its 5xx responses plus its requests slower than the
// SLO, the observations above the smallest bucket bound at or above
// Params.MaxP99 (none counted if MaxP99 is 0 or above every bound). A 5xx
// that was also slow counts twice: the counters cannot tell.
func FailedBefore(t *analyzer.Trace, onset, failed float64) float64 {
	slow := -1
	if slo := t.Params.WithDefaults().MaxP99.Seconds(); slo > 0 {
		slow = slices.IndexFunc(t.Bounds, func(b float64) bool { return b >= slo-1e-9 })
	}
	n := 0.0
	for _, p := range t.Candidate {
		if p.T <= onset || p.T > failed {
			continue
		}
		n += p.Errors
		if slow >= 0 && slow < len(p.Buckets) {
			n += math.Max(0, p.Latencies-p.Buckets[slow])
		}
	}
	return n
}

// The error-increase strata of recall, in percentage points: "0" (no error
// increase, e.g. a latency regression), then [lo, hi) ranges, and
// "unknown" for traces without an errorIncrease label.
var strataBounds = []float64{0.5, 1, 2, 3, 5, 10}

func stratum(points float64) string {
	switch {
	case math.IsNaN(points):
		return "unknown"
	case points == 0:
		return "0"
	case points < strataBounds[0]:
		return "<" + ftoa(strataBounds[0])
	}
	for i := 1; i < len(strataBounds); i++ {
		if points < strataBounds[i] {
			return ftoa(strataBounds[i-1]) + "-" + ftoa(strataBounds[i])
		}
	}
	return "≥" + ftoa(strataBounds[len(strataBounds)-1])
}

// strataOrder lists every stratum name in report order.
func strataOrder() []string {
	out := []string{"0", "<" + ftoa(strataBounds[0])}
	for i := 1; i < len(strataBounds); i++ {
		out = append(out, ftoa(strataBounds[i-1])+"-"+ftoa(strataBounds[i]))
	}
	return append(out, "≥"+ftoa(strataBounds[len(strataBounds)-1]), "unknown")
}

// tally is one analyzer's running totals.
type tally struct {
	name      string
	conf      Confusion
	ttd, lost []float64 // per bad case in arrival order; NaN when not detected
	cost      int64
	verdicts  int64
	strata    map[string]*[2]int // bad cases, detected
	atLeast2  [2]int
	// rootCause counts the detected bad cases of a known root cause where
	// the failing verdict named a category, and those it named right.
	rootCause [2]int
	ai        *results.AIUsage // nil: no AI verdict
	latencies []float64        // of every AI call, for the p95
}

type aggregate struct {
	tallies []*tally
	corpus  Corpus
}

func newAggregate(analyzers []analyzer.Analyzer) *aggregate {
	a := &aggregate{corpus: Corpus{BySource: map[string]Counts{}, ByModel: map[string]Counts{}}}
	for _, an := range analyzers {
		a.tallies = append(a.tallies, &tally{name: an.Name(), strata: map[string]*[2]int{}})
	}
	return a
}

func (a *aggregate) add(rec caseResult) {
	c := &a.corpus
	c.Traces++
	count := func(m map[string]Counts, k string) {
		v := m[k]
		if rec.truth == results.Good {
			v.Good++
		} else {
			v.Bad++
		}
		m[k] = v
	}
	if rec.truth == results.Good {
		c.Good++
	} else {
		c.Bad++
	}
	count(c.BySource, rec.source)
	if rec.model != "" {
		count(c.ByModel, rec.model)
	}
	s := stratum(rec.points)
	for i, o := range rec.out {
		t := a.tallies[i]
		t.cost += o.cost
		t.verdicts += int64(o.verdicts)
		for _, c := range o.ai {
			if t.ai == nil {
				t.ai = &results.AIUsage{}
			}
			t.ai.Add(c)
			t.latencies = append(t.latencies, c.LatencySeconds)
		}
		good := rec.truth == results.Good
		switch {
		case o.failed && good:
			t.conf.FP++
		case o.failed:
			t.conf.TP++
		case o.inconclusive:
			t.conf.Inconclusive++
			if good {
				t.conf.InconclusiveGood++
			} else {
				t.conf.InconclusiveBad++
			}
		case good:
			t.conf.TN++
		default:
			t.conf.FN++
		}
		if good {
			continue
		}
		ttd, lost := math.NaN(), math.NaN()
		if o.failed {
			ttd, lost = o.ttd, o.lost
			if o.category != "" && rec.rootCause != "" {
				t.rootCause[0]++
				if o.category == rec.rootCause {
					t.rootCause[1]++
				}
			}
		}
		t.ttd, t.lost = append(t.ttd, ttd), append(t.lost, lost)
		st := t.strata[s]
		if st == nil {
			st = new([2]int)
			t.strata[s] = st
		}
		st[0]++
		if rec.points >= 2 {
			t.atLeast2[0]++
		}
		if o.failed {
			st[1]++
			if rec.points >= 2 {
				t.atLeast2[1]++
			}
		}
	}
}

// SPRT is the analyzer sprtRatio compares against.
const SPRT = "sprt"

func (a *aggregate) result() *Result {
	res := &Result{Schema: Schema, Version: SchemaVersion, Corpus: a.corpus}
	ref := slices.IndexFunc(a.tallies, func(t *tally) bool { return t.name == SPRT })
	for _, t := range a.tallies {
		m := Metrics{Name: t.name, Confusion: t.conf, Verdicts: t.verdicts}
		bad := t.conf.TP + t.conf.FN + t.conf.InconclusiveBad
		good := t.conf.FP + t.conf.TN + t.conf.InconclusiveGood
		m.Cases, m.Bad, m.Good = bad+good, bad, good
		m.Precision = ratio(t.conf.TP, t.conf.TP+t.conf.FP)
		m.Recall = ratio(t.conf.TP, bad)
		m.FalseAlarmRate = ratio(t.conf.FP, good)
		ttd, lost := detected(t.ttd, nil), detected(t.lost, nil)
		m.Detected = len(ttd)
		m.MedianTimeToDetectSeconds, m.MedianTimeToDetectCI = median(ttd)
		m.MedianFailedBeforeDetect, m.MedianFailedBeforeDetectCI = median(lost)
		m.P90TimeToDetectSeconds, m.P90FailedBeforeDetect = quantile(ttd, 0.9), quantile(lost, 0.9)
		if t.verdicts > 0 {
			m.CostNanosPerVerdict = float64(t.cost) / float64(t.verdicts)
		}
		for _, name := range strataOrder() {
			if st := t.strata[name]; st != nil {
				m.RecallByIncrease = append(m.RecallByIncrease, Stratum{Stratum: name, Bad: st[0], Detected: st[1], Recall: ratio(st[1], st[0])})
			}
		}
		m.BadAtLeast2Points, m.RecallAtLeast2Points = t.atLeast2[0], ratio(t.atLeast2[1], t.atLeast2[0])
		m.RootCauseNamed, m.RootCauseCorrect = t.rootCause[0], t.rootCause[1]
		m.RootCauseAccuracy = ratio(t.rootCause[1], t.rootCause[0])
		if t.ai != nil {
			slices.Sort(t.latencies)
			m.AI = &AIMetrics{AIUsage: *t.ai, CostPerDecisionUSD: t.ai.CostUSD / float64(t.ai.Calls), P95LatencySeconds: *quantile(t.latencies, 0.95)}
		}
		if ref >= 0 {
			sp := a.tallies[ref]
			mine, theirs := detected(t.lost, sp.lost), detected(sp.lost, t.lost)
			m.SPRTPairs = len(mine)
			mm, _ := median(mine)
			ms, _ := median(theirs)
			if mm != nil && ms != nil && *ms > 0 {
				m.SPRTRatio = ptr(*mm / *ms)
			}
		}
		res.Analyzers = append(res.Analyzers, m)
	}
	return res
}

// detected returns the non-NaN values of xs, sorted; with also, only those
// whose index is non-NaN in also too.
func detected(xs, also []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for i, x := range xs {
		if !math.IsNaN(x) && (also == nil || !math.IsNaN(also[i])) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

func ptr(f float64) *float64 { return &f }

func ratio(num, den int) *float64 {
	if den == 0 {
		return nil
	}
	return ptr(float64(num) / float64(den))
}

// quantile is the q-quantile of sorted xs, interpolating linearly between
// order statistics (Hyndman and Fan's type 7, R's default); nil if empty.
func quantile(sorted []float64, q float64) *float64 {
	n := len(sorted)
	if n == 0 {
		return nil
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return ptr(sorted[n-1])
	}
	return ptr(sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo]))
}

// median is the median of sorted xs and its distribution-free 95%
// confidence interval: the order statistics of ranks n/2 ∓ 0.98·√n (the
// normal approximation to the binomial(n, ½) of how many values fall below
// the true median), clamped to the sample.
func median(sorted []float64) (*float64, *Interval) {
	n := len(sorted)
	if n == 0 {
		return nil, nil
	}
	half := 0.98 * math.Sqrt(float64(n))
	lo := max(int(math.Floor(float64(n)/2-half)), 1)
	hi := min(int(math.Ceil(float64(n)/2+1+half)), n)
	return quantile(sorted, 0.5), &Interval{Low: sorted[lo-1], High: sorted[hi-1]}
}

func environment(workers int) Environment {
	clock := "thread-cpu"
	if _, ok := threadCPU(); !ok {
		clock = "wall"
	}
	return Environment{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Workers: workers, CostClock: clock}
}
