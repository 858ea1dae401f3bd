package analysis

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/analysis/agent"
	"github.com/blastradius/blastradius/harness/analysis/kayenta"
	"github.com/blastradius/blastradius/harness/analysis/llm"
	"github.com/blastradius/blastradius/harness/analysis/metricai"
	"github.com/blastradius/blastradius/harness/analysis/prometheus"
	"github.com/blastradius/blastradius/harness/analysis/sequential"
	"github.com/blastradius/blastradius/harness/analysis/sprt"
	"github.com/blastradius/blastradius/harness/analysis/tape"
	"github.com/blastradius/blastradius/harness/analysis/threshold"
)

// Info describes one analyzer of the catalog.
type Info struct {
	Name        string
	Description string
	// Provider is the Argo metric provider that gates a rollout on it:
	// "web" (this endpoint), "prometheus" (Argo queries Prometheus) or
	// "plugin" (an Argo metric plugin).
	Provider string
	// External analyzers ask a model or an agent outside the harness:
	// each answer costs time and money, and is a pure function of the
	// input only when played back from a tape. They need Settings, read
	// the input's Context, and answer in shadow only when asked to.
	External bool
	New      func(Settings) (Analyzer, error)
}

// Argo metric providers the analyzers are served through.
const (
	ProviderWeb        = "web"
	ProviderPrometheus = "prometheus"
	ProviderPlugin     = "plugin"
)

// DefaultBudget is an external analyzer's time for one analysis when the
// scenario gives none: retries and waits included, and Argo's web timeout
// is set above it.
const DefaultBudget = 60 * time.Second

// Default is the analyzer of a scenario that names none.
const Default = "threshold"

// None is the analyzer of a run whose strategy has no analysis.
const None = "none"

// Settings configure the external analyzers; the others ignore them.
type Settings struct {
	LLM      llm.Config   // from OPENAI_* and flags
	AgentURL string       // the agent's base URL, from AGENT_URL and --agent-url
	Tape     *tape.Tape   // when set, carries the external analyzers' HTTP (record or replay)
	HTTP     *http.Client // when set (and no Tape), carries it instead of the default client
	// MetricAIPlugin is the metric-ai plugin's binary (--metric-ai-plugin);
	// without it, runs gated by metric-ai are skipped.
	MetricAIPlugin string
	// MetricAIBacking is the analyzer that answers the plugin at
	// <endpoint>/agents/<name> (--metric-ai-backing; default threshold).
	MetricAIBacking string
}

func (s Settings) httpClient() *http.Client {
	if s.Tape != nil {
		next := http.DefaultTransport
		if s.HTTP != nil && s.HTTP.Transport != nil {
			next = s.HTTP.Transport
		}
		t := *s.Tape
		if t.Next == nil {
			t.Next = next
		}
		return t.Client()
	}
	return s.HTTP
}

func stateless(a Analyzer) func(Settings) (Analyzer, error) {
	return func(Settings) (Analyzer, error) { return a, nil }
}

// catalog is the one table of analyzers, in report order: the scenario
// validator, the endpoint, the strategies, the CLI help, the bench and the
// reports all read it. Adding an analyzer is one entry here.
var catalog = []Info{
	{Name: threshold.Name, Provider: ProviderWeb, New: stateless(threshold.New()),
		Description: "fixed limits on the candidate's error rate and p99 latency over the window"},
	{Name: prometheus.Name, Provider: ProviderPrometheus, New: stateless(prometheus.New()),
		Description: "Argo's prometheus provider: PromQL error rate and p99 of the candidate against fixed limits"},
	{Name: kayenta.Name, Provider: ProviderWeb, New: stateless(kayenta.New()),
		Description: "canary against stable, Mann-Whitney U per metric and a weighted score, as Kayenta's NetflixACAJudge"},
	{Name: sprt.Name, Provider: ProviderWeb, New: stateless(sprt.New()),
		Description: "Wald's sequential probability ratio test on the candidate's errors against the stable's rate"},
	{Name: sequential.Name, Provider: ProviderWeb, New: stateless(sequential.New()),
		Description: "an anytime-valid sequential test on error counts (no effect size), checked at every interval"},
	{Name: llm.Name, Provider: ProviderWeb, External: true, New: newLLM,
		Description: "an LLM judge over an OpenAI-compatible chat-completions API: metrics, series, logs and rollout step in; promote, confidence, root cause out"},
	{Name: agent.Name, Provider: ProviderWeb, External: true, New: newAgent,
		Description: "a Kubernetes agent over the A2A API the metric-ai plugin speaks (POST /a2a/analyze), e.g. carlossg/kubernetes-agent"},
	{Name: metricai.Name, Provider: ProviderPlugin, External: true, New: newMetricAI,
		Description: "the real argoproj-labs/metric-ai Argo plugin (--metric-ai-plugin PATH), its agent being the endpoint: a backing analyzer (--metric-ai-backing, default threshold) answers it at /agents/<name>"},
}

func newLLM(s Settings) (Analyzer, error) {
	cfg := s.LLM.WithEnv()
	if c := s.httpClient(); c != nil {
		cfg.HTTPClient = c
	}
	return llm.NewAnalyzer(cfg)
}

func newAgent(s Settings) (Analyzer, error) {
	return agent.NewAnalyzer(agent.Client{BaseURL: s.AgentURL, HTTPClient: s.httpClient()}, s.LLM.Policy)
}

// newMetricAI is metric-ai's entry: Argo measures it through the plugin,
// never through this endpoint (see metricai.Analyzer).
func newMetricAI(s Settings) (Analyzer, error) { return metricai.New(s.MetricAIBacking), nil }

// Backings are the analyzers that can answer a plugin's agent calls: every
// one but those Argo measures through a plugin.
func Backings() []string {
	var out []string
	for _, a := range catalog {
		if a.Provider != ProviderPlugin {
			out = append(out, a.Name)
		}
	}
	return out
}

// Catalog returns every analyzer, in report order.
func Catalog() []Info { return slices.Clone(catalog) }

// Lookup finds an analyzer by name.
func Lookup(name string) (Info, bool) {
	i := slices.IndexFunc(catalog, func(a Info) bool { return a.Name == name })
	if i < 0 {
		return Info{}, false
	}
	return catalog[i], true
}

// Names lists every analyzer a scenario may name.
func Names() []string {
	out := make([]string, len(catalog))
	for i, a := range catalog {
		out[i] = a.Name
	}
	return out
}

// IsExternal reports whether the named analyzer is an external one.
func IsExternal(name string) bool {
	info, _ := Lookup(name)
	return info.External
}

// Build builds the named analyzers with s, each error naming its analyzer
// (joined: one line per problem).
func Build(s Settings, names ...string) ([]Analyzer, error) {
	var out []Analyzer
	var errs []error
	for _, n := range names {
		info, ok := Lookup(n)
		if !ok {
			errs = append(errs, fmt.Errorf("unknown analyzer %q", n))
			continue
		}
		a, err := info.New(s)
		if err != nil {
			// One line per problem, each naming its analyzer.
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, n+":") {
					line = n + ": " + line
				}
				errs = append(errs, errors.New(line))
			}
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}

// Builtin builds every analyzer that needs no settings: the ones that
// judge counters in the harness, each a pure function of its input.
func Builtin() []Analyzer {
	var out []Analyzer
	for _, info := range catalog {
		if !info.External {
			a, _ := info.New(Settings{})
			out = append(out, a)
		}
	}
	return out
}
