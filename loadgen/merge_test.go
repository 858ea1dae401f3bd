package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rec(seq uint64, at time.Duration, user int, version string, failed bool) *Record {
	code := 200
	if failed {
		code = 500
	}
	return &Record{Seq: seq, Time: t0.Add(at), Latency: time.Millisecond, Code: code, Version: version, User: UserName(user), Failed: failed}
}

func indexes(secs []Second) []int {
	var out []int
	for _, s := range secs {
		out = append(out, s.Index)
	}
	return out
}

// TestMergerWaitsForEverySource: a second is final only once every source
// still sending has passed it, whatever order the streams arrive in.
func TestMergerWaitsForEverySource(t *testing.T) {
	m := NewMerger(t0, ConstantProfile(4), 10, 2)
	// Source 0 runs ahead into second 2; nothing is final while source 1
	// has not passed second 0.
	assert.Empty(t, m.Add(0, rec(0, 100*time.Millisecond, 0, "blue", false)))
	assert.Empty(t, m.Add(0, rec(1, 1100*time.Millisecond, 2, "blue", false)))
	assert.Empty(t, m.Add(0, rec(2, 2100*time.Millisecond, 4, "green", true)))
	// Source 1's results arrive out of order: seq 1 before seq 0.
	assert.Empty(t, m.Add(1, rec(1, 1200*time.Millisecond, 3, "blue", false)))
	assert.Equal(t, []int{0}, indexes(m.Add(1, rec(0, 200*time.Millisecond, 1, "blue", false))),
		"source 1 passed second 0 (its seq 0 and 1 are in): second 0 is final")
	assert.Equal(t, []int{1}, indexes(m.Add(1, rec(2, 2300*time.Millisecond, 5, "green", false))))
	final := m.Finish()
	require.Equal(t, []int{2}, indexes(final))
	assert.Equal(t, int64(2), final[0].Requests)
	assert.Equal(t, int64(1), final[0].Failures)

	s := m.Summary(3 * time.Second)
	require.NoError(t, s.Reconcile())
	assert.Equal(t, int64(6), s.Total)
	assert.Equal(t, int64(4), s.Versions["blue"].Requests)
	assert.Equal(t, 2, s.Versions["green"].Users)
	assert.Equal(t, 1, s.UsersFailed)
	assert.Equal(t, t0.Add(2300*time.Millisecond), s.LastSent)
	assert.Len(t, s.Series, 3)
}

// TestMergerCountsDuplicatesOnce: a record given again (a stream resumed
// from too early) is left out and counted as a duplicate; the same sequence
// number from another source is a different request.
func TestMergerCountsDuplicatesOnce(t *testing.T) {
	m := NewMerger(t0, ConstantProfile(4), 10, 2)
	m.Add(0, rec(0, 0, 0, "blue", false))
	m.Add(0, rec(1, 10*time.Millisecond, 2, "blue", true))
	m.Add(1, rec(0, 5*time.Millisecond, 1, "blue", false))
	m.Add(0, rec(1, 10*time.Millisecond, 2, "blue", true)) // again, after the watermark
	m.Add(0, rec(3, 30*time.Millisecond, 4, "blue", false))
	m.Add(0, rec(3, 30*time.Millisecond, 4, "blue", false)) // again, ahead of it
	m.Finish()
	s := m.Summary(time.Second)
	require.NoError(t, s.Reconcile())
	assert.Equal(t, int64(4), s.Total)
	assert.Equal(t, int64(1), s.Failures)
	assert.Equal(t, int64(2), s.Duplicates)
}

// TestMergerPartialSource: a source that stops (a worker lost) holds no
// second open once it is marked done; what it sent still counts.
func TestMergerPartialSource(t *testing.T) {
	m := NewMerger(t0, ConstantProfile(2), 10, 2)
	m.Add(1, rec(0, 100*time.Millisecond, 1, "blue", false))
	assert.Empty(t, m.Add(0, rec(0, 200*time.Millisecond, 0, "blue", false)))
	assert.Empty(t, m.Add(0, rec(1, 1200*time.Millisecond, 2, "blue", false)))
	assert.Empty(t, m.Add(0, rec(2, 2200*time.Millisecond, 4, "blue", false)), "source 1 holds second 0 and 1 open")
	assert.Equal(t, []int{0, 1}, indexes(m.Done(1)), "source 1 lost: the seconds source 0 passed are final")
	m.Finish()
	s := m.Summary(3 * time.Second)
	assert.Equal(t, int64(4), s.Total)
	assert.Equal(t, int64(2), s.Series[0].Requests)
}
