package image

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp/catalog"
)

const someDigest = "sha256:6c2728bb73c8773299443a84ecf0e7a129c41510d1b391974a4326dde848fc4d"

func TestInRegistry(t *testing.T) {
	for _, c := range []struct{ registry, ref, want string }{
		{"", "blastradius/demoapp:blue", "blastradius/demoapp:blue"},
		{"", "docker.io/blastradius/demoapp:blue", "docker.io/blastradius/demoapp:blue"},
		{"127.0.0.1:5000", "blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		{"localhost:5000/", "blastradius/demoapp:blue", "localhost:5000/blastradius/demoapp:blue"},
		{"registry.example.com", "blastradius/blastradius:dev", "registry.example.com/blastradius/blastradius:dev"},
		{"registry.example.com/team", "blastradius/demoapp:blue", "registry.example.com/team/blastradius/demoapp:blue"},
		{"[::1]:5000", "blastradius/demoapp:blue", "[::1]:5000/blastradius/demoapp:blue"},
		// a registry part already there is replaced
		{"127.0.0.1:5000", "docker.io/blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		{"127.0.0.1:5000", "index.docker.io/blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		{"127.0.0.1:5000", "localhost:5001/blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		{"127.0.0.1:5000", "localhost/blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		{"127.0.0.1:5000", "[::1]:5001/blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		{"127.0.0.1:5000", "Registry/blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		{"r.example.com:443/team", "ghcr.io/org/team/app:1.2", "r.example.com:443/team/org/team/app:1.2"},
		// already in the registry: unchanged, so applying it twice is harmless
		{"127.0.0.1:5000", "127.0.0.1:5000/blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		{"registry.example.com/team", "registry.example.com/team/blastradius/demoapp:blue", "registry.example.com/team/blastradius/demoapp:blue"},
		{"127.0.0.1:5000", "127.0.0.1:50001/blastradius/demoapp:blue", "127.0.0.1:5000/blastradius/demoapp:blue"},
		// digests and tags are kept as written; no tag stays no tag
		{"127.0.0.1:5000", "blastradius/demoapp@" + someDigest, "127.0.0.1:5000/blastradius/demoapp@" + someDigest},
		{"127.0.0.1:5000", "ghcr.io/x/y:1@" + someDigest, "127.0.0.1:5000/x/y:1@" + someDigest},
		{"127.0.0.1:5000", "blastradius/demoapp", "127.0.0.1:5000/blastradius/demoapp"},
		// a single path component is a repository, kept as written
		{"127.0.0.1:5000", "nginx:1.19-alpine", "127.0.0.1:5000/nginx:1.19-alpine"},
		{"127.0.0.1:5000", "demoapp@" + someDigest, "127.0.0.1:5000/demoapp@" + someDigest},
		{"127.0.0.1:5000", "library/nginx", "127.0.0.1:5000/library/nginx"},
	} {
		got := InRegistry(c.registry, c.ref)
		assert.Equal(t, c.want, got, "InRegistry(%q, %q)", c.registry, c.ref)
		if c.registry == "" {
			continue
		}
		ref, err := name.ParseReference(got)
		if assert.NoError(t, err, got) {
			reg := strings.TrimRight(c.registry, "/")
			host, _, _ := strings.Cut(reg, "/")
			assert.Equal(t, host, ref.Context().RegistryStr(), got)
		}
	}
}

// testRegistry serves an in-memory registry on 127.0.0.1 and returns its
// host:port.
func testRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func testTargets(t *testing.T, harnessTag string, tags ...string) []Target {
	t.Helper()
	dir := t.TempDir()
	demo, harness := filepath.Join(dir, "demoapp"), filepath.Join(dir, "blastradius")
	require.NoError(t, os.WriteFile(demo, []byte("demo app bytes"), 0o755))
	require.NoError(t, os.WriteFile(harness, []byte("harness bytes"), 0o755))
	var versions []catalog.Version
	for _, tag := range tags {
		v, ok := catalog.Lookup(tag)
		require.True(t, ok, tag)
		versions = append(versions, v)
	}
	targets, err := Targets(demo, versions, harness, harnessTag)
	require.NoError(t, err)
	return targets
}

// noKeychain keeps the tests off the host's docker config.
var noKeychain = authn.NewMultiKeychain()

func TestPushAndPullBack(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		reg := testRegistry(t, nil)
		targets := testTargets(t, "", "blue", "bad-green")
		require.Len(t, targets, 3)
		assert.Equal(t, "blastradius/blastradius:dev", targets[2].Ref)

		for _, tg := range targets {
			p, err := Push(context.Background(), reg, tg, PushOptions{Insecure: insecure, Keychain: noKeychain})
			require.NoError(t, err)
			assert.Equal(t, reg+"/"+tg.Ref, p.Ref)
			want, err := tg.Image.Digest()
			require.NoError(t, err)
			assert.Equal(t, want, p.Digest)

			ref, err := name.ParseReference(p.Ref)
			require.NoError(t, err)
			pulled, err := remote.Image(ref)
			require.NoError(t, err)
			got, err := pulled.Digest()
			require.NoError(t, err)
			assert.Equal(t, p.Digest, got, "pulled %s", p.Ref)
			// every layer unpacks to its diff ID, as a runtime checks
			require.NoError(t, validate.Image(pulled), p.Ref)
			byDigest, err := name.ParseReference(ref.Context().Name() + "@" + p.Digest.String())
			require.NoError(t, err)
			_, err = remote.Image(byDigest)
			require.NoError(t, err, "pull by digest")

			cf, err := pulled.ConfigFile()
			require.NoError(t, err)
			if tg.Ref == HarnessImage(DefaultHarnessTag) {
				assert.Equal(t, []string{"/blastradius"}, cf.Config.Entrypoint)
				assert.Equal(t, HarnessEnv, cf.Config.Env)
				continue
			}
			v, err := catalog.Resolve(tg.Ref)
			require.NoError(t, err)
			assert.Equal(t, []string{Entrypoint}, cf.Config.Entrypoint)
			assert.Equal(t, v.ImageEnv(), cf.Config.Env)
		}
	}
}

func TestPushUsesTheKeychain(t *testing.T) {
	const user, password = "pusher", "s3cret-password"
	reg := testRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	tg := testTargets(t, "", "blue")[0]
	kc := staticKeychain{authn.FromConfig(authn.AuthConfig{Username: user, Password: password})}
	_, err := Push(context.Background(), reg, tg, PushOptions{Keychain: kc})
	require.NoError(t, err)

	wrong := staticKeychain{authn.FromConfig(authn.AuthConfig{Username: user, Password: "wrong-" + password})}
	_, err = Push(context.Background(), reg, tg, PushOptions{Keychain: wrong})
	require.ErrorContains(t, err, "push blastradius/demoapp:blue to "+reg)
	assert.NotContains(t, err.Error(), password, "credentials never appear in errors")
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

func TestPushToARefusingRegistry(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer failing.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())

	tg := testTargets(t, "", "bad-green")[0]
	for _, reg := range []string{strings.TrimPrefix(failing.URL, "http://"), closed} {
		start := time.Now()
		_, err := Push(context.Background(), reg, tg, PushOptions{Keychain: noKeychain,
			Remote: []remote.Option{remote.WithRetryBackoff(remote.Backoff{Steps: 1})}})
		require.Error(t, err, reg)
		assert.Contains(t, err.Error(), "push blastradius/demoapp:bad-green to "+reg)
		assert.Less(t, time.Since(start), 10*time.Second)
	}
}

func TestPushRefusesWhatIsNoRegistry(t *testing.T) {
	tg := testTargets(t, "v1", "blue")[1]
	assert.Equal(t, "blastradius/blastradius:v1", tg.Ref)
	for _, reg := range []string{"", "/", "http://127.0.0.1:5000"} {
		_, err := Push(context.Background(), reg, tg, PushOptions{Keychain: noKeychain})
		require.ErrorContains(t, err, "push blastradius/blastradius:v1 to "+reg+":", reg)
	}
}

func TestRepository(t *testing.T) {
	assert.Equal(t, "blastradius/demoapp", Repository("blastradius/demoapp:blue"))
	assert.Equal(t, "localhost:5000/blastradius/blastradius", Repository("localhost:5000/blastradius/blastradius:dev@sha256:abc"))
	assert.Equal(t, "localhost:5000/x", Repository("localhost:5000/x"))
}
