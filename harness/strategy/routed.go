package strategy

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/blastradius/blastradius/harness/router"
)

// Router says how a strategy's weights reach users.
type Router string

const (
	// RouterReplicas: one Service over both versions' pods; a weight is a
	// replica ratio (kube-proxy spreads connections over ready pods).
	RouterReplicas Router = ""
	// RouterTraefik: Argo's built-in Traefik router, which sets the weights
	// of a weighted TraefikService: exact weights, whatever the replicas.
	RouterTraefik Router = "traefik"
	// RouterPlugin: blastradius's Traefik traffic-router plugin for Argo
	// (harness/router/traefikplugin): weights, header routes and mirrors.
	RouterPlugin Router = "traefik-plugin"
)

// Names and defaults of the routed strategies' objects.
const (
	CanarySuffix   = "-canary"   // the canary Service: <App>-canary
	WeightedSuffix = "-weighted" // the weighted TraefikService: <App>-weighted
	// TraefikPlugin is the plugin's name in Argo's ConfigMap and in the
	// Rollout's trafficRouting.plugins.
	TraefikPlugin = router.PluginName
	// CohortRoute and MirrorRoute are the Rollout's managed routes.
	CohortRoute = "cohort"
	MirrorRoute = "mirror"
	// CohortHeader and CohortValue mark the dark launch's cohort (the
	// load generator marks a share of its users so).
	CohortHeader = "X-Cohort"
	CohortValue  = "internal"
	// DefaultCanaryReplicas is the fixed small canary of routed strategies.
	DefaultCanaryReplicas = 1
	// DefaultMirrorPercent is the share of requests shadow copies.
	DefaultMirrorPercent = 100
	traefikAPIVersion    = "traefik.io/v1alpha1"
	// EntryPoint is the router's entrypoint the IngressRoute binds.
	EntryPoint = "web"
)

// Routed reports whether the strategy's traffic goes through the L7 router.
func (t Traits) Routed() bool { return t.Router != RouterReplicas }

// HostFor is the Host header a run's routes match: one router serves every
// run at once, each under its own host.
func HostFor(namespace string) string { return namespace + ".blastradius.test" }

// routedObjects are the Services, the weighted TraefikService and the
// IngressRoute of a routed strategy. The Services reach pods through their
// node port (nodePortLB): Kubernetes refuses the local platform's loopback
// pod IPs in EndpointSlices, which Traefik otherwise routes to.
func routedObjects(p Params, strategyName string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, name := range []string{p.App, p.App + CanarySuffix} {
		svc, err := service(p, name, strategyName)
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	entry := func(name string, weight int64) map[string]any {
		return map[string]any{"name": name, "port": int64(ServicePort), "weight": weight, "nodePortLB": true}
	}
	weighted := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": traefikAPIVersion, "kind": "TraefikService",
		"metadata": meta(p, p.App+WeightedSuffix, strategyName),
		"spec": map[string]any{"weighted": map[string]any{"services": []any{
			entry(p.App, 100), entry(p.App+CanarySuffix, 0),
		}}},
	}}
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": traefikAPIVersion, "kind": "IngressRoute",
		"metadata": meta(p, p.App, strategyName),
		"spec": map[string]any{
			"entryPoints": []any{EntryPoint},
			"routes": []any{map[string]any{
				"kind": "Rule", "match": baseMatch(p),
				"services": []any{map[string]any{"name": p.App + WeightedSuffix, "kind": "TraefikService"}},
			}},
		},
	}}
	return append(out, weighted, route), nil
}

func baseMatch(p Params) string { return "Host(`" + p.Host + "`)" }

// routedRollout walks the steps through the router: a fixed small canary
// (setCanaryScale), then, for dark-launch, the cohort's header route and a
// pause; for shadow, a mirror of every request and a pause as long as the
// steps; for the others the weights. Background analysis starts once the
// candidate first gets traffic.
func routedRollout(p Params, strategyName string, t Traits, ref map[string]any) (*unstructured.Unstructured, error) {
	pause := func(d int64) map[string]any {
		return map[string]any{"pause": map[string]any{"duration": strconv.FormatInt(d, 10) + "s"}}
	}
	steps := []any{map[string]any{"setCanaryScale": map[string]any{"replicas": int64(p.CanaryReplicas)}}}
	var managed []any
	switch {
	case t.Mirror:
		managed = append(managed, map[string]any{"name": MirrorRoute})
		steps = append(steps,
			map[string]any{"setMirrorRoute": map[string]any{
				"name": MirrorRoute, "percentage": int64(p.MirrorPercent),
				"match": []any{map[string]any{"path": map[string]any{"prefix": "/"}}},
			}},
			pause(seconds(p.StepPause)*int64(max(len(p.Steps), 1))),
			// No match: the mirror is removed before the promotion.
			map[string]any{"setMirrorRoute": map[string]any{"name": MirrorRoute}},
		)
	case t.Cohort:
		managed = append(managed, map[string]any{"name": CohortRoute})
		steps = append(steps,
			map[string]any{"setHeaderRoute": map[string]any{
				"name": CohortRoute,
				"match": []any{map[string]any{"headerName": CohortHeader,
					"headerValue": map[string]any{"exact": CohortValue}}},
			}},
			pause(seconds(p.StepPause)),
		)
	}
	if !t.Mirror {
		for _, w := range p.Steps {
			steps = append(steps, map[string]any{"setWeight": int64(w)}, pause(seconds(p.StepPause)))
		}
	}
	routing := map[string]any{}
	switch t.Router {
	case RouterTraefik:
		routing["traefik"] = map[string]any{"weightedTraefikServiceName": p.App + WeightedSuffix}
	case RouterPlugin:
		routing["plugins"] = map[string]any{TraefikPlugin: map[string]any{
			"weightedTraefikServiceName": p.App + WeightedSuffix,
			"baseMatch":                  baseMatch(p),
			"entryPoints":                []any{EntryPoint},
		}}
	}
	if len(managed) > 0 {
		routing["managedRoutes"] = managed
	}
	canary := map[string]any{
		"canaryService":  p.App + CanarySuffix,
		"stableService":  p.App,
		"trafficRouting": routing,
		"steps":          steps,
	}
	if ref != nil {
		bg := runtime.DeepCopyJSONValue(ref).(map[string]any)
		bg["startingStep"] = int64(1) // once the canary gets traffic (a weight, a route or a mirror)
		canary["analysis"] = bg
	}
	return rollout(p, strategyName, map[string]any{"canary": canary})
}

// validateRouted checks what routed strategies need.
func validateRouted(p Params) (Params, error) {
	if p.Host == "" {
		p.Host = HostFor(p.Namespace)
	}
	if p.CanaryReplicas == 0 {
		p.CanaryReplicas = DefaultCanaryReplicas
	}
	if p.MirrorPercent == 0 {
		p.MirrorPercent = DefaultMirrorPercent
	}
	switch {
	case p.CanaryReplicas < 1 || p.CanaryReplicas > p.Replicas:
		return p, fmt.Errorf("canary replicas must be between 1 and the replicas (%d), got %d", p.Replicas, p.CanaryReplicas)
	case p.MirrorPercent < 1 || p.MirrorPercent > 100:
		return p, fmt.Errorf("mirror percent must be between 1 and 100, got %d", p.MirrorPercent)
	}
	for _, w := range p.Steps {
		if w < 1 || w > 99 {
			return p, fmt.Errorf("weight %d is not between 1 and 99", w)
		}
	}
	if p.StepPause <= 0 {
		return p, fmt.Errorf("stepPause must be positive")
	}
	return p, nil
}
