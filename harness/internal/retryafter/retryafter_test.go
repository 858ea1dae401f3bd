package retryafter

import (
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		retryAfter, ms string
		want           time.Duration
		ok             bool
	}{
		{"", "", 0, false},
		{"7", "", 7 * time.Second, true},
		{"1.5", "", 1500 * time.Millisecond, true},
		{"-3", "", 0, false},
		{"soon", "", 0, false},
		{"100000", "", 0, false},
		{"Thu, 02 Jan 2025 03:04:15 GMT", "", 10 * time.Second, true},
		{"Thu, 02 Jan 2025 03:04:00 GMT", "", 0, true},
		{"7", "250", 250 * time.Millisecond, true},
		{"7", "nope", 7 * time.Second, true},
	} {
		h := http.Header{}
		if tc.retryAfter != "" {
			h.Set("Retry-After", tc.retryAfter)
		}
		if tc.ms != "" {
			h.Set("Retry-After-Ms", tc.ms)
		}
		got, ok := Parse(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Retry-After %q, -Ms %q: got %v %v, want %v %v", tc.retryAfter, tc.ms, got, ok, tc.want, tc.ok)
		}
	}
}
