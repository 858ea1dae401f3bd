package llm

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestLive asks a real endpoint once. It runs only with OPENAI_BASE_URL
// (and OPENAI_MODEL) set, and checks the plumbing, not the judgement.
func TestLive(t *testing.T) {
	if os.Getenv(EnvBaseURL) == "" {
		t.Skip("OPENAI_BASE_URL not set: no live model test")
	}
	cfg := ConfigFromEnv()
	cfg.Budget = 2 * time.Minute
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Judge(context.Background(), testEvidence())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verdict %s failure %q model %s status %d retries %d tokens %d/%d latency %v", d.Verdict, d.Failure, d.Call.Model, d.Call.Status, d.Call.Retries, d.Call.PromptTokens, d.Call.CompletionTokens, d.Call.Latency)
	if d.Call.Status != 200 {
		t.Errorf("status %d: %s", d.Call.Status, d.Reason)
	}
}
