package kind

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/platform"
)

// TestUpStopsAtThePreflight: on a host where kind cannot run, Up says why,
// with what the preflight read, and makes nothing.
func TestUpStopsAtThePreflight(t *testing.T) {
	pre := RunPreflight(context.Background(), "")
	if pre.Check() == nil {
		t.Skip("a container engine runs here: the preflight passes")
	}
	dir := filepath.Join(t.TempDir(), "data")
	var log bytes.Buffer
	c := New(platform.Options{DataDir: dir, Log: &log})
	err := c.Up(context.Background())
	require.Error(t, err)
	assert.Equal(t, pre.Check().Error(), err.Error())
	assert.Contains(t, log.String(), "kind: "+pre.String())
	assert.NoDirExists(t, dir, "nothing made")
	assert.NoError(t, c.Down(context.Background()), "down after a failed up is harmless")
}

func TestNames(t *testing.T) {
	assert.Equal(t, DefaultCluster, New(platform.Options{}).name)
	assert.Equal(t, "mine", New(platform.Options{ClusterName: "mine"}).name)
}

func TestProviderSettings(t *testing.T) {
	p := NewProvider(platform.Options{})
	p.SetDefaults()
	assert.Equal(t, "kind-"+DefaultCluster, p.GetKubectlContext())
	p.WithName("e2e").WithVersion("kindest/node:custom").WithPath("/opt/bin")
	assert.Equal(t, "kind-e2e", p.GetKubectlContext())
	assert.Equal(t, "kindest/node:custom", p.opts.NodeImage)
	assert.Equal(t, "/opt/bin", p.opts.BinDir)
	_, err := p.CreateWithConfig(context.Background(), "kind.yaml")
	assert.ErrorContains(t, err, "renders its own cluster config")
	assert.ErrorContains(t, p.LoadImage(context.Background(), "blastradius/demoapp:blue"), "no cluster")
	assert.NoError(t, p.Destroy(context.Background()))
}
