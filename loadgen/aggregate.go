package loadgen

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// Stats are one version's numbers within one second.
type Stats struct {
	Requests int64         `json:"requests"`
	Failures int64         `json:"failures"`
	P50      time.Duration `json:"p50"`
	P95      time.Duration `json:"p95"`
	P99      time.Duration `json:"p99"`
}

// Second is one finalized 1 s bucket of the time series. Requests are
// bucketed by send time (one sent at the very end of the duration counts in
// the last second); a bucket is finalized once every request sent during it
// has completed. Percentiles are exact (nearest rank).
type Second struct {
	Index     int       `json:"index"` // seconds since the attack began
	Start     time.Time `json:"start"`
	Requested float64   `json:"requested"` // requests the profile asked for
	Requests  int64     `json:"requests"`  // sent, all versions and unattributed
	Failures  int64     `json:"failures"`
	// Versions holds attributed requests by version. Treat it as read-only.
	Versions     map[string]Stats `json:"versions"`
	Unattributed Stats            `json:"unattributed"`
}

// VersionStats are one version's numbers over the whole run. Percentiles come
// from a fixed-precision histogram (within 0.4%).
type VersionStats struct {
	Requests        int64         `json:"requests"`
	Failures        int64         `json:"failures"`
	ServerErrors    int64         `json:"serverErrors"`    // status >= 500
	ClientErrors    int64         `json:"clientErrors"`    // status 4xx: from what stands in front of the app
	TransportErrors int64         `json:"transportErrors"` // no response (not aborted)
	SlowResponses   int64         `json:"slowResponses"`   // otherwise fine, slower than the SLO
	P50             time.Duration `json:"p50"`
	P95             time.Duration `json:"p95"`
	P99             time.Duration `json:"p99"`
	Max             time.Duration `json:"max"`
	Users           int           `json:"users"`       // distinct users served
	UsersFailed     int           `json:"usersFailed"` // distinct users who saw a failure
}

// Summary is the outcome of a run, or of its part so far (Snapshot).
//
// Reconciliation holds by construction and is checked by Reconcile:
// Total == sum of Versions[v].Requests + Unattributed, and the Series adds up
// to Total once the run is over.
type Summary struct {
	Start        time.Time `json:"start"`
	Total        int64     `json:"total"`
	Failures     int64     `json:"failures"`
	Unattributed int64     `json:"unattributed"` // responses without X-Version, transport errors
	Aborted      int64     `json:"aborted"`      // cut short by cancelling; unattributed, not failed
	// Versions maps each X-Version seen to its numbers.
	Versions          map[string]*VersionStats `json:"versions"`
	UnattributedStats VersionStats             `json:"unattributedStats"`
	Series            []Second                 `json:"series"`
	// Elapsed is the attack window: from the start until sending stopped
	// (the configured duration, or when the run was stopped, extended to the
	// last request actually sent).
	Elapsed       time.Duration `json:"elapsed"`
	RequestedRate float64       `json:"requestedRate"` // what the profile asked for, averaged over Elapsed
	AchievedRate  float64       `json:"achievedRate"`  // Total / Elapsed
	Users         int           `json:"users"`         // synthetic users
	UsersFailed   int           `json:"usersFailed"`   // distinct users who saw a failure
	// Late counts results that arrived for an already finalized second (and
	// were counted in the oldest open one). It stays 0 unless vegeta stops
	// ordering sequence numbers by send time.
	Late int64 `json:"late"`
	// Duplicates counts records a Merger was given again (same source and
	// sequence number) and left out.
	Duplicates int64 `json:"duplicates,omitempty"`
	// LastSent is the send time of the latest request sent, exactly as its
	// record has it; zero if none was. A scoring window that ends after it
	// holds every request of the run.
	LastSent time.Time `json:"lastSent"`
}

// VersionNames returns the attributed versions in order.
func (s *Summary) VersionNames() []string {
	names := make([]string, 0, len(s.Versions))
	for v := range s.Versions {
		names = append(names, v)
	}
	sort.Strings(names)
	return names
}

// Reconcile checks that every request is accounted for exactly once.
func (s *Summary) Reconcile() error {
	sum := s.Unattributed
	for _, v := range s.Versions {
		sum += v.Requests
	}
	if sum != s.Total {
		return fmt.Errorf("versions (%d) + unattributed (%d) != total %d", sum-s.Unattributed, s.Unattributed, s.Total)
	}
	if s.UnattributedStats.Requests != s.Unattributed {
		return fmt.Errorf("unattributed stats count %d, unattributed %d", s.UnattributedStats.Requests, s.Unattributed)
	}
	return nil
}

// bitset marks users.
type bitset []uint64

func (b bitset) set(i int) {
	if i >= 0 && i/64 < len(b) {
		b[i/64] |= 1 << (uint(i) % 64)
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}

type versionAgg struct {
	requests, failures, serverErrors, clientErrors, transportErrors, slow int64
	hist                                                                  histogram
	served, failed                                                        bitset
}

func (v *versionAgg) stats() *VersionStats {
	return &VersionStats{
		Requests:        v.requests,
		Failures:        v.failures,
		ServerErrors:    v.serverErrors,
		ClientErrors:    v.clientErrors,
		TransportErrors: v.transportErrors,
		SlowResponses:   v.slow,
		P50:             v.hist.quantile(0.50),
		P95:             v.hist.quantile(0.95),
		P99:             v.hist.quantile(0.99),
		Max:             v.hist.max,
		Users:           v.served.count(),
		UsersFailed:     v.failed.count(),
	}
}

type bucketVersion struct {
	requests, failures int64
	lat                []time.Duration
}

type bucket struct {
	versions map[string]*bucketVersion
}

// maxSeqWindow bounds the out-of-order window the sequence watermark tracks
// (as many requests as can be in flight at once); beyond it, seconds are
// only finalized at the end of the run.
const maxSeqWindow = 1 << 20

// aggregator folds records into per-version totals and a per-second series
// as they stream in, keeping memory flat: a second's latencies are kept only
// until it is finalized, then reduced to plain numbers.
//
// A second is finalized as soon as every request sent during it has a
// result. vegeta numbers requests (Seq) in send order, in the same critical
// section that stamps their send time, so second b is complete once all
// sequence numbers up to one sent after b have arrived.
//
// With several sources (generators numbering their requests each on their
// own, see Merger), each has its own watermark and a second is finalized
// once every source still sending has passed it.
//
// add is called from a single goroutine; snapshot may be called concurrently.
type aggregator struct {
	t0       time.Time
	profile  Profile
	duration time.Duration
	nusers   int

	mu           sync.Mutex
	total        int64
	failures     int64
	aborted      int64
	late         int64
	duplicates   int64
	versions     map[string]*versionAgg
	unattributed versionAgg
	usersFailed  bitset
	series       []Second
	lastSend     time.Duration // latest send time seen, since t0
	lastSent     time.Time     // that record's own send time, as written

	base int       // second of open[0]
	open []*bucket // open seconds base, base+1, ...
	free []*bucket

	marks []watermark // one per source
}

// watermark is how far one source's results are complete.
type watermark struct {
	next       uint64  // lowest sequence number not yet seen
	ring       []int32 // second+1 of seen sequence numbers >= next, by seq&mask
	lastSecond int     // second of sequence number next-1
	done       bool    // the source sends no more
}

func newAggregator(t0 time.Time, p Profile, d time.Duration, nusers int) *aggregator {
	return newMultiAggregator(t0, p, d, nusers, 1)
}

func newMultiAggregator(t0 time.Time, p Profile, d time.Duration, nusers, sources int) *aggregator {
	marks := make([]watermark, sources)
	for i := range marks {
		marks[i] = watermark{ring: make([]int32, 1024), lastSecond: -1}
	}
	return &aggregator{
		t0:           t0,
		profile:      p,
		duration:     d,
		nusers:       nusers,
		versions:     make(map[string]*versionAgg),
		unattributed: versionAgg{served: make(bitset, (nusers+63)/64), failed: make(bitset, (nusers+63)/64)},
		usersFailed:  make(bitset, (nusers+63)/64),
		marks:        marks,
	}
}

func (a *aggregator) version(name string) *versionAgg {
	if name == "" {
		return &a.unattributed
	}
	v := a.versions[name]
	if v == nil {
		words := (a.nusers + 63) / 64
		v = &versionAgg{served: make(bitset, words), failed: make(bitset, words)}
		a.versions[name] = v
	}
	return v
}

func (a *aggregator) bucket(sec int) *bucket {
	for sec-a.base >= len(a.open) {
		var b *bucket
		if n := len(a.free); n > 0 {
			b, a.free = a.free[n-1], a.free[:n-1]
		} else {
			b = &bucket{versions: make(map[string]*bucketVersion)}
		}
		a.open = append(a.open, b)
	}
	return a.open[sec-a.base]
}

// add folds in one record and returns the seconds it finalized, if any (a
// view of the series; the caller must not modify it).
func (a *aggregator) add(r *Record) []Second { return a.addFrom(0, r) }

// addFrom is add for the record of one source.
func (a *aggregator) addFrom(source int, r *Record) []Second {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.marks[source].seen(r.Seq) {
		a.duplicates++
		return nil
	}

	sec := 0
	if d := r.Time.Sub(a.t0); d > 0 {
		sec = int(d / time.Second)
	}
	if a.duration > 0 {
		// vegeta may send the last request right at the duration: it
		// belongs to the attack's last second, not to a second of its own.
		sec = min(sec, int((a.duration-1)/time.Second))
	}
	if d := r.Time.Sub(a.t0); d > a.lastSend || a.lastSent.IsZero() {
		a.lastSend, a.lastSent = max(d, a.lastSend), r.Time
	}
	if sec < a.base {
		a.late++
		sec = a.base
	}

	// Totals.
	a.total++
	user := -1
	if a.nusers > 0 {
		if u := UserIndex(r.User); u < a.nusers {
			user = u
		}
	}
	if r.Failed {
		a.failures++
		a.usersFailed.set(user)
	}
	if r.Aborted {
		a.aborted++
	}
	v := a.version(r.Version)
	v.requests++
	v.hist.add(r.Latency)
	v.served.set(user)
	if r.Failed {
		v.failures++
		v.failed.set(user)
		switch {
		case r.Code == 0:
			v.transportErrors++
		case r.Code >= 500:
			v.serverErrors++
		case r.Code >= 400:
			v.clientErrors++
		default:
			v.slow++
		}
	}

	// The open second.
	b := a.bucket(sec)
	bv := b.versions[r.Version]
	if bv == nil {
		bv = &bucketVersion{}
		b.versions[r.Version] = bv
	}
	bv.requests++
	if r.Failed {
		bv.failures++
	}
	bv.lat = append(bv.lat, r.Latency)

	// Advance the watermark and finalize the seconds it closes.
	a.marks[source].observe(r.Seq, sec)
	return a.finalizeComplete()
}

// finalizeComplete finalizes the seconds every source still sending has
// passed, and returns them.
func (a *aggregator) finalizeComplete() []Second {
	upTo := math.MaxInt
	for i := range a.marks {
		if !a.marks[i].done {
			upTo = min(upTo, a.marks[i].lastSecond)
		}
	}
	from := len(a.series)
	for a.base < upTo && len(a.open) > 0 {
		a.finalizeOldest()
	}
	return a.series[from:]
}

// sourceDone marks a source as sending no more, so that it holds no second
// open, and returns the seconds that finalizes.
func (a *aggregator) sourceDone(source int) []Second {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.marks[source].done = true
	return a.finalizeComplete()
}

// seen reports whether seq has been observed (within the window tracked).
func (w *watermark) seen(seq uint64) bool {
	if seq < w.next {
		return true
	}
	if seq-w.next >= uint64(len(w.ring)) {
		return false
	}
	return w.ring[seq&uint64(len(w.ring)-1)] != 0
}

func (w *watermark) observe(seq uint64, sec int) {
	if seq < w.next || seq-w.next >= maxSeqWindow {
		return
	}
	for seq-w.next >= uint64(len(w.ring)) {
		w.growRing()
	}
	mask := uint64(len(w.ring) - 1)
	w.ring[seq&mask] = int32(sec) + 1
	for w.ring[w.next&mask] != 0 {
		w.lastSecond = int(w.ring[w.next&mask] - 1)
		w.ring[w.next&mask] = 0
		w.next++
	}
}

func (w *watermark) growRing() {
	old := w.ring
	oldMask := uint64(len(old) - 1)
	w.ring = make([]int32, 2*len(old))
	mask := uint64(len(w.ring) - 1)
	for s := w.next; s < w.next+uint64(len(old)); s++ {
		w.ring[s&mask] = old[s&oldMask]
	}
}

func (a *aggregator) finalizeOldest() {
	b := a.open[0]
	a.open = a.open[1:]
	idx := a.base
	a.base++

	start := time.Duration(idx) * time.Second
	s := Second{
		Index:     idx,
		Start:     a.t0.Add(start),
		Requested: a.profile.Expected(start, start+time.Second, a.duration),
		Versions:  make(map[string]Stats, len(b.versions)),
	}
	for name, bv := range b.versions {
		if bv.requests == 0 {
			delete(b.versions, name)
			continue
		}
		slices.Sort(bv.lat)
		st := Stats{
			Requests: bv.requests,
			Failures: bv.failures,
			P50:      NearestRank(bv.lat, 0.50),
			P95:      NearestRank(bv.lat, 0.95),
			P99:      NearestRank(bv.lat, 0.99),
		}
		s.Requests += st.Requests
		s.Failures += st.Failures
		if name == "" {
			s.Unattributed = st
		} else {
			s.Versions[name] = st
		}
		bv.requests, bv.failures, bv.lat = 0, 0, bv.lat[:0]
	}
	a.series = append(a.series, s)
	a.free = append(a.free, b)
}

// finish finalizes every open second and returns those it finalized.
func (a *aggregator) finish() []Second {
	a.mu.Lock()
	defer a.mu.Unlock()
	from := len(a.series)
	for len(a.open) > 0 {
		a.finalizeOldest()
	}
	a.free = nil
	return a.series[from:]
}

// sentUntil is the latest send time seen, since t0.
func (a *aggregator) sentUntil() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastSend
}

// summary returns the numbers so far, for an attack window of elapsed.
func (a *aggregator) summary(elapsed time.Duration) *Summary {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &Summary{
		Start:             a.t0,
		LastSent:          a.lastSent,
		Total:             a.total,
		Failures:          a.failures,
		Unattributed:      a.unattributed.requests,
		Aborted:           a.aborted,
		Versions:          make(map[string]*VersionStats, len(a.versions)),
		UnattributedStats: *a.unattributed.stats(),
		Series:            slices.Clone(a.series),
		Elapsed:           elapsed,
		Users:             a.nusers,
		UsersFailed:       a.usersFailed.count(),
		Late:              a.late,
		Duplicates:        a.duplicates,
	}
	for name, v := range a.versions {
		s.Versions[name] = v.stats()
	}
	if elapsed > 0 {
		w := elapsed // the last request may go out just after the duration
		if a.duration > 0 {
			w = min(w, a.duration)
		}
		s.RequestedRate = a.profile.Expected(0, w, a.duration) / w.Seconds()
		s.AchievedRate = float64(a.total) / elapsed.Seconds()
	}
	return s
}
