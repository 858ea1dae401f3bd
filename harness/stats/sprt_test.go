package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSPRTBoundaries(t *testing.T) {
	s, err := NewSPRT(0.01, 0.03, 0.05, 0.2)
	require.NoError(t, err)
	// log(0.8/0.05) = log 16, log(0.2/0.95).
	assert.InDelta(t, 2.772588722239781, s.Upper(), 1e-15)
	assert.InDelta(t, -1.5581446180465499, s.Lower(), 1e-15)
	// One error: log 3; one success: log(0.97/0.99).
	assert.InDelta(t, math.Log(3), s.LLR(1, 1), 1e-15)
	assert.InDelta(t, -0.020408871631207123, s.LLR(1, 0), 1e-15)
	assert.InDelta(t, 2*math.Log(3)+8*math.Log(0.97/0.99), s.LLR(10, 2), 1e-14)
}

func TestSPRTDecisions(t *testing.T) {
	s, err := NewSPRT(0.01, 0.03, 0.05, 0.2)
	require.NoError(t, err)

	// Errors only: log 3 = 1.0986 a piece, so two continue (2.197) and the
	// third crosses log 16 = 2.7726.
	llr, d := 0.0, Continue
	for i := 1; i <= 3; i++ {
		llr, d = s.Update(llr, 1, 1)
		if i < 3 {
			assert.Equal(t, Continue, d, "after %d errors", i)
		}
	}
	assert.Equal(t, AcceptH1, d)

	// Successes only: 0.0204 a piece down to −1.5581 takes 77 (76.35).
	llr = 0
	for i := 1; i <= 77; i++ {
		llr, d = s.Update(llr, 1, 0)
		if i < 77 {
			require.Equal(t, Continue, d, "after %d successes", i)
		}
	}
	assert.Equal(t, AcceptH0, d)

	// A batch gives what its trials give one at a time.
	one := 0.0
	for i := range 50 {
		one, _ = s.Update(one, 1, float64(i%25/24)) // 2 errors in 50
	}
	batch, _ := s.Update(0, 50, 2)
	assert.InDelta(t, one, batch, 1e-12)

	// Two errors in ten then nothing: 2·1.0986 − 8·0.0204 = 2.034, continue;
	// one more error: 3.133 − 0.163 = 2.970 ≥ 2.773, accept H1.
	llr, d = s.Update(0, 10, 2)
	assert.Equal(t, Continue, d)
	assert.InDelta(t, 2.0339, llr, 1e-4)
	llr, d = s.Update(llr, 1, 1)
	assert.Equal(t, AcceptH1, d)
	assert.InDelta(t, 3.1325, llr, 1e-4)
}

func TestSPRTInvalid(t *testing.T) {
	for _, c := range [][4]float64{
		{0, 0.02, 0.05, 0.2}, {0.02, 0.01, 0.05, 0.2}, {0.01, 1, 0.05, 0.2},
		{0.01, 0.02, 0, 0.2}, {0.01, 0.02, 0.6, 0.5},
	} {
		_, err := NewSPRT(c[0], c[1], c[2], c[3])
		assert.Error(t, err, "%v", c)
	}
}
