package analyzer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// TraceVersion is the trace format's version; readers refuse others.
const TraceVersion = 1

// Trace is one release as the analyzers saw it: both versions' series from
// the first scrape to the end of the analysis, the times the gating
// analysis measured, and the ground truth. Replaying any analyzer on it
// needs no cluster.
type Trace struct {
	Version     int                 `json:"version"`
	ID          string              `json:"id"`     // unique within a corpus
	Source      string              `json:"source"` // SourceRecorded or SourceSynthetic
	GroundTruth results.GroundTruth `json:"groundTruth"`
	// RootCause is the bad release's defect category (none when good),
	// what an analyzer that names one should name; empty when unknown.
	RootCause results.RootCause `json:"rootCause,omitempty"`
	Start     time.Time         `json:"start"` // T = 0
	Step      float64           `json:"step"`  // seconds per point
	Bounds    []float64         `json:"bounds"`
	Stable    []Point           `json:"stable"`
	Candidate []Point           `json:"candidate"`
	// Analyses are the times (seconds since Start) the analysis measured,
	// in order; a replay asks every analyzer at these times.
	Analyses []float64 `json:"analyses"`
	// Contexts are what the analyses knew besides the counters, in time
	// order, for the analyzers that read them (llm, agent); a replay at T
	// sees the last one read at or before T.
	Contexts []Context `json:"contexts,omitempty"`
	// Loop is how Argo turned measurements into a decision in this run.
	Loop   Loop   `json:"loop"`
	Params Params `json:"params"`
	// Onset is when the candidate turned bad, seconds since Start, if known
	// (late onset); nil means bad from its first request, or good.
	Onset *float64 `json:"onset,omitempty"`
	// Labels say where the trace comes from: scenario, strategy, analyzer,
	// seed for recorded ones; the model's parameters for synthetic ones.
	Labels map[string]string `json:"labels,omitempty"`
}

// Trace sources.
const (
	SourceRecorded  = "recorded"
	SourceSynthetic = "synthetic"
)

// Loop is the part of Argo's AnalysisTemplate that turns measurements into
// a decision: the run fails once failed measurements exceed FailureLimit,
// and ends inconclusive once inconclusive ones exceed InconclusiveLimit.
type Loop struct {
	FailureLimit      int `json:"failureLimit"`
	InconclusiveLimit int `json:"inconclusiveLimit"`
}

// At is the analyzers' input at time t (seconds since Start).
func (t *Trace) At(now float64) Input {
	return Input{
		Now: now, Step: t.Step, Bounds: t.Bounds,
		Stable: Upto(t.Stable, now), Candidate: Upto(t.Candidate, now),
		Params: t.Params.WithDefaults(), Context: t.ContextAt(now),
	}
}

// ContextAt is the last context read at or before now, Unknown if none.
func (t *Trace) ContextAt(now float64) Context {
	c := Unknown
	for _, x := range t.Contexts {
		if x.T > now {
			break
		}
		c = x
	}
	return c
}

// Validate checks what a replay relies on.
func (t *Trace) Validate() error {
	switch {
	case t.Version != TraceVersion:
		return fmt.Errorf("version: %d, want %d", t.Version, TraceVersion)
	case t.ID == "":
		return errors.New("id: missing")
	case t.GroundTruth != results.Good && t.GroundTruth != results.Bad:
		return fmt.Errorf("groundTruth: %q, want good or bad", t.GroundTruth)
	case !(t.Step > 0) || math.IsInf(t.Step, 0):
		return fmt.Errorf("step: %v, want > 0", t.Step)
	}
	for i := 1; i < len(t.Bounds); i++ {
		if !(t.Bounds[i] > t.Bounds[i-1]) {
			return fmt.Errorf("bounds[%d]: not ascending", i)
		}
	}
	for name, ps := range map[string][]Point{"stable": t.Stable, "candidate": t.Candidate} {
		for i, p := range ps {
			if i > 0 && !(p.T > ps[i-1].T) {
				return fmt.Errorf("%s[%d].t: %v not after %v", name, i, p.T, ps[i-1].T)
			}
			if p.Requests < 0 || p.Errors < 0 || p.Errors > p.Requests {
				return fmt.Errorf("%s[%d]: requests %v, errors %v", name, i, p.Requests, p.Errors)
			}
		}
	}
	for i := 1; i < len(t.Analyses); i++ {
		if t.Analyses[i] < t.Analyses[i-1] {
			return fmt.Errorf("analyses[%d]: %v before %v", i, t.Analyses[i], t.Analyses[i-1])
		}
	}
	return nil
}

// A trace file holds one trace per line (NDJSON), gzip-compressed when its
// name ends in .gz, so a corpus of any size streams.

// WriteTraces writes traces to path, atomically.
func WriteTraces(path string, traces ...*Trace) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = func() error {
		var w io.Writer = f
		var gz *gzip.Writer
		if strings.HasSuffix(path, ".gz") {
			gz = gzip.NewWriter(f)
			w = gz
		}
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		for _, t := range traces {
			if err := enc.Encode(t); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if gz != nil {
			if err := gz.Close(); err != nil {
				return err
			}
		}
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// ReadTraces calls fn with each trace of the file in turn, holding one at a
// time. Errors name the file and line.
func ReadTraces(path string, fn func(*Trace) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		t := new(Trace)
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(t); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("%s:%d: trace %q: %w", path, line, t.ID, err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
