package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/blastradius/blastradius/harness/analysis/agent"
)

// A2APrefix is where the endpoint also speaks the metric-ai plugin's agent
// API, one base URL per analyzer: a plugin whose agentUrl is
// <endpoint>/agents/<analyzer> is answered by that analyzer, so a cluster
// running the real plugin can be judged by any blastradius analyzer.
const A2APrefix = "/agents/"

// a2aRetryAfter is what an inconclusive answer asks the plugin to wait: the
// API has no inconclusive, and a non-200 answer is a measurement error for
// Argo, which it retries, rather than a verdict.
const a2aRetryAfter = 5 * time.Second

func (s *Server) serveA2A(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, A2APrefix), "/")
	if _, ok := s.byName[name]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error": fmt.Sprintf("unknown analyzer %q (known: %s)", name, strings.Join(s.Analyzers(), ", "))})
		return
	}
	h := agent.Handler{Agent: "blastradius/" + name, Analyze: func(ctx context.Context, req agent.Request) (agent.Response, error) {
		return s.a2aAnalyze(ctx, name, req)
	}}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + rest
	h.ServeHTTP(w, r2)
}

// a2aAnalyze answers an agent request with the analyzer's verdict on the
// pods the two selectors name. The API carries no parameters: those of a
// watched namespace are its run's scenario's, else the endpoint's defaults.
func (s *Server) a2aAnalyze(ctx context.Context, name string, req agent.Request) (agent.Response, error) {
	s.mu.Lock()
	params, ok := s.params[req.Context.Namespace]
	s.mu.Unlock()
	if !ok {
		params = s.cfg.Defaults
	}
	q := Query{Namespace: req.Context.Namespace, Analyzer: name, Params: params}
	var errs []error
	if msgs := validation.IsDNS1123Label(q.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("context.namespace %q is not a namespace name", q.Namespace))
	}
	var err error
	if q.Hash, err = templateHash(req.Context.CanarySelector); err != nil {
		errs = append(errs, fmt.Errorf("context.canarySelector: %w", err))
	}
	if q.StableHash, err = templateHash(req.Context.StableSelector); err != nil {
		errs = append(errs, fmt.Errorf("context.stableSelector: %w", err))
	}
	call := s.call(ctx, q, errors.Join(errs...))
	switch {
	case call.Status != http.StatusOK:
		return agent.Response{}, &agent.StatusError{Status: call.Status, Err: errors.New(call.Error)}
	case call.Verdict.Verdict == Inconclusive:
		return agent.Response{}, &agent.StatusError{Status: http.StatusServiceUnavailable, RetryAfter: a2aRetryAfter,
			Err: errors.New("inconclusive: " + call.Verdict.Explanation)}
	}
	return agent.Response{
		Analysis: call.Verdict.Explanation, Promote: call.Verdict.Verdict == Pass,
		Confidence: int(math.Round(100 * min(max(call.Verdict.Confidence, 0), 1))),
	}, nil
}

// templateHash is the pod-template hash a selector pins, e.g.
// "app=demo,rollouts-pod-template-hash=6bf8cdcd8b".
func templateHash(selector string) (string, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return "", err
	}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		op := r.Operator()
		if r.Key() == HashLabel && (op == selection.Equals || op == selection.DoubleEquals || op == selection.In) && r.Values().Len() == 1 {
			return r.Values().List()[0], nil
		}
	}
	return "", fmt.Errorf("%q names no single %s", selector, HashLabel)
}
