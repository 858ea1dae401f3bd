package llm

import (
	"context"
	"fmt"

	"github.com/blastradius/blastradius/harness/analysis/chaos"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// Name is the analyzer's catalog name.
const Name = "llm"

// Analyzer is the judge behind the analyzer seam. Its answer is a model's,
// so it is a pure function of its Input only when the model's answers come
// from a Tape (--llm-replay); every live call costs what Call.CostUSD says.
type Analyzer struct{ client *Client }

// NewAnalyzer checks cfg and builds the analyzer.
func NewAnalyzer(cfg Config) (*Analyzer, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Analyzer{client: c}, nil
}

// Name is "llm".
func (a *Analyzer) Name() string { return Name }

// Analyze asks the model about in. Too few candidate requests make it
// inconclusive without a call (nothing to judge, nothing spent). The
// query's Policy, Budget and Chaos override the configured ones.
func (a *Analyzer) Analyze(ctx context.Context, in analyzer.Input) (analyzer.Verdict, error) {
	p := in.Params.WithDefaults()
	ev := FromInput(in)
	reqs := float64(ev.Candidate.Requests)
	v := analyzer.Verdict{Requests: reqs, P99: float64(ev.Candidate.P99Seconds)}
	if reqs < float64(p.MinRequests) {
		v.Verdict = analyzer.Inconclusive
		v.Explanation = fmt.Sprintf("%.0f candidate requests since it started, fewer than the %d needed: the model was not asked", reqs, p.MinRequests)
		return v, nil
	}
	c := a.client.with(in.Params)
	d, err := c.Judge(ctx, ev)
	v.Verdict, v.Explanation, v.Cost = d.Verdict, d.Reason, d.Call.CostUSD
	v.AI = &results.AICall{
		Model: d.Call.Model, LatencySeconds: d.Call.Latency.Seconds(), Attempts: d.Call.Attempts, Retries: d.Call.Retries,
		Status: d.Call.Status, PromptTokens: d.Call.PromptTokens, CompletionTokens: d.Call.CompletionTokens,
		CostUSD: d.Call.CostUSD, Failure: d.Failure, Policy: c.cfg.Policy, Chaos: in.Params.Chaos,
		Raw: d.Call.Raw,
	}
	if ans := d.Answer; ans != nil {
		v.Confidence = ans.Confidence
		v.Value = ans.Confidence
		v.AI.RootCause, v.AI.Remediation = ans.RootCause, ans.Remediation
		if !ans.Promote {
			v.Category = results.RootCause(ans.Category)
		}
	}
	return v, err
}

// FromInput is the Evidence of an analysis input: its metrics (see
// EvidenceFromInput), the rollout's step and weight, and its log excerpts.
func FromInput(in analyzer.Input) Evidence {
	var logs []LogExcerpt
	for _, l := range in.Context.Logs {
		logs = append(logs, LogExcerpt{Version: l.Version, Lines: l.Lines})
	}
	ev := EvidenceFromInput(in, logs...)
	for _, l := range in.Context.Logs {
		switch l.Version {
		case "stable":
			ev.Stable.OOMKills = l.OOMKills
		case "candidate":
			ev.Candidate.OOMKills = l.OOMKills
		}
	}
	ev.Step = in.Context.Step
	ev.SetWeight = in.Context.SetWeight
	return ev
}

// with is c for one query: its Policy, Budget and Chaos override the
// configured ones.
func (c *Client) with(p analyzer.Params) *Client {
	if p.Policy == "" && p.Budget == 0 && p.Chaos == results.ChaosNone {
		return c
	}
	cfg := c.cfg
	if p.Policy != "" {
		cfg.Policy = p.Policy
	}
	if p.Budget > 0 {
		cfg.Budget = p.Budget
		cfg.Timeout = min(cfg.Timeout, p.Budget)
	}
	if p.Chaos != results.ChaosNone {
		cfg.HTTPClient = chaos.Wrap(cfg.HTTPClient, p.Chaos, chaos.OpenAI)
	}
	out, err := New(cfg)
	if err != nil { // cfg was valid and only these fields changed
		panic(fmt.Sprintf("llm: %v", err))
	}
	out.sleep = c.sleep
	return out
}

var _ analyzer.Analyzer = (*Analyzer)(nil)
