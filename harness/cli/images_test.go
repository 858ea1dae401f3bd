package cli

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImagesPush(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // the default keychain finds nothing
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	demo, harness := filepath.Join(dir, "demoapp"), filepath.Join(dir, "blastradius")
	require.NoError(t, os.WriteFile(demo, []byte("demo app"), 0o755))
	require.NoError(t, os.WriteFile(harness, []byte("harness"), 0o755))

	out, err := run(t, "images", "push", "--registry", reg, "--binary", demo, "--blastradius-binary", harness,
		"--tag", "blue", "--tag", "crash-red", "--blastradius-tag", "v9", "--insecure")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	for i, want := range []string{"blastradius/demoapp:blue", "blastradius/demoapp:crash-red", "blastradius/blastradius:v9"} {
		ref, digest, ok := strings.Cut(lines[i], " ")
		require.True(t, ok, lines[i])
		assert.Equal(t, reg+"/"+want, ref)
		r, err := name.ParseReference(ref)
		require.NoError(t, err)
		img, err := remote.Image(r)
		require.NoError(t, err)
		got, err := img.Digest()
		require.NoError(t, err)
		assert.Equal(t, digest, got.String(), ref)
	}

	_, err = run(t, "images", "push", "--binary", demo, "--blastradius-binary", harness)
	require.ErrorContains(t, err, "--registry")
	_, err = run(t, "images", "push", "--registry", reg, "--binary", demo, "--blastradius-binary", harness, "--tag", "magenta")
	require.ErrorContains(t, err, `--tag: no demo app version "magenta"`)
	_, err = run(t, "images", "push", "--registry", reg, "--binary", filepath.Join(dir, "missing"), "--blastradius-binary", harness)
	require.ErrorContains(t, err, "make build")
}
