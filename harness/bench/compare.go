package bench

import (
	"fmt"
	"math"
)

// Regression is one metric of one analyzer that got worse beyond noise
// (docs/bench.md, "Comparing against a baseline").
type Regression struct {
	Analyzer string `json:"analyzer"`
	// Metric is the bench.json name of the metric, or "missing" for an
	// analyzer of the baseline that the new run lacks.
	Metric string  `json:"metric"`
	Old    float64 `json:"old"`
	New    float64 `json:"new"`
	// Margin is how far the metric could move by noise: a change beyond it
	// in the bad direction is a regression.
	Margin float64 `json:"margin"`
}

func (r Regression) String() string {
	if r.Metric == "missing" {
		return fmt.Sprintf("%s: in the baseline, not in this run", r.Analyzer)
	}
	return fmt.Sprintf("%s: %s %.4g -> %.4g (worse by more than the noise margin %.3g)", r.Analyzer, r.Metric, r.Old, r.New, r.Margin)
}

// Compare lists the regressions of cur against old, analyzer by analyzer
// in old's order. Rates (root-cause accuracy among them, when both runs
// have cases for it) regress when they move the bad way by more than two
// standard errors of the two-proportion test (pooled proportion); medians
// of time to detect and failed before detect when they rise by more than
// max(10%, the root-sum-square of the two order-statistic 95% half-widths
// on the rising side). Analyzers new in cur are not compared.
func Compare(old, cur *Result) []Regression {
	var out []Regression
	for _, o := range old.Analyzers {
		n, ok := cur.Analyzer(o.Name)
		if !ok {
			out = append(out, Regression{Analyzer: o.Name, Metric: "missing"})
			continue
		}
		add := func(metric string, oldV, newV, margin float64, worse bool) {
			if worse {
				out = append(out, Regression{Analyzer: o.Name, Metric: metric, Old: oldV, New: newV, Margin: margin})
			}
		}
		rate := func(metric string, ox, on, nx, nn int, higherIsWorse bool) {
			if on == 0 || nn == 0 {
				return
			}
			po, pn := float64(ox)/float64(on), float64(nx)/float64(nn)
			p := float64(ox+nx) / float64(on+nn)
			margin := 2 * math.Sqrt(p*(1-p)*(1/float64(on)+1/float64(nn)))
			d := po - pn
			if higherIsWorse {
				d = -d
			}
			add(metric, po, pn, margin, d > margin)
		}
		oc, nc := o.Confusion, n.Confusion
		rate("recall", oc.TP, o.Bad, nc.TP, n.Bad, false)
		rate("precision", oc.TP, oc.TP+oc.FP, nc.TP, nc.TP+nc.FP, false)
		rate("falseAlarmRate", oc.FP, o.Good, nc.FP, n.Good, true)
		rate("rootCauseAccuracy", o.RootCauseCorrect, o.RootCauseNamed, n.RootCauseCorrect, n.RootCauseNamed, false)
		med := func(metric string, om *float64, oci *Interval, nm *float64, nci *Interval) {
			if om == nil || nm == nil || oci == nil || nci == nil {
				return
			}
			a, b := oci.High-*om, *nm-nci.Low
			margin := math.Max(0.1**om, math.Hypot(a, b))
			add(metric, *om, *nm, margin, *nm-*om > margin)
		}
		med("medianTimeToDetectSeconds", o.MedianTimeToDetectSeconds, o.MedianTimeToDetectCI, n.MedianTimeToDetectSeconds, n.MedianTimeToDetectCI)
		med("medianFailedBeforeDetect", o.MedianFailedBeforeDetect, o.MedianFailedBeforeDetectCI, n.MedianFailedBeforeDetect, n.MedianFailedBeforeDetectCI)
	}
	return out
}
