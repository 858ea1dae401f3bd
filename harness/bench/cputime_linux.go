package bench

import "golang.org/x/sys/unix"

// threadCPU is the calling OS thread's CPU time in nanoseconds; the worker
// that reads it is locked to its thread. ok is false if the clock is
// unavailable.
func threadCPU() (ns int64, ok bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}
