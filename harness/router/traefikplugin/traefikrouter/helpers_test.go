package traefikrouter

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

const (
	ns     = "shop"
	roName = "checkout"
	stable = "checkout-stable"
	canary = "checkout-canary"
	wrr    = "checkout-wrr"
	baseIR = "checkout"
	host   = "Host(`shop.example.com`) && PathPrefix(`/`)"
)

func newFake(objs ...runtime.Object) *fake.FakeDynamicClient {
	return fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		TraefikServiceGVR: "TraefikServiceList",
		IngressRouteGVR:   "IngressRouteList",
	}, objs...)
}

// rollout is a canary Rollout routed by the plugin with config cfg and the
// managed routes given.
func rollout(cfg map[string]any, managed ...string) *v1alpha1.Rollout {
	raw, err := json.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: roName, Namespace: ns, UID: "ro-uid-1"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			StableService: stable,
			CanaryService: canary,
			TrafficRouting: &v1alpha1.RolloutTrafficRouting{
				Plugins: map[string]json.RawMessage{PluginName: raw},
			},
		}}},
	}
	for _, m := range managed {
		ro.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes = append(ro.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes, v1alpha1.MangedRoutes{Name: m})
	}
	return ro
}

func defaultRollout() *v1alpha1.Rollout {
	return rollout(map[string]any{"weightedTraefikServiceName": wrr, "ingressRouteName": baseIR}, "cohort", "shadow")
}

func entry(name string, weight int64) map[string]any {
	return map[string]any{"name": name, "port": int64(8080), "nodePortLB": true, "weight": weight}
}

func weightedTS(name string, entries ...map[string]any) *unstructured.Unstructured {
	svcs := make([]any, len(entries))
	for i, e := range entries {
		svcs[i] = e
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "traefik.io/v1alpha1",
		"kind":       "TraefikService",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{"weighted": map[string]any{"services": svcs}},
	}}
}

func defaultTS() *unstructured.Unstructured {
	s := entry(stable, 100)
	s["passHostHeader"] = true
	c := entry(canary, 0)
	c["scheme"] = "http"
	return weightedTS(wrr, s, c)
}

func ingressRoute(name string, routes ...map[string]any) *unstructured.Unstructured {
	rs := make([]any, len(routes))
	for i, r := range routes {
		rs[i] = r
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "traefik.io/v1alpha1",
		"kind":       "IngressRoute",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"entryPoints": []any{"web"},
			"routes":      rs,
		},
	}}
}

func defaultIR() *unstructured.Unstructured {
	return ingressRoute(baseIR,
		map[string]any{"kind": "Rule", "match": "Host(`other.example.com`)", "services": []any{map[string]any{"name": "other", "port": int64(80)}}},
		map[string]any{
			"kind": "Rule", "match": host,
			"middlewares": []any{map[string]any{"name": "strip"}},
			"services":    []any{map[string]any{"name": wrr, "kind": "TraefikService"}},
		})
}

func get(t *testing.T, c *fake.FakeDynamicClient, gvr schema.GroupVersionResource, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := c.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s: %v", gvr.Resource, name, err)
	}
	return obj
}

func absent(t *testing.T, c *fake.FakeDynamicClient, gvr schema.GroupVersionResource, name string) {
	t.Helper()
	_, err := c.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("%s %s should not exist (err %v)", gvr.Resource, name, err)
	}
}

func weights(t *testing.T, c *fake.FakeDynamicClient) map[string]int64 {
	t.Helper()
	svcs, _, _ := unstructured.NestedSlice(get(t, c, TraefikServiceGVR, wrr).Object, "spec", "weighted", "services")
	out := map[string]int64{}
	for _, s := range svcs {
		m := s.(map[string]any)
		w, _ := asInt(m["weight"])
		out[m["name"].(string)] = w
	}
	return out
}

func mustOK(t *testing.T, what string, err interface{ Error() string }) {
	t.Helper()
	if err.Error() != "" {
		t.Fatalf("%s: unexpected error: %s", what, err.Error())
	}
}

func mustFail(t *testing.T, what string, err interface{ Error() string }, wants ...string) {
	t.Helper()
	if err.Error() == "" {
		t.Fatalf("%s: expected an error containing %q", what, wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: error %q does not contain %q", what, err.Error(), w)
		}
	}
}

// crdMissing makes every call on resource answer as an API server without
// that CRD does: a bare 404, turned by client-go into a NotFound error.
func crdMissing(c *fake.FakeDynamicClient, gvr schema.GroupVersionResource) {
	c.PrependReactor("*", gvr.Resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := ""
		if g, ok := a.(k8stesting.GetAction); ok {
			name = g.GetName()
		}
		return true, nil, apierrors.NewGenericServerResponse(404, a.GetVerb(), gvr.GroupResource(), name, "404 page not found", 0, true)
	})
}

func route(t *testing.T, obj *unstructured.Unstructured) map[string]any {
	t.Helper()
	routes, _, _ := unstructured.NestedSlice(obj.Object, "spec", "routes")
	if len(routes) != 1 {
		t.Fatalf("managed IngressRoute %s has %d routes, want 1", obj.GetName(), len(routes))
	}
	return routes[0].(map[string]any)
}

func TestMain(m *testing.M) {
	if os.Getenv("TRAEFIKROUTER_TEST_LOG") == "" {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}
