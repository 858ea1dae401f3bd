package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Answer is the judge's parsed answer.
type Answer struct {
	Promote     bool    `json:"promote"`
	Confidence  float64 `json:"confidence"` // clamped to 0..1
	Analysis    string  `json:"analysis"`
	RootCause   string  `json:"rootCause"`
	Category    string  `json:"category"` // one of Categories
	Remediation string  `json:"remediation"`
}

// ErrUnparseable is wrapped by ParseAnswer's errors.
var ErrUnparseable = errors.New("llm: unparseable answer")

// ParseAnswer reads an answer tolerantly: plain JSON, JSON in a ``` fence,
// or the first balanced JSON object in prose. promote may be a boolean or
// the string "true"/"false"; without it the answer is unparseable. An unknown
// category becomes "other"; confidence is clamped to 0..1.
func ParseAnswer(text string) (*Answer, error) {
	var lastErr error
	for _, cand := range candidates(text) {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(cand))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || m == nil {
			lastErr = fmt.Errorf("%w: no JSON object", ErrUnparseable)
			continue
		}
		a, err := fromMap(m)
		if err != nil {
			lastErr = err
			continue
		}
		return a, nil
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%w: empty", ErrUnparseable)
	}
	return nil, lastErr
}

// candidates are the texts that may hold the answer, most likely first.
func candidates(text string) []string {
	t := strings.TrimSpace(text)
	out := []string{t}
	if i := strings.Index(t, "```"); i >= 0 {
		rest := t[i+3:]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 && !strings.HasPrefix(strings.TrimSpace(rest[:nl]), "{") {
			rest = rest[nl+1:] // the info string, e.g. json
		}
		if j := strings.Index(rest, "```"); j >= 0 {
			rest = rest[:j]
		}
		out = append(out, strings.TrimSpace(rest))
	}
	for start := strings.IndexByte(t, '{'); start >= 0; {
		if obj, ok := balanced(t[start:]); ok {
			out = append(out, obj)
		}
		next := strings.IndexByte(t[start+1:], '{')
		if next < 0 || len(out) > 8 {
			break
		}
		start += 1 + next
	}
	return out
}

// balanced returns the JSON object s starts with, braces matched outside
// strings.
func balanced(s string) (string, bool) {
	depth, inStr, esc := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return s[:i+1], true
			}
		}
	}
	return "", false
}

func fromMap(m map[string]any) (*Answer, error) {
	var a Answer
	switch v := m["promote"].(type) {
	case bool:
		a.Promote = v
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%w: promote is %q, not a boolean", ErrUnparseable, truncate(v, 32))
		}
		a.Promote = b
	case nil:
		return nil, fmt.Errorf("%w: no promote field", ErrUnparseable)
	default:
		return nil, fmt.Errorf("%w: promote is a %T, not a boolean", ErrUnparseable, v)
	}
	a.Confidence = clamp01(number(m["confidence"]))
	a.Analysis = text(m["analysis"])
	a.RootCause = text(m["rootCause"])
	a.Remediation = text(m["remediation"])
	a.Category = strings.ToLower(strings.TrimSpace(text(m["category"])))
	if !slices.Contains(Categories, a.Category) {
		a.Category = "other"
	}
	return &a, nil
}

func number(v any) float64 {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err == nil {
			return f
		}
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil {
			return f
		}
	}
	return math.NaN()
}

func clamp01(f float64) float64 {
	switch {
	case math.IsNaN(f) || f < 0:
		return 0
	case f > 1:
		return 1
	}
	return f
}

func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
