// Package cli holds the blastradius commands. Each command is a thin layer over
// a library package; the work itself lives there.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/strategy"
)

// Version is the harness version, set with -ldflags at build time.
var Version = "dev"

// Exit codes shared by all commands: 1 means an expectation failed, 2 means
// the harness itself failed (bad input, an error while running).
const (
	ExitOK          = 0
	ExitExpectation = 1
	ExitHarness     = 2
)

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// NewRoot builds the command tree.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "blastradius",
		Short:         "Measure the blast radius of bad releases under progressive-delivery strategies",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newBenchCmd(),
		newClusterCmd(),
		newDemoCmd(),
		newImagesCmd(),
		newLoadCmd(),
		newLoadWorkerCmd(),
		newRelayCmd(),
		newReportCmd(),
		newRunCmd(),
		newValidateCmd(),
	)
	return root
}

// Execute runs the CLI and returns the process exit code.
func Execute() int {
	// Ctrl-C and SIGTERM cancel the command's context; commands clean up
	// what they started before returning.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := NewRoot().ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(os.Stderr, "blastradius:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitHarness
}

// platformHelp is the --platform flag's help, from the platform registry.
func platformHelp() string {
	h := "platform: " + strings.Join(platform.Names(), ", ")
	if p := platform.Planned(); len(p) > 0 {
		h += " (" + strings.Join(p, " and ") + " come later)"
	}
	return h
}

// catalogHelp lists the strategies and analyzers a scenario may name, from
// their catalogs, for the help of run and validate.
func catalogHelp() string {
	var b strings.Builder
	b.WriteString("\n\nStrategies (spec.strategies, --only strategy=):\n")
	for _, s := range strategy.All() {
		fmt.Fprintf(&b, "  %-22s %s\n", s.Name(), s.Description())
	}
	b.WriteString("\nAnalyzers (spec.analyzers, --only analyzer=), for strategies with analysis:\n")
	for _, a := range analysis.Catalog() {
		fmt.Fprintf(&b, "  %-22s %s\n", a.Name, a.Description)
	}
	fmt.Fprintf(&b, "  %-22s %s", analysis.None, "the analyzer of runs whose strategy has no analysis")
	return b.String()
}
