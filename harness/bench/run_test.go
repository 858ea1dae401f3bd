package bench

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// scripted is a fake analyzer for the tests: it knows each trace by its
// candidate's first point's Requests (the key) and answers what its script
// says: fail from a time on, inconclusive always, or pass.
type scripted struct {
	name   string
	failAt map[float64]float64 // key -> first failing analysis time
	incon  map[float64]bool
}

func (s scripted) Name() string { return s.name }

func (s scripted) Analyze(_ context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	key := in.Candidate[0].Requests
	switch at, ok := s.failAt[key]; {
	case ok && in.Now >= at:
		return analyzer.Verdict{Verdict: analyzer.Fail}, nil
	case s.incon[key]:
		return analyzer.Verdict{Verdict: analyzer.Inconclusive}, nil
	}
	return analyzer.Verdict{Verdict: analyzer.Pass}, nil
}

// handTrace is a 20-step trace whose every candidate point has 10 requests,
// 1 error and 1 request slower than the 1 s SLO: 2 failed requests a step.
func handTrace(key float64, truth results.GroundTruth, onset *float64, increase string) *analyzer.Trace {
	t := &analyzer.Trace{
		Version: analyzer.TraceVersion, ID: fmt.Sprint("hand-", key), Source: analyzer.SourceRecorded,
		GroundTruth: truth, Step: 1, Bounds: []float64{0.5, 1, 2},
		Analyses: []float64{5, 10, 15, 20}, Loop: analyzer.Loop{FailureLimit: 0, InconclusiveLimit: 3},
		Params: analyzer.Params{MaxP99: time.Second}, Onset: onset,
	}
	if increase != "" {
		t.Source = analyzer.SourceSynthetic
		t.Labels = map[string]string{"errorIncrease": increase, "model": "hand"}
	}
	for T := 1.0; T <= 20; T++ {
		p := analyzer.Point{T: T, Requests: 10, Errors: 1, Latencies: 10, Buckets: []float64{8, 9, 10}, Pods: 1, Ready: 1}
		if T == 1 {
			p.Requests = key
		}
		t.Candidate = append(t.Candidate, p)
		t.Stable = append(t.Stable, analyzer.Point{T: T, Requests: 10, Latencies: 10, Buckets: []float64{10, 10, 10}})
	}
	return t
}

func TestRunMetricsArithmetic(t *testing.T) {
	dir := t.TempDir()
	five := 5.0
	// A..E bad, F..H good; the key 100+i (first point's requests) names each
	a, b, c, d, e := handTrace(100, results.Bad, nil, "0.02"), handTrace(101, results.Bad, &five, "0.005"),
		handTrace(102, results.Bad, nil, "0.1"), handTrace(103, results.Bad, nil, "0.02"), handTrace(104, results.Bad, nil, "")
	f, g, h := handTrace(105, results.Good, nil, "0"), handTrace(106, results.Good, nil, ""), handTrace(107, results.Good, nil, "0")
	require.NoError(t, analyzer.WriteTraces(filepath.Join(dir, "a.ndjson"), a, b, c))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, analyzer.WriteTraces(filepath.Join(dir, "sub", "b.ndjson.gz"), d, e, f, g, h))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a trace"), 0o644))

	an := scripted{name: "a", failAt: map[float64]float64{100: 10, 101: 15, 102: 20, 105: 5}, incon: map[float64]bool{104: true}}
	sp := scripted{name: SPRT, failAt: map[float64]float64{100: 5, 101: 15}}
	res, err := Run(context.Background(), []string{dir}, []analyzer.Analyzer{an, sp})
	require.NoError(t, err)

	assert.Equal(t, 2, res.Corpus.Files)
	assert.Equal(t, 8, res.Corpus.Traces)
	assert.Equal(t, 3, res.Corpus.Good)
	assert.Equal(t, 5, res.Corpus.Bad)
	assert.Equal(t, map[string]Counts{"recorded": {Good: 1, Bad: 1}, "synthetic": {Good: 2, Bad: 4}}, res.Corpus.BySource)

	m, ok := res.Analyzer("a")
	require.True(t, ok)
	assert.Equal(t, Confusion{TP: 3, FP: 1, TN: 2, FN: 1, Inconclusive: 1, InconclusiveBad: 1}, m.Confusion)
	assert.InDelta(t, 0.75, *m.Precision, 1e-12)
	assert.InDelta(t, 0.6, *m.Recall, 1e-12)
	assert.InDelta(t, 1.0/3, *m.FalseAlarmRate, 1e-12)
	// times to detect 10 (A), 10 (B: 15 - onset 5), 20 (C); failed before
	// detect 2 a step from onset: 20, 20, 40
	assert.Equal(t, 10.0, *m.MedianTimeToDetectSeconds)
	assert.InDelta(t, 18, *m.P90TimeToDetectSeconds, 1e-12)
	assert.Equal(t, 20.0, *m.MedianFailedBeforeDetect)
	assert.InDelta(t, 36, *m.P90FailedBeforeDetect, 1e-12)
	assert.Equal(t, &Interval{Low: 10, High: 20}, m.MedianTimeToDetectCI)
	// on A and B, both detected: a lost 20 and 20, sprt 10 and 20
	assert.Equal(t, 2, m.SPRTPairs)
	assert.InDelta(t, 20.0/15, *m.SPRTRatio, 1e-12)
	assert.Equal(t, int64(32), m.Verdicts)
	assert.Positive(t, m.CostNanosPerVerdict)
	assert.Equal(t, []Stratum{
		{Stratum: "0.5-1", Bad: 1, Detected: 1, Recall: ptr(1)},
		{Stratum: "2-3", Bad: 2, Detected: 1, Recall: ptr(0.5)},
		{Stratum: "≥10", Bad: 1, Detected: 1, Recall: ptr(1)},
		{Stratum: "unknown", Bad: 1, Detected: 0, Recall: ptr(0)},
	}, m.RecallByIncrease)
	assert.Equal(t, 3, m.BadAtLeast2Points)
	assert.InDelta(t, 2.0/3, *m.RecallAtLeast2Points, 1e-12)

	s, _ := res.Analyzer(SPRT)
	assert.Equal(t, Confusion{TP: 2, TN: 3, FN: 3}, s.Confusion)
	assert.Equal(t, 0.0, *s.FalseAlarmRate)
	assert.Equal(t, 1.0, *s.SPRTRatio)
	assert.Equal(t, 15.0, *s.MedianFailedBeforeDetect)

	// bench.json keeps the fixed names; bench.html is one page without scripts
	out := t.TempDir()
	require.NoError(t, res.Write(out))
	raw, err := os.ReadFile(filepath.Join(out, "bench.json"))
	require.NoError(t, err)
	var doc struct {
		Schema    string                       `json:"schema"`
		Analyzers []map[string]json.RawMessage `json:"analyzers"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Equal(t, Schema, doc.Schema)
	for _, k := range []string{"precision", "recall", "falseAlarmRate", "medianTimeToDetectSeconds", "medianFailedBeforeDetect",
		"sprtRatio", "confusion", "p90TimeToDetectSeconds", "p90FailedBeforeDetect", "costNanosPerVerdict", "recallByIncrease"} {
		assert.Contains(t, doc.Analyzers[0], k)
	}
	var conf map[string]int
	require.NoError(t, json.Unmarshal(doc.Analyzers[0]["confusion"], &conf))
	for _, k := range []string{"tp", "fp", "tn", "fn", "inconclusive"} {
		assert.Contains(t, conf, k)
	}
	back, err := Load(filepath.Join(out, "bench.json"))
	require.NoError(t, err)
	assert.Equal(t, res.Analyzers, back.Analyzers)
	page, err := os.ReadFile(filepath.Join(out, "bench.html"))
	require.NoError(t, err)
	for _, want := range []string{"<svg", "<td>a</td>", "75.0%", "sprt"} {
		assert.Contains(t, string(page), want)
	}
	for _, not := range []string{"<script", "http://", "https://"} {
		assert.NotContains(t, strings.ReplaceAll(string(page), `xmlns="http://www.w3.org/2000/svg"`, ""), not)
	}
}

// named is a fake analyzer that fails every trace from t=10 on, naming
// the category its script gives the trace's key (none when absent), and,
// if ai, records a model call on every verdict: latency key/100 s, cost
// one cent, a timeout on the first analysis.
type named struct {
	category map[float64]results.RootCause
	ai       bool
}

func (named) Name() string { return "named" }

func (n named) Analyze(_ context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	key := in.Candidate[0].Requests
	v := analyzer.Verdict{Verdict: analyzer.Pass}
	if in.Now >= 10 {
		v = analyzer.Verdict{Verdict: analyzer.Fail, Category: n.category[key]}
	}
	if n.ai {
		v.AI = &results.AICall{Model: "fake", LatencySeconds: key / 100, Attempts: 1, PromptTokens: 100, CompletionTokens: 10, CostUSD: 0.01}
		if in.Now == 5 {
			v.AI.Failure, v.AI.Retries, v.AI.Attempts = "timeout", 1, 2
		}
	}
	return v, nil
}

// Root-cause accuracy counts the detected bad traces of a known root cause
// whose failing verdict (the one at d.Failed, not an earlier fail) named a
// category: right, wrong, or not counted.
func TestRunRootCauseAccuracy(t *testing.T) {
	dir := t.TempDir()
	var traces []*analyzer.Trace
	add := func(key float64, truth results.GroundTruth, rc results.RootCause) {
		tr := handTrace(key, truth, nil, "")
		tr.RootCause = rc
		traces = append(traces, tr)
	}
	add(100, results.Bad, results.RootCauseErrorRate) // right
	add(101, results.Bad, results.RootCauseLatency)   // wrong: error-rate named
	add(102, results.Bad, results.RootCauseLatency)   // right
	add(103, results.Bad, results.RootCauseCrash)     // no category named: not counted
	add(104, results.Bad, "")                         // unknown root cause (an older corpus): not counted
	add(105, results.Good, results.RootCauseNone)     // a false alarm: not counted
	require.NoError(t, analyzer.WriteTraces(filepath.Join(dir, "t.ndjson"), traces...))
	an := named{category: map[float64]results.RootCause{100: results.RootCauseErrorRate, 101: results.RootCauseErrorRate,
		102: results.RootCauseLatency, 104: results.RootCauseErrorRate, 105: results.RootCauseErrorRate}}
	res, err := Run(context.Background(), []string{dir}, []analyzer.Analyzer{an, scripted{name: "plain", failAt: map[float64]float64{100: 5}}})
	require.NoError(t, err)
	m, _ := res.Analyzer("named")
	assert.Equal(t, 5, m.Detected)
	assert.Equal(t, 3, m.RootCauseNamed)
	assert.Equal(t, 2, m.RootCauseCorrect)
	assert.InDelta(t, 2.0/3, *m.RootCauseAccuracy, 1e-12)
	assert.Nil(t, m.AI, "no AI verdicts")
	p, _ := res.Analyzer("plain")
	assert.Equal(t, 1, p.Detected)
	assert.Nil(t, p.RootCauseAccuracy, "it names nothing: null")
	assert.Zero(t, p.RootCauseNamed)

	// With a failure limit of 1 the run fails at the second fail (t=15):
	// that verdict's category counts, not the first's.
	first := handTrace(110, results.Bad, nil, "")
	first.RootCause, first.Loop.FailureLimit = results.RootCauseLatency, 1
	d := analyzer.Decision{Verdicts: []analyzer.Verdict{{Verdict: analyzer.Pass}, {Verdict: analyzer.Fail, Category: results.RootCauseErrorRate},
		{Verdict: analyzer.Fail, Category: results.RootCauseLatency}}, Failed: ptr(15)}
	v, ok := failing(d, first.Loop)
	require.True(t, ok)
	assert.Equal(t, results.RootCauseLatency, v.Category)
	_, ok = failing(analyzer.Decision{Verdicts: d.Verdicts}, first.Loop)
	assert.False(t, ok, "not failed")

	// bench.json: the three fields, null accuracy where undefined
	out := t.TempDir()
	require.NoError(t, res.Write(out))
	raw, err := os.ReadFile(filepath.Join(out, "bench.json"))
	require.NoError(t, err)
	var doc struct {
		Analyzers []map[string]json.RawMessage `json:"analyzers"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.JSONEq(t, "0.6666666666666666", string(doc.Analyzers[0]["rootCauseAccuracy"]))
	assert.JSONEq(t, "null", string(doc.Analyzers[1]["rootCauseAccuracy"]))
	assert.NotContains(t, doc.Analyzers[0], "ai", "no AI calls, no ai object")
	page, err := os.ReadFile(filepath.Join(out, "bench.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), "root cause")
	assert.Contains(t, string(page), "66.7% (2/3)")
	assert.NotContains(t, string(page), "per decision", "no AI columns without AI calls")
}

// An AI analyzer's call records add up: calls, failures by kind, tokens,
// cost in total and per decision, mean and p95 latency.
func TestRunAICost(t *testing.T) {
	dir := t.TempDir()
	// keys 100 and 200: latencies 1 s and 2 s, four analyses each
	require.NoError(t, analyzer.WriteTraces(filepath.Join(dir, "t.ndjson"), handTrace(100, results.Bad, nil, ""), handTrace(200, results.Good, nil, "")))
	res, err := Run(context.Background(), []string{dir}, []analyzer.Analyzer{named{ai: true}, scripted{name: "plain"}})
	require.NoError(t, err)
	m, _ := res.Analyzer("named")
	require.NotNil(t, m.AI)
	assert.Equal(t, 8, m.AI.Calls)
	assert.Equal(t, map[string]int{"timeout": 2}, m.AI.Failures)
	assert.Equal(t, int64(800), m.AI.PromptTokens)
	assert.Equal(t, int64(80), m.AI.CompletionTokens)
	assert.InDelta(t, 0.08, m.AI.CostUSD, 1e-12)
	assert.InDelta(t, 0.01, m.AI.CostPerDecisionUSD, 1e-12)
	assert.InDelta(t, 1.5, m.AI.MeanLatencySeconds, 1e-12)
	assert.Equal(t, 2.0, m.AI.MaxLatencySeconds)
	assert.InDelta(t, 2.0, m.AI.P95LatencySeconds, 1e-12, "four at 1 s, four at 2 s: type 7 gives 2")
	p, _ := res.Analyzer("plain")
	assert.Nil(t, p.AI)

	out := t.TempDir()
	require.NoError(t, res.Write(out))
	back, err := Load(filepath.Join(out, "bench.json"))
	require.NoError(t, err)
	assert.Equal(t, res.Analyzers, back.Analyzers, "the ai object round-trips")
	page, err := os.ReadFile(filepath.Join(out, "bench.html"))
	require.NoError(t, err)
	for _, want := range []string{"$0.0100", "1.50", "2.00", "timeout 2"} {
		assert.Contains(t, string(page), want)
	}
	assert.NotContains(t, string(page), "root cause", "no category named: no root-cause column")
}

func TestRunBadInputNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	good, err := json.Marshal(handTrace(100, results.Bad, nil, ""))
	require.NoError(t, err)
	path := filepath.Join(dir, "x.ndjson")
	require.NoError(t, os.WriteFile(path, append(append(good, '\n'), []byte("{\"version\":1,\"oops\":2}\n")...), 0o644))
	_, err = Run(context.Background(), []string{dir}, []analyzer.Analyzer{scripted{name: "a"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+":2:")

	_, err = Run(context.Background(), []string{filepath.Join(dir, "missing")}, nil)
	assert.Error(t, err)
	_, err = Run(context.Background(), []string{t.TempDir()}, nil)
	assert.ErrorContains(t, err, "no *.ndjson")

	bad := filepath.Join(dir, "bench.json")
	require.NoError(t, os.WriteFile(bad, []byte("{\n\"schema\": \"blastradius.bench\",\n\"version\": \"one\"\n}\n"), 0o644))
	_, err = Load(bad)
	assert.ErrorContains(t, err, bad+":3:")
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w *gzip.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

// A corpus of 20,000 traces replays with the heap far below the corpus's
// size: the run keeps a few traces and a few floats per bad case.
func TestRunStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and replays 20,000 traces")
	}
	const unique, copies = 2000, 10 // 2,000 generated traces, read 10 times over
	path := filepath.Join(t.TempDir(), "big.ndjson.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	gz, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	require.NoError(t, err)
	cw := &countingWriter{w: gz}
	_, err = Generate(cw, unique, 99)
	require.NoError(t, err)
	require.NoError(t, gz.Close())
	require.NoError(t, f.Close())
	corpusBytes := cw.n * copies
	paths := make([]string, copies)
	for i := range paths {
		paths[i] = path
	}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	cheap := scripted{name: "cheap"}
	res, err := Run(context.Background(), paths, []analyzer.Analyzer{cheap})
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, unique*copies, res.Corpus.Traces)
	grew := float64(peak.Load()) - float64(base.HeapInuse)
	t.Logf("corpus %.0f MB of JSON; heap in use peaked %.1f MB above the %.1f MB before the run",
		float64(corpusBytes)/1e6, grew/1e6, float64(base.HeapInuse)/1e6)
	assert.Less(t, grew, float64(corpusBytes)/20, "heap growth under 5% of the corpus")
	assert.Less(t, grew, 64e6, "heap growth under 64 MB")
}

// The scripted analyzer fails on every trace whose key is in failAt; on
// generated traces the key is the first point's requests, so a run through
// it is a check that the bench handles real generated corpora.
func TestRunGeneratedCorpus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.ndjson")
	require.NoError(t, os.WriteFile(path, generate(t, 50, 4), 0o644))
	res, err := Run(context.Background(), []string{path}, []analyzer.Analyzer{scripted{name: "never"}})
	require.NoError(t, err)
	m := res.Analyzers[0]
	assert.Equal(t, 50, m.Cases)
	assert.Equal(t, 0, m.Confusion.TP+m.Confusion.FP)
	assert.Nil(t, m.Precision)
	assert.Equal(t, 0.0, *m.Recall)
	assert.Nil(t, m.MedianTimeToDetectSeconds)
	assert.NotEmpty(t, res.Corpus.ByModel)
}
