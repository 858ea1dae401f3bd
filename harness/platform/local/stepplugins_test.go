package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/platform"
)

// TestWithStepPlugins: step plugins land under Argo's stepPlugins key, a
// disabled one marked so, as Argo's types.PluginItem reads it.
func TestWithStepPlugins(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "e2e-step-plugin")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	objs := argoInstall(t)
	require.NoError(t, withPlugins(objs, platform.ArgoStepPluginsKey, []platform.MetricPlugin{
		{Name: "step/e2e-test", Path: bin},
		{Name: "step/e2e-test-disabled", Path: bin, Disabled: true},
	}))
	value, has, err := unstructured.NestedString(find(objs, "ConfigMap", platform.ArgoConfigMap).Object, "data", platform.ArgoStepPluginsKey)
	require.NoError(t, err)
	require.True(t, has)
	type item struct {
		Name     string `json:"name"`
		Location string `json:"location"`
		Disabled bool   `json:"disabled"`
	}
	var items []item
	require.NoError(t, yaml.Unmarshal([]byte(value), &items))
	assert.Equal(t, []item{{"step/e2e-test", "file://" + bin, false}, {"step/e2e-test-disabled", "file://" + bin, true}}, items)
	_, has, _ = unstructured.NestedString(find(objs, "ConfigMap", platform.ArgoConfigMap).Object, "data", platform.ArgoMetricPluginsKey)
	assert.False(t, has, "no metric plugins were asked for")
}
