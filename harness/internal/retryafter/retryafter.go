// Package retryafter reads how long a server asks a client to wait before
// retrying, for the clients that honour it (the LLM and agent analyzers).
package retryafter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max is the longest wait believed; a longer one is treated as unreadable.
const Max = 24 * time.Hour

// Parse reads Retry-After (delay-seconds, fractional accepted, or an HTTP
// date; RFC 9110 section 10.2.3), preferring the Retry-After-Ms header that
// some API servers send. ok is false when neither is present or readable; a
// date already past is a wait of 0.
func Parse(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && !math.IsInf(ms, 0) && ms <= float64(Max/time.Millisecond) {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s > Max.Seconds() || math.IsNaN(s) {
			return 0, false
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
