package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/blastradius/blastradius/harness/analysis/tape"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/internal/retryafter"
	"github.com/blastradius/blastradius/harness/results"
)

// Response formats, most structured first; a server that rejects one with
// a 400 naming response_format is asked again with the next.
const (
	FormatJSONSchema = "json_schema"
	FormatJSONObject = "json_object"
	FormatNone       = "none"
)

// Failure kinds, in Decision.Failure.
const (
	FailureTimeout     = results.FailureTimeout
	FailureRateLimited = results.FailureRateLimited
	FailureServer      = results.FailureServer
	FailureTransport   = results.FailureTransport
	FailureRejected    = results.FailureRejected
	FailureRefusal     = results.FailureRefusal
	FailureUnparseable = results.FailureUnparseable
	FailureCanceled    = results.FailureCanceled
)

// Decision is the judge's verdict and how it came about.
type Decision struct {
	Answer  *Answer                 `json:"answer,omitempty"` // nil on failure
	Verdict results.AnalysisVerdict `json:"verdict"`          // promote: pass, not: fail; failure: per Policy
	Failure string                  `json:"failure,omitempty"`
	Reason  string                  `json:"reason"` // one line, for people
	Call    Call                    `json:"call"`
}

// Call records the HTTP side of one Judge call, every attempt included.
type Call struct {
	Model            string        `json:"model"`        // as the server echoed it (the configured one without an answer)
	Format           string        `json:"format"`       // response format of the last attempt
	Latency          time.Duration `json:"latencyNs"`    // Judge's whole duration
	Attempts         int           `json:"attempts"`     // HTTP requests sent
	Retries          int           `json:"retries"`      // Attempts-1: retries and format fallbacks
	Status           int           `json:"status"`       // HTTP status of the last attempt, 0 without one
	PromptTokens     int64         `json:"promptTokens"` // summed over attempts that reported usage
	CompletionTokens int64         `json:"completionTokens"`
	CostUSD          float64       `json:"costUSD"`
	// Raw is the last answer's text, at most MaxRawAnswer bytes (valid
	// UTF-8, else as received): untrusted, escape it wherever shown.
	Raw          string `json:"raw"`
	RawTruncated bool   `json:"rawTruncated,omitempty"`
}

// Client asks a model to judge evidence.
type Client struct {
	cfg    Config
	client openai.Client
	sleep  func(ctx context.Context, d time.Duration) error
}

// New checks cfg (Validate) and fills its defaults.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(string(cfg.APIKey)),
		option.WithMaxRetries(0), // Judge retries itself, to count and to keep within the budget
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &Client{cfg: cfg, client: openai.NewClient(opts...), sleep: sleepCtx}, nil
}

// Config is the client's configuration, defaults filled.
func (c *Client) Config() Config { return c.cfg }

// Judge asks the model once about ev (retrying within the budget) and maps
// the answer to a verdict. Failures the Policy covers — timeouts, refusals,
// 429, 5xx, rejected requests, unparseable answers — give a Decision with
// Failure and Reason set and a nil error. The error is non-nil only when the
// evidence cannot be encoded or ctx itself ends; the Decision then still
// carries the policy verdict and the call record.
func (c *Client) Judge(ctx context.Context, ev Evidence) (d Decision, err error) {
	start := time.Now()
	d.Call.Model = c.cfg.Model
	defer func() {
		d.Call.Latency = time.Since(start)
		d.Call.CostUSD = float64(d.Call.PromptTokens)*c.cfg.PromptPricePerMTok/1e6 + float64(d.Call.CompletionTokens)*c.cfg.CompletionPricePerMTok/1e6
		d.Reason = c.scrub(d.Reason)
		d.Call.Raw = c.scrub(d.Call.Raw)
		if err != nil && c.scrub(err.Error()) != err.Error() {
			err = errors.New(c.scrub(err.Error()))
		}
	}()
	user, err := userPrompt(ev)
	if err != nil {
		c.fail(&d, FailureUnparseable, err.Error())
		return d, err
	}
	bctx, cancel := context.WithTimeout(ctx, c.cfg.Budget)
	defer cancel()

	formats := []string{FormatJSONSchema, FormatJSONObject, FormatNone}
	retries := 0 // of MaxRetries; format fallbacks do not count against it
	for {
		d.Call.Format = formats[0]
		d.Call.Attempts++
		d.Call.Retries = d.Call.Attempts - 1
		res := c.attempt(bctx, formats[0], user)
		d.Call.Status = res.status
		if res.completion != nil {
			d.Call.PromptTokens += res.completion.Usage.PromptTokens
			d.Call.CompletionTokens += res.completion.Usage.CompletionTokens
			if res.completion.Model != "" {
				d.Call.Model = res.completion.Model
			}
			c.answer(&d, res.completion)
			return d, nil
		}
		if ctx.Err() != nil {
			c.fail(&d, FailureCanceled, "the caller's context ended: "+ctx.Err().Error())
			return d, ctx.Err()
		}
		if res.err != nil { // not the endpoint's failure: the harness's
			c.fail(&d, FailureTransport, res.err.Error())
			return d, res.err
		}
		if res.rejectsFormat && len(formats) > 1 {
			formats = formats[1:]
			continue
		}
		remaining := time.Until(deadline(bctx))
		if bctx.Err() != nil || remaining <= 0 {
			c.fail(&d, FailureTimeout, fmt.Sprintf("budget %v exhausted after %d attempt(s); last: %s", c.cfg.Budget, d.Call.Attempts, res.reason))
			return d, nil
		}
		if !res.retryable {
			c.fail(&d, res.failure, res.reason)
			return d, nil
		}
		if retries >= c.cfg.MaxRetries {
			c.fail(&d, res.failure, fmt.Sprintf("%s (after %d retries)", res.reason, retries))
			return d, nil
		}
		wait := res.retryAfter
		if wait <= 0 {
			wait = backoff(retries)
		}
		if wait >= remaining {
			c.fail(&d, res.failure, fmt.Sprintf("%s; waiting %v more would exceed the budget (%v left)", res.reason, wait, remaining.Round(time.Millisecond)))
			return d, nil
		}
		if err := c.sleep(bctx, wait); err != nil {
			if ctx.Err() != nil {
				c.fail(&d, FailureCanceled, "the caller's context ended: "+ctx.Err().Error())
				return d, ctx.Err()
			}
			c.fail(&d, FailureTimeout, fmt.Sprintf("budget %v exhausted while waiting to retry; last: %s", c.cfg.Budget, res.reason))
			return d, nil
		}
		retries++
	}
}

// attemptResult is one HTTP attempt: a completion, or why not.
type attemptResult struct {
	completion    *openai.ChatCompletion
	status        int
	failure       string
	reason        string
	retryable     bool
	retryAfter    time.Duration
	rejectsFormat bool
	// err is a failure no policy covers: a replay asked for a request
	// that was not recorded.
	err error
}

func (c *Client) attempt(ctx context.Context, format, user string) attemptResult {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	params := openai.ChatCompletionNewParams{
		Model: shared.ChatModel(c.cfg.Model),
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(systemPrompt()),
			openai.UserMessage(user),
		},
		Temperature: openai.Float(0),
	}
	switch format {
	case FormatJSONSchema:
		params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name:        "rollout_judgement",
				Description: openai.String("whether to promote the canary, and why"),
				Strict:      openai.Bool(true),
				Schema:      AnswerSchema(),
			},
		}}
	case FormatJSONObject:
		params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
	}
	var resp *http.Response
	comp, err := c.client.Chat.Completions.New(actx, params, option.WithResponseInto(&resp))
	var r attemptResult
	if resp != nil {
		r.status = resp.StatusCode
	}
	if err == nil {
		r.completion = comp
		return r
	}
	var apiErr *openai.Error
	switch {
	case errors.As(err, &apiErr) || r.status >= 400:
		if r.status == 0 {
			r.status = apiErr.StatusCode
		}
		body := errorText(apiErr, resp)
		r.reason = fmt.Sprintf("HTTP %d %s", r.status, http.StatusText(r.status))
		if body != "" {
			r.reason += ": " + body
		}
		switch {
		case r.status == http.StatusBadRequest && strings.Contains(strings.ToLower(body), "response_format"):
			r.failure, r.rejectsFormat = FailureRejected, true
		case r.status == http.StatusTooManyRequests:
			r.failure, r.retryable = FailureRateLimited, true
		case r.status >= 500:
			r.failure, r.retryable = FailureServer, true
		case r.status == http.StatusRequestTimeout:
			r.failure, r.retryable = FailureTimeout, true
		default:
			r.failure = FailureRejected
		}
		if (r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable) && resp != nil {
			r.retryAfter, _ = retryafter.Parse(resp.Header, time.Now())
		}
	case r.status == http.StatusOK && !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err):
		// An answer came, but not the API's JSON (a proxy's page, garbage):
		// like an unparseable completion, not retried.
		r.failure = FailureUnparseable
		r.reason = "the 200 answer is not a chat completion: " + oneLine(err.Error(), 200)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		r.failure, r.retryable = FailureTimeout, true
		r.reason = fmt.Sprintf("no answer within the %v timeout", c.cfg.Timeout)
	case errors.Is(err, tape.ErrNotRecorded):
		r.err = err
	default:
		r.failure, r.retryable = FailureTransport, true
		r.reason = "transport: " + err.Error()
	}
	return r
}

// answer maps a completion to the decision.
func (c *Client) answer(d *Decision, comp *openai.ChatCompletion) {
	if len(comp.Choices) == 0 {
		c.fail(d, FailureUnparseable, "the response has no choices")
		return
	}
	ch := comp.Choices[0]
	content := ch.Message.Content
	if content == "" && ch.Message.Refusal != "" {
		content = ch.Message.Refusal
	}
	d.Call.Raw, d.Call.RawTruncated = boundRaw(content)
	if ch.Message.Refusal != "" || ch.FinishReason == "content_filter" {
		c.fail(d, FailureRefusal, "the model refused: "+oneLine(ch.Message.Refusal, 200))
		return
	}
	a, err := ParseAnswer(content)
	if err != nil {
		reason := err.Error()
		if ch.FinishReason == "length" {
			reason += " (the answer was cut at the token limit)"
		}
		c.fail(d, FailureUnparseable, reason)
		return
	}
	d.Answer = a
	if a.Promote {
		d.Verdict = analyzer.Pass
	} else {
		d.Verdict = analyzer.Fail
	}
	d.Reason = fmt.Sprintf("promote=%t confidence=%.2f category=%s: %s", a.Promote, a.Confidence, a.Category, oneLine(a.Analysis, 300))
}

func (c *Client) fail(d *Decision, failure, reason string) {
	d.Answer = nil
	d.Failure = failure
	d.Verdict = c.cfg.Policy.Verdict()
	d.Reason = fmt.Sprintf("%s → %s (policy %s): %s", failure, d.Verdict, c.cfg.Policy, oneLine(reason, 500))
}

// scrub removes the API key from s, should a server or library echo it.
func (c *Client) scrub(s string) string {
	if k := string(c.cfg.APIKey); len(k) >= 4 {
		s = strings.ReplaceAll(s, k, redacted)
	}
	return s
}

// errorText is the error message the server sent, or the start of its body.
func errorText(apiErr *openai.Error, resp *http.Response) string {
	var parts []string
	if apiErr != nil {
		for _, p := range []string{apiErr.Message, apiErr.Param, apiErr.Code} {
			if p != "" {
				parts = append(parts, p)
			}
		}
	}
	if len(parts) == 0 && resp != nil && resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		parts = append(parts, string(b))
	}
	return oneLine(strings.Join(parts, "; "), 300)
}

// backoff is the wait before retry n (0-based) without Retry-After.
func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << n
	if d > 8*time.Second || d <= 0 {
		d = 8 * time.Second
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func deadline(ctx context.Context) time.Time {
	t, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return t
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// boundRaw cuts an answer to MaxRawAnswer bytes.
func boundRaw(s string) (string, bool) {
	if len(s) <= MaxRawAnswer {
		return s, false
	}
	return truncate(s, MaxRawAnswer), true
}

// oneLine cleans s to one line of at most n bytes.
func oneLine(s string, n int) string { return truncate(CleanLine(s), n) }
