package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/blastradius/blastradius/harness/analysis/chaos"
	"github.com/blastradius/blastradius/harness/analysis/tape"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// Name is the analyzer's catalog name.
const Name = "agent"

// EnvURL names the agent's base URL when no flag does.
const EnvURL = "AGENT_URL"

// Analyzer asks an agent over the A2A API, as the metric-ai plugin does:
// the agent reads the cluster itself, so the request names the namespace,
// the rollout and the two versions' selectors, and the prompt adds the
// harness's view. Failures become the query's policy (inconclusive by
// default). Like llm, it is pure only when the answers come from a tape.
type Analyzer struct {
	client Client
	policy results.FailurePolicy
}

// NewAnalyzer checks the base URL and builds the analyzer. A zero
// c.Timeout is DefaultTimeout (the plugin's own); policy is what a failure
// becomes when a query names none ("": inconclusive).
func NewAnalyzer(c Client, policy results.FailurePolicy) (*Analyzer, error) {
	if err := ValidateURL(c.BaseURL); err != nil {
		return nil, err
	}
	return &Analyzer{client: c, policy: policy}, nil
}

// ValidateURL says what is wrong with an agent base URL, if anything.
func ValidateURL(base string) error {
	if strings.TrimSpace(base) == "" {
		return fmt.Errorf("agent: no base URL (set %s or --agent-url)", EnvURL)
	}
	req, err := http.NewRequest(http.MethodGet, base, nil)
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		return fmt.Errorf("agent: base URL %q is not an http(s) URL", base)
	}
	return nil
}

// Name is "agent".
func (a *Analyzer) Name() string { return Name }

// Analyze asks the agent about the release in in.Context.
func (a *Analyzer) Analyze(ctx context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	p := in.Params.WithDefaults()
	policy := cmp.Or(p.Policy, a.policy, results.PolicyInconclusive)
	cand := analyzer.Sum(in.Candidate, -1, in.Now)
	v := analyzer.Verdict{Requests: cand.Requests, P99: cand.Quantile(0.99, in.Bounds)}
	if cand.Requests < float64(p.MinRequests) {
		v.Verdict = analyzer.Inconclusive
		v.Explanation = fmt.Sprintf("%.0f candidate requests since it started, fewer than the %d needed: the agent was not asked", cand.Requests, p.MinRequests)
		return v, nil
	}
	c := a.client
	if p.Budget > 0 {
		c.Timeout = p.Budget
	}
	c.HTTPClient = chaos.Wrap(c.HTTPClient, p.Chaos, chaos.A2A)
	req := requestFor(in)
	v.AI = &results.AICall{Policy: policy, Chaos: p.Chaos}
	resp, rec, err := c.Analyze(ctx, req)
	v.AI.LatencySeconds, v.AI.Status, v.AI.Retries, v.AI.Attempts = rec.Latency.Seconds(), rec.Status, rec.Retries, rec.Retries+1
	v.AI.Raw = rec.Body
	if err != nil {
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		if errors.Is(err, tape.ErrNotRecorded) {
			return v, err // the harness's failure, not the agent's: no policy covers it
		}
		v.Verdict = policy.Verdict()
		v.AI.Failure = failureOf(err, rec)
		v.Explanation = fmt.Sprintf("%s → %s (policy %s): %s", v.AI.Failure, v.Verdict, policy, clip(oneLine(err.Error()), 500))
		return v, nil
	}
	v.Confidence = float64(resp.Confidence) / 100
	v.Value = v.Confidence
	v.AI.RootCause, v.AI.Remediation = resp.RootCause, resp.Remediation
	v.Verdict = analyzer.Pass
	if !resp.Promote {
		v.Verdict = analyzer.Fail
		v.Category = CategoryOf(resp.RootCause)
	}
	v.Explanation = fmt.Sprintf("promote=%t confidence=%d%%: %s", resp.Promote, resp.Confidence, clip(oneLine(resp.Analysis), 300))
	return v, nil
}

// requestFor is the plugin's request for the release in in.Context, with
// the harness's view of the metrics added to the prompt.
func requestFor(in analyzer.Input) Request {
	c := in.Context
	// A replay of a synthetic trace knows no cluster: the request still
	// has the fields the API requires, naming what they stand for.
	c.Namespace = cmp.Or(c.Namespace, "unknown-namespace")
	c.Rollout = cmp.Or(c.Rollout, "unknown-rollout")
	c.CandidateHash = cmp.Or(c.CandidateHash, "candidate")
	c.StableHash = cmp.Or(c.StableHash, "stable")
	app := ""
	if c.App != "" {
		app = "app=" + c.App + ","
	}
	req := NewRequest(c.Namespace, c.Rollout,
		app+hashLabel+"="+c.StableHash, app+hashLabel+"="+c.CandidateHash)
	cand, stable := analyzer.Sum(in.Candidate, -1, in.Now), analyzer.Sum(in.Stable, -1, in.Now)
	req.Prompt += fmt.Sprintf(" Since the canary started, the harness counted: canary %.0f requests, %.2f%% 5xx; stable %.0f requests, %.2f%% 5xx.",
		cand.Requests, 100*nanZero(cand.ErrorRate()), stable.Requests, 100*nanZero(stable.ErrorRate()))
	if c.Step >= 0 {
		req.Prompt += fmt.Sprintf(" The rollout is at step %d of %d, canary weight %g%%.", c.Step, c.Steps, c.SetWeight)
	}
	req.Prompt += " Begin rootCause with one of: " + strings.Join(results.RootCauseNames(), ", ") + "."
	return req
}

const hashLabel = "rollouts-pod-template-hash"

// CategoryOf reads the category a root cause names by its first word, as
// the prompt asks (the API has no category field); other when it names none.
func CategoryOf(rootCause string) results.RootCause {
	s := strings.ToLower(strings.TrimSpace(rootCause))
	for _, c := range results.RootCauses() {
		if strings.HasPrefix(s, string(c)) {
			return c
		}
	}
	return results.RootCauseOther
}

// failureOf names a failed call's kind, in the llm package's words.
func failureOf(err error, rec Record) string {
	var se interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &se) && se.Timeout()):
		return results.FailureTimeout
	case rec.Status == http.StatusTooManyRequests:
		return results.FailureRateLimited
	case rec.Status >= 500:
		return results.FailureServer
	case rec.Status == http.StatusOK:
		return results.FailureUnparseable
	case rec.Status == 0:
		return results.FailureTransport
	}
	return results.FailureRejected
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func nanZero(f float64) float64 {
	if f != f {
		return 0
	}
	return f
}

var _ analyzer.Analyzer = (*Analyzer)(nil)
