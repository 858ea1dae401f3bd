package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/blastradius/blastradius/loadgen"
)

// Server is one load worker: it takes one attack and serves its records.
type Server struct {
	name string // on every record: the pod's name
	dir  string // where the spool lives

	mu      sync.Mutex
	attack  *Attack
	gen     *loadgen.Generator
	status  Status
	spool   *spool
	stopped chan struct{} // closed by stop
	done    chan struct{} // closed when every record is spooled
	cancel  context.CancelFunc
}

// NewServer returns a worker named name (the pod's name; it marks every
// record) spooling records in dir (the system's temp dir if empty).
func NewServer(name, dir string) *Server {
	return &Server{name: name, dir: dir, status: Status{Name: name, State: StateIdle},
		stopped: make(chan struct{}), done: make(chan struct{})}
}

// Handler is the worker's HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /attack", s.handleAttack)
	mux.HandleFunc("POST /rate", s.handleRate)
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, _ *http.Request) {
		s.stop()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /records", s.handleRecords)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Status()) })
	return mux
}

// Status is the worker's status now.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	if s.spool != nil {
		st.Records = s.spool.count()
	}
	return st
}

// Done is closed once the attack is over and every record spooled.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close ends the attack, if any, and frees the spool.
func (s *Server) Close() {
	s.mu.Lock()
	cancel, sp := s.cancel, s.spool
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-s.done
	}
	if sp != nil {
		sp.remove()
	}
}

func (s *Server) handleAttack(w http.ResponseWriter, r *http.Request) {
	var a Attack
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		http.Error(w, "attack: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.start(a); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, errTaken) {
			code = http.StatusConflict
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

var errTaken = errors.New("this worker already has an attack")

// start validates the attack and runs it in the background.
func (s *Server) start(a Attack) error {
	cfg := a.Config()
	if a.MaxDuration <= 0 {
		return errors.New("attack: maxDuration must be > 0")
	}
	sp, err := newSpool(s.dir)
	if err != nil {
		return err
	}
	var rec []byte
	cfg.OnRecord = func(r *loadgen.Record) {
		r.Worker = s.name
		rec = append(r.AppendJSON(rec[:0]), '\n')
		if err := sp.append(rec); err != nil {
			s.stop() // the records would be incomplete: don't waste the load
		}
	}
	gen, err := loadgen.New(cfg)
	if err != nil {
		sp.remove()
		return fmt.Errorf("attack: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attack != nil {
		sp.remove()
		return errTaken
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.attack, s.gen, s.spool, s.cancel = &a, gen, sp, cancel
	s.status.State = StateWaiting
	go s.run(ctx, a, gen, sp)
	return nil
}

// run waits for the start time, sends until stopped (or MaxDuration), and
// closes the spool once every result is in.
func (s *Server) run(ctx context.Context, a Attack, gen *loadgen.Generator, sp *spool) {
	defer close(s.done)
	defer sp.close()
	if wait := time.Until(a.StartAt); wait > 0 {
		select {
		case <-time.After(wait):
		case <-s.stopped:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	select {
	case <-s.stopped:
		// Stopped before it started: nothing was sent.
		s.status.State, s.status.Summary = StateDone, &Totals{}
		s.mu.Unlock()
		return
	default:
	}
	s.status.State = StateRunning
	s.status.StartedAt = time.Now()
	s.status.LateStart = s.status.StartedAt.Sub(a.StartAt) > 100*time.Millisecond
	s.mu.Unlock()
	if err := gen.Start(ctx); err != nil {
		s.finish(nil, err)
		return
	}
	select {
	case <-s.stopped:
	case <-time.After(a.MaxDuration):
		s.markStopped()
	case <-gen.Done():
	}
	gen.Stop()
	sum, err := gen.Wait()
	s.finish(sum, err)
}

func (s *Server) finish(sum *loadgen.Summary, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.State = StateDone
	if err != nil {
		s.status.Error = err.Error()
	}
	if sum != nil {
		s.status.Summary = &Totals{Total: sum.Total, Failures: sum.Failures, Aborted: sum.Aborted,
			RequestedRate: sum.RequestedRate, AchievedRate: sum.AchievedRate, LastSent: sum.LastSent}
	}
}

// attackState is the attack's generator and spool; nil before one is given.
func (s *Server) attackState() (*loadgen.Generator, *spool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, s.spool
}

func (s *Server) stop() {
	s.markStopped()
	if gen, _ := s.attackState(); gen != nil {
		gen.Stop()
	}
}

// markStopped closes stopped once and notes when.
func (s *Server) markStopped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopped:
	default:
		s.status.StoppedAt = time.Now()
		close(s.stopped)
	}
}

func (s *Server) handleRate(w http.ResponseWriter, r *http.Request) {
	var req rateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Factor < 0 {
		http.Error(w, "rate: want {\"factor\": f} with f >= 0", http.StatusBadRequest)
		return
	}
	gen, _ := s.attackState()
	if gen == nil {
		http.Error(w, "rate: no attack", http.StatusConflict)
		return
	}
	gen.SetRateFactor(req.Factor)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRecords(w http.ResponseWriter, r *http.Request) {
	from, err := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	if r.URL.Query().Get("from") == "" {
		from, err = 0, nil
	}
	if err != nil || from < 0 {
		http.Error(w, "records: from must be a record number >= 0", http.StatusBadRequest)
		return
	}
	_, sp := s.attackState()
	if sp == nil {
		http.Error(w, "records: no attack", http.StatusConflict)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	// The stream's end is the spool's: a reader that got every record
	// and a clean end knows it has all (checked against /status).
	_ = sp.copyFrom(r.Context(), w, from, flush)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
