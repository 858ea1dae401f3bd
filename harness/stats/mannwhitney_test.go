package stats

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wilcoxCase is one line of testdata/wilcox.R's output: R 4.2.2's
// wilcox.test(x, y, conf.int = TRUE, conf.level = level, exact = FALSE,
// correct = TRUE). NaN interval: R could not compute one.
type wilcoxCase struct {
	name           string
	level          float64
	u, p           float64 // W statistic, p-value
	hl             float64 // median(outer(x, y, "-"))
	rEstimate      float64 // wilcox.test's estimate (uniroot, tol 1e-4)
	lo, hi         float64 // wilcox.test's conf.int (uniroot, tol 1e-4)
	loSnap, hiSnap float64 // the same, snapped to the nearest x[i] - y[j]
}

// wilcoxCases: pasted from `Rscript harness/stats/testdata/wilcox.R`
// (R 4.2.2 Patched (2022-11-10 r83330), Debian r-base-core).
var wilcoxCases = []wilcoxCase{
	{name: "ordinary", level: 0.94999999999999996, u: 35, p: 0.24462360512698336, hl: 0.30500000000000005, rEstimate: 0.30250833904157232, lo: -0.15001483719908448, hi: 0.75994276532229388, loSnap: -0.15000000000000002, hiSnap: 0.7599999999999999},
	{name: "ordinary98", level: 0.97999999999999998, u: 35, p: 0.24462360512698336, hl: 0.30500000000000005, rEstimate: 0.30250833904157232, lo: -0.31999721322183022, hi: 0.98994618206203366, loSnap: -0.31999999999999995, hiSnap: 0.98999999999999988},
	{name: "shifted", level: 0.97999999999999998, u: 55, p: 0.002163787128870305, hl: 2.4000000000000004, rEstimate: 2.4000733195421766, lo: 1.1000116443684425, hi: 3.6999660116474269, loSnap: 1.1000000000000001, hiSnap: 3.7000000000000002},
	{name: "ties", level: 0.94999999999999996, u: 16.5, p: 0.062484795672341192, hl: -1.5, rEstimate: -1.5, lo: -3.0000595066982436, hi: 3.1636358510414837e-05, loSnap: -3, hiSnap: 0},
	{name: "errorRates", level: 0.97999999999999998, u: 81, p: 0.11532893968905539, hl: 0, rEstimate: 1.7503792566555305e-05, lo: -2.1017236680493149e-05, hi: 0.020025054458940504, loSnap: 0, hiSnap: 0.02},
	{name: "modular", level: 0.97999999999999998, u: 637.5, p: 0.005682316641590906, hl: 2, rEstimate: 1.9999361397677855, lo: 0.25005800952155066, hi: 3.5000409874138865, loSnap: 0.25, hiSnap: 3.5},
	{name: "constantEqual", level: 0.97999999999999998, u: 15, p: math.NaN(), hl: 0, rEstimate: math.NaN(), lo: math.NaN(), hi: math.NaN(), loSnap: math.NaN(), hiSnap: math.NaN()},
	{name: "constantDifferent", level: 0.97999999999999998, u: 30, p: 0.0022366244452098694, hl: 0.10000000000000001, rEstimate: math.NaN(), lo: math.NaN(), hi: math.NaN(), loSnap: math.NaN(), hiSnap: math.NaN()},
	{name: "n1m1", level: 0.94999999999999996, u: 1, p: 1, hl: 1, rEstimate: math.NaN(), lo: math.NaN(), hi: math.NaN(), loSnap: math.NaN(), hiSnap: math.NaN()},
	{name: "n1m3", level: 0.94999999999999996, u: 3, p: 0.37109336952269756, hl: 3, rEstimate: 3, lo: 2, hi: 4, loSnap: 2, hiSnap: 4},
	{name: "n2m2", level: 0.94999999999999996, u: 4, p: 0.24527811680677283, hl: 2, rEstimate: 2, lo: 1, hi: 3, loSnap: 1, hiSnap: 3},
	{name: "n3m3", level: 0.97999999999999998, u: 8, p: 0.19043026382552408, hl: 1.8, rEstimate: 1.7999947092971271, lo: -0.79999999999999982, hi: 3.5, loSnap: -0.79999999999999982, hiSnap: 3.5},
	{name: "n3m2tied", level: 0.94999999999999996, u: 2.5, p: 1, hl: 0, rEstimate: -4.6907533183770223e-06, lo: -1, hi: 1, loSnap: -1, hiSnap: 1},
}

// wilcoxSamples are the samples of testdata/wilcox.R, by case name.
func wilcoxSamples(name string) (x, y []float64) {
	rep := func(v float64, n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	switch name {
	case "ordinary", "ordinary98":
		return []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46},
			[]float64{1.15, 0.88, 0.90, 0.74, 1.21}
	case "shifted":
		return []float64{2.1, 3.4, 2.9, 4.2, 3.8, 5.0, 3.3, 4.7},
			[]float64{1.0, 1.7, 0.4, 2.2, 1.3, 0.9, 1.8}
	case "ties":
		return []float64{1, 2, 2, 3, 3, 3, 4, 5}, []float64{2, 3, 3, 4, 4, 5, 6, 6, 7}
	case "errorRates":
		return []float64{0, 0, 0.02, 0, 0.04, 0, 0.02, 0.06, 0.02, 0},
			[]float64{0, 0, 0, 0.01, 0, 0, 0.01, 0, 0, 0, 0, 0.02}
	case "modular":
		for i := 1; i <= 30; i++ {
			x = append(x, float64((i*13)%37)/4+1)
			y = append(y, float64((i*11)%29)/4)
		}
		return x, y
	case "constantEqual":
		return rep(0, 5), rep(0, 6)
	case "constantDifferent":
		return rep(0.1, 5), rep(0, 6)
	case "n1m1":
		return []float64{2}, []float64{1}
	case "n1m3":
		return []float64{5}, []float64{1, 2, 3}
	case "n2m2":
		return []float64{3, 4}, []float64{1, 2}
	case "n3m3":
		return []float64{1.1, 2.5, 3.7}, []float64{0.2, 1.9, 0.7}
	case "n3m2tied":
		return []float64{1, 1, 2}, []float64{1, 2}
	}
	panic("unknown case " + name)
}

func TestMannWhitneyMatchesR(t *testing.T) {
	for _, c := range wilcoxCases {
		t.Run(c.name, func(t *testing.T) {
			x, y := wilcoxSamples(c.name)
			r, err := MannWhitney(x, y, c.level)
			require.NoError(t, err)
			assert.Equal(t, c.u, r.U, "U")
			if math.IsNaN(c.p) {
				assert.Equal(t, 1.0, r.PValue, "all tied: R gives NaN, we give 1")
			} else {
				assert.InEpsilon(t, c.p, r.PValue, 1e-12, "p-value")
			}
			assert.InDelta(t, c.hl, r.Estimate, 1e-12, "Hodges-Lehmann estimate")
			if !math.IsNaN(c.rEstimate) {
				// R's estimate is uniroot's, anywhere in the step where W = 0.
				assert.InDelta(t, c.rEstimate, r.Estimate, 5e-3, "R's estimate")
			}
			if math.IsNaN(c.lo) {
				// R has no interval: the samples are constant, every
				// difference is the estimate.
				assert.Equal(t, r.Estimate, r.Lower)
				assert.Equal(t, r.Estimate, r.Upper)
				return
			}
			assert.InDelta(t, c.loSnap, r.Lower, 1e-12, "lower end")
			assert.InDelta(t, c.hiSnap, r.Upper, 1e-12, "upper end")
			assert.InDelta(t, c.lo, r.Lower, 2e-4, "R's lower end")
			assert.InDelta(t, c.hi, r.Upper, 2e-4, "R's upper end")
		})
	}
}

func TestMannWhitneySymmetry(t *testing.T) {
	x, y := wilcoxSamples("modular")
	a, err := MannWhitney(x, y, 0.98)
	require.NoError(t, err)
	b, err := MannWhitney(y, x, 0.98)
	require.NoError(t, err)
	assert.Equal(t, float64(len(x)*len(y))-a.U, b.U)
	assert.InDelta(t, a.PValue, b.PValue, 1e-15)
	assert.Equal(t, -a.Estimate, b.Estimate)
	assert.Equal(t, -a.Lower, b.Upper)
	assert.Equal(t, -a.Upper, b.Lower)
}

func TestMannWhitneyErrors(t *testing.T) {
	_, err := MannWhitney(nil, []float64{1}, 0.95)
	assert.Error(t, err)
	_, err = MannWhitney([]float64{1}, []float64{math.NaN()}, 0.95)
	assert.Error(t, err)
	_, err = MannWhitney([]float64{1}, []float64{2}, 1)
	assert.Error(t, err)
}

// TestDiffSelector checks the selection against sorting every difference.
func TestDiffSelector(t *testing.T) {
	x, y := wilcoxSamples("modular")
	xs, ys := slices.Sorted(slices.Values(x)), slices.Sorted(slices.Values(y))
	var all []float64
	for _, a := range xs {
		for _, b := range ys {
			all = append(all, a-b)
		}
	}
	slices.Sort(all)
	s := diffSelector{xs: xs, ys: ys}
	for k := 1; k <= len(all); k++ {
		require.Equal(t, all[k-1], s.kth(k), "k=%d", k)
	}
}

func BenchmarkMannWhitney60(b *testing.B) {
	x := make([]float64, 60)
	y := make([]float64, 60)
	for i := range x {
		x[i] = float64((i*13)%37) / 100
		y[i] = float64((i*11)%29) / 100
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MannWhitney(x, y, 0.98); err != nil {
			b.Fatal(err)
		}
	}
}
