package stats

import (
	"fmt"
	"math"
)

// Decision is where a sequential test stands after an observation.
type Decision int

// Decisions of a sequential test.
const (
	Continue Decision = iota // neither boundary reached: keep observing
	AcceptH0                 // the lower boundary: no increase
	AcceptH1                 // the upper boundary: the rate is up
)

func (d Decision) String() string {
	switch d {
	case AcceptH0:
		return "accept H0"
	case AcceptH1:
		return "accept H1"
	}
	return "continue"
}

// SPRT is Wald's sequential probability ratio test for a Bernoulli rate
// (an error rate): H0 p = P0 against H1 p = P1 > P0, with false-alarm
// probability Alpha and miss probability Beta. The log-likelihood ratio of
// n trials with e errors is e·log(P1/P0) + (n−e)·log((1−P1)/(1−P0)); the
// test accepts H1 at or above Upper = log((1−β)/α) and H0 at or below
// Lower = log(β/(1−α)) (Wald, "Sequential Tests of Statistical
// Hypotheses", Ann. Math. Statist. 16, 1945).
type SPRT struct {
	P0, P1, Alpha, Beta float64
	errW, okW           float64 // log-likelihood ratio of one error, of one success
}

// NewSPRT checks 0 < p0 < p1 < 1 and 0 < alpha, beta with alpha+beta < 1.
func NewSPRT(p0, p1, alpha, beta float64) (SPRT, error) {
	if !(p0 > 0 && p0 < p1 && p1 < 1) {
		return SPRT{}, fmt.Errorf("sprt: want 0 < p0 < p1 < 1, have p0 %v, p1 %v", p0, p1)
	}
	if !(alpha > 0 && beta > 0 && alpha+beta < 1) {
		return SPRT{}, fmt.Errorf("sprt: want alpha, beta > 0 and alpha+beta < 1, have %v, %v", alpha, beta)
	}
	return SPRT{
		P0: p0, P1: p1, Alpha: alpha, Beta: beta,
		errW: math.Log(p1 / p0), okW: math.Log1p(-p1) - math.Log1p(-p0),
	}, nil
}

// Upper is the log-likelihood ratio at which the test accepts H1.
func (s SPRT) Upper() float64 { return math.Log((1 - s.Beta) / s.Alpha) }

// Lower is the log-likelihood ratio at which the test accepts H0.
func (s SPRT) Lower() float64 { return math.Log(s.Beta / (1 - s.Alpha)) }

// LLR is the log-likelihood ratio of trials with errors among them.
func (s SPRT) LLR(trials, errors float64) float64 {
	return errors*s.errW + (trials-errors)*s.okW
}

// Decide places a cumulative log-likelihood ratio against the boundaries.
func (s SPRT) Decide(llr float64) Decision {
	switch {
	case llr >= s.Upper():
		return AcceptH1
	case llr <= s.Lower():
		return AcceptH0
	}
	return Continue
}

// Update adds a batch of trials to the cumulative ratio llr and decides.
func (s SPRT) Update(llr, trials, errors float64) (float64, Decision) {
	llr += s.LLR(trials, errors)
	return llr, s.Decide(llr)
}
