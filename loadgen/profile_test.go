package loadgen

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestParseShape(t *testing.T) {
	for in, want := range map[string]Shape{"": Constant, "constant": Constant, "Linear": Linear, " sine ": Sine} {
		got, err := ParseShape(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseShape("square")
	assert.ErrorContains(t, err, `unknown profile "square"`)
}

func TestParseProfileRoundTrip(t *testing.T) {
	cases := map[string]Profile{
		"constant:rate=100":                      ConstantProfile(100),
		"constant:rate=0.5":                      ConstantProfile(0.5),
		"linear:rate=100,to=500":                 LinearProfile(100, 500),
		"sine:rate=100,amplitude=50,period=10s":  SineProfile(100, 50, 10*time.Second),
		"sine:rate=80,amplitude=0,period=1m30s":  SineProfile(80, 0, 90*time.Second),
		"linear:rate=1000,to=10":                 LinearProfile(1000, 10),
		"constant:rate=1e+06":                    ConstantProfile(1e6),
		"sine:rate=2.5,amplitude=1.25,period=2s": SineProfile(2.5, 1.25, 2*time.Second),
	}
	for spec, want := range cases {
		got, err := ParseProfile(spec)
		require.NoError(t, err, spec)
		assert.Equal(t, want, got, spec)
		assert.Equal(t, spec, got.String())
	}

	// Whitespace and parameter order are forgiven.
	got, err := ParseProfile(" sine: period=4s , amplitude=1, rate=3 ")
	require.NoError(t, err)
	assert.Equal(t, SineProfile(3, 1, 4*time.Second), got)

	for _, bad := range []string{"", "constant", "constant:", "square:rate=1", "constant:rate", "constant:rate=x",
		"constant:to=5", "linear:rate=1,period=1s", "sine:rate=1,period=soon"} {
		_, err := ParseProfile(bad)
		assert.Error(t, err, bad)
	}
}

func TestProfileText(t *testing.T) {
	type doc struct {
		P Profile `json:"profile"`
	}
	b, err := json.Marshal(doc{LinearProfile(10, 20)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"profile":"linear:rate=10,to=20"}`, string(b))
	var d doc
	require.NoError(t, json.Unmarshal([]byte(`{"profile":"sine:rate=9,amplitude=3,period=1s"}`), &d))
	assert.Equal(t, SineProfile(9, 3, time.Second), d.P)
	assert.Error(t, json.Unmarshal([]byte(`{"profile":"nope"}`), &d))
}

func TestProfileValidate(t *testing.T) {
	ok := []struct {
		p Profile
		d time.Duration
	}{
		{ConstantProfile(1), 0},
		{Profile{Rate: 3}, time.Second}, // zero shape is constant
		{ConstantProfile(0.001), time.Second},
		{LinearProfile(1, 100), time.Minute},
		{LinearProfile(100, 1), time.Minute},
		{SineProfile(10, 0, time.Second), 0},
		{SineProfile(10, 9.9, time.Second), time.Minute},
	}
	for _, c := range ok {
		assert.NoError(t, c.p.Validate(c.d), "%v", c.p)
	}

	bad := []struct {
		p     Profile
		d     time.Duration
		field string
	}{
		{ConstantProfile(0), time.Second, "rate"},
		{ConstantProfile(-5), time.Second, "rate"},
		{ConstantProfile(math.NaN()), time.Second, "rate"},
		{ConstantProfile(math.Inf(1)), time.Second, "rate"},
		{ConstantProfile(0.0001), time.Second, "rate"},
		{ConstantProfile(2e6), time.Second, "rate"},
		{ConstantProfile(10), -time.Second, "duration"},
		{LinearProfile(10, 0), time.Second, "rate-to"},
		{LinearProfile(0, 10), time.Second, "rate"},
		{LinearProfile(10, 20), 0, "duration"},
		{SineProfile(10, 5, 0), time.Second, "period"},
		{SineProfile(10, 10, time.Second), time.Second, "amplitude"},
		{SineProfile(10, -1, time.Second), time.Second, "amplitude"},
		{Profile{Shape: "square", Rate: 1}, time.Second, "profile"},
	}
	for _, c := range bad {
		err := c.p.Validate(c.d)
		var fe *FieldError
		if assert.True(t, errors.As(err, &fe), "%v: %v", c.p, err) {
			assert.Equal(t, c.field, fe.Field, "%v: %v", c.p, err)
		}
		_, err = c.p.Pacer(c.d)
		assert.Error(t, err)
	}
}

func TestProfilePacer(t *testing.T) {
	p, err := ConstantProfile(100).Pacer(time.Minute)
	require.NoError(t, err)
	assert.Equal(t, vegeta.ConstantPacer{Freq: 100, Per: time.Second}, p)

	p, err = ConstantProfile(0.5).Pacer(time.Minute)
	require.NoError(t, err)
	assert.InDelta(t, 0.5, p.Rate(0), 1e-9)
	wait, stop := p.Pace(0, 0) // vegeta sends hit n at n intervals: 2 s apart
	assert.False(t, stop)
	assert.Equal(t, 2*time.Second, wait)
	wait, _ = p.Pace(3*time.Second, 1)
	assert.Equal(t, time.Second, wait)

	p, err = LinearProfile(100, 500).Pacer(10 * time.Second)
	require.NoError(t, err)
	require.IsType(t, vegeta.LinearPacer{}, p)
	assert.InDelta(t, 100, p.Rate(0), 1e-9)
	assert.InDelta(t, 300, p.Rate(5*time.Second), 1e-9)
	assert.InDelta(t, 500, p.Rate(10*time.Second), 1e-9)

	p, err = SineProfile(100, 40, 8*time.Second).Pacer(0)
	require.NoError(t, err)
	require.IsType(t, vegeta.SinePacer{}, p)
	assert.InDelta(t, 100, p.Rate(0), 1e-6)
	assert.InDelta(t, 140, p.Rate(2*time.Second), 1e-6)
	assert.InDelta(t, 60, p.Rate(6*time.Second), 1e-6)
}

func TestProfileRateAtMatchesPacer(t *testing.T) {
	d := 20 * time.Second
	for _, prof := range []Profile{ConstantProfile(7.5), LinearProfile(50, 10), SineProfile(30, 20, 6*time.Second)} {
		p, err := prof.Pacer(d)
		require.NoError(t, err)
		for at := time.Duration(0); at <= d; at += 700 * time.Millisecond {
			assert.InDelta(t, p.Rate(at), prof.RateAt(at, d), 1e-6, "%v at %s", prof, at)
		}
	}
}

func TestProfileExpected(t *testing.T) {
	d := 10 * time.Second
	assert.InDelta(t, 1000, ConstantProfile(100).Expected(0, d, d), 1e-9)
	assert.InDelta(t, 100, ConstantProfile(100).Expected(3*time.Second, 4*time.Second, d), 1e-9)
	// Clipped to the attack; empty intervals ask for nothing.
	assert.InDelta(t, 50, ConstantProfile(100).Expected(9500*time.Millisecond, 11*time.Second, d), 1e-9)
	assert.Zero(t, ConstantProfile(100).Expected(4*time.Second, 4*time.Second, d))
	// Unbounded attacks are not clipped.
	assert.InDelta(t, 2000, ConstantProfile(100).Expected(0, 20*time.Second, 0), 1e-9)

	// A ramp sends its mean rate on average: (100+500)/2 over 10 s.
	assert.InDelta(t, 3000, LinearProfile(100, 500).Expected(0, d, d), 1e-6)
	// Its first second asks for (100+140)/2.
	assert.InDelta(t, 120, LinearProfile(100, 500).Expected(0, time.Second, d), 1e-6)

	// A whole sine period averages to the mean; the rising half-period
	// asks for more than the falling one.
	s := SineProfile(100, 50, 4*time.Second)
	assert.InDelta(t, 400, s.Expected(0, 4*time.Second, 0), 1e-6)
	assert.InDelta(t, 200+2*50*4/(2*math.Pi), s.Expected(0, 2*time.Second, 0), 1e-6)
	assert.InDelta(t, 200-2*50*4/(2*math.Pi), s.Expected(2*time.Second, 4*time.Second, 0), 1e-6)
}

func TestScaledPacerFollowsFactorChanges(t *testing.T) {
	p := newScaledPacer(ConstantProfile(100), 10*time.Second)
	// At 1 s, 100 hits are due: the 100th waits 10 ms, the 99th none.
	w, stop := p.Pace(time.Second, 100)
	assert.False(t, stop)
	assert.Equal(t, 10*time.Millisecond, w)
	w, _ = p.Pace(time.Second, 99)
	assert.Zero(t, w)
	// Tripled at 1 s: by 2 s, 100 + 300 hits are due, not 600 (no catch-up).
	p.setFactor(time.Second, 3)
	w, _ = p.Pace(2*time.Second, 399)
	assert.Zero(t, w)
	w, _ = p.Pace(2*time.Second, 400)
	assert.InDelta(t, float64(time.Second)/300, float64(w), float64(time.Microsecond))
	assert.InDelta(t, 300, p.Rate(2*time.Second), 1e-9)
	// Stopped, then restored: no burst to make up for the pause.
	p.setFactor(2*time.Second, 0)
	w, _ = p.Pace(3*time.Second, 400)
	assert.Equal(t, 10*time.Millisecond, w)
	p.setFactor(3*time.Second, 1)
	w, _ = p.Pace(4*time.Second, 500)
	assert.InDelta(t, float64(10*time.Millisecond), float64(w), float64(time.Microsecond))
}

func TestTimesScalesEveryRate(t *testing.T) {
	p := Profile{Shape: Sine, Rate: 100, RateTo: 200, Amplitude: 40}.Times(0.1)
	assert.InDelta(t, 10, p.Rate, 1e-9)
	assert.InDelta(t, 20, p.RateTo, 1e-9)
	assert.InDelta(t, 4, p.Amplitude, 1e-9)
	assert.Equal(t, Sine, p.Shape)
}
