package relay

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRelayPassesRequestsToTheHarness: Argo's requests at the relay reach
// the harness's handler through the tunnel the harness opened, and again
// after the tunnel breaks; without one the relay says so.
func TestRelayPassesRequestsToTheHarness(t *testing.T) {
	relay := NewServer()
	public := httptest.NewServer(relay.Handler())
	defer public.Close()
	tunnels, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tunnels.Close()
	go func() { _ = relay.ServeTunnels(tunnels) }()

	code, body := get(t, public.URL+"/analyze?x=1")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "the harness has no tunnel open")
	code, _ = get(t, public.URL+HealthPath)
	assert.Equal(t, http.StatusOK, code, "ready without a tunnel: the harness connects after")

	harness := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "harness saw "+r.URL.RequestURI()+" for "+r.Host)
	})
	var mu sync.Mutex
	var conns []net.Conn
	dial := func(ctx context.Context) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", tunnels.Addr().String())
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}
	tun, err := Open(context.Background(), dial, harness)
	require.NoError(t, err)
	defer tun.Close()

	code, body = get(t, public.URL+"/analyze?x=1")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "harness saw /analyze?x=1 for "+public.Listener.Addr().String(), body)

	// The tunnel breaks: the harness dials again and requests go on.
	mu.Lock()
	conns[0].Close()
	mu.Unlock()
	require.Eventually(t, func() bool {
		code, _ := get(t, public.URL+"/again")
		return code == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond)
	mu.Lock()
	assert.GreaterOrEqual(t, len(conns), 2, "a second tunnel")
	mu.Unlock()
}
