package traefikrouter

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// target is the weight one Service must have in the weighted TraefikService.
type target struct {
	service string
	weight  int64
	role    string // "stable", "canary" or "additional"
}

// targets computes the weights of a setWeight: canary = desired, each
// additional destination its own weight, stable = the rest of
// maxTrafficWeight (100 unless the rollout sets it). Without additional
// destinations and with the default maximum, stable = 100 - desired.
func targets(ro *v1alpha1.Rollout, desired int32, additional []v1alpha1.WeightDestination) ([]target, error) {
	c := ro.Spec.Strategy.Canary
	if c.StableService == "" || c.CanaryService == "" {
		return nil, fmt.Errorf("rollout %s/%s must set both spec.strategy.canary.stableService and canaryService to route traffic with %s", ro.Namespace, ro.Name, PluginName)
	}
	if c.StableService == c.CanaryService {
		return nil, fmt.Errorf("rollout %s/%s: stableService and canaryService are the same Service %q", ro.Namespace, ro.Name, c.StableService)
	}
	maxWeight := int64(100)
	if c.TrafficRouting != nil && c.TrafficRouting.MaxTrafficWeight != nil {
		maxWeight = int64(*c.TrafficRouting.MaxTrafficWeight)
	}
	if desired < 0 || int64(desired) > maxWeight {
		return nil, fmt.Errorf("canary weight %d is outside 0..%d", desired, maxWeight)
	}
	ts := []target{{service: c.CanaryService, weight: int64(desired), role: "canary"}}
	rest := maxWeight - int64(desired)
	seen := map[string]bool{c.StableService: true, c.CanaryService: true}
	for _, d := range additional {
		if d.ServiceName == "" {
			return nil, fmt.Errorf("an additional destination has no serviceName")
		}
		if seen[d.ServiceName] {
			return nil, fmt.Errorf("additional destination %q is listed twice or is the stable or canary Service", d.ServiceName)
		}
		seen[d.ServiceName] = true
		if d.Weight < 0 {
			return nil, fmt.Errorf("additional destination %q has a negative weight %d", d.ServiceName, d.Weight)
		}
		ts = append(ts, target{service: d.ServiceName, weight: int64(d.Weight), role: "additional"})
		rest -= int64(d.Weight)
	}
	if rest < 0 {
		return nil, fmt.Errorf("canary weight %d plus additional destinations' weights exceed %d", desired, maxWeight)
	}
	return append([]target{{service: c.StableService, weight: rest, role: "stable"}}, ts...), nil
}

// entryName gives an entry's Service name when the entry designates a
// Kubernetes Service of namespace ns (Traefik's kind "" or "Service").
func entryService(entry any, ns string) (string, bool) {
	m, ok := entry.(map[string]any)
	if !ok {
		return "", false
	}
	kind, _, _ := unstructured.NestedString(m, "kind")
	if kind != "" && kind != "Service" {
		return "", false
	}
	if eNS, _, _ := unstructured.NestedString(m, "namespace"); eNS != "" && eNS != ns {
		return "", false
	}
	name, _, _ := unstructured.NestedString(m, "name")
	return name, name != ""
}

// indexOf returns the indices of the entries that designate Service name.
func indexOf(services []any, name, ns string) []int {
	var idx []int
	for i, e := range services {
		if n, ok := entryService(e, ns); ok && n == name {
			idx = append(idx, i)
		}
	}
	return idx
}

// asInt reads a JSON number.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) {
			return int64(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// entryWeight is an entry's weight; Traefik counts a missing weight as 1.
func entryWeight(entry any) (int64, bool) {
	m, _ := entry.(map[string]any)
	v, ok := m["weight"]
	if !ok || v == nil {
		return 1, true
	}
	return asInt(v)
}

// entryOptions copies an entry (its port, scheme, strategy, nodePortLB...)
// without its weight, for use as a route's or mirror's service.
func entryOptions(entry any) map[string]any {
	m := runtime.DeepCopyJSONValue(entry).(map[string]any)
	delete(m, "weight")
	return m
}

func addedServices(ts *unstructured.Unstructured) []string {
	v := ts.GetAnnotations()[AnnotationAddedServices]
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func entryNames(services []any, ns string) string {
	var names []string
	for _, e := range services {
		if n, ok := entryService(e, ns); ok {
			names = append(names, n)
		} else if m, ok := e.(map[string]any); ok {
			n, _, _ := unstructured.NestedString(m, "name")
			k, _, _ := unstructured.NestedString(m, "kind")
			names = append(names, fmt.Sprintf("%s (kind %s)", n, k))
		}
	}
	if len(names) == 0 {
		return "no entries"
	}
	return strings.Join(names, ", ")
}

// weighted reads the weighted TraefikService and its spec.weighted.services.
func (p *RpcPlugin) weighted(ctx context.Context, ro *v1alpha1.Rollout, cfg *Config) (*unstructured.Unstructured, []any, error) {
	name := cfg.WeightedTraefikServiceName
	ts, err := p.Client.Resource(TraefikServiceGVR).Namespace(ro.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && !resourceMissing(err) {
		return nil, nil, fmt.Errorf("TraefikService %s/%s (weightedTraefikServiceName) not found: create a weighted TraefikService listing the stable and canary Services", ro.Namespace, name)
	}
	if err != nil {
		return nil, nil, describe(err, "get", TraefikServiceGVR, ro.Namespace, name)
	}
	services, found, err := unstructured.NestedSlice(ts.Object, "spec", "weighted", "services")
	if err != nil || !found {
		return nil, nil, fmt.Errorf("TraefikService %s/%s is not a weighted TraefikService: spec.weighted.services is missing", ro.Namespace, name)
	}
	return ts, services, nil
}

// reweigh returns services with the weights of ts: stable and canary entries
// must exist; an additional destination without an entry gets one, copied
// from the canary's entry; entries the plugin added earlier (added) that are
// no longer destinations are dropped. It also returns the new added list.
func reweigh(ro *v1alpha1.Rollout, tsName string, services []any, ts []target, added []string) ([]any, []string, error) {
	ns := ro.Namespace
	out := runtime.DeepCopyJSONValue(services).([]any)
	var canaryEntry any
	for _, t := range ts {
		idx := indexOf(out, t.service, ns)
		if len(idx) > 1 {
			return nil, nil, fmt.Errorf("TraefikService %s/%s lists the %s Service %q %d times in spec.weighted.services; list it once", ns, tsName, t.role, t.service, len(idx))
		}
		if len(idx) == 0 {
			if t.role != "additional" {
				return nil, nil, fmt.Errorf("TraefikService %s/%s has no entry for the %s Service %q in spec.weighted.services (it has: %s); add one, e.g. {name: %s, port: 80}",
					ns, tsName, t.role, t.service, entryNames(services, ns), t.service)
			}
			e := entryOptions(canaryEntry)
			e["name"] = t.service
			e["weight"] = t.weight
			out = append(out, e)
			if !slices.Contains(added, t.service) {
				added = append(added, t.service)
			}
			continue
		}
		m := out[idx[0]].(map[string]any)
		m["weight"] = t.weight
		if t.role == "canary" {
			canaryEntry = m
		}
	}
	// Drop the entries added for destinations that are gone.
	var keep []string
	for _, name := range added {
		wanted := false
		for _, t := range ts {
			wanted = wanted || t.service == name
		}
		if wanted {
			keep = append(keep, name)
			continue
		}
		for _, i := range slices.Backward(indexOf(out, name, ns)) {
			out = slices.Delete(out, i, i+1)
		}
	}
	sort.Strings(keep)
	return out, keep, nil
}

// verify reports whether services carry exactly the weights of ts and none
// of the stale entries the plugin added. A stable or canary entry that is
// missing or listed twice is an error, as in reweigh.
func verify(ro *v1alpha1.Rollout, tsName string, services []any, ts []target, added []string) (bool, error) {
	if _, _, err := reweigh(ro, tsName, services, ts, slices.Clone(added)); err != nil {
		return false, err
	}
	for _, t := range ts {
		idx := indexOf(services, t.service, ro.Namespace)
		if len(idx) != 1 {
			return false, nil
		}
		if w, ok := entryWeight(services[idx[0]]); !ok || w != t.weight {
			return false, nil
		}
	}
	for _, name := range added {
		wanted := false
		for _, t := range ts {
			wanted = wanted || t.service == name
		}
		if !wanted && len(indexOf(services, name, ro.Namespace)) > 0 {
			return false, nil
		}
	}
	return true, nil
}
