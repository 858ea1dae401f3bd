package platform

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseImageAlias(t *testing.T) {
	a, err := ParseImageAlias(" nginx:1.19-alpine=blastradius/demoapp:blue,PORT=80,GREETING=a=b ")
	require.NoError(t, err)
	assert.Equal(t, ImageAlias{From: "nginx:1.19-alpine", To: "blastradius/demoapp:blue", Env: []string{"PORT=80", "GREETING=a=b"}}, a)
	assert.Equal(t, "nginx:1.19-alpine=blastradius/demoapp:blue,PORT=80,GREETING=a=b", a.String(), "String is what ParseImageAlias reads")

	a, err = ParseImageAlias("argoproj/rollouts-demo:blue=blastradius/demoapp:blue")
	require.NoError(t, err)
	assert.Empty(t, a.Env)

	for in, want := range map[string]string{
		"nginx:1.19-alpine":                   "want FROM=TO",
		"=blastradius/demoapp:blue":           "want FROM=TO",
		"nginx=":                              "want FROM=TO",
		"nginx=blastradius/demoapp:blue,PORT": `env "PORT" is not KEY=VALUE`,
		"nginx=blastradius/demoapp:blue,=80":  `env "=80" is not KEY=VALUE`,
		"Not An Image=blastradius/demoapp:b":  `"Not An Image" is not an image reference`,
	} {
		_, err := ParseImageAlias(in)
		assert.ErrorContains(t, err, want, in)
	}
}

func TestReadImageAliases(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	require.NoError(t, os.WriteFile(good, []byte("# comment\n\nalpine:3.8=blastradius/demoapp:blue\n  nginx:1.19-alpine=blastradius/demoapp:blue,PORT=80\n"), 0o644))
	got, err := ReadImageAliases(good)
	require.NoError(t, err)
	assert.Equal(t, []ImageAlias{
		{From: "alpine:3.8", To: "blastradius/demoapp:blue"},
		{From: "nginx:1.19-alpine", To: "blastradius/demoapp:blue", Env: []string{"PORT=80"}},
	}, got)

	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(bad, []byte("alpine:3.8=blastradius/demoapp:blue\nnginx\n"), 0o644))
	_, err = ReadImageAliases(bad)
	assert.ErrorContains(t, err, bad+":2: image alias \"nginx\"")

	_, err = ReadImageAliases(filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "missing")
}

func TestResolveAlias(t *testing.T) {
	aliases := []ImageAlias{
		{From: "nginx:1.19-alpine", To: "blastradius/demoapp:blue", Env: []string{"PORT=80"}},
		{From: "argoproj/rollouts-demo:green", To: "blastradius/demoapp:green"},
	}
	for _, ref := range []string{"nginx:1.19-alpine", "docker.io/library/nginx:1.19-alpine", "index.docker.io/library/nginx:1.19-alpine"} {
		a, ok := ResolveAlias(aliases, ref)
		if assert.True(t, ok, ref) {
			assert.Equal(t, "blastradius/demoapp:blue", a.To, ref)
		}
	}
	a, ok := ResolveAlias(aliases, "docker.io/argoproj/rollouts-demo:green")
	assert.True(t, ok)
	assert.Equal(t, "blastradius/demoapp:green", a.To)
	for _, ref := range []string{"nginx:1.19-alpine-argo-error", "nginx", "nginx:latest", "argoproj/rollouts-demo:does-not-exist", "quay.io/nginx:1.19-alpine", "not a ref"} {
		_, ok := ResolveAlias(aliases, ref)
		assert.False(t, ok, "%s is not aliased: tags match exactly", ref)
	}
}
