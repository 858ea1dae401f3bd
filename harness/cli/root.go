// Package cli holds the blastradius commands. Each command is a thin layer over
// a library package; the work itself lives there.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
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
		newClusterCmd(),
		newImagesCmd(),
		newLoadCmd(),
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
