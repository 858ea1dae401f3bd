// Command imgbuild writes one docker-save archive of images, each one
// static program at a path in the image (its entrypoint, run as root, with
// a standard PATH), optionally on a base layer: the images a kind node's
// containerd needs (control plane, etcd, CoreDNS, kube-proxy, pause) for
// hack/kindnode/build.sh.
//
//	imgbuild -out FILE REF[,REF...]=BINARY:/path/in/image[+BASE.tar] ...
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/blastradius/blastradius/demoapp/image"
)

func main() {
	out := flag.String("out", "", "the archive to write")
	flag.Parse()
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "imgbuild:", err)
		os.Exit(1)
	}
}

func run(out string, specs []string) error {
	if out == "" || len(specs) == 0 {
		return fmt.Errorf("usage: imgbuild -out FILE REF[,REF...]=BINARY:/path/in/image[+BASE.tar] ...")
	}
	refs := map[name.Reference]v1.Image{}
	for _, s := range specs {
		tags, rest, ok1 := strings.Cut(s, "=")
		rest, base, _ := strings.Cut(rest, "+")
		bin, dest, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || !strings.HasPrefix(dest, "/") {
			return fmt.Errorf("%q: want REF=BINARY:/path/in/image[+BASE.tar]", s)
		}
		img, err := build(bin, dest, base)
		if err != nil {
			return fmt.Errorf("%s: %w", tags, err)
		}
		for _, r := range strings.Split(tags, ",") {
			t, err := name.NewTag(r)
			if err != nil {
				return err
			}
			refs[t] = img
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := tarball.MultiRefWrite(refs, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// build makes an image of bin at dest (and a world-writable /tmp) on base.
func build(bin, dest, base string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Mode: 0o1777, Typeflag: tar.TypeDir}); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(dest, "/"), Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	top, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		return nil, err
	}
	var layers []v1.Layer
	if base != "" {
		b, err := tarball.LayerFromFile(base)
		if err != nil {
			return nil, err
		}
		layers = append(layers, b)
	}
	return image.Assemble(v1.Config{
		Entrypoint: []string{dest},
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}, append(layers, top)...)
}
