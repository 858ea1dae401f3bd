package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/harness/relay"
)

func newRelayCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "relay",
		Short: "Serve the analysis relay (run by the harness as a pod; see --analysis-relay)",
		Long: `Take Argo Rollouts' calls to the analysis endpoint on port 8080 and pass each,
over the tunnel the harness opens to port 8081 (through a port-forward), to the
harness, which answers: the analysis endpoint for clusters whose nodes cannot
reach the harness's machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			public, tunnel := relay.ListenAddrs(os.Getenv("POD_IP"))
			return serveRelay(cmd.Context(), public, tunnel)
		},
	}
}

func serveRelay(ctx context.Context, publicAddr, tunnelAddr string) error {
	r := relay.NewServer()
	tl, err := net.Listen("tcp", tunnelAddr)
	if err != nil {
		return err
	}
	defer tl.Close()
	pl, err := net.Listen("tcp", publicAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(pl) }()
	go func() { errc <- r.ServeTunnels(tl) }()
	fmt.Fprintf(os.Stderr, "analysis relay: Argo's side on %s, the harness's tunnel on %s\n", pl.Addr(), tl.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
