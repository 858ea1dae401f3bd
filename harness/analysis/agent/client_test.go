package agent

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// answer is one scripted reply of the fake agent. Every body below is
// hand-written test data in the agent's documented shape, never a model's
// judgement.
type answer struct {
	status     int
	retryAfter string
	body       string
	delay      time.Duration
}

// seen is one request the fake agent received.
type seen struct {
	method, path, contentType string
	body                      []byte
}

// script serves answers in order (the last one repeats) and records what it
// was asked.
type script struct {
	mu      sync.Mutex
	answers []answer
	seen    []seen
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.seen = append(s.seen, seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), body})
	a := s.answers[0]
	if len(s.answers) > 1 {
		s.answers = s.answers[1:]
	}
	s.mu.Unlock()
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (s *script) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.seen...)
}

func serve(t *testing.T, answers ...answer) (*script, *Client) {
	t.Helper()
	s := &script{answers: answers}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, &Client{BaseURL: srv.URL + "/", HTTPClient: srv.Client(), Timeout: 5 * time.Second}
}

// Hand-written test data: a well-formed agent answer, as A2AResponse.java
// serialises one (nulls and the multi-model extras included).
const goodAnswer = `{"analysis":"canary logs show 5xx on /checkout","rootCause":"nil map in v2",` +
	`"remediation":"roll back","prLink":null,"promote":false,"confidence":87,` +
	`"modelResults":[{"modelName":"m","promote":false,"confidence":87,"executionTimeMs":12,"error":null}],"votingRationale":null}`

var testRequest = NewRequest("br-run-1", "demo", "rollouts-pod-template-hash=aaa", "rollouts-pod-template-hash=bbb")

func TestAnalyzeSendsThePluginsRequest(t *testing.T) {
	s, c := serve(t, answer{status: 200, body: goodAnswer})
	resp, rec, err := c.Analyze(context.Background(), testRequest)
	if err != nil {
		t.Fatal(err)
	}
	want := Response{Analysis: "canary logs show 5xx on /checkout", RootCause: "nil map in v2", Remediation: "roll back", Promote: false, Confidence: 87}
	if resp != want {
		t.Errorf("response %+v, want %+v", resp, want)
	}
	if rec.Status != 200 || rec.Retries != 0 || rec.Body != goodAnswer || rec.Truncated || rec.Latency <= 0 {
		t.Errorf("record %+v", rec)
	}
	got := s.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	r := got[0]
	if r.method != http.MethodPost || r.path != "/a2a/analyze" || r.contentType != "application/json" {
		t.Errorf("request %s %s %q, want POST /a2a/analyze application/json", r.method, r.path, r.contentType)
	}
	// The exact keys the plugin sends and the agent binds (A2ARequest).
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"userId", "prompt", "context", "memoryId"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("request lacks %q: %s", k, r.body)
		}
	}
	if len(raw) != 4 {
		t.Errorf("request has keys beyond the plugin's: %s", r.body)
	}
	var ctxKeys map[string]string
	if err := json.Unmarshal(raw["context"], &ctxKeys); err != nil {
		t.Fatalf("context is not an object of strings: %v", err)
	}
	wantCtx := map[string]string{"namespace": "br-run-1", "rolloutName": "demo",
		"stableSelector": "rollouts-pod-template-hash=aaa", "canarySelector": "rollouts-pod-template-hash=bbb"}
	if len(ctxKeys) != len(wantCtx) {
		t.Errorf("context %v, want %v", ctxKeys, wantCtx)
	}
	for k, v := range wantCtx {
		if ctxKeys[k] != v {
			t.Errorf("context[%q] = %q, want %q", k, ctxKeys[k], v)
		}
	}
	if string(raw["userId"]) != `"argo-rollouts"` || string(raw["memoryId"]) != `"rollout:br-run-1/demo"` {
		t.Errorf("userId %s memoryId %s", raw["userId"], raw["memoryId"])
	}
}

func TestDecodeTolerance(t *testing.T) {
	// Hand-written test data: answers in shapes models and agents produce.
	for _, tc := range []struct {
		name, body string
		promote    bool
		confidence int
		err        string
	}{
		{name: "booleans", body: `{"analysis":"a","promote":true,"confidence":90}`, promote: true, confidence: 90},
		{name: "string true", body: `{"promote":"true","confidence":"75"}`, promote: true, confidence: 75},
		{name: "string False", body: `{"promote":" False ","confidence":"12.6"}`, promote: false, confidence: 13},
		{name: "no confidence", body: `{"promote":false}`, promote: false, confidence: 0},
		{name: "missing promote", body: `{"analysis":"a","confidence":80}`, err: "lacks promote"},
		{name: "null promote", body: `{"promote":null,"confidence":80}`, err: "lacks promote"},
		{name: "promote yes", body: `{"promote":"yes"}`, err: "promote is"},
		{name: "promote number", body: `{"promote":1}`, err: "promote is"},
		{name: "confidence word", body: `{"promote":true,"confidence":"high"}`, err: "confidence"},
		{name: "confidence object", body: `{"promote":true,"confidence":{}}`, err: "confidence"},
		{name: "confidence range", body: `{"promote":true,"confidence":140}`, err: "outside 0..100"},
		{name: "garbage", body: `<html>oops</html>`, err: "decode"},
		{name: "two objects", body: `{"promote":true} {"promote":false}`, err: "after"},
		{name: "text as number", body: `{"promote":true,"analysis":5}`, err: "decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeResponse([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Promote != tc.promote || r.Confidence != tc.confidence {
				t.Errorf("got promote %v confidence %d", r.Promote, r.Confidence)
			}
		})
	}
}

func TestAnalyzeStringBooleansOverHTTP(t *testing.T) {
	// Hand-written test data: promote and confidence as strings.
	_, c := serve(t, answer{status: 200, body: `{"analysis":"fine","promote":"true","confidence":"64"}`})
	r, _, err := c.Analyze(context.Background(), testRequest)
	if err != nil || !r.Promote || r.Confidence != 64 {
		t.Fatalf("got %+v, %v", r, err)
	}
}

func TestAnalyzeMissingPromote(t *testing.T) {
	// Hand-written test data: an answer without its verdict.
	_, c := serve(t, answer{status: 200, body: `{"analysis":"looked at logs","confidence":80}`})
	_, rec, err := c.Analyze(context.Background(), testRequest)
	if err == nil || !strings.Contains(err.Error(), "promote") {
		t.Fatalf("error %v, want one naming promote", err)
	}
	if rec.Status != 200 || !strings.Contains(rec.Body, "looked at logs") {
		t.Errorf("record %+v", rec)
	}
}

func TestAnalyzeGarbage(t *testing.T) {
	// Hand-written test data: not JSON at all, and longer than the record keeps.
	garbage := strings.Repeat("<p>garbage</p>", 1000)
	_, c := serve(t, answer{status: 200, body: garbage})
	_, rec, err := c.Analyze(context.Background(), testRequest)
	if err == nil {
		t.Fatal("garbage decoded")
	}
	if len(rec.Body) != RecordBodyLimit || !rec.Truncated {
		t.Errorf("record body %d bytes, truncated %v; want %d, true", len(rec.Body), rec.Truncated, RecordBodyLimit)
	}
}

func TestAnalyzeRetriesHonouringRetryAfter(t *testing.T) {
	// Hand-written test data: rate-limited once, then a verdict.
	s, c := serve(t,
		answer{status: 429, retryAfter: "1", body: `{"error":"slow down"}`},
		answer{status: 200, body: `{"analysis":"ok","promote":true,"confidence":95}`})
	start := time.Now()
	r, rec, err := c.Analyze(context.Background(), testRequest)
	if err != nil || !r.Promote {
		t.Fatalf("got %+v, %v", r, err)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("retried after %s, before Retry-After's 1s", el)
	}
	if rec.Retries != 1 || rec.Status != 200 || len(s.requests()) != 2 {
		t.Errorf("record %+v, %d requests", rec, len(s.requests()))
	}
}

func TestAnalyzeRetryAfterBeyondBudget(t *testing.T) {
	// Hand-written test data: unavailable for longer than the budget.
	s, c := serve(t, answer{status: 503, retryAfter: "120", body: `{"error":"busy"}`})
	c.Timeout = 2 * time.Second
	start := time.Now()
	_, rec, err := c.Analyze(context.Background(), testRequest)
	if err == nil || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("error %v, want one about the budget", err)
	}
	if time.Since(start) > time.Second || len(s.requests()) != 1 || rec.Status != 503 {
		t.Errorf("waited %s, %d requests, record %+v", time.Since(start), len(s.requests()), rec)
	}
}

func TestAnalyze500IsNoVerdict(t *testing.T) {
	// Hand-written test data: the agent's failure answer, which claims promote.
	body := `{"analysis":"Error: boom","rootCause":"Analysis failed","remediation":"Unable to provide remediation","promote":true,"confidence":0}`
	s, c := serve(t, answer{status: 500, body: body})
	_, rec, err := c.Analyze(context.Background(), testRequest)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("error %v, want status 500", err)
	}
	if rec.Status != 500 || rec.Body != body || rec.Retries != 0 || len(s.requests()) != 1 {
		t.Errorf("record %+v, %d requests", rec, len(s.requests()))
	}
}

func TestAnalyzeSlowPastBudget(t *testing.T) {
	// Hand-written test data: a verdict that comes too late.
	_, c := serve(t, answer{status: 200, delay: 5 * time.Second, body: `{"promote":true,"confidence":99}`})
	c.Timeout = 200 * time.Millisecond
	_, rec, err := c.Analyze(context.Background(), testRequest)
	if err == nil {
		t.Fatal("late answer accepted")
	}
	if rec.Latency > 2*time.Second || rec.Status != 0 {
		t.Errorf("record %+v", rec)
	}
}

func TestAnalyzeRejectsIncompleteRequest(t *testing.T) {
	s, c := serve(t, answer{status: 200, body: goodAnswer})
	req := testRequest
	req.Context.CanarySelector = ""
	if _, _, err := c.Analyze(context.Background(), req); err == nil || !strings.Contains(err.Error(), "context.canarySelector") {
		t.Fatalf("error %v", err)
	}
	if len(s.requests()) != 0 {
		t.Error("incomplete request sent")
	}
}

func TestHealth(t *testing.T) {
	s, c := serve(t, answer{status: 404, body: `{}`}, answer{status: 503, body: `{}`})
	if err := c.Health(context.Background()); err != nil {
		t.Errorf("404 (reachable, as the plugin sees it): %v", err)
	}
	if err := c.Health(context.Background()); err == nil {
		t.Error("503 taken as healthy")
	}
	if r := s.requests()[0]; r.method != http.MethodGet || r.path != "/" {
		t.Errorf("health asked %s %s, want GET /", r.method, r.path)
	}
	dead := &Client{BaseURL: "http://127.0.0.1:1"}
	if err := dead.Health(context.Background()); err == nil {
		t.Error("unreachable agent taken as healthy")
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              retryWait,
		"7":                             7 * time.Second,
		"-3":                            retryWait,
		"soon":                          retryWait,
		"Thu, 02 Jan 2025 03:04:15 GMT": 10 * time.Second,
		"Thu, 02 Jan 2025 03:04:00 GMT": 0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}
