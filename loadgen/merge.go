package loadgen

import "time"

// Merger folds the records of several generators into one Summary and one
// per-second series, as if one generator had sent them all: what the
// harness does with the streams of in-cluster load workers. Each generator
// (a source, numbered from 0) numbers its requests on its own; a second is
// finalized once every source still sending has passed it, and a record
// given twice (same source, same sequence number) is counted once.
//
// Add and Done are called from one goroutine; Summary from any.
type Merger struct {
	agg *aggregator
}

// NewMerger returns a Merger for sources generators sharing one load of
// profile p (the whole load, not a share) over users users, started at
// start; the duration is open (the load runs until stopped).
func NewMerger(start time.Time, p Profile, users, sources int) *Merger {
	return &Merger{agg: newMultiAggregator(start, p, 0, users, sources)}
}

// Add folds in a record of source and returns the seconds that finalized.
func (m *Merger) Add(source int, r *Record) []Second { return m.agg.addFrom(source, r) }

// Done marks a source as sending no more (finished, or lost) and returns
// the seconds that finalized.
func (m *Merger) Done(source int) []Second { return m.agg.sourceDone(source) }

// Finish finalizes every open second and returns those it finalized.
func (m *Merger) Finish() []Second { return m.agg.finish() }

// SentUntil is the latest send time seen, since the start.
func (m *Merger) SentUntil() time.Duration { return m.agg.sentUntil() }

// Summary returns the numbers so far for an attack window of elapsed.
func (m *Merger) Summary(elapsed time.Duration) *Summary { return m.agg.summary(elapsed) }
