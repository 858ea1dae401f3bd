package image

import (
	"archive/tar"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHarnessImage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "blastradius")
	payload := []byte("not an ELF: taken as it is")
	require.NoError(t, os.WriteFile(bin, payload, 0o755))

	img, err := BuildHarness(bin)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/blastradius"}, cf.Config.Entrypoint)
	assert.Empty(t, cf.Config.Cmd, "the pod's args are the command line")
	assert.Equal(t, []string{"HOME=/tmp", "TMPDIR=/tmp"}, cf.Config.Env)
	assert.Equal(t, "65532", cf.Config.User)
	assert.Equal(t, "linux", cf.OS)
	require.NoError(t, validate.Image(img))

	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	require.NoError(t, err)
	assert.Equal(t, "tmp/", hdr.Name)
	assert.Equal(t, byte(tar.TypeDir), hdr.Typeflag)
	assert.Equal(t, int64(0o1777), hdr.Mode, "writable by the non-root user, sticky")
	hdr, err = tr.Next()
	require.NoError(t, err)
	assert.Equal(t, "blastradius", hdr.Name)
	assert.Equal(t, int64(0o755), hdr.Mode)
	got, err := io.ReadAll(tr)
	require.NoError(t, err)
	assert.Equal(t, payload, got)
	_, err = tr.Next()
	assert.Equal(t, io.EOF, err)

	again, err := BuildHarness(bin)
	require.NoError(t, err)
	d1, err := img.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "the same binary gives the same digest")
}

func TestMissingHarnessBinary(t *testing.T) {
	_, err := BuildHarness("/nonexistent/blastradius")
	require.ErrorContains(t, err, "blastradius binary")
	assert.ErrorContains(t, err, "make build")
}

// A cgo build needs a dynamic loader that an image does not have.
func TestDynamicBinaryRefused(t *testing.T) {
	var dynamic string
	for _, p := range []string{"/bin/sh", "/usr/bin/env", "/bin/ls"} {
		if isDynamicELF(p) {
			dynamic = p
			break
		}
	}
	if dynamic == "" {
		t.Skip("no dynamically linked ELF on this host")
	}
	_, err := BuildHarness(dynamic)
	require.ErrorContains(t, err, "dynamically linked")
	assert.ErrorContains(t, err, "CGO_ENABLED=0")
	_, err = BinaryLayer(dynamic)
	require.ErrorContains(t, err, "demo app binary "+dynamic+" is dynamically linked")
}

func isDynamicELF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// A program with a working directory and a plugin beside it, as Argo's
// controller runs in a kind node: the directory is the non-root user's
// (plugin-bin/ is mounted under it), the plugin an executable file.
func TestProgramWithWorkingDirAndFiles(t *testing.T) {
	dir := t.TempDir()
	ctrl, plugin := filepath.Join(dir, "controller"), filepath.Join(dir, "plugin")
	require.NoError(t, os.WriteFile(ctrl, []byte("controller"), 0o755))
	require.NoError(t, os.WriteFile(plugin, []byte("plugin"), 0o755))
	img, err := BuildProgram(Program{Binary: ctrl, What: "controller", Entrypoint: "/bin/controller",
		WorkingDir: "/home/app", Files: map[string]string{"/plugins/traefik": plugin}})
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "/home/app", cf.Config.WorkingDir)
	assert.Equal(t, "65532", cf.Config.User)

	layers, err := img.Layers()
	require.NoError(t, err)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	got := map[string]*tar.Header{}
	content := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got[hdr.Name] = hdr
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		content[hdr.Name] = string(b)
	}
	require.Contains(t, got, "home/app/")
	assert.Equal(t, 65532, got["home/app/"].Uid)
	assert.Equal(t, byte(tar.TypeDir), got["home/app/"].Typeflag)
	require.Contains(t, got, "plugins/traefik")
	assert.Equal(t, int64(0o755), got["plugins/traefik"].Mode)
	assert.Equal(t, "plugin", content["plugins/traefik"])
	assert.Equal(t, "controller", content["bin/controller"])

	_, err = BuildProgram(Program{Binary: ctrl, What: "controller", Entrypoint: "/bin/controller",
		Files: map[string]string{"/plugins/missing": filepath.Join(dir, "missing")}})
	assert.ErrorContains(t, err, "missing")
}
