// Package bench scores analyzers offline: it synthesises trace corpora from
// stated models (Generate), replays every trace of a corpus through every
// analyzer of the catalog in accelerated time (Run), writes bench.json and
// bench.html (Write), and compares a run against a baseline (Compare).
// docs/bench.md states the models and the metrics exactly.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// The generator's fixed shape (docs/bench.md, "Timing").
const (
	// GeneratorVersion is written into every synthetic trace's labels; it
	// changes whenever a seed would give other traces.
	GeneratorVersion = "1"
	step             = 1.0  // seconds per point
	lead             = 10.0 // seconds of stable before the candidate's first request
	interval         = 5.0  // seconds between analyses (Argo's default here)
	stablePods       = 4
)

// Models, by name; good ones first. Weights are each model's share of a
// corpus (docs/bench.md, "Models"); rootCause is the trace's RootCause,
// the category the demo app's catalog gives the same defect (errors,
// steady, late or bursty: error-rate; errors for a user segment:
// user-segment; a crash loop: crash).
var models = []struct {
	name      string
	truth     results.GroundTruth
	weight    float64
	rootCause results.RootCause
}{
	{"identical", results.Good, 0.30, results.RootCauseNone},
	{"blips", results.Good, 0.125, results.RootCauseNone},
	{"restart", results.Good, 0.075, results.RootCauseNone},
	{"steady", results.Bad, 0.15, results.RootCauseErrorRate},
	{"late", results.Bad, 0.10, results.RootCauseErrorRate},
	{"bursty", results.Bad, 0.075, results.RootCauseErrorRate},
	{"segment", results.Bad, 0.075, results.RootCauseUserSegment},
	{"latency", results.Bad, 0.05, results.RootCauseLatency},
	{"crashloop", results.Bad, 0.05, results.RootCauseCrash},
}

// start is every synthetic trace's T = 0: a fixed instant, so the bytes
// depend on the seed only.
var start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Counts are a corpus's cases by ground truth.
type Counts struct {
	Good int `json:"good"`
	Bad  int `json:"bad"`
}

// Generate writes cases synthetic traces to w as NDJSON, one per line. Case
// i is drawn from its own PCG stream seeded with (seed, i), so it is the
// same whatever the number of cases.
func Generate(w io.Writer, cases int, seed uint64) (Counts, error) {
	var c Counts
	enc := json.NewEncoder(w)
	for i := range cases {
		t := Synthesize(seed, i)
		if t.GroundTruth == results.Good {
			c.Good++
		} else {
			c.Bad++
		}
		if err := enc.Encode(t); err != nil {
			return c, err
		}
	}
	return c, nil
}

// scenario is one case's drawn parameters: everything its series come from.
type scenario struct {
	model               string
	truth               results.GroundTruth
	rootCause           results.RootCause
	duration            float64 // seconds of candidate
	totalRPS, candRPS   float64
	split               string // canary or bluegreen
	candPods            int
	stableErr, increase float64 // fractions
	stableLat, candLat  lognormal
	latencyFactor       float64
	onset               float64 // seconds since start the candidate turns bad
	burstPeriod, burstL float64
	segment             float64
	restartEvery, down  float64
	restartAt           float64 // restart model: when its one restart happens
	labels              map[string]string
}

// Synthesize draws case i of the corpus with the given seed.
func Synthesize(seed uint64, i int) *analyzer.Trace {
	r := newRand(seed, i)
	s := draw(r)
	s.labels["generator"] = GeneratorVersion
	s.labels["seed"] = strconv.FormatUint(seed, 10)
	s.labels["case"] = strconv.Itoa(i)
	t := &analyzer.Trace{
		Version: analyzer.TraceVersion, ID: fmt.Sprintf("synthetic-%d-%06d", seed, i),
		Source: analyzer.SourceSynthetic, GroundTruth: s.truth, RootCause: s.rootCause, Start: start, Step: step,
		Bounds: append([]float64(nil), demoapp.DurationBuckets...),
		Params: analyzer.Defaults, Labels: s.labels,
	}
	end := lead + s.duration
	for at := lead + interval; at <= end; at += interval {
		t.Analyses = append(t.Analyses, at)
	}
	t.Loop = analyzer.Loop{FailureLimit: 1, InconclusiveLimit: len(t.Analyses) - 1}
	if s.model != "identical" && s.onset > lead {
		on := s.onset
		t.Onset = &on
	}
	s.series(r, t)
	return t
}

// pick returns a random element of xs.
func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// logUniform draws from [lo, hi] uniformly on a log scale.
func logUniform(r *rand.Rand, lo, hi float64) float64 {
	return lo * math.Exp(r.Float64()*math.Log(hi/lo))
}

// round rounds x to d decimals, so that a label states the value used exactly.
func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}

func ftoa(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// draw picks the model and its parameters, always in the same order.
func draw(r *rand.Rand) scenario {
	u, m := r.Float64(), 0
	for ; m < len(models)-1 && u >= models[m].weight; m++ {
		u -= models[m].weight
	}
	s := scenario{model: models[m].name, truth: models[m].truth, rootCause: models[m].rootCause, labels: map[string]string{}}
	s.duration = 60 + interval*float64(r.IntN(13))
	s.totalRPS = pick(r, 20.0, 50, 100, 200)
	if r.Float64() < 0.15 {
		s.split, s.candRPS, s.candPods = "bluegreen", pick(r, 5.0, 10, 20), 2
	} else {
		share := pick(r, 0.1, 0.1, 0.2, 0.2, 0.5)
		s.split, s.candRPS, s.candPods = "canary", s.totalRPS*share, 1
		if share >= 0.5 {
			s.candPods = 2
		}
	}
	if r.Float64() >= 0.3 {
		s.stableErr = round(logUniform(r, 0.001, 0.02), 4)
	}
	s.stableLat = lognormal{Mu: math.Log(round(logUniform(r, 0.005, 0.1), 4)), Sigma: round(0.3+0.6*r.Float64(), 2)}
	s.candLat = s.stableLat
	s.onset = lead
	// every bad model but latency raises the candidate's error rate
	inc := func() float64 {
		switch v := r.Float64(); {
		case v < 0.35:
			return 0.02
		case v < 0.55:
			return round(0.015+0.01*r.Float64(), 3)
		default:
			return round(logUniform(r, 0.005, 0.2), 4)
		}
	}
	switch s.model {
	case "identical":
	case "blips":
	case "restart":
		s.restartAt = lead + float64(5+r.IntN(int(s.duration)-10))
		s.down = float64(1 + r.IntN(2))
	case "steady":
		s.increase = inc()
	case "late":
		s.increase = inc()
		s.onset = lead + float64(10+r.IntN(int(s.duration/2)-9))
	case "bursty":
		s.increase = inc()
		s.burstPeriod, s.burstL = float64(10+r.IntN(21)), float64(2+r.IntN(4))
		rate := math.Min(s.increase*s.burstPeriod/s.burstL, 1-s.stableErr)
		s.increase = round(rate*s.burstL/s.burstPeriod, 6)
	case "segment":
		s.increase = inc()
		s.segment = pick(r, 0.05, 0.1, 0.2, 0.3)
		rate := math.Min(s.increase/s.segment, 1-s.stableErr)
		s.increase = round(rate*s.segment, 6)
	case "latency":
		s.latencyFactor = round(logUniform(r, 2, 10), 2)
		s.candLat.Mu += math.Log(s.latencyFactor)
	case "crashloop":
		s.increase = inc()
		s.restartEvery, s.down = float64(8+r.IntN(13)), float64(2+r.IntN(4))
	}
	l := s.labels
	l["model"], l["split"] = s.model, s.split
	l["totalRPS"], l["candidateRPS"] = ftoa(s.totalRPS), ftoa(s.candRPS)
	l["candidateSeconds"] = ftoa(s.duration)
	l["stableErrorRate"] = ftoa(s.stableErr)
	l["errorIncrease"] = ftoa(s.increase)
	l["latencyMedian"] = ftoa(round(math.Exp(s.stableLat.Mu), 4))
	l["latencySigma"] = ftoa(s.stableLat.Sigma)
	if s.latencyFactor > 0 {
		l["latencyFactor"] = ftoa(s.latencyFactor)
	}
	if s.burstPeriod > 0 {
		l["burstPeriod"], l["burstLength"] = ftoa(s.burstPeriod), ftoa(s.burstL)
	}
	if s.segment > 0 {
		l["segment"] = ftoa(s.segment)
	}
	if s.restartEvery > 0 {
		l["restartEvery"] = ftoa(s.restartEvery)
	}
	if s.down > 0 {
		l["down"] = ftoa(s.down)
	}
	return s
}

// series draws both versions' points, step by step, stable first.
func (s *scenario) series(r *rand.Rand, t *analyzer.Trace) {
	end := lead + s.duration
	stableProb, stableMean := s.stableLat.bins(t.Bounds)
	candProb, candMean := s.candLat.bins(t.Bounds)
	if s.model != "latency" {
		candProb, candMean = stableProb, stableMean
	}
	stableRPS := s.totalRPS
	if s.split == "canary" {
		stableRPS -= s.candRPS
	}
	bins := make([]float64, len(t.Bounds)+1)
	var blip float64 // blips: extra error rate of both versions in this step
	blipLeft := 0
	downUntil, lastRestart := -1.0, lead
	for T := step; T <= end; T += step {
		if s.model == "blips" {
			if blipLeft == 0 && r.Float64() < 0.03 {
				blipLeft, blip = 1+r.IntN(3), round(0.05+0.25*r.Float64(), 3)
			}
			if blipLeft == 0 {
				blip = 0
			} else {
				blipLeft--
			}
		}
		t.Stable = append(t.Stable, s.point(r, T, stableRPS, stablePods, stablePods, math.Min(1, s.stableErr+blip), 0, stableProb, stableMean, bins))
		if T <= lead {
			continue
		}
		// the candidate's pods: one of them may be down (crash loop, restart)
		ready, restarts := s.candPods, 0
		switch {
		case s.model == "crashloop" && T > s.onset && T-lastRestart >= s.restartEvery && T > downUntil:
			downUntil, lastRestart = T+s.down, T+s.down
		case s.model == "restart" && T == s.restartAt:
			downUntil = T + s.down
		}
		if T <= downUntil {
			ready--
		} else if downUntil > 0 && T == downUntil+step {
			restarts = 1 // the first scrape after the restart sees the counters reset
		}
		if ready == 0 && restarts == 0 {
			continue // no candidate pod to scrape: the point is missing
		}
		pods := ready
		if restarts > 0 {
			pods, ready = s.candPods, s.candPods
		}
		rate := s.stableErr + blip
		segment := 0.0
		if T > s.onset && s.increase > 0 {
			switch {
			case s.burstPeriod > 0:
				if math.Mod(T-s.onset-step, s.burstPeriod) < s.burstL {
					rate += s.increase * s.burstPeriod / s.burstL
				}
			case s.segment > 0:
				segment = s.segment
			default:
				rate += s.increase
			}
		}
		rps := s.candRPS * float64(ready) / float64(s.candPods)
		p := s.point(r, T, rps, pods, ready, math.Min(1, rate), segment, candProb, candMean, bins)
		p.Restarts = restarts
		t.Candidate = append(t.Candidate, p)
	}
}

// point draws one version's step ending at T: Poisson requests, binomial
// errors (segment > 0: the segment model's errors, see docs/bench.md), and
// a multinomial spread of latencies over the buckets.
func (s *scenario) point(r *rand.Rand, T, rps float64, pods, ready int, rate, segment float64, prob, mean, bins []float64) analyzer.Point {
	n := poisson(r, rps*step)
	p := analyzer.Point{T: T, Requests: n, Latencies: n, Pods: pods, Ready: ready, Buckets: make([]float64, len(prob)-1)}
	if segment > 0 {
		share := math.Min(1, segment*math.Exp(0.5*r.NormFloat64()-0.125))
		inSeg := binomial(r, n, share)
		segRate := math.Min(1, s.stableErr+s.increase/segment)
		p.Errors = binomial(r, inSeg, segRate) + binomial(r, n-inSeg, rate)
	} else {
		p.Errors = binomial(r, n, rate)
	}
	multinomial(r, n, prob, bins)
	cum, sum := 0.0, 0.0
	for i, c := range bins {
		sum += c * mean[i]
		cum += c
		if i < len(p.Buckets) {
			p.Buckets[i] = cum
		}
	}
	p.LatencySum = round(sum, 6)
	return p
}
