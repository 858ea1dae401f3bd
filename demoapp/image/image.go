// Package image builds the demo app's OCI images in Go: one static binary
// layer shared by every version, and a config that carries the version's
// identity and fault defaults as env. No Docker and no Dockerfile. It also
// builds the harness's own image (harness.go), whose load-worker runs load
// inside a cluster, and pushes images to a registry (push.go).
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
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
	bin, err := readBinary(binaryPath, "demo app")
	if err != nil {
		return nil, err
	}
	return tarLayer(tarEntry{path: Entrypoint, mode: 0o755, data: bin})
}

// Build assembles one version's image around a binary layer.
func Build(v catalog.Version, layer v1.Layer) (v1.Image, error) {
	good := "false"
	if v.Good {
		good = "true"
	}
	return withConfig(layer, v1.Config{
		Entrypoint:   []string{Entrypoint},
		Env:          v.ImageEnv(),
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		User:         nonRoot,
		Labels: map[string]string{
			"org.opencontainers.image.title":       "blastradius demo app",
			"org.opencontainers.image.version":     v.Tag,
			"org.opencontainers.image.description": v.Description,
			"dev.blastradius.good":                 good,
		},
	})
}

// nonRoot is the user every image runs as (distroless's nonroot uid).
const (
	nonRoot    = "65532"
	nonRootUID = 65532
)

// withConfig makes a one-layer linux image with the given runtime config.
func withConfig(layer v1.Layer, config v1.Config) (v1.Image, error) {
	return Assemble(config, layer)
}

// Assemble makes a linux image of the layers, bottom first, with the given
// runtime config and a fixed creation time.
func Assemble(config v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", runtime.GOARCH, v1.Time{Time: epoch}
	cf.Config = config
	return mutate.ConfigFile(img, cf)
}

// tarEntry is one file or directory of a layer; path is absolute in the image.
type tarEntry struct {
	path string
	mode int64
	data []byte
	dir  bool
	uid  int // owner; root unless set
}

// tarLayer packs entries, in order, into a gzipped layer with fixed times, so
// that the same content always gives the same digest. It is compressed once,
// and its diff ID (the digest of the tar a runtime unpacks and checks) is
// taken as it is written.
func tarLayer(entries ...tarEntry) (v1.Layer, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(gz, diff))
	for _, e := range entries {
		hdr := &tar.Header{Name: strings.TrimPrefix(e.path, "/"), Mode: e.mode, Size: int64(len(e.data)), ModTime: epoch, Typeflag: tar.TypeReg, Uid: e.uid, Gid: e.uid}
		if e.dir {
			hdr.Name, hdr.Size, hdr.Typeflag = hdr.Name+"/", 0, tar.TypeDir
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	digest, _, err := v1.SHA256(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, err
	}
	return &gzLayer{gz: buf.Bytes(), digest: digest, diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}}, nil
}

// gzLayer is a layer held compressed in memory. (static.NewLayer would take
// the gzip bytes for the uncompressed tar too, and give a diff ID that no
// runtime unpacking the layer could verify.)
type gzLayer struct {
	gz             []byte
	digest, diffID v1.Hash
}

func (l *gzLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *gzLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *gzLayer) Size() (int64, error)     { return int64(len(l.gz)), nil }
func (l *gzLayer) MediaType() (types.MediaType, error) {
	return types.DockerLayer, nil
}

func (l *gzLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}

func (l *gzLayer) Uncompressed() (io.ReadCloser, error) {
	r, err := gzip.NewReader(bytes.NewReader(l.gz))
	if err != nil {
		return nil, err
	}
	return r, nil
}

// readBinary reads a program for an image. An image has nothing but the
// program, so an ELF that needs a dynamic loader (a cgo build) could never
// start in it: that is refused here rather than as a crash-looping pod.
// Files that are not ELF are taken as they are.
func readBinary(path, what string) ([]byte, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s binary: %w (build it with `make build`)", what, err)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return bin, nil
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp, _ := io.ReadAll(p.Open())
			return nil, fmt.Errorf("%s binary %s is dynamically linked (it needs %s), and an image has no C library: build it with CGO_ENABLED=0, as `make build` does",
				what, path, strings.TrimRight(string(interp), "\x00"))
		}
	}
	return bin, nil
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
