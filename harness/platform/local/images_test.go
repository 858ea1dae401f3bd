package local

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/platform"
)

func TestResolveImageThroughAliases(t *testing.T) {
	c := New(Options{BinDir: "/opt/bin", DataDir: t.TempDir(), ImageAliases: []platform.ImageAlias{
		{From: "nginx:1.19-alpine", To: "blastradius/demoapp:blue", Env: []string{"PORT=80"}},
		{From: "argoproj/rollouts-demo:green", To: "blastradius/demoapp:green"},
		{From: "busybox:1", To: "blastradius/demoapp:nope"},
	}})

	exe, err := c.resolveImage("nginx:1.19-alpine")
	require.NoError(t, err)
	assert.Equal(t, "/opt/bin/demoapp", exe.Path)
	assert.Equal(t, []string{"COLOR=blue", "VERSION=blue", "PORT=80"}, exe.Env, "the alias's env follows the version's image env")

	exe, err = c.resolveImage("argoproj/rollouts-demo:green")
	require.NoError(t, err)
	assert.Equal(t, []string{"COLOR=green", "VERSION=green"}, exe.Env)

	exe, err = c.resolveImage("blastradius/demoapp:bad-red")
	require.NoError(t, err, "demo app images resolve as before")
	assert.Contains(t, exe.Env, "ERROR_RATE=0.25")

	_, err = c.resolveImage("nginx:1.19-alpine-argo-error")
	assert.ErrorContains(t, err, "not a demo app image", "an image without an alias still fails to pull")
	_, err = c.resolveImage("busybox:1")
	assert.ErrorContains(t, err, `image "busybox:1", an alias of image "blastradius/demoapp:nope": no demo app version "nope"`)

	assert.NoError(t, c.LoadImages(context.Background(), "nginx:1.19-alpine", "blastradius/demoapp:blue"))
	assert.Error(t, c.LoadImages(context.Background(), "argoproj/rollouts-demo:does-not-exist"))
	assert.ErrorContains(t, c.checkImageAliases(), "image alias busybox:1=blastradius/demoapp:nope: ")
}
