package image

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp/catalog"
)

func TestTarballsReadBack(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "demoapp")
	payload := []byte("#!/not/really/an/elf\x00binary bytes")
	require.NoError(t, os.WriteFile(bin, payload, 0o755))

	blue, _ := catalog.Lookup("blue")
	bad, _ := catalog.Lookup("bad-green")
	paths, err := WriteTarballs(filepath.Join(dir, "out"), bin, []catalog.Version{blue, bad})
	require.NoError(t, err)
	require.Len(t, paths, 2)

	for i, v := range []catalog.Version{blue, bad} {
		assert.Equal(t, v.Tag+".tar", filepath.Base(paths[i]))
		tag, err := name.NewTag(v.Image())
		require.NoError(t, err)
		img, err := tarball.ImageFromPath(paths[i], &tag)
		require.NoError(t, err)

		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, []string{Entrypoint}, cf.Config.Entrypoint)
		assert.Equal(t, v.ImageEnv(), cf.Config.Env)
		assert.Contains(t, cf.Config.ExposedPorts, "8080/tcp")
		assert.Equal(t, "linux", cf.OS)

		layers, err := img.Layers()
		require.NoError(t, err)
		require.Len(t, layers, 1)
		rc, err := layers[0].Uncompressed()
		require.NoError(t, err)
		tr := tar.NewReader(rc)
		hdr, err := tr.Next()
		require.NoError(t, err)
		assert.Equal(t, "demoapp", hdr.Name)
		assert.Equal(t, int64(0o755), hdr.Mode)
		got, err := io.ReadAll(tr)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(payload, got), "binary content differs")
		rc.Close()
	}
	badPath := paths[1]
	tag, _ := name.NewTag(bad.Image())
	img, _ := tarball.ImageFromPath(badPath, &tag)
	cf, _ := img.ConfigFile()
	assert.Contains(t, cf.Config.Env, "ERROR_RATE=0.25")
	assert.Equal(t, "false", cf.Config.Labels["dev.blastradius.good"])
}

func TestSameBinarySameDigest(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "demoapp")
	require.NoError(t, os.WriteFile(bin, []byte("x"), 0o755))
	v, _ := catalog.Lookup("blue")
	digest := func() string {
		l, err := BinaryLayer(bin)
		require.NoError(t, err)
		img, err := Build(v, l)
		require.NoError(t, err)
		d, err := img.Digest()
		require.NoError(t, err)
		return d.String()
	}
	assert.Equal(t, digest(), digest())
}

func TestMissingBinaryNamesMakeTarget(t *testing.T) {
	_, err := WriteTarballs(t.TempDir(), "/nonexistent/demoapp", catalog.All())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make build")
}

// A runtime unpacking a layer checks the tar's digest against the config's
// diff ID: validate does the same.
func TestLayerUnpacksToItsDiffID(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "demoapp")
	require.NoError(t, os.WriteFile(bin, []byte("binary"), 0o755))
	l, err := BinaryLayer(bin)
	require.NoError(t, err)
	digest, err := l.Digest()
	require.NoError(t, err)
	diffID, err := l.DiffID()
	require.NoError(t, err)
	assert.NotEqual(t, digest, diffID, "the layer is compressed")
	v, _ := catalog.Lookup("slow-red")
	img, err := Build(v, l)
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
}
