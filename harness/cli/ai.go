package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analysis/agent"
	"github.com/blastradius/blastradius/harness/analysis/llm"
	"github.com/blastradius/blastradius/harness/analysis/metricai"
	"github.com/blastradius/blastradius/harness/analysis/tape"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
)

// aiOptions configure the external analyzers (llm, agent). Keys come only
// from the environment or a file: no flag takes one inline, where it would
// land in shell history and in results.json's args.
type aiOptions struct {
	baseURL, model, keyFile      string
	promptPrice, completionPrice float64
	timeout                      time.Duration
	policy                       string
	agentURL                     string
	record, replay               string
	shadowExternal               bool
	metricAIPlugin               string
	metricAIBacking              string
}

func (o *aiOptions) register(f *pflag.FlagSet) {
	f.StringVar(&o.baseURL, "llm-base-url", "", "llm: OpenAI-compatible base URL, e.g. https://api.openai.com/v1 (default $"+llm.EnvBaseURL+")")
	f.StringVar(&o.model, "llm-model", "", "llm: model name (default $"+llm.EnvModel+")")
	f.StringVar(&o.keyFile, "llm-api-key-file", "", "llm: file holding the API key (default: $"+llm.EnvAPIKey+")")
	f.Float64Var(&o.promptPrice, "llm-prompt-price", 0, "llm: USD per million prompt tokens, for cost")
	f.Float64Var(&o.completionPrice, "llm-completion-price", 0, "llm: USD per million completion tokens, for cost")
	f.DurationVar(&o.timeout, "llm-timeout", 0, "llm: timeout of one HTTP attempt (default 30s)")
	f.StringVar(&o.policy, "llm-policy", "", "llm, agent: what a failed call becomes where a scenario says nothing: inconclusive (default), failOpen, failClosed")
	f.StringVar(&o.agentURL, "agent-url", "", "agent: the A2A agent's base URL (default $"+agent.EnvURL+")")
	f.StringVar(&o.record, "llm-record", "", "record every request and answer of the llm and agent endpoints into DIR (keyed by a hash of the request; no header, so no key, is stored)")
	f.StringVar(&o.replay, "llm-replay", "", "answer the llm and agent analyzers from recordings in DIR; a request not recorded is an error")
	f.BoolVar(&o.shadowExternal, "shadow-external", false, "ask the configured llm and agent analyzers in shadow on every measurement too (each answer costs a call)")
}

// registerMetricAI adds run's metric-ai flags: the plugin runs in a cluster,
// so bench, which replays traces, has no use for them.
func (o *aiOptions) registerMetricAI(f *pflag.FlagSet) {
	f.StringVar(&o.metricAIPlugin, "metric-ai-plugin", "", "metric-ai: the argoproj-labs/metric-ai Argo plugin's binary, which Argo loads (file://) and which asks the endpoint; without it, runs gated by metric-ai are skipped")
	f.StringVar(&o.metricAIBacking, "metric-ai-backing", "", "metric-ai: the analyzer that answers the plugin at the endpoint's /agents/<name> (default "+metricai.DefaultBacking+")")
}

// configured lists the external analyzers whose endpoint is given.
func (o *aiOptions) configured() []string {
	var out []string
	if o.baseURL != "" || os.Getenv(llm.EnvBaseURL) != "" || o.replay != "" {
		out = append(out, llm.Name)
	}
	if o.agentURL != "" || os.Getenv(agent.EnvURL) != "" || o.replay != "" {
		out = append(out, agent.Name)
	}
	return out
}

// settings builds the external analyzers' settings; the error has one line
// per problem.
func (o *aiOptions) settings() (analysis.Settings, error) {
	var errs []error
	s := analysis.Settings{AgentURL: o.agentURL}
	if s.AgentURL == "" {
		s.AgentURL = os.Getenv(agent.EnvURL)
	}
	s.LLM = llm.Config{BaseURL: o.baseURL, Model: o.model, PromptPricePerMTok: o.promptPrice,
		CompletionPricePerMTok: o.completionPrice, Timeout: o.timeout, Policy: results.FailurePolicy(o.policy)}
	if o.policy != "" && !slices.Contains(results.Policies(), s.LLM.Policy) {
		errs = append(errs, fmt.Errorf("--llm-policy: %q is none of inconclusive, failOpen, failClosed", o.policy))
	}
	if o.keyFile != "" {
		data, err := os.ReadFile(o.keyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--llm-api-key-file: %w", err))
		} else if k := strings.TrimSpace(string(data)); k == "" {
			errs = append(errs, fmt.Errorf("--llm-api-key-file: %s is empty", o.keyFile))
		} else {
			s.LLM.APIKey = llm.Secret(k)
		}
	}
	s.LLM = s.LLM.WithEnv()
	s.MetricAIPlugin, s.MetricAIBacking = o.metricAIPlugin, cmpOr(o.metricAIBacking, metricai.DefaultBacking)
	if s.MetricAIPlugin != "" {
		path, err := pluginBinary(s.MetricAIPlugin)
		if err != nil {
			errs = append(errs, fmt.Errorf("--metric-ai-plugin: %w", err))
		}
		s.MetricAIPlugin = path
	}
	if !slices.Contains(analysis.Backings(), s.MetricAIBacking) {
		errs = append(errs, fmt.Errorf("--metric-ai-backing: %q is none of %s", s.MetricAIBacking, strings.Join(analysis.Backings(), ", ")))
	}
	switch {
	case o.record != "" && o.replay != "":
		errs = append(errs, errors.New("--llm-record and --llm-replay: give one, not both"))
	case o.replay != "":
		m, err := tape.ReadManifest(o.replay)
		if err != nil {
			errs = append(errs, fmt.Errorf("--llm-replay: %w", err))
		}
		if st, err := os.Stat(o.replay); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--llm-replay: %s is not a directory of recordings", o.replay))
		}
		// The recording says what was asked; flags and environment win.
		s.LLM.BaseURL = cmpOr(s.LLM.BaseURL, m.BaseURL)
		s.LLM.Model = cmpOr(s.LLM.Model, m.Model)
		s.AgentURL = cmpOr(s.AgentURL, m.AgentURL)
		s.Tape = &tape.Tape{Dir: o.replay, Replay: true}
	case o.record != "":
		s.Tape = &tape.Tape{Dir: o.record}
	}
	return s, errors.Join(errs...)
}

// startRecording writes the recording's manifest.
func (o *aiOptions) startRecording(s analysis.Settings) error {
	if o.record == "" {
		return nil
	}
	if err := tape.WriteManifest(o.record, tape.Manifest{BaseURL: redactUserinfo(s.LLM.BaseURL), Model: s.LLM.Model, AgentURL: s.AgentURL}); err != nil {
		return fmt.Errorf("--llm-record: %w", err)
	}
	return nil
}

// externals builds the external analyzers the runs need: those a run is
// gated by, and with --shadow-external every configured one. Problems are
// refused here, before any run starts, one line each.
func (o *aiOptions) externals(gating []string) ([]analysis.Analyzer, error) {
	s, err := o.settings()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range gating {
		// Argo measures a plugin's analyzer; the endpoint serves only the
		// analyzer that answers the plugin.
		if info, _ := analysis.Lookup(n); info.Provider == analysis.ProviderPlugin {
			n = s.MetricAIBacking
		}
		if analysis.IsExternal(n) && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if o.shadowExternal {
		for _, n := range o.configured() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("--shadow-external: no external analyzer is configured (set %s and %s, or %s)", llm.EnvBaseURL, llm.EnvModel, agent.EnvURL)
		}
	}
	as, err := analysis.Build(s, names...)
	if err != nil {
		return nil, err
	}
	return as, o.startRecording(s)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// redactUserinfo drops a URL's user info (a credential) for the manifest.
func redactUserinfo(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.LastIndex(s[i+3:], "@"); j >= 0 && !strings.Contains(s[i+3:i+3+j], "/") {
			return s[:i+3] + s[i+3+j+1:]
		}
	}
	return s
}

// pluginBinary is the absolute path of an executable file: Argo copies a
// plugin from its file:// location, from its own working directory.
func pluginBinary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path, err
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return abs, err
	case !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0:
		return abs, fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}

// metricAI is what the platform and the runner need for metric-ai: the
// plugin to configure in Argo and the analyzer that answers it, or nothing
// without --metric-ai-plugin. The options are valid (settings said so).
func (o *aiOptions) metricAI() (plugins []platform.MetricPlugin, backing string) {
	if o.metricAIPlugin == "" {
		return nil, ""
	}
	path, _ := pluginBinary(o.metricAIPlugin)
	return []platform.MetricPlugin{metricai.Plugin(path)}, cmpOr(o.metricAIBacking, metricai.DefaultBacking)
}

// pluginSecret is the file every version of the metric-ai plugin read so far
// (internal/plugin/plugin.go) loads at start-up, exiting without it.
const pluginSecret = "/etc/secrets/github_token"

// skipPluginRuns drops the runs gated by metric-ai when no plugin binary
// is given, one line each on w saying why, before any cluster starts; with
// a binary, it warns once if the file the plugin reads at start-up is
// missing.
func (o *aiOptions) skipPluginRuns(w io.Writer, specs []scenario.RunSpec) []scenario.RunSpec {
	var kept []scenario.RunSpec
	needed := false
	for _, s := range specs {
		info, _ := analysis.Lookup(s.Analyzer)
		switch {
		case info.Provider != analysis.ProviderPlugin:
			kept = append(kept, s)
		case o.metricAIPlugin == "":
			fmt.Fprintf(w, "skip %s: %s runs the real %s Argo plugin, and no binary was given (--metric-ai-plugin PATH)\n",
				s.ID, s.Analyzer, metricai.PluginName)
		default:
			kept, needed = append(kept, s), true
		}
	}
	if needed {
		if _, err := os.Stat(pluginSecret); err != nil {
			fmt.Fprintf(w, "warning: %s is missing: the %s versions read so far exit at start-up without it, and every measurement is then an error\n",
				pluginSecret, metricai.PluginName)
		}
	}
	return kept
}
