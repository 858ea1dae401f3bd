package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/internal/retryafter"
)

// Limits of the client.
const (
	// RecordBodyLimit bounds the body kept in a Record.
	RecordBodyLimit = 8 << 10
	// responseLimit bounds the body read from the agent.
	responseLimit = 1 << 20
	// DefaultTimeout is the per-call budget when Client.Timeout is 0: the
	// plugin's own HTTP timeout, as an agent's analysis calls a model and
	// tools.
	DefaultTimeout = 5 * time.Minute
	// maxAttempts bounds the tries of one Analyze call.
	maxAttempts = 4
	// retryWait is the wait before a retry when the answer names none.
	retryWait = time.Second
)

// Client asks an agent over the A2A API.
type Client struct {
	BaseURL    string       // e.g. http://kubernetes-agent.ns.svc:8080
	HTTPClient *http.Client // nil: http.DefaultClient
	// Timeout is the budget of one call, retries and their waits included;
	// 0 means DefaultTimeout.
	Timeout time.Duration
}

// Record is what one Analyze call did, for the harness's records.
type Record struct {
	Latency time.Duration // the whole call, retries and waits included
	Status  int           // HTTP status of the last answer; 0 if none came
	// Body is the last answer's raw body, at most RecordBodyLimit bytes; it
	// comes from the agent verbatim, so callers escape it before showing it.
	Body      string
	Truncated bool // Body was cut at RecordBodyLimit
	Retries   int  // tries after the first
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
}

func (c *Client) url(path string) string {
	return strings.TrimRight(c.BaseURL, "/") + path
}

// Health asks GET on the base URL, as the plugin does before each analysis.
// The plugin takes any answer as healthy; Health is stricter and also fails
// on a 5xx.
func (c *Client) Health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/"), nil)
	if err != nil {
		return fmt.Errorf("agent health: %w", err)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("agent health: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, responseLimit))
	if resp.StatusCode >= 500 {
		return fmt.Errorf("agent health: status %d", resp.StatusCode)
	}
	return nil
}

// Analyze posts req to /a2a/analyze and decodes the answer. It retries on 429
// and 503, waiting as Retry-After says (or retryWait when it says nothing),
// while the call's budget lasts; it gives up at once when the wait would
// outlast the budget. Any other status but 200 is an error: the real agent
// answers 500 with a body that claims promote=true, which is no verdict.
func (c *Client) Analyze(ctx context.Context, req Request) (Response, Record, error) {
	start := time.Now()
	var rec Record
	done := func(r Response, err error) (Response, Record, error) {
		rec.Latency = time.Since(start)
		return r, rec, err
	}
	if err := req.Validate(); err != nil {
		return done(Response{}, err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return done(Response{}, fmt.Errorf("encode agent request: %w", err))
	}
	budget := c.Timeout
	if budget <= 0 {
		budget = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	for attempt := 1; ; attempt++ {
		rec.Retries = attempt - 1
		full, wait, err := c.post(ctx, body, &rec)
		if err == nil {
			r, err := DecodeResponse(full)
			return done(r, err)
		}
		if wait < 0 || attempt == maxAttempts {
			return done(Response{}, err)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return done(Response{}, fmt.Errorf("%w; retry in %s would outlast the call's budget of %s", err, wait, budget))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return done(Response{}, fmt.Errorf("%w; gave up waiting to retry: %w", err, ctx.Err()))
		case <-t.C:
		}
	}
}

// post does one try and notes its answer in rec. On success (200) it returns
// the whole body; on failure, how long to wait before a retry, or -1 for no
// retry.
func (c *Client) post(ctx context.Context, body []byte, rec *Record) ([]byte, time.Duration, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(PathAnalyze), bytes.NewReader(body))
	if err != nil {
		return nil, -1, fmt.Errorf("agent analyze: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(hreq)
	if err != nil {
		rec.Status, rec.Body, rec.Truncated = 0, "", false
		return nil, -1, fmt.Errorf("agent analyze: %w", err)
	}
	defer resp.Body.Close()
	rec.Status = resp.StatusCode
	full, readErr := io.ReadAll(io.LimitReader(resp.Body, responseLimit+1))
	rec.Body, rec.Truncated = string(full), false
	if len(full) > RecordBodyLimit {
		rec.Body, rec.Truncated = string(full[:RecordBodyLimit]), true
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return nil, retryAfter(resp.Header.Get("Retry-After"), time.Now()), fmt.Errorf("agent analyze: status %d", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, -1, fmt.Errorf("agent analyze: status %d", resp.StatusCode)
	case readErr != nil:
		return nil, -1, fmt.Errorf("agent analyze: read answer: %w", readErr)
	case len(full) > responseLimit:
		return nil, -1, fmt.Errorf("agent analyze: answer larger than %d bytes", responseLimit)
	}
	return full, 0, nil
}

// retryAfter is the wait a Retry-After header asks for; retryWait when it
// is absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	if d, ok := retryafter.Parse(http.Header{"Retry-After": {h}}, now); ok {
		return d
	}
	return retryWait
}
