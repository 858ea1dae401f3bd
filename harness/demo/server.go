package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"sync"
	"time"
)

// The dashboard's HTTP API, served on the --listen address:
//
//	GET  /                      the dashboard (web/index.html; app.js and app.css beside it)
//	GET  /events                Server-Sent Events: "event: state" with a State as JSON, on every change, at most Rate a second
//	GET  /api/state             the current State as JSON
//	POST /api/control/{control} body {"choice": "..."}: 200 {"ok":true,"message":...}, 409 {"ok":false,"error":reason} when it cannot act now, 400 for a bad request
//
// Nothing on the page is fetched from anywhere else.

//go:embed web
var webFS embed.FS

// Controller acts on a viewer's request. Act returns what was done, or an
// error saying why it cannot act now (*Refusal) or why the request is bad.
type Controller interface {
	Act(ctx context.Context, c Control, choice string) (message string, err error)
}

// Refusal is a control that cannot act now, with the reason a viewer sees.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

// BadRequest is a request no state of the session could serve (an unknown
// control or choice).
type BadRequest struct{ Reason string }

func (b *BadRequest) Error() string { return b.Reason }

// Hub keeps the latest State and hands it to every viewer; viewers never
// block the session (a slow one misses intermediate states, never the
// latest).
type Hub struct {
	mu      sync.Mutex
	state   []byte // the latest State, JSON
	version uint64
	changed chan struct{} // closed and replaced on every Publish
}

// NewHub returns a hub holding no state yet.
func NewHub() *Hub { return &Hub{changed: make(chan struct{})} }

// Publish makes s the latest state.
func (h *Hub) Publish(s State) {
	b, err := json.Marshal(s)
	if err != nil {
		return // State holds nothing that cannot be marshalled
	}
	h.mu.Lock()
	h.state = b
	h.version++
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// latest returns the latest state, its version, and a channel closed on the
// next change.
func (h *Hub) latest() ([]byte, uint64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state, h.version, h.changed
}

// Handler serves the dashboard and its API.
func Handler(h *Hub, c Controller) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	files := http.FileServerFS(static)
	mux.Handle("GET /", noStore(files))
	mux.HandleFunc("GET /events", h.serveEvents)
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		b, _, _ := h.latest()
		if b == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /api/control/{control}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Choice string `json:"choice"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
				writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "body: " + err.Error()})
				return
			}
		}
		msg, err := c.Act(r.Context(), Control(r.PathValue("control")), body.Choice)
		var refusal *Refusal
		var bad *BadRequest
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": msg})
		case errors.As(err, &refusal):
			writeJSON(w, http.StatusConflict, map[string]any{"ok": false, "error": refusal.Reason})
		case errors.As(err, &bad):
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": bad.Reason})
		default:
			writeJSON(w, http.StatusInternalServerError, map[string]any{"ok": false, "error": err.Error()})
		}
	})
	return mux
}

func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		// The page loads nothing from elsewhere; say so to the browser too.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// maxEventRate bounds the states sent to one viewer per second.
const maxEventRate = 5

// serveEvents streams states to one viewer until it goes away.
func (h *Hub) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	// A reconnecting EventSource waits this long (ms) after losing us.
	fmt.Fprint(w, "retry: 1000\n\n")
	fl.Flush()
	var sent uint64
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		b, v, changed := h.latest()
		if b != nil && v != sent {
			if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
			sent = v
		}
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
			continue
		case <-changed:
		}
		// Pace: a burst of changes reaches the viewer as one state.
		select {
		case <-r.Context().Done():
			return
		case <-time.After(time.Second / maxEventRate):
		}
	}
}

// Serve serves handler on addr until ctx ends; it returns the address
// bound (addr may have port 0) once listening, and a channel that yields
// the server's end.
func Serve(ctx context.Context, addr string, handler http.Handler) (string, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	// Request contexts end with ctx, so that event streams end on Ctrl-C.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
		_ = srv.Close()
	}()
	return ln.Addr().String(), done, nil
}
