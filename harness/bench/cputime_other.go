//go:build !linux

package bench

// threadCPU has no per-thread clock here: the bench falls back to wall time.
func threadCPU() (int64, bool) { return 0, false }
