package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/blastradius/blastradius/demoapp/catalog"
)

// Target is an image to push, under its reference as built
// (blastradius/demoapp:blue); Push moves the reference into a registry.
type Target struct {
	Ref   string
	Image v1.Image
}

// Targets builds every image a cluster needs from the two binaries: one per
// demo app version, then the harness image under harnessTag.
func Targets(demoappBinary string, versions []catalog.Version, harnessBinary, harnessTag string) ([]Target, error) {
	layer, err := BinaryLayer(demoappBinary)
	if err != nil {
		return nil, err
	}
	targets := make([]Target, 0, len(versions)+1)
	for _, v := range versions {
		img, err := Build(v, layer)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", v.Image(), err)
		}
		targets = append(targets, Target{Ref: v.Image(), Image: img})
	}
	if harnessTag == "" {
		harnessTag = DefaultHarnessTag
	}
	img, err := BuildHarness(harnessBinary)
	if err != nil {
		return nil, err
	}
	return append(targets, Target{Ref: HarnessImage(harnessTag), Image: img}), nil
}

// PushOptions configures Push.
type PushOptions struct {
	// Insecure allows plain http to the registry (name.Insecure). Registries
	// on loopback and private addresses and localhost get http without it.
	Insecure bool
	// Keychain finds credentials for the registry; nil is
	// authn.DefaultKeychain (docker's config.json and credential helpers).
	Keychain authn.Keychain
	// Remote are further options for remote.Write (a transport, retries).
	Remote []remote.Option
}

// Pushed is an image written to a registry: its reference there and the
// digest of its manifest.
type Pushed struct {
	Ref    string
	Digest v1.Hash
}

// Push writes t's image to registry (host[:port][/path]) under
// InRegistry(registry, t.Ref). Blobs the registry already has are not sent
// again, so the layer the demo app versions share goes up once. Errors name
// the image and the registry.
func Push(ctx context.Context, registry string, t Target, o PushOptions) (Pushed, error) {
	fail := func(err error) (Pushed, error) {
		return Pushed{}, fmt.Errorf("push %s to %s: %w", t.Ref, registry, err)
	}
	if err := checkRegistry(registry); err != nil {
		return fail(err)
	}
	var nameOpts []name.Option
	if o.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(InRegistry(registry, t.Ref), nameOpts...)
	if err != nil {
		return fail(err)
	}
	digest, err := t.Image.Digest()
	if err != nil {
		return fail(err)
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}, o.Remote...)
	if err := remote.Write(ref, t.Image, opts...); err != nil {
		return fail(err)
	}
	return Pushed{Ref: ref.Name(), Digest: digest}, nil
}

// checkRegistry refuses what is not a registry location: nothing, or a URL.
func checkRegistry(registry string) error {
	switch {
	case strings.Trim(registry, "/") == "":
		return fmt.Errorf("no registry given")
	case strings.Contains(registry, "://"):
		return fmt.Errorf("registry %q: give host[:port][/path] without a scheme (plain http: insecure)", registry)
	}
	return nil
}

// InRegistry is ref's location in registry: the registry part of ref, if it
// has one, is replaced and the repository path is kept as written, so
// InRegistry("127.0.0.1:5000", "blastradius/demoapp:blue") is
// "127.0.0.1:5000/blastradius/demoapp:blue", and a tag or digest stays as
// it is. The registry may carry a path (registry.example.com/team). A ref
// already in registry, and any ref when registry is "", come back unchanged.
//
// The registry part is the first path component when it looks like a host,
// by Docker's rule: it has a dot or a colon (a port), is "localhost", or has
// upper case. "nginx" thus becomes "REGISTRY/nginx", not ".../library/nginx".
func InRegistry(registry, ref string) string {
	registry = strings.TrimRight(registry, "/")
	if registry == "" || strings.HasPrefix(ref, registry+"/") {
		return ref
	}
	if host, path, ok := strings.Cut(ref, "/"); ok && isRegistryHost(host) {
		ref = path
	}
	return registry + "/" + ref
}

func isRegistryHost(s string) bool {
	return s == "localhost" || strings.ContainsAny(s, ".:") || strings.ToLower(s) != s
}

// Repository is an image reference without its tag or digest:
// "localhost:5000/blastradius/blastradius:dev" is
// "localhost:5000/blastradius/blastradius".
func Repository(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}
