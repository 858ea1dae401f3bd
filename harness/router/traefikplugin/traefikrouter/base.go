package traefikrouter

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func equalJSON(a, b any) bool { return reflect.DeepEqual(a, b) }

// base is what managed routes take from the application's own route.
type base struct {
	rule string
	// priority is the base route's effective priority (its explicit one, or
	// Traefik's default: the length of its rule); known when read from the
	// IngressRoute.
	priority    int64
	known       bool
	entryPoints []any
	middlewares []any
	tls         map[string]any
}

// base reads the base route: the route of ingressRouteName that sends to the
// weighted TraefikService (its rule, priority, entry points, middlewares and
// TLS), with baseMatch and entryPoints from the config taking precedence.
func (p *RpcPlugin) base(ctx context.Context, ro *v1alpha1.Rollout, cfg *Config) (*base, error) {
	if !cfg.hasBase() {
		return nil, fmt.Errorf("the plugin config sets neither ingressRouteName nor baseMatch: header and mirror routes need the base route's rule")
	}
	b := &base{}
	if cfg.IngressRouteName != "" {
		ns, name := ro.Namespace, cfg.IngressRouteName
		ir, err := p.Client.Resource(IngressRouteGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && !resourceMissing(err) {
			return nil, fmt.Errorf("IngressRoute %s/%s (ingressRouteName) not found", ns, name)
		}
		if err != nil {
			return nil, describe(err, "get", IngressRouteGVR, ns, name)
		}
		routes, _, _ := unstructured.NestedSlice(ir.Object, "spec", "routes")
		var picked []map[string]any
		for _, r := range routes {
			rm, ok := r.(map[string]any)
			if !ok {
				continue
			}
			svcs, _, _ := unstructured.NestedSlice(rm, "services")
			for _, s := range svcs {
				sm, _ := s.(map[string]any)
				kind, _, _ := unstructured.NestedString(sm, "kind")
				sName, _, _ := unstructured.NestedString(sm, "name")
				sNS, _, _ := unstructured.NestedString(sm, "namespace")
				if kind == "TraefikService" && sName == cfg.WeightedTraefikServiceName && (sNS == "" || sNS == ns) {
					picked = append(picked, rm)
					break
				}
			}
		}
		switch len(picked) {
		case 0:
			return nil, fmt.Errorf("IngressRoute %s/%s has no route sending to TraefikService %q (kind: TraefikService): point its route at the weighted TraefikService", ns, name, cfg.WeightedTraefikServiceName)
		case 1:
		default:
			return nil, fmt.Errorf("IngressRoute %s/%s has %d routes sending to TraefikService %q; the plugin needs exactly one: split the IngressRoute", ns, name, len(picked), cfg.WeightedTraefikServiceName)
		}
		r := picked[0]
		b.rule, _, _ = unstructured.NestedString(r, "match")
		if syntax, _, _ := unstructured.NestedString(r, "syntax"); syntax != "" && syntax != "v3" && cfg.BaseMatch == "" {
			return nil, fmt.Errorf("IngressRoute %s/%s's route uses rule syntax %q; managed routes use Traefik v3 syntax: set baseMatch to the rule in v3 syntax", ns, name, syntax)
		}
		if prio, ok := asInt(r["priority"]); ok && prio > 0 {
			b.priority = prio
		} else {
			b.priority = int64(len(b.rule))
		}
		b.known = true
		b.entryPoints, _, _ = unstructured.NestedSlice(ir.Object, "spec", "entryPoints")
		b.middlewares, _, _ = unstructured.NestedSlice(r, "middlewares")
		b.tls, _, _ = unstructured.NestedMap(ir.Object, "spec", "tls")
	}
	if cfg.BaseMatch != "" {
		b.rule = cfg.BaseMatch
		if !b.known {
			b.priority = int64(len(b.rule))
		}
	}
	if b.rule == "" {
		return nil, fmt.Errorf("the base route's rule is empty: set baseMatch")
	}
	if len(cfg.EntryPoints) > 0 {
		b.entryPoints = make([]any, len(cfg.EntryPoints))
		for i, ep := range cfg.EntryPoints {
			b.entryPoints[i] = ep
		}
	}
	return b, nil
}

// routePriority is the priority of managed route name: at least the
// config's priority, else one above the base route's; among managed routes
// the one listed first in trafficRouting.managedRoutes gets the highest, as
// Argo defines their precedence.
func routePriority(ro *v1alpha1.Rollout, cfg *Config, b *base, name string) (int64, error) {
	floor := cfg.Priority
	if floor == 0 {
		floor = b.priority + 1
	} else if b.known && floor <= b.priority {
		return 0, fmt.Errorf("priority %d must be above the base route's priority %d", floor, b.priority)
	}
	var names []string
	if tr := ro.Spec.Strategy.Canary.TrafficRouting; tr != nil {
		for _, r := range tr.ManagedRoutes {
			names = append(names, r.Name)
		}
	}
	if i := slices.Index(names, name); i >= 0 {
		return floor + int64(len(names)-1-i), nil
	}
	return floor, nil
}

// ingressRoute builds a managed IngressRoute with one route.
func (b *base) ingressRoute(ro *v1alpha1.Rollout, name, route, kind, rule string, priority int64, service map[string]any) *unstructured.Unstructured {
	r := map[string]any{
		"kind":     "Rule",
		"match":    rule,
		"priority": priority,
		"services": []any{service},
	}
	if len(b.middlewares) > 0 {
		r["middlewares"] = runtime.DeepCopyJSONValue(b.middlewares)
	}
	spec := map[string]any{"routes": []any{r}}
	if len(b.entryPoints) > 0 {
		spec["entryPoints"] = runtime.DeepCopyJSONValue(b.entryPoints)
	}
	if len(b.tls) > 0 {
		spec["tls"] = runtime.DeepCopyJSONValue(b.tls)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": IngressRouteGVR.GroupVersion().String(),
		"kind":       "IngressRoute",
		"metadata":   managedMeta(ro, name, route, kind),
		"spec":       spec,
	}}
}
