package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/loadgen/worker"
)

// WorkerPort is the port a load worker listens on by default.
const WorkerPort = 8080

func newLoadWorkerCmd() *cobra.Command {
	var listen, name, dir string
	cmd := &cobra.Command{
		Use:   "load-worker",
		Short: "Serve one in-cluster load worker (run by the harness as a pod; see --load in-cluster)",
		Long: `Wait for an attack from the harness, send this worker's share of the load
(its own users, its share of the rate) from the start time all workers share,
and serve every request's record as a resumable stream. The harness starts,
drives and stops it through its HTTP API (package loadgen/worker).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := workerListenAddr(listen)
			if err != nil {
				return err
			}
			if name == "" {
				name = os.Getenv("POD_NAME")
			}
			if name == "" {
				name, _ = os.Hostname()
			}
			return serveWorker(cmd.Context(), addr, worker.NewServer(name, dir), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "listen address (default $POD_IP:$PORT, port 8080 if unset)")
	cmd.Flags().StringVar(&name, "name", "", "the name on every record (default $POD_NAME, else the host name)")
	cmd.Flags().StringVar(&dir, "spool-dir", "", "where records are kept until the harness has them (default: the temp dir)")
	return cmd
}

// workerListenAddr is --listen, else $POD_IP:$PORT: on the local platform
// pods share the host's network, each on its own loopback address.
func workerListenAddr(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	ip, port := os.Getenv("POD_IP"), os.Getenv("PORT")
	if port == "" {
		port = strconv.Itoa(WorkerPort)
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return "", fmt.Errorf("POD_IP: not an IP address: %q", ip)
	}
	return net.JoinHostPort(ip, port), nil
}

func serveWorker(ctx context.Context, addr string, s *worker.Server, log interface{ Write([]byte) (int, error) }) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(log, "load worker %s listening on %s\n", s.Status().Name, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	s.Close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
