package runner

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/blastradius/blastradius/loadgen"
)

// liveStats keeps the last second of load per version for the progress line.
type liveStats struct {
	mu   sync.Mutex
	last loadgen.Second
}

func (l *liveStats) add(s loadgen.Second) {
	l.mu.Lock()
	l.last = s
	l.mu.Unlock()
}

// servedWithout reports whether the last whole second of load, sent at or
// after since, was answered and none of it by version.
func (l *liveStats) servedWithout(version string, since time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.last.Start.Before(since) && l.last.Requests > 0 && l.last.Versions[version].Requests == 0
}

func (l *liveStats) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.last.Versions))
	for v := range l.last.Versions {
		names = append(names, v)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, v := range names {
		st := l.last.Versions[v]
		rate := 0.0
		if st.Requests > 0 {
			rate = 100 * float64(st.Failures) / float64(st.Requests)
		}
		fmt.Fprintf(&b, "%s %d/s %.1f%% err  ", v, st.Requests, rate)
	}
	if u := l.last.Unattributed; u.Requests > 0 {
		fmt.Fprintf(&b, "unattributed %d/s", u.Requests)
	}
	return strings.TrimSpace(b.String())
}
