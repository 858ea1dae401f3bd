package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// A run is a list of named steps with one cleanup path, the way
// e2e-framework composes setup and teardown: each step may register
// cleanups, and whatever happens (an error, Ctrl-C) the cleanups registered
// so far run in reverse order once the steps stop.

// step is one named stage of a run.
type step struct {
	name string
	do   func(ctx context.Context) error
}

// lifecycle runs steps in order and owns the cleanups they register.
type lifecycle struct {
	cleanups []func()
	// onStep, if set, is told the name of each step as it starts.
	onStep func(name string)
	// stages is the wall time of each step that ran, then of the cleanups.
	stages []results.Stage
}

// cleanup registers fn to run when the steps stop, after those registered
// later.
func (l *lifecycle) cleanup(fn func()) { l.cleanups = append(l.cleanups, fn) }

// run runs the steps until one fails or ctx ends, then the cleanups. The
// error names the step that failed.
func (l *lifecycle) run(ctx context.Context, steps []step) error {
	defer func() {
		start := time.Now()
		l.cleanUp()
		l.timed("cleanup", start)
	}()
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if l.onStep != nil {
			l.onStep(s.name)
		}
		start := time.Now()
		err := s.do(ctx)
		l.timed(s.name, start)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

func (l *lifecycle) timed(name string, start time.Time) {
	l.stages = append(l.stages, results.Stage{Name: name, Seconds: time.Since(start).Seconds()})
}

func (l *lifecycle) cleanUp() {
	for i := len(l.cleanups) - 1; i >= 0; i-- {
		l.cleanups[i]()
	}
	l.cleanups = nil
}
