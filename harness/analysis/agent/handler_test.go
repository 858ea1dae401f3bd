package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stub is a Go stand-in for the agent. Its answers are hand-written test
// data derived from the request, never a model's judgement.
func stub(calls *atomic.Int32) AnalyzeFunc {
	return func(ctx context.Context, req Request) (Response, error) {
		n := calls.Add(1)
		if req.Context.Namespace == "busy" && n == 1 {
			return Response{}, &StatusError{Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Err: errors.New("busy")}
		}
		if req.Context.Namespace == "broken" {
			return Response{}, errors.New("cannot read the trace")
		}
		if req.Context.Namespace == "overconfident" {
			return Response{Promote: true, Confidence: 101}, nil
		}
		return Response{
			Analysis:    "stub saw " + req.Context.CanarySelector,
			RootCause:   "none",
			Remediation: "none",
			Promote:     req.Context.CanarySelector != "bad",
			Confidence:  70,
		}, nil
	}
}

func TestHandlerRoundTrip(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(&Handler{Analyze: stub(&calls)})
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, HTTPClient: srv.Client(), Timeout: 5 * time.Second}
	ctx := context.Background()
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}

	r, rec, err := c.Analyze(ctx, testRequest)
	if err != nil {
		t.Fatal(err)
	}
	want := Response{Analysis: "stub saw rollouts-pod-template-hash=bbb", RootCause: "none", Remediation: "none", Promote: true, Confidence: 70}
	if r != want || rec.Status != 200 {
		t.Errorf("got %+v %+v", r, rec)
	}

	bad := testRequest
	bad.Context.CanarySelector = "bad"
	if r, _, err := c.Analyze(ctx, bad); err != nil || r.Promote {
		t.Errorf("bad canary: %+v, %v", r, err)
	}

	busy := NewRequest("busy", "demo", "a=1", "a=2")
	calls.Store(0)
	r, rec, err = c.Analyze(ctx, busy)
	if err != nil || !r.Promote || rec.Retries != 1 {
		t.Errorf("busy: %+v %+v %v", r, rec, err)
	}

	_, rec, err = c.Analyze(ctx, NewRequest("broken", "demo", "a=1", "a=2"))
	if err == nil || rec.Status != 500 || !strings.Contains(rec.Body, "cannot read the trace") {
		t.Errorf("broken: %+v %v", rec, err)
	}
	_, rec, err = c.Analyze(ctx, NewRequest("overconfident", "demo", "a=1", "a=2"))
	if err == nil || rec.Status != 500 {
		t.Errorf("overconfident: %+v %v", rec, err)
	}
}

func TestHandlerHealthBody(t *testing.T) {
	h := &Handler{Analyze: stub(new(atomic.Int32))}
	for _, path := range []string{"/", "/a2a/health"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		var got Health
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 || got.Status != "healthy" || got.Agent != "blastradius" {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
}

func TestHandlerRejects(t *testing.T) {
	h := &Handler{Analyze: stub(new(atomic.Int32))}
	valid := `{"userId":"argo-rollouts","prompt":"p","context":{"namespace":"n","stableSelector":"s","canarySelector":"c"}}`
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		want                            string
	}{
		{"valid, unknown keys ignored", "POST", PathAnalyze, "application/json; charset=utf-8",
			`{"userId":"u","prompt":"p","memoryId":"m","modelsToUse":["x"],"extra":1,"context":{"namespace":"n","stableSelector":"s","canarySelector":"c","events":[]}}`, 200, `"promote":true`},
		{"GET analyze", "GET", PathAnalyze, "", "", 405, "POST"},
		{"POST health", "POST", "/", "application/json", valid, 405, "GET"},
		{"unknown path", "GET", "/a2a/other", "", "", 404, "no route"},
		{"text body", "POST", PathAnalyze, "text/plain", valid, 415, "application/json"},
		{"no content type", "POST", PathAnalyze, "", valid, 415, "application/json"},
		{"not JSON", "POST", PathAnalyze, "application/json", `{"userId":`, 400, "not the expected JSON"},
		{"context a string", "POST", PathAnalyze, "application/json", `{"userId":"u","prompt":"p","context":"n"}`, 400, "not the expected JSON"},
		{"missing fields", "POST", PathAnalyze, "application/json", `{"prompt":"p","context":{"namespace":"n"}}`, 400,
			"userId, context.stableSelector, context.canarySelector"},
		{"too large", "POST", PathAnalyze, "application/json",
			`{"userId":"u","prompt":"` + strings.Repeat("x", RequestLimit) + `"}`, 413, "larger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			body, _ := io.ReadAll(w.Body)
			if w.Code != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s, want %d containing %q", w.Code, clip(string(body), 200), tc.status, tc.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.status >= 400 {
				var e map[string]string
				if err := json.Unmarshal(body, &e); err != nil || e["error"] == "" {
					t.Errorf("error body %s is not {\"error\": ...}", clip(string(body), 200))
				}
			}
		})
	}
}

func TestHandlerWithoutFunc(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", PathAnalyze, strings.NewReader(`{"userId":"u","prompt":"p","context":{"namespace":"n","stableSelector":"s","canarySelector":"c"}}`))
	r.Header.Set("Content-Type", "application/json")
	(&Handler{}).ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status %d", w.Code)
	}
}
