package demo

import (
	"sync"
	"time"

	"github.com/blastradius/blastradius/loadgen"
)

// Sizes of what the live view keeps: fixed, so that memory stays flat
// however long the demo runs.
const (
	gridCells   = 480 // the colour grid: the last requests
	seriesTicks = 90  // the charts: the last seconds
	shareWindow = 5   // seconds of load behind the observed share
)

// live folds every request the load generator sees into what viewers
// draw: the grid, the per-second series, and the current release's blast
// radius. Fed from the generators' consuming goroutines; read by snapshots.
type live struct {
	mu    sync.Mutex
	grid  [gridCells]gridEntry
	next  int // grid ring position
	n     int // grid entries filled
	ticks [seriesTicks]tick
	// The release in progress: counted from its start, by every generator.
	rel *releaseCount
}

type gridEntry struct {
	version string
	failed  bool
	sent    time.Time
}

type tick struct {
	unix     int64
	versions map[string]TickStats
}

// releaseCount is a release's live blast radius.
type releaseCount struct {
	start       time.Time
	requests    int64
	failed      int64
	usersFailed map[string]struct{}
	onset       time.Time // the first failed request sent after start
}

// record takes one request.
func (l *live) record(r *loadgen.Record) {
	if r.Aborted {
		return // cut short by stopping a generator: neither side's fault
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.grid[l.next] = gridEntry{version: r.Version, failed: r.Failed, sent: r.Time}
	l.next = (l.next + 1) % gridCells
	l.n = min(l.n+1, gridCells)

	sec := r.Time.Unix()
	t := &l.ticks[sec%seriesTicks]
	if t.unix != sec {
		*t = tick{unix: sec, versions: map[string]TickStats{}}
	}
	st := t.versions[r.Version]
	st.Requests++
	if r.Failed {
		st.Failed++
	}
	t.versions[r.Version] = st

	if c := l.rel; c != nil && !r.Time.Before(c.start) {
		c.requests++
		if r.Failed {
			c.failed++
			c.usersFailed[r.User] = struct{}{}
			if c.onset.IsZero() || r.Time.Before(c.onset) {
				c.onset = r.Time
			}
		}
	}
}

// startRelease counts requests sent from start on as the release's.
func (l *live) startRelease(start time.Time) {
	l.mu.Lock()
	l.rel = &releaseCount{start: start, usersFailed: map[string]struct{}{}}
	l.mu.Unlock()
}

// endRelease stops counting.
func (l *live) endRelease() {
	l.mu.Lock()
	l.rel = nil
	l.mu.Unlock()
}

// fill writes the live parts of a snapshot taken at now.
func (l *live) fill(s *State, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.Grid = make([]Cell, 0, l.n)
	for i := range l.n {
		e := l.grid[(l.next-l.n+i+gridCells)%gridCells]
		s.Grid = append(s.Grid, Cell{Version: e.version, Failed: e.failed, AgeMs: now.Sub(e.sent).Milliseconds()})
	}
	// Whole seconds only: the current one is still filling.
	s.Series = make([]Tick, 0, seriesTicks)
	cur := now.Unix()
	for sec := cur - seriesTicks + 1; sec < cur; sec++ {
		t := l.ticks[sec%seriesTicks]
		out := Tick{Unix: sec, Versions: map[string]TickStats{}}
		if t.unix == sec {
			for v, st := range t.versions {
				out.Versions[v] = st
			}
		}
		s.Series = append(s.Series, out)
	}
	if c := l.rel; c != nil && s.Release != nil {
		s.Release.Requests, s.Release.Failed, s.Release.UsersAffected = c.requests, c.failed, len(c.usersFailed)
		if !c.onset.IsZero() {
			since := now.Sub(c.onset).Seconds()
			s.Release.SinceOnsetS = &since
		}
	}
}

// share is version's share of the attributed requests of the last whole
// seconds, in percent; -1 when there were none.
func share(series []Tick, version string) float64 {
	var all, v int64
	for i := max(0, len(series)-shareWindow); i < len(series); i++ {
		for tag, st := range series[i].Versions {
			if tag == "" {
				continue
			}
			all += st.Requests
			if tag == version {
				v += st.Requests
			}
		}
	}
	if all == 0 {
		return -1
	}
	return 100 * float64(v) / float64(all)
}
