package llm

import (
	"errors"
	"testing"
)

// Every input here is hand-written test data, not a model's judgement.
func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		promote  bool
		conf     float64
		category string
	}{
		{"plain", `{"promote": false, "confidence": 0.8, "category": "latency"}`, false, 0.8, "latency"},
		{"fenced", "```json\n{\"promote\": true, \"confidence\": 0.7, \"category\": \"none\"}\n```", true, 0.7, "none"},
		{"bare fence", "```\n{\"promote\": true, \"confidence\": 0.7, \"category\": \"none\"}\n```", true, 0.7, "none"},
		{"prose", `I looked. {"promote": false, "confidence": 0.6, "analysis": "a } in a string {", "category": "crash"} Done.`, false, 0.6, "crash"},
		{"string bool", `{"promote": "true", "confidence": "0.5", "category": "Readiness"}`, true, 0.5, "readiness"},
		{"unknown category", `{"promote": false, "confidence": 1, "category": "cosmic-rays"}`, false, 1, "other"},
		{"confidence high", `{"promote": false, "confidence": 7, "category": "none"}`, false, 1, "none"},
		{"confidence low", `{"promote": true, "confidence": -2}`, true, 0, "other"},
		{"skips objects without promote", `{"note": 1} then {"promote": true, "confidence": 0.4, "category": "none"}`, true, 0.4, "none"},
	} {
		a, err := ParseAnswer(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if a.Promote != tc.promote || a.Confidence != tc.conf || a.Category != tc.category {
			t.Errorf("%s: %+v", tc.name, a)
		}
	}
	for _, bad := range []string{"", "garbage", `{"confidence": 0.9}`, `{"promote": "maybe"}`, `{"promote": 1}`, "{unclosed"} {
		if a, err := ParseAnswer(bad); !errors.Is(err, ErrUnparseable) || a != nil {
			t.Errorf("%q: %v %v", bad, a, err)
		}
	}
}
