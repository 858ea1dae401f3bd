package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// RequestLimit bounds the body of a request to the Handler.
const RequestLimit = 1 << 20

// AnalyzeFunc answers one analysis request.
type AnalyzeFunc func(ctx context.Context, req Request) (Response, error)

// StatusError lets an AnalyzeFunc choose the HTTP status of its failure,
// e.g. 503 with a Retry-After; any other error is a 500.
type StatusError struct {
	Status     int
	RetryAfter time.Duration // sent as whole seconds when > 0
	Err        error
}

func (e *StatusError) Error() string { return fmt.Sprintf("status %d: %v", e.Status, e.Err) }
func (e *StatusError) Unwrap() error { return e.Err }

// Handler serves the agent's API from Analyze:
//
//	GET  /             health, as the plugin asks it
//	GET  /a2a/health   health, as the agent serves it
//	POST /a2a/analyze  Request in, Response out
//
// Failures are JSON objects {"error": "..."} with a 4xx or 5xx status; the
// plugin reads no body on a non-200 answer, so none of them is a verdict.
type Handler struct {
	Analyze AnalyzeFunc
	Agent   string // name in the health answer; "blastradius" when empty
}

// Health is the body of a health answer, the agent's keys.
type Health struct {
	Status  string `json:"status"`
	Agent   string `json:"agent"`
	Version string `json:"version"`
}

// Version is the protocol version the Handler reports.
const Version = "1.0.0"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/", PathHealth:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		name := h.Agent
		if name == "" {
			name = "blastradius"
		}
		writeJSON(w, http.StatusOK, Health{Status: "healthy", Agent: name, Version: Version})
	case PathAnalyze:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		h.analyze(w, r)
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s", r.URL.Path))
	}
}

func (h *Handler) analyze(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, RequestLimit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request larger than %d bytes", RequestLimit))
			return
		}
		writeError(w, http.StatusBadRequest, "read request: "+err.Error())
		return
	}
	req, err := decodeRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.Analyze == nil {
		writeError(w, http.StatusInternalServerError, "no analyzer configured")
		return
	}
	resp, err := h.Analyze(r.Context(), req)
	if err == nil {
		err = resp.Validate()
	}
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status >= 400 && se.Status <= 599 {
			if se.RetryAfter > 0 {
				secs := int((se.RetryAfter + time.Second - 1) / time.Second)
				w.Header().Set("Retry-After", strconv.Itoa(secs))
			}
			writeError(w, se.Status, se.Err.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, "analysis failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// decodeRequest reads one JSON object; unknown keys are ignored, as the
// agent's Jackson binding ignores them.
func decodeRequest(body []byte) (Request, error) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return Request{}, fmt.Errorf("request is not the expected JSON: %v", err)
	}
	if err := req.Validate(); err != nil {
		return Request{}, err
	}
	return req, nil
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method not allowed; use "+allow)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
