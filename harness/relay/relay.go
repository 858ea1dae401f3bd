// Package relay lets a cluster's Argo Rollouts controller call the
// harness's analysis endpoint when it cannot reach the harness's machine
// (kind nodes, a remote cluster): a relay pod behind a Service takes Argo's
// requests and passes each, over one multiplexed connection the harness
// opened to it (through a port-forward), to the harness, which answers.
// Only the harness connects out; nothing in the cluster needs a route to
// it.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// HealthPath is the relay's own readiness path; every other path goes
// to the harness.
const HealthPath = "/relay/healthz"

// Server is the relay in its pod.
type Server struct {
	mu      sync.Mutex
	session *yamux.Session // the harness's tunnel, nil while none is open
}

// NewServer returns a relay with no tunnel yet.
func NewServer() *Server { return &Server{} }

// Handler serves Argo's side: each request goes through the tunnel to the
// harness; without a tunnel, 503.
func (s *Server) Handler() http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "harness"})
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				sess := s.current()
				if sess == nil {
					return nil, errNoTunnel
				}
				return sess.Open()
			},
			MaxIdleConnsPerHost: 16,
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "relay: "+err.Error(), http.StatusServiceUnavailable)
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("/", proxy)
	return mux
}

var errNoTunnel = errors.New("the harness has no tunnel open")

func (s *Server) current() *yamux.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session != nil && s.session.IsClosed() {
		s.session = nil
	}
	return s.session
}

// ServeTunnels accepts the harness's tunnel connections on ln; the newest
// one carries the requests.
func (s *Server) ServeTunnels(ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		sess, err := yamux.Client(conn, quietConfig())
		if err != nil {
			conn.Close()
			continue
		}
		s.mu.Lock()
		old := s.session
		s.session = sess
		s.mu.Unlock()
		if old != nil {
			old.Close()
		}
	}
}

func quietConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard // its lines are no one's to read
	cfg.EnableKeepAlive = true
	cfg.KeepAliveInterval = 10 * time.Second
	return cfg
}

// Tunnel is the harness's end: it keeps a connection to the relay's tunnel
// port open and serves the requests that come through it with handler.
type Tunnel struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Open dials addr (the relay's tunnel port, as the harness reaches it: a
// port-forward) and serves handler over it, dialing again after any break
// until Close. It returns once the first connection is up.
func Open(ctx context.Context, dial func(context.Context) (net.Conn, error), handler http.Handler) (*Tunnel, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &Tunnel{cancel: cancel, done: make(chan struct{})}
	first, err := serveOnce(ctx, dial, handler)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("relay tunnel: %w", err)
	}
	go func() {
		defer close(t.done)
		wait := first
		for {
			select {
			case <-ctx.Done():
				return
			case <-wait:
			}
			next, err := serveOnce(ctx, dial, handler)
			if err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(500 * time.Millisecond):
				}
				closed := make(chan struct{})
				close(closed)
				wait = closed
				continue
			}
			wait = next
		}
	}()
	return t, nil
}

// serveOnce opens one tunnel and serves it; the channel closes when it
// breaks.
func serveOnce(ctx context.Context, dial func(context.Context) (net.Conn, error), handler http.Handler) (<-chan struct{}, error) {
	conn, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := yamux.Server(conn, quietConfig())
	if err != nil {
		conn.Close()
		return nil, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	broken := make(chan struct{})
	go func() {
		_ = srv.Serve(sess)
		close(broken)
	}()
	go func() {
		select {
		case <-ctx.Done():
		case <-sess.CloseChan():
		}
		_ = srv.Close()
		_ = sess.Close()
	}()
	return broken, nil
}

// Close ends the tunnel.
func (t *Tunnel) Close() {
	t.cancel()
	<-t.done
}
