package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Paths of the API, relative to the agent's base URL.
const (
	PathAnalyze = "/a2a/analyze"
	PathHealth  = "/a2a/health" // the agent's own health route; the plugin asks "/"
)

// UserID is the userId the metric-ai plugin sends.
const UserID = "argo-rollouts"

// Request is the body of POST /a2a/analyze.
type Request struct {
	UserID  string  `json:"userId"`
	Prompt  string  `json:"prompt"`
	Context Context `json:"context"`
	// MemoryID keys the agent's conversation memory; the plugin sends
	// "rollout:<namespace>/<rollout>". The Java agent has no such field and
	// ignores it.
	MemoryID string `json:"memoryId,omitempty"`
	// ModelsToUse is the agent's optional per-request model list; the
	// plugin never sends it.
	ModelsToUse []string `json:"modelsToUse,omitempty"`
}

// Context is the request's context object: a free map on the agent's side
// (Map<String, Object>), these keys as the plugin fills them.
type Context struct {
	Namespace      string `json:"namespace"`
	RolloutName    string `json:"rolloutName,omitempty"` // sent by newer plugins
	StableSelector string `json:"stableSelector"`
	CanarySelector string `json:"canarySelector"`
	// ExtraPrompt is a key the agent reads from the context when present.
	ExtraPrompt string `json:"extraPrompt,omitempty"`
}

// Response is the body of a 200 answer to POST /a2a/analyze.
type Response struct {
	Analysis    string `json:"analysis"`
	RootCause   string `json:"rootCause"`
	Remediation string `json:"remediation"`
	PRLink      string `json:"prLink,omitempty"`
	Promote     bool   `json:"promote"`
	// Confidence is an integer percentage, 0..100, as the agent's schema
	// and the plugin's int field have it (the plugin reports it /100).
	Confidence int `json:"confidence"`
}

// NewRequest builds the request the metric-ai plugin sends for a rollout.
// The prompt is this package's own wording; the agent treats it as free
// text.
func NewRequest(namespace, rollout, stableSelector, canarySelector string) Request {
	return Request{
		UserID: UserID,
		Prompt: fmt.Sprintf("Should the canary of rollout %q in namespace %q be promoted? "+
			"Compare the canary pods (%s) with the stable pods (%s).",
			rollout, namespace, canarySelector, stableSelector),
		Context: Context{
			Namespace:      namespace,
			RolloutName:    rollout,
			StableSelector: stableSelector,
			CanarySelector: canarySelector,
		},
		MemoryID: "rollout:" + namespace + "/" + rollout,
	}
}

// Validate checks the fields the agent needs: userId (the agent trims it
// and fails without it), prompt, and the namespace and both selectors.
func (r Request) Validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"userId", r.UserID},
		{"prompt", r.Prompt},
		{"context.namespace", r.Context.Namespace},
		{"context.stableSelector", r.Context.StableSelector},
		{"context.canarySelector", r.Context.CanarySelector},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("request lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// Validate checks a response before it is served or believed.
func (r Response) Validate() error {
	if r.Confidence < 0 || r.Confidence > 100 {
		return fmt.Errorf("confidence %d outside 0..100", r.Confidence)
	}
	return nil
}

// wireResponse takes the response's fields as they come, for DecodeResponse.
type wireResponse struct {
	Analysis    *string         `json:"analysis"`
	RootCause   *string         `json:"rootCause"`
	Remediation *string         `json:"remediation"`
	PRLink      *string         `json:"prLink"`
	Promote     json.RawMessage `json:"promote"`
	Confidence  json.RawMessage `json:"confidence"`
}

// DecodeResponse reads an agent's answer tolerantly: text fields may be
// null; promote may be a boolean or the string "true" or "false"; confidence
// a number or a numeric string, rounded to an integer in 0..100, and 0 when
// absent. A missing or null promote is an error: it is the verdict.
func DecodeResponse(body []byte) (Response, error) {
	var w wireResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return Response{}, fmt.Errorf("decode agent response: %w", err)
	}
	if dec.More() {
		return Response{}, errors.New("decode agent response: data after the JSON object")
	}
	var r Response
	for _, f := range []struct {
		dst *string
		src *string
	}{{&r.Analysis, w.Analysis}, {&r.RootCause, w.RootCause}, {&r.Remediation, w.Remediation}, {&r.PRLink, w.PRLink}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	var err error
	if r.Promote, err = decodePromote(w.Promote); err != nil {
		return Response{}, err
	}
	if r.Confidence, err = decodeConfidence(w.Confidence); err != nil {
		return Response{}, err
	}
	return r, nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

func decodePromote(raw json.RawMessage) (bool, error) {
	if isNull(raw) {
		return false, errors.New("agent response lacks promote")
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("agent response: promote is %s, not a boolean", clip(string(raw), 40))
}

func decodeConfidence(raw json.RawMessage) (int, error) {
	if isNull(raw) {
		return 0, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("agent response: confidence is %s, not a number", clip(string(raw), 40))
		}
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, fmt.Errorf("agent response: confidence %q is not a number", clip(s, 40))
		}
	}
	if math.IsNaN(f) || f < 0 || f > 100 {
		return 0, fmt.Errorf("agent response: confidence %v outside 0..100", f)
	}
	return int(math.Round(f)), nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
