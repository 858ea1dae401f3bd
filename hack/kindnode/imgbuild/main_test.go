package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImagesInOneArchive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pause")
	require.NoError(t, os.WriteFile(bin, []byte("pause program"), 0o755))
	out := filepath.Join(dir, "images.tar")
	require.NoError(t, run(out, []string{"registry.k8s.io/pause:3.10,registry.k8s.io/pause:3.10.1=" + bin + ":/pause"}))

	for _, ref := range []string{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10.1"} {
		tag, err := name.NewTag(ref)
		require.NoError(t, err)
		img, err := tarball.ImageFromPath(out, &tag)
		require.NoError(t, err, ref)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, []string{"/pause"}, cf.Config.Entrypoint)
		assert.Empty(t, cf.Config.User, "root: control-plane pods read root's files")
		layers, err := img.Layers()
		require.NoError(t, err)
		require.Len(t, layers, 1)
		rc, err := layers[0].Uncompressed()
		require.NoError(t, err)
		files := map[string]string{}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			b, _ := io.ReadAll(tr)
			files[h.Name] = string(b)
		}
		rc.Close()
		assert.Equal(t, "pause program", files["pause"])
		assert.Contains(t, files, "tmp/")
	}
}

func TestBadSpecsAreRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "images.tar")
	assert.ErrorContains(t, run(out, nil), "usage")
	assert.ErrorContains(t, run(out, []string{"registry.k8s.io/pause:3.10"}), "want REF=BINARY")
	assert.ErrorContains(t, run(out, []string{"registry.k8s.io/pause:3.10=/bin/true:relative"}), "want REF=BINARY")
	assert.Error(t, run(out, []string{"registry.k8s.io/pause:3.10=/nonexistent:/pause"}))
}
