package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/analysis/metricai"
	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform"
)

// argoInstall is Argo's install.yaml as installArgo reads it, from the
// module cache, or a stand-in with the two objects that matter here.
func argoInstall(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
			cache = strings.TrimSpace(string(out))
		}
	}
	paths, _ := filepath.Glob(filepath.Join(cache, argoModule+"@*", "manifests", "install.yaml"))
	if len(paths) == 0 {
		t.Log("no Argo Rollouts install.yaml in the module cache: testing on a stand-in")
		return []*unstructured.Unstructured{
			{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": platform.ArgoConfigMap}}},
			{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
				"metadata": map[string]any{"name": platform.ArgoControllerRoleName},
				"rules":    []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"list"}}}}},
		}
	}
	f, err := os.Open(paths[len(paths)-1])
	require.NoError(t, err)
	defer f.Close()
	objs, err := kube.Decode(f)
	require.NoError(t, err)
	return objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// TestWithMetricPlugins: with the metric-ai plugin, Argo's ConfigMap lists
// it at its file:// location, as Argo reads that key, and the controller's
// ClusterRole may get pods and their logs, which the plugin reads with the
// controller's identity; without plugins nothing changes.
func TestWithMetricPlugins(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "metric-ai")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))

	untouched := argoInstall(t)
	before := find(untouched, "ClusterRole", platform.ArgoControllerRoleName).DeepCopy()
	require.NoError(t, withPlugins(untouched, platform.ArgoMetricPluginsKey, nil))
	assert.Equal(t, before, find(untouched, "ClusterRole", platform.ArgoControllerRoleName))
	_, has, _ := unstructured.NestedString(find(untouched, "ConfigMap", platform.ArgoConfigMap).Object, "data", platform.ArgoMetricPluginsKey)
	assert.False(t, has)

	objs := argoInstall(t)
	require.NoError(t, withPlugins(objs, platform.ArgoMetricPluginsKey, []platform.MetricPlugin{metricai.Plugin(bin)}))
	value, has, err := unstructured.NestedString(find(objs, "ConfigMap", platform.ArgoConfigMap).Object, "data", platform.ArgoMetricPluginsKey)
	require.NoError(t, err)
	require.True(t, has)
	// As Argo's utils/config reads it (types.PluginItem).
	var items []struct {
		Name     string `json:"name"`
		Location string `json:"location"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(value), &items))
	assert.Equal(t, []struct {
		Name     string `json:"name"`
		Location string `json:"location"`
	}{{Name: "argoproj-labs/metric-ai", Location: "file://" + bin}}, items)

	rules, _, err := unstructured.NestedSlice(find(objs, "ClusterRole", platform.ArgoControllerRoleName).Object, "rules")
	require.NoError(t, err)
	var last rbacv1.PolicyRule
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(rules[len(rules)-1].(map[string]any), &last))
	assert.Equal(t, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get"}}, last)
	beforeRules, _, _ := unstructured.NestedSlice(before.Object, "rules")
	assert.Len(t, rules, len(beforeRules)+1, "the install's own rules stay")

	// Refused before anything is applied: a missing binary, a relative
	// path, a name Argo cannot place.
	for _, p := range []platform.MetricPlugin{
		metricai.Plugin(filepath.Join(t.TempDir(), "missing")),
		{Name: metricai.PluginName, Path: "bin/metric-ai"},
		{Name: "metric-ai", Path: bin},
	} {
		assert.Error(t, withPlugins(argoInstall(t), platform.ArgoMetricPluginsKey, []platform.MetricPlugin{p}), p.Path)
	}
	assert.ErrorContains(t, withPlugins(nil, platform.ArgoMetricPluginsKey, []platform.MetricPlugin{metricai.Plugin(bin)}), "install.yaml has no ConfigMap")
}
