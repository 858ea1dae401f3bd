package analysis

import "slices"

// Info describes one analyzer of the catalog.
type Info struct {
	Name        string
	Description string
	New         func() Analyzer
}

// Default is the analyzer of a scenario that names none.
const Default = "threshold"

// None is the analyzer of a run whose strategy has no analysis.
const None = "none"

// catalog is the one table of analyzers, in report order: the scenario
// validator, the endpoint, the CLI help and the reports all read it. Adding
// an analyzer is one entry here.
var catalog = []Info{
	{Name: "threshold", Description: "fixed limits on the candidate's error rate and p99 latency over the window",
		New: func() Analyzer { return Threshold{} }},
}

// Catalog returns every analyzer, in report order.
func Catalog() []Info { return slices.Clone(catalog) }

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
