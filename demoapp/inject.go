package demoapp

import (
	"context"
	"hash/fnv"
	"log/slog"
	"net/http"
	"time"
)

// decision is what the faults do to one app request.
type decision struct {
	n          int64 // request number since the faults were set, from 1
	delay      time.Duration
	fail       bool
	crashPath  bool   // die now, without answering
	crashAfter bool   // die once this request is answered
	inject     string // a failed request also logs this line (Faults.LogInjection)
}

// decide draws the request's fate. All random draws happen here, under one
// lock, so a seed and the same sequence of requests give the same fates.
func (s *Server) decide(r *http.Request, now time.Time) decision {
	st := s.state.Load()
	f := st.faults
	d := decision{n: st.requests.Add(1)}
	d.crashAfter = f.CrashAfterRequests > 0 && d.n == int64(f.CrashAfterRequests)

	if now.Sub(st.setAt) < f.OnsetDelay || d.n <= int64(f.OnsetRequests) {
		return d
	}
	st.firstActive.CompareAndSwap(0, now.UnixNano())
	if f.CrashPath != "" && r.URL.Path == f.CrashPath {
		d.crashPath = true
		return d
	}

	errorRate := f.ErrorRate
	if f.UserSegment > 0 {
		user := r.Header.Get("X-User")
		if user == "" || hash01(user) >= f.UserSegment {
			return d // outside the segment: unaffected
		}
		if errorRate == 0 {
			errorRate = 1
		}
	}
	if f.BurstPeriod > 0 && !inBurst(now.Sub(st.onset()), f.BurstPeriod, f.BurstLength) {
		errorRate = 0
	}

	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	d.fail = errorRate > 0 && s.rng.Float64() < errorRate
	if d.fail {
		d.inject = f.LogInjection
	}
	if f.Latency > 0 || f.LatencyJitter > 0 {
		if f.SlowFraction == 0 || s.rng.Float64() < f.SlowFraction {
			d.delay = f.Latency
			if f.LatencyJitter > 0 {
				d.delay += time.Duration(s.rng.Int64N(int64(f.LatencyJitter) + 1))
			}
		}
	}
	return d
}

// onset is when faults began: OnsetDelay after they were set, or the first
// request past OnsetRequests if that came later.
func (st *faultState) onset() time.Time {
	t := st.setAt.Add(st.faults.OnsetDelay)
	if first := time.Unix(0, st.firstActive.Load()); st.faults.OnsetRequests > 0 && first.After(t) {
		return first
	}
	return t
}

// hash01 maps a user id uniformly onto [0, 1), the same in every process.
// FNV-1a alone leaves its top bits nearly equal for ids that differ only in
// their last characters (user-0001, user-0002, ...), so its result goes
// through a 64-bit finalizer (splitmix64's) before it is scaled.
func hash01(user string) float64 {
	h := fnv.New64a()
	h.Write([]byte(user))
	x := h.Sum64()
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// inBurst reports whether errors are on at elapsed time since onset.
func inBurst(elapsed, period, length time.Duration) bool {
	return elapsed >= 0 && elapsed%period < length
}

func (s *Server) injectFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := s.decide(r, time.Now())
		if d.crashPath {
			msg, stack := crashPathReport(1000+d.n, r.URL.Path)
			s.crash(2, "crash-path", msg, stack)
			// Only reached when Exit returns, as in tests.
			http.Error(w, "crashed", http.StatusInternalServerError)
			return
		}
		if d.delay > 0 {
			sleep(r.Context(), d.delay)
		}
		if d.fail {
			s.fail(w, r, d)
		} else {
			next.ServeHTTP(w, r)
		}
		if d.crashAfter {
			// Let the Nth request's answer out before dying.
			http.NewResponseController(w).Flush()
			msg, stack := crashAfterReport(1000 + d.n)
			s.crash(2, "crash-after", msg, stack)
		}
	})
}

// fail answers 500 and logs what a real failure of this version would log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, d decision) {
	f := failureFor(s.cfg.Version)
	s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
		slog.String("error", f.msg),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("user", r.Header.Get("X-User")),
		slog.String("stacktrace", requestStack(1000+d.n, f.frames)),
	)
	if d.inject != "" {
		s.log.LogAttrs(r.Context(), slog.LevelError, d.inject)
	}
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal server error"})
}

// levelFatal sorts above error; fatalLevel prints it as FATAL.
const levelFatal = slog.Level(12)

func fatalLevel(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey && len(groups) == 0 {
		if l, ok := a.Value.Any().(slog.Level); ok && l >= levelFatal {
			a.Value = slog.StringValue("FATAL")
		}
	}
	return a
}

// crash reports to stderr and exits, once.
func (s *Server) crash(code int, reason, msg, stack string) {
	s.crashOnce.Do(func() {
		s.fatal.LogAttrs(context.Background(), levelFatal, msg,
			slog.String("reason", reason),
			slog.Int("exitCode", code),
			slog.String("stacktrace", stack),
		)
		s.cfg.Exit(code)
	})
}

// sleep waits d, or less if ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// leakLoop allocates and retains LeakMiBPerSecond, writing every page so the
// memory is resident, not just reserved.
func (s *Server) leakLoop() {
	defer s.wg.Done()
	const tick = 100 * time.Millisecond
	var leaked [][]byte
	var owed float64
	last := time.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return // leaked becomes garbage
		case now := <-t.C:
			owed += s.Faults().LeakMiBPerSecond * (1 << 20) * now.Sub(last).Seconds()
			last = now
			if owed >= 4096 {
				b := make([]byte, int(owed))
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1
				}
				leaked = append(leaked, b)
				s.leakedBytes.Add(int64(len(b)))
				owed -= float64(len(b))
			}
			s.leakTicks.Add(1)
		}
	}
}

// burnLoop keeps CPUBurn of one core busy, in slices short enough that the
// usage looks steady to a sampler.
func (s *Server) burnLoop() {
	defer s.wg.Done()
	const slice = 50 * time.Millisecond
	for {
		busy := time.Duration(s.Faults().CPUBurn * float64(slice))
		for end := time.Now().Add(busy); time.Now().Before(end); { // reading the clock is the work
		}
		t := time.NewTimer(slice - busy)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}
