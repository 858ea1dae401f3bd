package platform

import (
	"fmt"
	"path/filepath"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Argo Rollouts' configuration: the ConfigMap its controller reads at
// start-up (in its own namespace), its key listing metric provider plugins,
// and the ClusterRole a real install gives the controller.
const (
	ArgoConfigMap        = "argo-rollouts-config"
	ArgoMetricPluginsKey = "metricProviderPlugins"
	// ArgoTrafficRouterPluginsKey lists traffic-router plugins, the same way.
	ArgoTrafficRouterPluginsKey = "trafficRouterPlugins"
	// ArgoStepPluginsKey lists step plugins, the same way.
	ArgoStepPluginsKey     = "stepPlugins"
	ArgoControllerRoleName = "argo-rollouts"
)

// MetricPlugin is an Argo Rollouts metric provider plugin that the platform
// configures before the controller starts (Argo loads plugins only then).
type MetricPlugin struct {
	// Name is how AnalysisTemplates name it: "<namespace>/<name>", e.g.
	// "argoproj-labs/metric-ai".
	Name string
	// Path is the plugin's binary, absolute, on the machine that runs the
	// controller; Argo copies it from this file:// location.
	Path string
	// Rules are what the plugin needs beyond the controller's ClusterRole:
	// it runs as a child of the controller, with the controller's identity.
	Rules []rbacv1.PolicyRule
	// Disabled lists a step plugin that Argo ignores where a Rollout names
	// it (Argo honours it for step plugins only).
	Disabled bool
}

// MetricProviderPlugins is the metricProviderPlugins value of Argo's
// ConfigMap: a YAML list of {name, location: file://<path>}.
func MetricProviderPlugins(plugins []MetricPlugin) (string, error) {
	type item struct {
		Name     string `json:"name"`
		Location string `json:"location"`
		Disabled bool   `json:"disabled,omitempty"`
	}
	items := make([]item, 0, len(plugins))
	for _, p := range plugins {
		if ns, n, ok := strings.Cut(p.Name, "/"); !ok || ns == "" || n == "" || strings.Contains(n, "/") {
			return "", fmt.Errorf("metric plugin %q: the name must be <namespace>/<name>", p.Name)
		}
		if !filepath.IsAbs(p.Path) {
			return "", fmt.Errorf("metric plugin %s: %q is not an absolute path", p.Name, p.Path)
		}
		items = append(items, item{Name: p.Name, Location: "file://" + filepath.ToSlash(p.Path), Disabled: p.Disabled})
	}
	out, err := yaml.Marshal(items)
	return string(out), err
}

// ConfigureArgoPlugins configures plugins (metric, step or traffic-router,
// by the ConfigMap's key) in Argo's install objects before they are
// applied, as a plugin's own install does: Argo's ConfigMap lists each at
// its file:// location, which Argo copies into plugin-bin/ under its working
// directory at start-up only, and the controller's ClusterRole gets the
// rules each needs, since a plugin runs as the controller's child with its
// identity. Paths are where the controller runs: this machine, or its image.
func ConfigureArgoPlugins(objs []*unstructured.Unstructured, key string, plugins []MetricPlugin) error {
	if len(plugins) == 0 {
		return nil
	}
	value, err := MetricProviderPlugins(plugins)
	if err != nil {
		return err
	}
	var configured, granted bool
	for _, o := range objs {
		switch {
		case o.GetKind() == "ConfigMap" && o.GetName() == ArgoConfigMap:
			if err := unstructured.SetNestedField(o.Object, value, "data", key); err != nil {
				return fmt.Errorf("%s: %w", ArgoConfigMap, err)
			}
			configured = true
		case o.GetKind() == "ClusterRole" && o.GetName() == ArgoControllerRoleName:
			rules, _, err := unstructured.NestedSlice(o.Object, "rules")
			if err != nil {
				return fmt.Errorf("ClusterRole %s: %w", ArgoControllerRoleName, err)
			}
			for _, p := range plugins {
				for _, r := range p.Rules {
					m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&r)
					if err != nil {
						return err
					}
					rules = append(rules, m)
				}
			}
			if err := unstructured.SetNestedSlice(o.Object, rules, "rules"); err != nil {
				return fmt.Errorf("ClusterRole %s: %w", ArgoControllerRoleName, err)
			}
			granted = true
		}
	}
	if !configured || !granted {
		return fmt.Errorf("Argo's install.yaml has no ConfigMap %s or no ClusterRole %s to configure metric plugins in",
			ArgoConfigMap, ArgoControllerRoleName)
	}
	return nil
}
