package kind

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kindexec "sigs.k8s.io/kind/pkg/exec"

	"github.com/blastradius/blastradius/demoapp/catalog"
	demoimage "github.com/blastradius/blastradius/demoapp/image"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/router"
)

// TestImagesRunInAContainerEngine checks the images a kind cluster runs
// beside the demo app in a real container engine, as a kubelet would run
// them: loaded from the same archive format kind loads into its nodes, run
// as their non-root user with a read-only root filesystem and the volumes
// their pods mount. Prometheus and Traefik take their Deployments' own
// arguments (addresses moved to 127.0.0.1 and free ports: they share the
// host's network here) and must become ready; the controller's image must
// run its controller and carry its plugins. It needs a running Docker
// engine, and pulls nothing.
func TestImagesRunInAContainerEngine(t *testing.T) {
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skipf("no running Docker engine (`docker info`: %v): these images are checked in a real engine only", err)
	}
	bin := os.Getenv("BLASTRADIUS_BIN")
	if bin == "" {
		t.Skip("BLASTRADIUS_BIN is not set: this test builds images from the tools `make tools` built")
	}
	ctx := context.Background()
	promVersion, promRef, promImg, err := buildPrometheus(ctx, bin)
	require.NoError(t, err)
	_, traefikRef, traefikImg, _, err := buildTraefik(ctx, bin)
	require.NoError(t, err)
	argoVersion, _, err := local.ArgoRelease(ctx, bin)
	require.NoError(t, err)
	c := New(platform.Options{BinDir: bin})
	plugins := c.argoPlugins()
	ctrlImg, err := buildController(bin, argoVersion, plugins.files)
	require.NoError(t, err)
	ctrlRef := ArgoImage + ":" + argoVersion

	archive := filepath.Join(t.TempDir(), "images.tar")
	f, err := os.Create(archive)
	require.NoError(t, err)
	require.NoError(t, writeArchive(imageSet{promRef: promImg, traefikRef: traefikImg, ctrlRef: ctrlImg}, f))
	require.NoError(t, f.Close())
	docker(t, "load", "-i", archive)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", promRef, traefikRef, ctrlRef).Run() })
	t.Logf("Prometheus %s, Traefik and Argo Rollouts %s loaded", promVersion, argoVersion)

	// What a pod's service account gives a process: a token, and where the
	// API server is (nowhere here: discovery fails and is retried, which
	// must not keep either from serving).
	sa := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(sa, "token"), []byte("not-a-token"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(sa, "namespace"), []byte("default"), 0o644))
	inPod := []string{"--network", "host", "--read-only",
		"-v", sa + ":/var/run/secrets/kubernetes.io/serviceaccount:ro",
		"-e", "KUBERNETES_SERVICE_HOST=127.0.0.1", "-e", "KUBERNETES_SERVICE_PORT=1"}

	t.Run("prometheus", func(t *testing.T) {
		objs, err := prometheusObjects(promRef)
		require.NoError(t, err)
		cfg := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(cfg, "prometheus.yml"), []byte(pick[*corev1.ConfigMap](objs)[0].Data["prometheus.yml"]), 0o644))
		port := freePort(t)
		args := replaceFlag(pick[*appsv1.Deployment](objs)[0].Spec.Template.Spec.Containers[0].Args,
			"--web.listen-address=", fmt.Sprintf("127.0.0.1:%d", port))
		// The pod's emptyDir is world-writable, as a tmpfs of mode 1777 is.
		run(t, promRef, append(inPod, "-v", cfg+":/etc/prometheus:ro", "--tmpfs", "/prometheus:mode=1777"), args)
		waitOK(t, fmt.Sprintf("http://127.0.0.1:%d/-/ready", port))
	})

	t.Run("traefik", func(t *testing.T) {
		web, ping := freePort(t), freePort(t)
		args := pick[*appsv1.Deployment](traefikObjects(traefikRef))[0].Spec.Template.Spec.Containers[0].Args
		args = replaceFlag(args, "--entryPoints."+local.TraefikEntryPoint+".address=", fmt.Sprintf("127.0.0.1:%d", web))
		args = replaceFlag(args, "--entryPoints.traefik.address=", fmt.Sprintf("127.0.0.1:%d", ping))
		run(t, traefikRef, inPod, args)
		waitOK(t, fmt.Sprintf("http://127.0.0.1:%d/ping", ping))
		// The entrypoint answers too: 404, no route yet.
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", web))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Run("rollouts-controller", func(t *testing.T) {
		// install.yaml's mounts: plugin-bin/ under the working directory
		// and /tmp, emptyDirs. The controller says its version, and the
		// plugin Argo will copy is an executable of the non-root user's.
		mounts := []string{"--read-only", "--tmpfs", argoWorkingDir + "/plugin-bin:mode=1777", "--tmpfs", "/tmp:mode=1777"}
		out := docker(t, append(append([]string{"run", "--rm"}, mounts...), ctrlRef, "--version")...)
		require.Contains(t, out, argoVersion)
		// The plugin runs from the image as the controller's user; started
		// by anything but a go-plugin host it says so and exits 1.
		if _, err := os.Stat(filepath.Join(bin, router.PluginBinary)); err == nil {
			out, err := exec.Command("docker", append(append([]string{"run", "--rm", "--entrypoint", pluginsDir + "/blastradius-traefik"}, mounts...), ctrlRef)...).CombinedOutput()
			require.Error(t, err)
			require.Contains(t, string(out), "plugin", "%s", out)
		}
	})
}

// run starts image in the background with docker's options and the
// container's args, and removes it when the test ends.
func run(t *testing.T, image string, opts, args []string) {
	t.Helper()
	name := "blastradius-test-" + randomHex()
	docker(t, append(append(append([]string{"run", "-d", "--name", name}, opts...), image), args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "30", name).CombinedOutput()
			t.Logf("%s's last log lines:\n%s", image, out)
		}
		_ = exec.Command("docker", "rm", "-f", name).Run()
	})
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return string(out)
}

func replaceFlag(args []string, prefix, value string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if strings.HasPrefix(a, prefix) {
			out[i] = prefix + value
			return out
		}
	}
	panic("no flag " + prefix)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitOK(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200 within 60 s (last: %s)", url, last)
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostNode is this machine as a kind node: kind's commands run here, with
// ctr pointed at the containerd given.
type hostNode struct{ containerd string }

func (n hostNode) Command(name string, args ...string) kindexec.Cmd {
	return kindexec.Command(name, args...).SetEnv(append(os.Environ(), "CONTAINERD_ADDRESS="+n.containerd)...)
}

func (n hostNode) CommandContext(ctx context.Context, name string, args ...string) kindexec.Cmd {
	return kindexec.CommandContext(ctx, name, args...).SetEnv(append(os.Environ(), "CONTAINERD_ADDRESS="+n.containerd)...)
}
func (hostNode) String() string              { return "this-machine" }
func (hostNode) Role() (string, error)       { return "control-plane", nil }
func (hostNode) IP() (string, string, error) { return "127.0.0.1", "", nil }
func (hostNode) SerialLogs(io.Writer) error  { return nil }

// TestArchiveImportsIntoContainerd loads an archive of demo app versions
// (one layer shared by all) with loadInto, which is kind's own
// LoadImageArchive: the `ctr images import` a kind node runs, here against
// a containerd on this machine (Docker's) in the namespace kubelets use.
// Every version must be there under its name afterwards.
func TestArchiveImportsIntoContainerd(t *testing.T) {
	sock := ""
	for _, s := range []string{"/run/containerd/containerd.sock", "/run/docker/containerd/containerd.sock"} {
		if _, err := os.Stat(s); err == nil {
			sock = s
			break
		}
	}
	if sock == "" {
		t.Skip("no containerd socket on this machine: the import is checked against a real containerd only")
	}
	if _, err := exec.LookPath("ctr"); err != nil {
		t.Skip("no ctr on this machine: it is what kind runs in a node to load images")
	}
	if out, err := exec.Command("ctr", "--address", sock, "version").CombinedOutput(); err != nil {
		t.Skipf("containerd at %s does not answer: %s", sock, out)
	}
	bin := filepath.Join(t.TempDir(), "demoapp")
	require.NoError(t, os.WriteFile(bin, []byte("a stand-in for the demo app binary "+randomHex()), 0o755))
	layer, err := demoimage.BinaryLayer(bin)
	require.NoError(t, err)
	set := imageSet{}
	for _, tag := range []string{"blue", "green", "bad-green"} {
		v, ok := catalog.Lookup(tag)
		require.True(t, ok, tag)
		set[v.Image()], err = demoimage.Build(v, layer)
		require.NoError(t, err)
	}
	archive := filepath.Join(t.TempDir(), "images.tar")
	f, err := os.Create(archive)
	require.NoError(t, err)
	require.NoError(t, writeArchive(set, f))
	require.NoError(t, f.Close())

	ctr := func(args ...string) string {
		out, err := exec.Command("ctr", append([]string{"--address", sock, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
		require.NoError(t, err, "ctr %v: %s", args, out)
		return string(out)
	}
	before := strings.Fields(ctr("images", "ls", "-q"))
	// The import names what it made twice: by tag, and (--digests) by
	// digest; all of it goes at the end.
	t.Cleanup(func() {
		out, _ := exec.Command("ctr", "--address", sock, "--namespace", "k8s.io", "images", "ls", "-q").Output()
		var made []string
		for _, n := range strings.Fields(string(out)) {
			if !slices.Contains(before, n) {
				made = append(made, n)
			}
		}
		if len(made) > 0 {
			_ = exec.Command("ctr", append([]string{"--address", sock, "--namespace", "k8s.io", "images", "rm"}, made...)...).Run()
		}
	})

	require.NoError(t, loadInto(hostNode{containerd: sock}, archive))
	listed := ctr("images", "ls", "-q")
	for ref := range set {
		require.Contains(t, listed, "docker.io/"+ref)
	}
}
