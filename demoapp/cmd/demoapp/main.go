// Command demoapp is the deliberately buggy demo app: one colored version of a
// service whose faults come from the environment (see package demoapp).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/blastradius/blastradius/demoapp"
)

func main() {
	listen := flag.String("listen", "", "listen address (default $LISTEN, else $POD_IP:$PORT, else :8080)")
	termDelay := flag.Duration("termination-delay", 0, "how long /readyz fails before shutdown (default $TERMINATION_DELAY, else 0)")
	flag.Parse()

	cfg, err := demoapp.ConfigFromEnv(os.Getenv)
	if err != nil {
		fail(err)
	}
	// Flags given explicitly win over the environment.
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Addr = *listen
		case "termination-delay":
			cfg.TerminationDelay = *termDelay
		}
	})
	srv, err := demoapp.New(cfg)
	if err != nil {
		fail(err)
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := srv.Serve(ctx, ln); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "demoapp: %v\n", err)
	os.Exit(1)
}
