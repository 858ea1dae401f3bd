package loadgen

import (
	"math"
	"sync"
	"time"
)

// scaledPacer paces a Profile whose rate can be multiplied at run time (a
// traffic spike or drop). vegeta's pacers compute their schedule from the
// elapsed time alone, so a changed rate would make them catch up or stall;
// this one integrates the requested hits piecewise, segment by segment.
type scaledPacer struct {
	p Profile
	d time.Duration

	// A shard sends weight of the hits, offset by phase (see Shard); the
	// whole load is weight 1, phase 0.
	weight, phase float64

	mu     sync.Mutex
	factor float64
	since  time.Duration // elapsed time at the last factor change
	owed   float64       // hits requested before since
}

func newScaledPacer(p Profile, d time.Duration) *scaledPacer {
	return &scaledPacer{p: p, d: d, factor: 1, weight: 1}
}

func (s *scaledPacer) expectedLocked(elapsed time.Duration) float64 {
	return s.owed + s.factor*(s.p.hits(elapsed, s.d)-s.p.hits(s.since, s.d))
}

// shard makes the pacer send weight of the hits, offset by phase.
func (s *scaledPacer) shard(weight, phase float64) { s.weight, s.phase = weight, phase }

// Pace implements vegeta.Pacer.
func (s *scaledPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	expected := s.expectedLocked(elapsed)
	// need is where the whole load's hits stand when the next request is
	// due: hits+1, or for a shard its share's next one. (Sending while
	// hits < expected instead would send a second request at once
	// whenever rounding left expected a hair above a whole number.)
	need := (float64(hits) + 1 - s.phase) / s.weight
	if expected >= need {
		return 0, false
	}
	rate := s.p.RateAt(elapsed, s.d) * s.factor
	if rate <= 0 {
		return 10 * time.Millisecond, false // paused; look again soon
	}
	wait := (need - expected) / rate
	return time.Duration(math.Ceil(wait * float64(time.Second))), false
}

// Rate implements vegeta.Pacer.
func (s *scaledPacer) Rate(elapsed time.Duration) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.RateAt(elapsed, s.d) * s.factor * s.weight
}

func (s *scaledPacer) setFactor(elapsed time.Duration, f float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owed = s.expectedLocked(elapsed)
	s.since, s.factor = elapsed, f
}
