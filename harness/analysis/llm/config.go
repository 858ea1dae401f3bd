package llm

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// Policy says what verdict a failed call (timeout, refusal, 429, 5xx,
// rejected request, unparseable answer) becomes.
type Policy = results.FailurePolicy

// Policies.
const (
	PolicyInconclusive = results.PolicyInconclusive // the default
	PolicyFailOpen     = results.PolicyFailOpen     // pass: the rollout goes on
	PolicyFailClosed   = results.PolicyFailClosed   // fail: the rollout is stopped
)

// Secret is a credential. It formats, marshals and prints as "[redacted]"
// whatever the verb, so a Config can be logged or recorded as it is.
type Secret string

const redacted = "[redacted]"

// String is "[redacted]" ("" when the secret is empty).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format writes String for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON writes String.
func (s Secret) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "%q", s.String()), nil }

// MarshalText writes String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Environment variables ConfigFromEnv reads.
const (
	EnvBaseURL = "OPENAI_BASE_URL"
	EnvModel   = "OPENAI_MODEL"
	EnvAPIKey  = "OPENAI_API_KEY"
)

// Defaults for the zero fields of a Config.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultBudget     = 90 * time.Second
	DefaultMaxRetries = 2
)

// Config is how to reach the model and what its failures mean.
type Config struct {
	BaseURL string // e.g. https://api.openai.com/v1; /chat/completions is appended
	Model   string
	APIKey  Secret // sent as "Authorization: Bearer"; never printed, logged or recorded
	// USD per million prompt and completion tokens, for Call.CostUSD.
	PromptPricePerMTok     float64
	CompletionPricePerMTok float64
	Timeout                time.Duration // per HTTP attempt; 0: DefaultTimeout
	Budget                 time.Duration // per Judge call, every attempt and wait included; 0: DefaultBudget
	MaxRetries             int           // after the first attempt, on 429, 5xx, timeouts and transport errors; 0: DefaultMaxRetries, <0: none
	Policy                 Policy        // "": inconclusive
	// HTTPClient, when set, carries the requests (tests, proxies).
	HTTPClient *http.Client `json:"-"`
}

// ConfigFromEnv is a Config with BaseURL, Model and APIKey from
// OPENAI_BASE_URL, OPENAI_MODEL and OPENAI_API_KEY; set fields afterwards to
// override them.
func ConfigFromEnv() Config { return Config{}.WithEnv() }

// WithEnv fills BaseURL, Model and APIKey from the environment where c leaves
// them empty: explicit values win.
func (c Config) WithEnv() Config {
	if c.BaseURL == "" {
		c.BaseURL = os.Getenv(EnvBaseURL)
	}
	if c.Model == "" {
		c.Model = os.Getenv(EnvModel)
	}
	if c.APIKey == "" {
		c.APIKey = Secret(os.Getenv(EnvAPIKey))
	}
	return c
}

// WithDefaults fills zero Timeout, Budget, MaxRetries and Policy.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Budget == 0 {
		c.Budget = DefaultBudget
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.Policy == "" {
		c.Policy = PolicyInconclusive
	}
	return c
}

// Validate returns one error per problem, joined; nil when c is usable. No
// error mentions the API key.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.BaseURL) == "" {
		errs = append(errs, fmt.Errorf("llm: no base URL (set %s or --llm-base-url)", EnvBaseURL))
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("llm: base URL %q is not an http(s) URL", redactURL(c.BaseURL)))
	}
	if strings.TrimSpace(c.Model) == "" {
		errs = append(errs, fmt.Errorf("llm: no model (set %s or --llm-model)", EnvModel))
	}
	badPrice := func(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }
	if badPrice(c.PromptPricePerMTok) {
		errs = append(errs, fmt.Errorf("llm: prompt price %v USD per million tokens is not a finite non-negative number", c.PromptPricePerMTok))
	}
	if badPrice(c.CompletionPricePerMTok) {
		errs = append(errs, fmt.Errorf("llm: completion price %v USD per million tokens is not a finite non-negative number", c.CompletionPricePerMTok))
	}
	switch c.Policy {
	case "", PolicyInconclusive, PolicyFailOpen, PolicyFailClosed:
	default:
		errs = append(errs, fmt.Errorf("llm: policy %q is none of %s, %s, %s", c.Policy, PolicyInconclusive, PolicyFailOpen, PolicyFailClosed))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("llm: timeout %v is negative", c.Timeout))
	}
	if c.Budget < 0 {
		errs = append(errs, fmt.Errorf("llm: budget %v is negative", c.Budget))
	}
	return errors.Join(errs...)
}

// String describes c without its API key.
func (c Config) String() string {
	key := "none"
	if c.APIKey != "" {
		key = redacted
	}
	return fmt.Sprintf("llm.Config{BaseURL: %q, Model: %q, APIKey: %s, PromptPricePerMTok: %g, CompletionPricePerMTok: %g, Timeout: %v, Budget: %v, MaxRetries: %d, Policy: %q}",
		redactURL(c.BaseURL), c.Model, key, c.PromptPricePerMTok, c.CompletionPricePerMTok, c.Timeout, c.Budget, c.MaxRetries, c.Policy)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// redactURL drops a URL's user info, which may hold a credential.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User(redacted)
	return u.String()
}
