package bench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analyzer"
)

// statistical are the catalog's statistical analyzers (kayenta, sprt,
// sequential); all of the catalog if it has none of them yet.
func statistical() []analyzer.Analyzer {
	var out []analyzer.Analyzer
	for _, a := range analysis.Catalog() {
		if slices.Contains([]string{"kayenta", "sprt", "sequential"}, a.Name) {
			b, err := a.New(analysis.Settings{})
			if err != nil {
				panic(err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return analysis.Builtin()
	}
	return out
}

// BenchmarkReplay reports how many traces a minute Run replays through the
// statistical analyzers (each trace through every one of them), reading
// and decoding included, on runtime.NumCPU() workers. The target is
// 10,000 traces/min on 2 cores; it is reported, not asserted.
func BenchmarkReplay(b *testing.B) {
	const cases = 1000
	path := filepath.Join(b.TempDir(), "c.ndjson")
	if err := os.WriteFile(path, generate(b, cases, 1), 0o644); err != nil {
		b.Fatal(err)
	}
	analyzers := statistical()
	var names []string
	for _, a := range analyzers {
		names = append(names, a.Name())
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := Run(context.Background(), []string{path}, analyzers); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(cases*b.N)/elapsed.Minutes(), "traces/min")
	b.Logf("analyzers: %s", strings.Join(names, ", "))
}
