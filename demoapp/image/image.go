// Package image builds the demo app's OCI images in Go: one static binary
// layer shared by every version, and a config that carries the version's
// identity and fault defaults as env. No Docker and no Dockerfile.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/blastradius/blastradius/demoapp/catalog"
)

// Entrypoint is where the binary sits in the image.
const Entrypoint = "/demoapp"

// Port is the container port the demo app listens on.
const Port = 8080

// epoch keeps images reproducible: the same binary gives the same digest.
var epoch = time.Unix(0, 0).UTC()

// BinaryLayer packs the demo app binary at Entrypoint into a layer. The layer
// is compressed once, so that it can be shared by every version's image.
func BinaryLayer(binaryPath string) (v1.Layer, error) {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("demo app binary: %w (build it with `make build`)", err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	hdr := &tar.Header{Name: Entrypoint[1:], Mode: 0o755, Size: int64(len(bin)), ModTime: epoch, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return static.NewLayer(buf.Bytes(), types.DockerLayer), nil
}

// Build assembles one version's image around a binary layer.
func Build(v catalog.Version, layer v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", runtime.GOARCH, v1.Time{Time: epoch}
	good := "false"
	if v.Good {
		good = "true"
	}
	cf.Config = v1.Config{
		Entrypoint:   []string{Entrypoint},
		Env:          v.ImageEnv(),
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		User:         "65532",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "blastradius demo app",
			"org.opencontainers.image.version":     v.Tag,
			"org.opencontainers.image.description": v.Description,
			"dev.blastradius.good":                 good,
		},
	}
	return mutate.ConfigFile(img, cf)
}

// WriteTarballs writes DIR/<tag>.tar for each version, each loadable with
// `docker load` or `kind load image-archive`, and returns the paths.
func WriteTarballs(dir, binaryPath string, versions []catalog.Version) ([]string, error) {
	layer, err := BinaryLayer(binaryPath)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(versions))
	for _, v := range versions {
		img, err := Build(v, layer)
		if err != nil {
			return paths, fmt.Errorf("image %s: %w", v.Image(), err)
		}
		ref, err := name.NewTag(v.Image())
		if err != nil {
			return paths, err
		}
		p := filepath.Join(dir, v.Tag+".tar")
		if err := writeAtomic(p, func(f *os.File) error { return tarball.Write(ref, img, f) }); err != nil {
			return paths, fmt.Errorf("image %s: %w", v.Image(), err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// writeAtomic writes through a temp file so that an interrupted build never
// leaves a truncated tarball that looks loadable.
func writeAtomic(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
