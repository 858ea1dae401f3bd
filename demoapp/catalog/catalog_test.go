package catalog

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatalogHasEveryVariantForEveryColor(t *testing.T) {
	for _, c := range Colors {
		v, ok := Lookup(c)
		require.True(t, ok, c)
		assert.True(t, v.Good)
		assert.Empty(t, v.Env)
		for _, p := range []string{"bad", "slow", "crash", "late", "flaky", "leak"} {
			v, ok := Lookup(p + "-" + c)
			require.True(t, ok, p+"-"+c)
			assert.False(t, v.Good, v.Tag)
			assert.Equal(t, c, v.Color)
			assert.NotEmpty(t, v.Env, v.Tag)
			assert.True(t, strings.HasPrefix(v.Description, "bad:"), v.Description)
		}
	}
	assert.Len(t, Tags(), len(All()))
}

func TestImageEnvStartsWithIdentity(t *testing.T) {
	v, _ := Lookup("bad-green")
	assert.Equal(t, []string{"COLOR=green", "VERSION=bad-green", "ERROR_RATE=0.25"}, v.ImageEnv())
	assert.Equal(t, "blastradius/demoapp:bad-green", v.Image())
}

func TestResolve(t *testing.T) {
	for _, ref := range []string{
		"blastradius/demoapp:blue",
		"docker.io/blastradius/demoapp:blue",
		"index.docker.io/blastradius/demoapp:blue",
		"blastradius/demoapp:blue@sha256:0000000000000000000000000000000000000000000000000000000000000000",
	} {
		v, err := Resolve(ref)
		require.NoError(t, err, ref)
		assert.Equal(t, "blue", v.Tag, ref)
	}
	for ref, msg := range map[string]string{
		"blastradius/demoapp":              `no demo app version "latest"`,
		"blastradius/demoapp:magenta":      `no demo app version "magenta"`,
		"nginx:1.27":                       "not a demo app image",
		"ghcr.io/blastradius/demoapp:blue": "not a demo app image",
		"Bad Ref":                          "image \"Bad Ref\"",
	} {
		_, err := Resolve(ref)
		require.Error(t, err, ref)
		assert.Contains(t, err.Error(), msg, ref)
	}
}
