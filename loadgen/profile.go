package loadgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Shape names the form of a rate profile.
type Shape string

// The supported profile shapes.
const (
	// Constant sends Rate requests per second throughout.
	Constant Shape = "constant"
	// Linear ramps from Rate to RateTo over the attack's duration.
	Linear Shape = "linear"
	// Sine oscillates around Rate with the given Amplitude and Period,
	// starting at the mean and rising.
	Sine Shape = "sine"
)

// The range of rates, in requests per second, a Profile accepts.
const (
	MinRate = 0.001
	MaxRate = 1e6
)

// ParseShape parses a shape name; the empty string means Constant.
func ParseShape(s string) (Shape, error) {
	switch Shape(strings.ToLower(strings.TrimSpace(s))) {
	case "", Constant:
		return Constant, nil
	case Linear:
		return Linear, nil
	case Sine:
		return Sine, nil
	}
	return "", fmt.Errorf("unknown profile %q (want constant, linear or sine)", s)
}

// Profile describes how the request rate evolves during an attack. The zero
// Shape means Constant. Rates are in requests per second and may be
// fractional.
type Profile struct {
	Shape Shape
	// Rate is the constant rate, the linear ramp's starting rate, or the sine
	// wave's mean rate. It must be > 0.
	Rate float64
	// RateTo is the linear ramp's rate at the end of the attack (> 0).
	RateTo float64
	// Amplitude is the sine wave's amplitude; 0 <= Amplitude < Rate.
	Amplitude float64
	// Period is the sine wave's period (> 0).
	Period time.Duration
}

// Times is the profile with every rate multiplied by f (a share of the
// load, such as blue-green's preview traffic).
func (p Profile) Times(f float64) Profile {
	p.Rate *= f
	p.RateTo *= f
	p.Amplitude *= f
	return p
}

// ConstantProfile returns a constant profile at rate requests per second.
func ConstantProfile(rate float64) Profile { return Profile{Shape: Constant, Rate: rate} }

// LinearProfile returns a profile ramping from rate to rateTo over the attack.
func LinearProfile(rate, rateTo float64) Profile {
	return Profile{Shape: Linear, Rate: rate, RateTo: rateTo}
}

// SineProfile returns a profile oscillating around mean with the given
// amplitude and period.
func SineProfile(mean, amplitude float64, period time.Duration) Profile {
	return Profile{Shape: Sine, Rate: mean, Amplitude: amplitude, Period: period}
}

func (p Profile) shape() Shape {
	if p.Shape == "" {
		return Constant
	}
	return p.Shape
}

// FieldError is a validation error about one setting. Field is the setting's
// name as the CLI flag spells it: "rate", "rate-to", "amplitude", "period",
// "duration", "profile", "url", "users", "timeout", "workers", "slo".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

func checkRate(name string, r float64) error {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return fieldErr(name, "must be a finite number")
	case r <= 0:
		return fieldErr(name, "must be > 0 (got %g)", r)
	case r < MinRate:
		return fieldErr(name, "must be >= %g (got %g)", MinRate, r)
	case r > MaxRate:
		return fieldErr(name, "must be <= %g (got %g)", float64(MaxRate), r)
	}
	return nil
}

// Validate reports whether the profile is usable for an attack lasting d
// (0 means until stopped, which a linear ramp cannot do).
func (p Profile) Validate(d time.Duration) error {
	if d < 0 {
		return fieldErr("duration", "must be >= 0 (got %s)", d)
	}
	if err := checkRate("rate", p.Rate); err != nil {
		return err
	}
	switch p.shape() {
	case Constant:
	case Linear:
		if err := checkRate("rate-to", p.RateTo); err != nil {
			return err
		}
		if d == 0 {
			return fieldErr("duration", "a linear profile needs a duration > 0 to ramp over")
		}
	case Sine:
		if p.Period <= 0 {
			return fieldErr("period", "must be > 0 for a sine profile (got %s)", p.Period)
		}
		if math.IsNaN(p.Amplitude) || p.Amplitude < 0 || p.Amplitude >= p.Rate {
			return fieldErr("amplitude", "must be >= 0 and < the mean rate %g (got %g)", p.Rate, p.Amplitude)
		}
	default:
		return fieldErr("profile", "unknown profile %q (want constant, linear or sine)", p.Shape)
	}
	return nil
}

// vegetaRate converts a fractional rate to a vegeta.Rate of the same
// frequency.
func vegetaRate(r float64) vegeta.Rate {
	if r == math.Trunc(r) {
		return vegeta.Rate{Freq: int(r), Per: time.Second}
	}
	// Millihertz resolution: Freq/Per keeps the exact hits-per-nanosecond.
	return vegeta.Rate{Freq: int(math.Round(r * 1000)), Per: 1000 * time.Second}
}

// Pacer returns the vegeta pacer for an attack lasting d.
func (p Profile) Pacer(d time.Duration) (vegeta.Pacer, error) {
	if err := p.Validate(d); err != nil {
		return nil, err
	}
	switch p.shape() {
	case Linear:
		return vegeta.LinearPacer{StartAt: vegetaRate(p.Rate), Slope: p.slope(d)}, nil
	case Sine:
		return vegeta.SinePacer{
			Period:  p.Period,
			Mean:    vegetaRate(p.Rate),
			Amp:     vegetaRate(p.Amplitude),
			StartAt: vegeta.MeanUp,
		}, nil
	default:
		return vegetaRate(p.Rate), nil
	}
}

// slope is the linear ramp's rate increase per second over d.
func (p Profile) slope(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return (p.RateTo - p.Rate) / d.Seconds()
}

// RateAt is the requested rate t into an attack lasting d.
func (p Profile) RateAt(t, d time.Duration) float64 {
	switch p.shape() {
	case Linear:
		return p.Rate + p.slope(d)*t.Seconds()
	case Sine:
		return p.Rate + p.Amplitude*math.Sin(2*math.Pi*t.Seconds()/p.Period.Seconds())
	default:
		return p.Rate
	}
}

// hits is the number of requests the profile asks for in [0, t).
func (p Profile) hits(t, d time.Duration) float64 {
	if t <= 0 {
		return 0
	}
	x := t.Seconds()
	switch p.shape() {
	case Linear:
		return p.slope(d)*x*x/2 + p.Rate*x
	case Sine:
		if p.Period <= 0 {
			return p.Rate * x
		}
		w := 2 * math.Pi / p.Period.Seconds()
		return p.Rate*x + p.Amplitude/w*(1-math.Cos(w*x))
	default:
		return p.Rate * x
	}
}

// Expected is the number of requests the profile asks for between from and
// to into an attack lasting d (d > 0 clips the interval to the attack).
func (p Profile) Expected(from, to, d time.Duration) float64 {
	if d > 0 {
		from, to = min(from, d), min(to, d)
	}
	if to <= from {
		return 0
	}
	return p.hits(to, d) - p.hits(from, d)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// String renders the profile in the form ParseProfile reads, e.g.
// "constant:rate=100", "linear:rate=100,to=500" or
// "sine:rate=100,amplitude=50,period=10s".
func (p Profile) String() string {
	var b strings.Builder
	b.WriteString(string(p.shape()))
	b.WriteString(":rate=")
	b.WriteString(formatFloat(p.Rate))
	switch p.shape() {
	case Linear:
		b.WriteString(",to=")
		b.WriteString(formatFloat(p.RateTo))
	case Sine:
		b.WriteString(",amplitude=")
		b.WriteString(formatFloat(p.Amplitude))
		b.WriteString(",period=")
		b.WriteString(p.Period.String())
	}
	return b.String()
}

// ParseProfile parses the form String writes: a shape, a colon and
// comma-separated key=value parameters (rate; to for linear; amplitude and
// period for sine). It checks syntax only; see Validate.
func ParseProfile(s string) (Profile, error) {
	shapeStr, params, _ := strings.Cut(strings.TrimSpace(s), ":")
	shape, err := ParseShape(shapeStr)
	if err != nil {
		return Profile{}, err
	}
	p := Profile{Shape: shape}
	if strings.TrimSpace(params) == "" {
		return Profile{}, fmt.Errorf("profile %q: missing parameters (e.g. %s:rate=100)", s, shape)
	}
	for _, kv := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Profile{}, fmt.Errorf("profile %q: parameter %q is not key=value", s, kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		var perr error
		switch {
		case k == "rate":
			p.Rate, perr = strconv.ParseFloat(v, 64)
		case k == "to" && shape == Linear:
			p.RateTo, perr = strconv.ParseFloat(v, 64)
		case k == "amplitude" && shape == Sine:
			p.Amplitude, perr = strconv.ParseFloat(v, 64)
		case k == "period" && shape == Sine:
			p.Period, perr = time.ParseDuration(v)
		default:
			return Profile{}, fmt.Errorf("profile %q: unknown parameter %q for %s", s, k, shape)
		}
		if perr != nil {
			return Profile{}, fmt.Errorf("profile %q: bad %s %q", s, k, v)
		}
	}
	return p, nil
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (p Profile) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseProfile.
func (p *Profile) UnmarshalText(b []byte) error {
	q, err := ParseProfile(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}
