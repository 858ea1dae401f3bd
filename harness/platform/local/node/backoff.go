package node

import "time"

// backoff is the kubelet's restart back-off for one container: the first
// restart is immediate, then the delay starts at base and doubles up to max.
// A container that ran for resetAfter (the kubelet uses twice the maximum)
// starts over, so an occasional crash of a long-lived app restarts at once.
type backoff struct {
	base, max  time.Duration
	resetAfter time.Duration
	cur        time.Duration // delay of the next failure after the immediate one
	failures   int
}

func newBackoff(base, max time.Duration) *backoff {
	if max < base {
		max = base
	}
	return &backoff{base: base, max: max, resetAfter: 2 * max}
}

// next returns how long to wait before restarting a container that has just
// exited after running for ranFor.
func (b *backoff) next(ranFor time.Duration) time.Duration {
	if ranFor >= b.resetAfter {
		b.reset()
	}
	b.failures++
	if b.failures == 1 {
		return 0
	}
	d := b.cur
	if d == 0 {
		d = b.base
	}
	b.cur = min(2*d, b.max)
	return d
}

// pull returns the wait after a failed image pull: base, doubling to max
// (pulls have no free first retry).
func (b *backoff) pull() time.Duration {
	d := b.cur
	if d == 0 {
		d = b.base
	}
	b.cur = min(2*d, b.max)
	return d
}

func (b *backoff) reset() {
	b.cur = 0
	b.failures = 0
}
