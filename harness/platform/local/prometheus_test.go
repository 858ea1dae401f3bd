package local

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/blastradius/blastradius/harness/platform/promconfig"
)

// TestPrometheusStartsWithTheConfig runs the built Prometheus the way Up
// does, with a kubeconfig whose API server does not answer: the config must
// load (Prometheus refuses to become ready with an invalid one), retention
// and the job must be what was written, and Down must end it.
func TestPrometheusStartsWithTheConfig(t *testing.T) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if bin == "" {
		t.Skip("BLASTRADIUS_BIN is not set: this test runs the Prometheus that `make tools` builds")
	}
	if _, err := os.Stat(filepath.Join(bin, "prometheus")); err != nil {
		t.Skipf("no prometheus in %s: run `make tools`", bin)
	}
	c := New(Options{BinDir: bin, DataDir: filepath.Join(t.TempDir(), "cluster")})
	require.NoError(t, os.MkdirAll(c.DataDir(), 0o755))
	require.NoError(t, writeKubeconfig(c.kubeconfig, "https://127.0.0.1:1", nil, "nobody", &clientcmdapi.AuthInfo{Token: "x"}, "default"))
	ctx := context.Background()
	u := &upState{start: time.Now(), ports: upPorts{prometheus: freeTestPort(t)}}
	require.NoError(t, c.startPrometheus(ctx, u))
	t.Cleanup(func() { _ = c.Down(ctx) })
	require.NoError(t, c.waitPrometheus(ctx, u))

	url, err := c.PrometheusURL(ctx)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:"+itoa(u.ports.prometheus), url)
	fromFile, err := PrometheusURLIn(c.DataDir())
	require.NoError(t, err)
	assert.Equal(t, url, fromFile)

	get := func(path string, v any) {
		resp, err := http.Get(url + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.NoError(t, json.Unmarshal(body, v), string(body))
	}
	var runtime struct {
		Data struct {
			StorageRetention string `json:"storageRetention"`
		} `json:"data"`
	}
	get("/api/v1/status/runtimeinfo", &runtime)
	assert.Equal(t, "2h", runtime.Data.StorageRetention)
	var loaded struct {
		Data struct {
			YAML string `json:"yaml"`
		} `json:"data"`
	}
	get("/api/v1/status/config", &loaded)
	assert.Contains(t, loaded.Data.YAML, "job_name: "+promconfig.Job)
	assert.Contains(t, loaded.Data.YAML, "__scrape_interval__")

	p := c.proc("prometheus")
	require.NotNil(t, p)
	require.NoError(t, c.Down(ctx))
	done, _ := p.exited()
	assert.True(t, done, "prometheus still runs after Down")
	_, err = c.PrometheusURL(ctx)
	assert.Error(t, err)
	_, err = http.Get(url + "/-/ready")
	assert.Error(t, err, "port still answers after Down")
}
