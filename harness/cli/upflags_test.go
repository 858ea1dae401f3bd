package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/platform"
)

func TestUpFlagsReachTheSupervisor(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "aliases")
	require.NoError(t, os.WriteFile(file, []byte("# e2e images\nalpine:3.8=blastradius/demoapp:blue\n"), 0o644))
	t.Chdir(dir)
	var f upFlags
	cmd := &cobra.Command{}
	f.register(cmd)
	require.NoError(t, cmd.ParseFlags([]string{"--image-aliases", "aliases", "--image-alias", "nginx:1.19-alpine=blastradius/demoapp:blue,PORT=80",
		"--step-plugin", "step/e2e-test=plugin", "--step-plugin", "step/e2e-test-disabled=/opt/plugin,disabled", "--start-delay", "2s",
		"--cluster-name", "talk", "--reuse", "--node-image", "kindest/node:custom"}))
	require.NoError(t, f.load())
	wantAliases := []platform.ImageAlias{
		{From: "alpine:3.8", To: "blastradius/demoapp:blue"},
		{From: "nginx:1.19-alpine", To: "blastradius/demoapp:blue", Env: []string{"PORT=80"}},
	}
	wantPlugins := []platform.MetricPlugin{
		{Name: "step/e2e-test", Path: filepath.Join(dir, "plugin")},
		{Name: "step/e2e-test-disabled", Path: "/opt/plugin", Disabled: true},
	}
	assert.Equal(t, wantAliases, f.aliases)
	assert.Equal(t, wantPlugins, f.stepPlugins, "paths become absolute")
	args := f.args()
	assert.Equal(t, []string{
		"--image-alias", "alpine:3.8=blastradius/demoapp:blue",
		"--image-alias", "nginx:1.19-alpine=blastradius/demoapp:blue,PORT=80",
		"--step-plugin", "step/e2e-test=" + filepath.Join(dir, "plugin"),
		"--step-plugin", "step/e2e-test-disabled=/opt/plugin,disabled",
		"--start-delay", "2s",
		"--cluster-name", "talk", "--reuse", "--node-image", "kindest/node:custom",
	}, args)

	// What the supervisor parses from those arguments, elsewhere, is the same.
	t.Chdir(t.TempDir())
	var sup upFlags
	cmd = &cobra.Command{}
	sup.register(cmd)
	require.NoError(t, cmd.ParseFlags(args))
	require.NoError(t, sup.load())
	assert.Equal(t, wantAliases, sup.aliases)
	assert.Equal(t, wantPlugins, sup.stepPlugins)
	assert.Equal(t, 2*time.Second, sup.startDelay)
	assert.Equal(t, "talk", sup.clusterName)
	assert.True(t, sup.reuse)
	assert.Equal(t, "kindest/node:custom", sup.nodeImage)
}

func TestClusterUpRejectsBadUpFlags(t *testing.T) {
	for flag, want := range map[string]string{
		"--image-alias=nginx":                      `image alias "nginx": want FROM=TO`,
		"--image-aliases=" + t.TempDir() + "/none": "image aliases: open ",
		"--step-plugin=step/x":                     `--step-plugin "step/x": want NAMESPACE/NAME=PATH[,disabled]`,
		"--step-plugin=step/x=/p,off":              `--step-plugin "step/x=/p,off": want`,
	} {
		_, err := run(t, "cluster", "up", "--data-dir", t.TempDir(), flag)
		assert.ErrorContains(t, err, want, flag)
	}
}
