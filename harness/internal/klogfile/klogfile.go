// Package klogfile sends client-go's klog lines (events it could not post,
// watch retries while an API server restarts) to a file instead of the
// user's terminal, where they are noise.
package klogfile

import (
	"flag"
	"io"
	"os"

	"k8s.io/klog/v2"
)

// To sends klog to f alone. Writing to a file, klog still copies errors to
// stderr (its stderrthreshold), which put "Server rejected event" lines
// from a deleted namespace on the user's terminal; the threshold goes to
// FATAL while the file is in use. klog also writes an error once per
// severity at or below it (ERROR, WARNING, INFO), each to f: one_output
// keeps it to one line.
func To(f *os.File) { to(f) }

// to sends klog's lines, one per message, to w only.
func to(w io.Writer) {
	flags := flagSet()
	klog.Flush()
	_ = flags.Set("stderrthreshold", "FATAL")
	_ = flags.Set("one_output", "true")
	klog.LogToStderr(false)
	klog.SetOutput(w)
}

// Restore sends klog back to stderr, errors only.
// Discard drops klog's output from now on: what the last pods' goroutines
// log once their cluster is down (an event the stopped broadcaster could
// not post) is nothing a user's terminal should show.
func Discard() { to(io.Discard) }

func Restore() {
	flags := flagSet()
	klog.Flush()
	_ = flags.Set("stderrthreshold", "ERROR")
	_ = flags.Set("one_output", "false")
	klog.LogToStderr(true)
}

func flagSet() *flag.FlagSet {
	flags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(flags)
	return flags
}
