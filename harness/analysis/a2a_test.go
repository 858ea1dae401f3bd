package analysis_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analysis/agent"
	"github.com/blastradius/blastradius/harness/analyzer"
)

// TestA2A: the endpoint answers the metric-ai plugin's agent API with any
// analyzer's verdict, as the plugin's client would see it.
func TestA2A(t *testing.T) {
	e := newEnv(t)
	c, s := e.addPod("demo-canary-a", "canary"), e.addPod("demo-stable-a", "stable")
	srv := httptest.NewServer(e.srv)
	t.Cleanup(srv.Close)
	client := func(name string) *agent.Client {
		return &agent.Client{BaseURL: srv.URL + analysis.A2APrefix + name, Timeout: 2 * time.Second}
	}
	req := agent.NewRequest(ns, "demo", "app=demo,rollouts-pod-template-hash=stable", "app=demo,rollouts-pod-template-hash=canary")
	ctx := context.Background()
	require.NoError(t, client("threshold").Health(ctx))

	// Too little data yet: no verdict, the plugin's call is an error Argo retries.
	_, rec, err := client("threshold").Analyze(ctx, req)
	require.Error(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Status)

	e.advance(10 * time.Second)
	c.serve("200", 80, 0.005)
	c.serve("500", 20, 0.005)
	s.serve("200", 900, 0.005)
	resp, _, err := client("threshold").Analyze(ctx, req)
	require.NoError(t, err)
	assert.False(t, resp.Promote)
	assert.Equal(t, 100, resp.Confidence)
	assert.Contains(t, resp.Analysis, "error rate 20.00% (20/100) > 5.00%")
	calls := e.srv.Calls()
	last := calls[len(calls)-1]
	assert.Equal(t, "canary", last.Hash)
	assert.Equal(t, "stable", last.StableHash)
	assert.Len(t, last.Shadow, len(analysis.Builtin())-1, "the other builtin analyzers answered in shadow (the external ones only with ShadowExternal)")

	// A watched namespace's calls are answered with its run's parameters.
	loose := analyzer.Defaults
	loose.MaxErrorRate = 0.5
	unwatch := e.srv.Watch(ns, loose)
	resp, _, err = client("threshold").Analyze(ctx, req)
	require.NoError(t, err)
	assert.True(t, resp.Promote, "20%% errors is under the run's 50%% limit: %s", resp.Analysis)
	unwatch()
	resp, _, err = client("threshold").Analyze(ctx, req)
	require.NoError(t, err)
	assert.False(t, resp.Promote, "unwatched: the endpoint's defaults again")

	_, rec, err = client("oracle").Analyze(ctx, req)
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, rec.Status)

	bad := req
	bad.Context.CanarySelector = "app=demo"
	_, rec, err = client("threshold").Analyze(ctx, bad)
	require.Error(t, err)
	assert.Equal(t, http.StatusBadRequest, rec.Status)
	assert.Contains(t, string(rec.Body), "context.canarySelector")
}
