package fault

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/blastradius/blastradius/harness/internal/sleep"
	"github.com/blastradius/blastradius/harness/results"
)

// Item is one fault on the timeline, times relative to the start.
type Item struct {
	At    time.Duration
	Clear time.Duration // 0: never cleared
	Fault Fault
}

// Record is what happened to one item; it goes into results.json.
type Record = results.FaultRecord

// Timeline plays items against env from start. Records are safe to read
// at any time; Err reports the first fault that could not be applied.
type Timeline struct {
	mu      sync.Mutex
	records []Record
	err     error
	wg      sync.WaitGroup
}

// Play starts the timeline and returns at once. onChange (optional) is called
// after each injection or clearing, with the record's index in Records. Cancelling ctx stops what has not
// happened yet; what it injected stays until the namespace goes.
func Play(ctx context.Context, env *Env, start time.Time, items []Item, onChange func(int, Record)) *Timeline {
	t := &Timeline{records: make([]Record, len(items))}
	sorted := append([]Item(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At < sorted[j].At })
	for i, it := range sorted {
		t.records[i] = Record{Kind: it.Fault.Kind(), Description: it.Fault.String(), At: it.At.Seconds()}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if !sleep.Until(ctx, start.Add(it.At)) {
				return
			}
			touched, err := it.Fault.Apply(ctx, env)
			now := time.Now()
			t.update(i, func(r *Record) {
				r.InjectedAt, r.Touched = &now, touched
				if err != nil {
					r.Error = err.Error()
				}
			}, onChange)
			if err != nil {
				t.fail(fmt.Errorf("fault %q at %s: %w", it.Fault, it.At, err))
				return
			}
			if it.Clear == 0 || !sleep.Until(ctx, start.Add(it.Clear)) {
				return
			}
			t.clear(context.WithoutCancel(ctx), env, i, it.Fault, onChange)
		}()
	}
	return t
}

func (t *Timeline) clear(ctx context.Context, env *Env, i int, f Fault, onChange func(int, Record)) {
	err := f.Clear(ctx, env)
	now := time.Now()
	t.update(i, func(r *Record) {
		r.ClearedAt = &now
		if err != nil {
			r.Error = err.Error()
		}
	}, onChange)
}

// Wait waits for every item to be injected and cleared (or skipped because
// the context ended) and returns the records.
func (t *Timeline) Wait() []Record {
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Record(nil), t.records...)
}

// Records returns what has happened so far.
func (t *Timeline) Records() []Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Record(nil), t.records...)
}

// Err is the first fault that could not be applied, if any.
func (t *Timeline) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

func (t *Timeline) update(i int, f func(*Record), onChange func(int, Record)) {
	t.mu.Lock()
	f(&t.records[i])
	r := t.records[i]
	t.mu.Unlock()
	if onChange != nil {
		onChange(i, r)
	}
}

func (t *Timeline) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
}
