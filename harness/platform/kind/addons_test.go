package kind

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/router"
)

// pick returns the objects of one type.
func pick[T runtime.Object](objs []runtime.Object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func TestPrometheusObjects(t *testing.T) {
	objs, err := prometheusObjects("blastradius/prometheus:v3.16.0")
	require.NoError(t, err)

	deps := pick[*appsv1.Deployment](objs)
	require.Len(t, deps, 1)
	pod := deps[0].Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, "blastradius/prometheus:v3.16.0", c.Image)
	assert.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy, "the image is loaded, never pulled")
	assert.Contains(t, c.Args, "--config.file=/etc/prometheus/prometheus.yml")
	assert.Contains(t, c.Args, "--web.listen-address=:9090")
	assert.Equal(t, "/-/ready", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, PrometheusName, pod.ServiceAccountName)
	assert.Equal(t, appsv1.RecreateDeploymentStrategyType, deps[0].Spec.Strategy.Type, "never two scraping at once")
	assert.NotEmpty(t, deps[0].Spec.Template.Annotations["blastradius.dev/config-sha256"])

	// Its configuration discovers pods with the pod's own account.
	cms := pick[*corev1.ConfigMap](objs)
	require.Len(t, cms, 1)
	var cfg struct {
		ScrapeConfigs []struct {
			SD []map[string]any `json:"kubernetes_sd_configs"`
		} `json:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(cms[0].Data["prometheus.yml"]), &cfg))
	require.Len(t, cfg.ScrapeConfigs, 1)
	assert.Equal(t, []map[string]any{{"role": "pod"}}, cfg.ScrapeConfigs[0].SD)

	// ... which may list and watch pods everywhere, and nothing else.
	roles := pick[*rbacv1.ClusterRole](objs)
	require.Len(t, roles, 1)
	assert.Equal(t, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}, roles[0].Rules)
	bindings := pick[*rbacv1.ClusterRoleBinding](objs)
	require.Len(t, bindings, 1)
	assert.Equal(t, roles[0].Name, bindings[0].RoleRef.Name)
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: PrometheusName, Namespace: SystemNamespace}}, bindings[0].Subjects)

	svcs := pick[*corev1.Service](objs)
	require.Len(t, svcs, 1)
	assert.Equal(t, PrometheusNodePort, svcs[0].Spec.Ports[0].NodePort)
	assert.True(t, NodePorts.Contains(PrometheusNodePort), "reachable on 127.0.0.1")
	assert.Equal(t, "http://prometheus.blastradius-system.svc:9090", PrometheusInClusterURL)
	assert.Equal(t, deps[0].Spec.Template.Labels, svcs[0].Spec.Selector)
}

func TestTraefikObjects(t *testing.T) {
	objs := traefikObjects("blastradius/traefik:v3.6.12")
	deps := pick[*appsv1.Deployment](objs)
	require.Len(t, deps, 1)
	pod := deps[0].Spec.Template.Spec
	assert.Equal(t, local.TraefikAccount, pod.ServiceAccountName, "the account the module's RBAC binds")
	assert.Equal(t, local.TraefikNamespace, deps[0].Namespace)
	c := pod.Containers[0]
	assert.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy)
	assert.Contains(t, c.Args, "--entryPoints."+local.TraefikEntryPoint+".address=:8000", "routes name this entrypoint")
	assert.Contains(t, c.Args, "--providers.kubernetesCRD.throttleDuration=0s")
	assert.Equal(t, "/ping", c.ReadinessProbe.HTTPGet.Path)

	svcs := pick[*corev1.Service](objs)
	require.Len(t, svcs, 1)
	p := svcs[0].Spec.Ports[0]
	assert.Equal(t, RouterNodePort, p.NodePort)
	assert.Equal(t, int32(80), p.Port)
	assert.Equal(t, 8000, p.TargetPort.IntValue())
	assert.True(t, NodePorts.Contains(RouterNodePort))
	assert.NotEqual(t, PrometheusNodePort, RouterNodePort)
	assert.Equal(t, "http://traefik.default.svc:80", RouterInClusterURL)
}

// The typed objects convert for the applier without the fields an applied
// manifest must not own.
func TestAddonsConvert(t *testing.T) {
	objs, err := prometheusObjects("p")
	require.NoError(t, err)
	u, err := toUnstructured(append(objs, traefikObjects("t")...))
	require.NoError(t, err)
	for _, o := range u {
		assert.NotEmpty(t, o.GetKind())
		assert.NotEmpty(t, o.GetAPIVersion())
		assert.NotContains(t, o.Object, "status", o.GetKind())
		_, found, _ := unstructured.NestedFieldNoCopy(o.Object, "metadata", "creationTimestamp")
		assert.False(t, found, o.GetKind())
	}
}

// Argo's own install.yaml, from the module cache: the controller's image
// becomes the release's tag, taken from the node, and the plugins the image
// carries are in Argo's ConfigMap at their path in the image, with their
// rules in the controller's ClusterRole.
func TestArgoInstallForKind(t *testing.T) {
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, router.PluginBinary), []byte("plugin"), 0o755))
	metric := filepath.Join(t.TempDir(), "metric-ai")
	require.NoError(t, os.WriteFile(metric, []byte("metric"), 0o755))
	c := New(platform.Options{BinDir: bin, MetricPlugins: []platform.MetricPlugin{{Name: "argoproj-labs/metric-ai", Path: metric}}})

	set := c.argoPlugins()
	assert.Equal(t, map[string]string{
		"/plugins/blastradius-traefik":     filepath.Join(bin, router.PluginBinary),
		"/plugins/argoproj-labs-metric-ai": metric,
	}, set.files)
	require.Len(t, set.byKey[platform.ArgoTrafficRouterPluginsKey], 1)
	assert.Equal(t, "/plugins/blastradius-traefik", set.byKey[platform.ArgoTrafficRouterPluginsKey][0].Path)
	assert.Equal(t, "/plugins/argoproj-labs-metric-ai", set.byKey[platform.ArgoMetricPluginsKey][0].Path)

	dir, err := moduleDirForTest()
	if err != nil {
		t.Skip(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifests", "install.yaml"))
	require.NoError(t, err)
	objs, err := kube.DecodeBytes(data)
	require.NoError(t, err)
	for _, key := range []string{platform.ArgoMetricPluginsKey, platform.ArgoTrafficRouterPluginsKey} {
		require.NoError(t, platform.ConfigureArgoPlugins(objs, key, set.byKey[key]))
	}
	var deployments int
	for _, o := range objs {
		switch {
		case o.GetKind() == "Deployment":
			deployments++
			require.NoError(t, setImage(o, ArgoImage+":v1.10.2"))
			var d appsv1.Deployment
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d))
			c := d.Spec.Template.Spec.Containers[0]
			assert.Equal(t, "quay.io/argoproj/argo-rollouts:v1.10.2", c.Image)
			assert.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy)
			// What the image must suit: a non-root user, plugin-bin/ under
			// the working directory.
			assert.True(t, *d.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
			var mounts []string
			for _, m := range c.VolumeMounts {
				mounts = append(mounts, m.MountPath)
			}
			assert.Contains(t, mounts, argoWorkingDir+"/plugin-bin")
		case o.GetKind() == "ConfigMap" && o.GetName() == platform.ArgoConfigMap:
			routers, _, _ := unstructured.NestedString(o.Object, "data", platform.ArgoTrafficRouterPluginsKey)
			assert.Contains(t, routers, "location: file:///plugins/blastradius-traefik")
			assert.Contains(t, routers, "name: "+router.PluginName)
			metrics, _, _ := unstructured.NestedString(o.Object, "data", platform.ArgoMetricPluginsKey)
			assert.Contains(t, metrics, "location: file:///plugins/argoproj-labs-metric-ai")
		}
	}
	assert.Equal(t, 1, deployments)
}

// moduleDirForTest is Argo's module directory when make tools fetched it.
func moduleDirForTest() (string, error) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "..", "bin")
	}
	_, dir, err := local.ArgoRelease(context.Background(), bin)
	return dir, err
}
