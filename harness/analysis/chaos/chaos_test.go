package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/analysis/chaos"
	"github.com/blastradius/blastradius/harness/results"
)

// upstream answers a hand-written chat completion (not a model's) and an
// A2A answer, counting the requests that reach it.
func upstream(t *testing.T, hits *int) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*hits++
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/a2a/analyze" {
			_, _ = io.WriteString(w, `{"promote":false,"confidence":90,"analysis":"x","rootCause":"y","remediation":"z"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"1","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"{\"promote\":false,\"confidence\":0.9}"}}]}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func do(t *testing.T, c *http.Client, url string) (*http.Response, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"q":1}`))
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

func TestModesThatReplaceTheAnswer(t *testing.T) {
	hits := 0
	up := upstream(t, &hits)
	c := func(m results.Chaos) *http.Client { return chaos.Wrap(nil, m, chaos.OpenAI) }

	_, _, err := do(t, c(results.ChaosDown), up.URL+"/v1/chat/completions")
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "down: %v", err)

	_, _, err = do(t, c(results.ChaosSlow), up.URL+"/v1/chat/completions")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "slow: no answer before the caller gives up")

	resp, body, err := do(t, c(results.ChaosRateLimited), up.URL+"/v1/chat/completions")
	require.NoError(t, err)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.True(t, json.Valid([]byte(body)))

	resp, _, err = do(t, c(results.ChaosServerError), up.URL+"/v1/chat/completions")
	require.NoError(t, err)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)

	resp, body, err = do(t, c(results.ChaosGarbage), up.URL+"/v1/chat/completions")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.False(t, json.Valid([]byte(body)))

	assert.Zero(t, hits, "none of these reached the upstream")
	assert.Same(t, http.DefaultClient, chaos.Wrap(http.DefaultClient, results.ChaosNone, chaos.OpenAI))
}

func TestModesThatMangleARealAnswer(t *testing.T) {
	hits := 0
	up := upstream(t, &hits)
	content := func(body string) string {
		var comp struct {
			Choices []struct {
				Message struct{ Content string } `json:"message"`
			} `json:"choices"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &comp), body)
		return comp.Choices[0].Message.Content
	}
	_, body, err := do(t, chaos.Wrap(nil, results.ChaosProse, chaos.OpenAI), up.URL+"/v1/chat/completions")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(content(body), "Sure!"))
	assert.Contains(t, content(body), `{"promote":false`)

	_, body, err = do(t, chaos.Wrap(nil, results.ChaosFenced, chaos.OpenAI), up.URL+"/v1/chat/completions")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(content(body), "```json\n"))

	_, body, err = do(t, chaos.Wrap(nil, results.ChaosNoPromote, chaos.OpenAI), up.URL+"/v1/chat/completions")
	require.NoError(t, err)
	assert.NotContains(t, content(body), "promote")
	assert.Contains(t, content(body), "confidence")

	_, body, err = do(t, chaos.Wrap(nil, results.ChaosNoPromote, chaos.A2A), up.URL+"/a2a/analyze")
	require.NoError(t, err)
	assert.NotContains(t, body, "promote")
	assert.Contains(t, body, "rootCause")
	assert.Equal(t, 4, hits, "these passed the request on")
}
