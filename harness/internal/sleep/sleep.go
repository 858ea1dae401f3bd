// Package sleep waits for a while unless a context ends first: the one
// helper for the harness's timed waits (fault timelines, settling, probes).
package sleep

import (
	"context"
	"time"
)

// For sleeps for d unless ctx ends first; it reports whether ctx is still
// live, so a caller can stop on false.
func For(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Until sleeps until at, as For.
func Until(ctx context.Context, at time.Time) bool { return For(ctx, time.Until(at)) }
