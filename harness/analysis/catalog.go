package analysis

import (
	"slices"

	"github.com/blastradius/blastradius/harness/analysis/kayenta"
	"github.com/blastradius/blastradius/harness/analysis/prometheus"
	"github.com/blastradius/blastradius/harness/analysis/sequential"
	"github.com/blastradius/blastradius/harness/analysis/sprt"
	"github.com/blastradius/blastradius/harness/analysis/threshold"
)

// Info describes one analyzer of the catalog.
type Info struct {
	Name        string
	Description string
	// Provider is the Argo metric provider that gates a rollout on it:
	// "web" (this endpoint) or "prometheus" (Argo queries Prometheus).
	Provider string
	New      func() Analyzer
}

// Argo metric providers the analyzers are served through.
const (
	ProviderWeb        = "web"
	ProviderPrometheus = "prometheus"
)

// Default is the analyzer of a scenario that names none.
const Default = "threshold"

// None is the analyzer of a run whose strategy has no analysis.
const None = "none"

// catalog is the one table of analyzers, in report order: the scenario
// validator, the endpoint, the strategies, the CLI help, the bench and the
// reports all read it. Adding an analyzer is one entry here.
var catalog = []Info{
	{Name: threshold.Name, Provider: ProviderWeb, New: threshold.New,
		Description: "fixed limits on the candidate's error rate and p99 latency over the window"},
	{Name: prometheus.Name, Provider: ProviderPrometheus, New: prometheus.New,
		Description: "Argo's prometheus provider: PromQL error rate and p99 of the candidate against fixed limits"},
	{Name: kayenta.Name, Provider: ProviderWeb, New: kayenta.New,
		Description: "canary against stable, Mann-Whitney U per metric and a weighted score, as Kayenta's NetflixACAJudge"},
	{Name: sprt.Name, Provider: ProviderWeb, New: sprt.New,
		Description: "Wald's sequential probability ratio test on the candidate's errors against the stable's rate"},
	{Name: sequential.Name, Provider: ProviderWeb, New: sequential.New,
		Description: "an anytime-valid sequential test on error counts (no effect size), checked at every interval"},
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

// All builds one of every analyzer in the catalog.
func All() []Analyzer {
	out := make([]Analyzer, len(catalog))
	for i, a := range catalog {
		out[i] = a.New()
	}
	return out
}
