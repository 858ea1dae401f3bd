// Package demoapp is a deliberately buggy web app: a colored version of a
// service whose releases can be made to fail in configurable ways (errors,
// latency, crashes, unreadiness, leaks), so blastradius can measure how much
// damage each rollout strategy lets a bad release do.
package demoapp

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

//go:embed web/index.html
var indexHTML []byte

// CrashOnStartDelay is how long a CrashOnStart process lives.
const CrashOnStartDelay = 200 * time.Millisecond

// Server is the demo app. It is an http.Handler; Serve runs it on a listener
// with graceful shutdown. Close stops its background work (leak, CPU burn).
type Server struct {
	cfg     Config
	handler http.Handler
	log     *slog.Logger // stdout, one line per request plus failure details
	fatal   *slog.Logger // stderr, crash reports
	metrics *metrics

	state atomic.Pointer[faultState]

	rngMu sync.Mutex
	rng   *rand.Rand

	startingToCrash bool // CrashOnStart: never ready
	terminating     atomic.Bool
	crashOnce       sync.Once
	startCrash      *time.Timer

	leakedBytes atomic.Int64
	leakTicks   atomic.Int64 // leak loop iterations done, so tests can wait for one
	stop        chan struct{}
	closeOnce   sync.Once
	wg          sync.WaitGroup
}

// faultState is one setting of the faults; a PUT replaces it, which restarts
// the onset clock and the request counters.
type faultState struct {
	faults      Faults
	setAt       time.Time
	requests    atomic.Int64 // app requests since setAt
	firstActive atomic.Int64 // unix nanos of the first request past onset
}

// New validates cfg and returns a server with its background workers running.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	identity := []any{"version", cfg.Version, "color", cfg.Color, "pod", cfg.Pod}
	if cfg.Namespace != "" {
		identity = append(identity, "namespace", cfg.Namespace)
	}
	s := &Server{
		cfg:             cfg,
		log:             cfg.Logger.With(identity...),
		fatal:           slog.New(slog.NewJSONHandler(cfg.Stderr, &slog.HandlerOptions{ReplaceAttr: fatalLevel})).With(identity...),
		metrics:         newMetrics(cfg.Version, cfg.Color),
		rng:             rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
		startingToCrash: cfg.Faults.CrashOnStart,
		stop:            make(chan struct{}),
	}
	s.setFaults(cfg.Faults)
	s.handler = s.routes()

	s.wg.Add(2)
	go s.leakLoop()
	go s.burnLoop()
	if cfg.Faults.CrashOnStart {
		s.startCrash = time.AfterFunc(CrashOnStartDelay, func() {
			msg, stack := crashOnStartReport()
			s.crash(1, "crash-on-start", msg, stack)
		})
	}
	return s, nil
}

// Close stops the background workers and frees leaked memory.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.startCrash != nil {
			s.startCrash.Stop()
		}
		close(s.stop)
		s.wg.Wait()
	})
}

// ServeHTTP serves the app, the probes, the metrics and the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Faults returns the faults in effect, with defaults filled in.
func (s *Server) Faults() Faults { return s.state.Load().faults }

// SetFaults replaces the faults at run time; onset is measured from now.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.setFaults(f)
	s.log.Info("faults set", "faults", f.withDefaults())
	return nil
}

func (s *Server) setFaults(f Faults) {
	s.state.Store(&faultState{faults: f.withDefaults(), setAt: time.Now()})
}

// Serve answers on ln until ctx is done, then shuts down gracefully: /readyz
// turns 503, the TerminationDelay passes (so load balancers stop sending),
// and in-flight requests get up to ShutdownTimeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "faults", s.Faults())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.terminating.Store(true)
	s.log.Info("terminating", "terminationDelay", s.cfg.TerminationDelay.String())
	time.Sleep(s.cfg.TerminationDelay)

	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
		err = fmt.Errorf("shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	s.log.Info("stopped")
	return err
}

// reservedPath reports whether p is infrastructure that is never faulted.
func reservedPath(p string) bool {
	switch p {
	case "/healthz", "/readyz", "/metrics", "/admin":
		return true
	}
	return strings.HasPrefix(p, "/admin/")
}

func (s *Server) routes() http.Handler {
	app := http.NewServeMux()
	app.HandleFunc("GET /color", s.handleColor)
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Length", strconv.Itoa(len(indexHTML)))
		w.Write(indexHTML)
	})

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", s.handleReady)
	mux.Handle("/metrics", s.metrics.handler())
	mux.HandleFunc("/admin/faults", s.handleFaults)
	mux.Handle("/admin/", http.NotFoundHandler())
	mux.Handle("/", s.injectFaults(app))
	return s.identify(s.observe(mux))
}

// identify stamps every response, whatever its path or status.
func (s *Server) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", s.cfg.Version)
		w.Header().Set("X-Color", s.cfg.Color)
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe logs every request and counts app requests in the metrics. Probe,
// scrape and admin traffic is logged but not counted, so error ratios
// computed from the metrics reflect what users see.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)
		if !reservedPath(r.URL.Path) {
			s.metrics.observe(rec.status, elapsed)
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("user", r.Header.Get("X-User")),
		)
	})
}

func (s *Server) handleColor(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{
		"color": s.cfg.Color, "version": s.cfg.Version, "pod": s.cfg.Pod,
	})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if ok, why := s.ready(time.Now()); !ok {
		http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

func (s *Server) ready(now time.Time) (bool, string) {
	if s.terminating.Load() {
		return false, "terminating"
	}
	if s.startingToCrash {
		return false, "starting"
	}
	st := s.state.Load()
	switch st.faults.Readiness {
	case ReadinessNever:
		return false, "readiness fault: never"
	case ReadinessFlapping:
		if flapReady(now.Sub(st.setAt), st.faults.FlapPeriod) {
			return true, ""
		}
		return false, "readiness fault: flapping"
	}
	return true, ""
}

// flapReady is ready for the first period, unready for the next, and so on.
func flapReady(elapsed, period time.Duration) bool {
	return (elapsed/period)%2 == 0
}

func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, http.StatusOK, s.Faults())
	case http.MethodPut:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFaultsBody))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		var f Faults
		if err := json.Unmarshal(body, &f); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if err := s.SetFaults(f); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s.Faults())
	default:
		w.Header().Set("Allow", "GET, PUT")
		writeError(w, http.StatusMethodNotAllowed, errors.New("method not allowed; use GET or PUT"))
	}
}

// writeJSON sets Content-Length so that a response flushed right before a
// crash still arrives complete.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

// writeError answers {"error": ..., "field": ...}, naming the field if known.
func writeError(w http.ResponseWriter, code int, err error) {
	body := map[string]string{"error": err.Error()}
	var fe *FieldError
	if errors.As(err, &fe) {
		body["field"] = fe.Field
	}
	writeJSON(w, code, body)
}
