package traefikrouter

import (
	"reflect"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func TestTypeAndUpdateHash(t *testing.T) {
	p := &RpcPlugin{Client: newFake()}
	if p.Type() != "blastradius/traefik" {
		t.Fatalf("Type() = %q", p.Type())
	}
	mustOK(t, "UpdateHash", p.UpdateHash(defaultRollout(), "c", "s", nil))
	mustOK(t, "InitPlugin with a client", p.InitPlugin())
}

func TestSetWeightKeepsOtherFields(t *testing.T) {
	other := map[string]any{"name": "legacy", "kind": "TraefikService", "weight": int64(5)}
	ts := defaultTS()
	svcs, _, _ := unstructured.NestedSlice(ts.Object, "spec", "weighted", "services")
	_ = unstructured.SetNestedSlice(ts.Object, append(svcs, other), "spec", "weighted", "services")
	_ = unstructured.SetNestedField(ts.Object, map[string]any{"cookie": map[string]any{"name": "lb"}}, "spec", "weighted", "sticky")
	c := newFake(ts)
	p := &RpcPlugin{Client: c}
	ro := defaultRollout()

	mustOK(t, "SetWeight", p.SetWeight(ro, 30, nil))
	if got, want := weights(t, c), map[string]int64{stable: 70, canary: 30, "legacy": 5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("weights = %v, want %v", got, want)
	}
	obj := get(t, c, TraefikServiceGVR, wrr)
	got, _, _ := unstructured.NestedSlice(obj.Object, "spec", "weighted", "services")
	want := []any{
		map[string]any{"name": stable, "port": int64(8080), "nodePortLB": true, "passHostHeader": true, "weight": int64(70)},
		map[string]any{"name": canary, "port": int64(8080), "nodePortLB": true, "scheme": "http", "weight": int64(30)},
		other,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("services = %#v\nwant %#v", got, want)
	}
	if s, _, _ := unstructured.NestedString(obj.Object, "spec", "weighted", "sticky", "cookie", "name"); s != "lb" {
		t.Fatalf("sticky lost: %v", obj.Object["spec"])
	}

	v, err := p.VerifyWeight(ro, 30, nil)
	mustOK(t, "VerifyWeight", err)
	if v != types.Verified {
		t.Fatalf("VerifyWeight(30) = %v, want Verified", v)
	}
	v, err = p.VerifyWeight(ro, 40, nil)
	mustOK(t, "VerifyWeight", err)
	if v != types.NotVerified {
		t.Fatalf("VerifyWeight(40) = %v, want NotVerified", v)
	}

	// Full promotion and back.
	mustOK(t, "SetWeight 100", p.SetWeight(ro, 100, nil))
	if w := weights(t, c); w[stable] != 0 || w[canary] != 100 {
		t.Fatalf("weights = %v", w)
	}
	mustOK(t, "SetWeight 0", p.SetWeight(ro, 0, nil))
	if w := weights(t, c); w[stable] != 100 || w[canary] != 0 {
		t.Fatalf("weights = %v", w)
	}
}

func TestSetWeightSkipsNoOpUpdate(t *testing.T) {
	c := newFake(defaultTS())
	p := &RpcPlugin{Client: c}
	mustOK(t, "SetWeight", p.SetWeight(defaultRollout(), 0, nil))
	for _, a := range c.Actions() {
		if a.GetVerb() == "update" {
			t.Fatalf("weights already right: expected no update, got %v", a)
		}
	}
}

func TestVerifyWeightMissingWeightCountsAsOne(t *testing.T) {
	s := entry(stable, 0)
	delete(s, "weight")
	c := newFake(weightedTS(wrr, s, entry(canary, 99)))
	p := &RpcPlugin{Client: c}
	ro := defaultRollout()
	ro.Spec.Strategy.Canary.TrafficRouting.MaxTrafficWeight = ptr(int32(100))
	v, err := p.VerifyWeight(ro, 99, nil)
	mustOK(t, "VerifyWeight", err)
	if v != types.Verified {
		t.Fatalf("Traefik treats a missing weight as 1: want Verified, got %v", v)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSetWeightMaxTrafficWeight(t *testing.T) {
	c := newFake(defaultTS())
	p := &RpcPlugin{Client: c}
	ro := defaultRollout()
	ro.Spec.Strategy.Canary.TrafficRouting.MaxTrafficWeight = ptr(int32(1000))
	mustOK(t, "SetWeight", p.SetWeight(ro, 5, nil))
	if w := weights(t, c); w[stable] != 995 || w[canary] != 5 {
		t.Fatalf("weights = %v", w)
	}
	mustFail(t, "weight above max", p.SetWeight(ro, 1001, nil), "outside 0..1000")
}

func TestSetWeightAdditionalDestinations(t *testing.T) {
	preListed := map[string]any{"name": "exp-listed", "port": int64(9090), "weight": int64(0)}
	ts := defaultTS()
	svcs, _, _ := unstructured.NestedSlice(ts.Object, "spec", "weighted", "services")
	_ = unstructured.SetNestedSlice(ts.Object, append(svcs, preListed), "spec", "weighted", "services")
	c := newFake(ts)
	p := &RpcPlugin{Client: c}
	ro := defaultRollout()
	add := []v1alpha1.WeightDestination{{ServiceName: "exp-a", Weight: 10}, {ServiceName: "exp-listed", Weight: 5}}

	mustOK(t, "SetWeight", p.SetWeight(ro, 20, add))
	if got, want := weights(t, c), map[string]int64{stable: 65, canary: 20, "exp-a": 10, "exp-listed": 5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("weights = %v, want %v", got, want)
	}
	obj := get(t, c, TraefikServiceGVR, wrr)
	if a := obj.GetAnnotations()[AnnotationAddedServices]; a != "exp-a" {
		t.Fatalf("added-services annotation = %q, want exp-a", a)
	}
	svcs, _, _ = unstructured.NestedSlice(obj.Object, "spec", "weighted", "services")
	added := svcs[len(svcs)-1].(map[string]any)
	if added["name"] != "exp-a" || added["port"] != int64(8080) || added["scheme"] != "http" || added["nodePortLB"] != true {
		t.Fatalf("the added entry should copy the canary's options: %v", added)
	}
	v, err := p.VerifyWeight(ro, 20, add)
	mustOK(t, "VerifyWeight", err)
	if v != types.Verified {
		t.Fatal("want Verified")
	}

	// The experiment ends: its added entry goes, the user's entry stays.
	v, _ = p.VerifyWeight(ro, 20, nil)
	if v != types.NotVerified {
		t.Fatal("a stale added entry must not verify")
	}
	mustOK(t, "SetWeight without destinations", p.SetWeight(ro, 20, nil))
	if got, want := weights(t, c), map[string]int64{stable: 80, canary: 20, "exp-listed": 5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("weights = %v, want %v", got, want)
	}
	if _, ok := get(t, c, TraefikServiceGVR, wrr).GetAnnotations()[AnnotationAddedServices]; ok {
		t.Fatal("the added-services annotation should be gone")
	}
	mustFail(t, "too much weight", p.SetWeight(ro, 90, []v1alpha1.WeightDestination{{ServiceName: "exp-a", Weight: 20}}), "exceed 100")
}

func TestSetWeightErrors(t *testing.T) {
	cases := []struct {
		name  string
		objs  []runtime.Object
		ro    func() *v1alpha1.Rollout
		wants []string
	}{
		{"no TraefikService", nil, defaultRollout, []string{"TraefikService shop/checkout-wrr (weightedTraefikServiceName) not found"}},
		{"canary missing", []runtime.Object{weightedTS(wrr, entry(stable, 100), entry("other", 0))}, defaultRollout,
			[]string{`no entry for the canary Service "checkout-canary"`, "it has: checkout-stable, other"}},
		{"stable missing", []runtime.Object{weightedTS(wrr, entry(canary, 0))}, defaultRollout,
			[]string{`no entry for the stable Service "checkout-stable"`}},
		{"stable listed twice", []runtime.Object{weightedTS(wrr, entry(stable, 50), entry(stable, 50), entry(canary, 0))}, defaultRollout,
			[]string{"lists the stable Service", "2 times"}},
		{"canary of another kind", []runtime.Object{weightedTS(wrr, entry(stable, 100), map[string]any{"name": canary, "kind": "TraefikService"})}, defaultRollout,
			[]string{"no entry for the canary Service", "checkout-canary (kind TraefikService)"}},
		{"not weighted", []runtime.Object{&unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService",
			"metadata": map[string]any{"name": wrr, "namespace": ns},
			"spec":     map[string]any{"mirroring": map[string]any{"name": stable}},
		}}}, defaultRollout, []string{"is not a weighted TraefikService"}},
		{"no canary service in rollout", []runtime.Object{defaultTS()}, func() *v1alpha1.Rollout {
			ro := defaultRollout()
			ro.Spec.Strategy.Canary.CanaryService = ""
			return ro
		}, []string{"must set both spec.strategy.canary.stableService and canaryService"}},
		{"bad config", []runtime.Object{defaultTS()}, func() *v1alpha1.Rollout {
			return rollout(map[string]any{"weightedTraefikService": wrr})
		}, []string{`unknown field "weightedTraefikService"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &RpcPlugin{Client: newFake(tc.objs...)}
			mustFail(t, "SetWeight", p.SetWeight(tc.ro(), 10, nil), tc.wants...)
			v, err := p.VerifyWeight(tc.ro(), 10, nil)
			mustFail(t, "VerifyWeight", err)
			if v != types.NotVerified {
				t.Fatalf("VerifyWeight on error = %v", v)
			}
		})
	}
}

func TestSetWeightCRDMissing(t *testing.T) {
	c := newFake()
	crdMissing(c, TraefikServiceGVR)
	p := &RpcPlugin{Client: c}
	wants := []string{"the Traefik CRD traefikservices.traefik.io", "is not installed", "kubernetes-crd-definition-v1.yml"}
	mustFail(t, "SetWeight", p.SetWeight(defaultRollout(), 10, nil), wants...)
	_, err := p.VerifyWeight(defaultRollout(), 10, nil)
	mustFail(t, "VerifyWeight", err, wants...)
}

func TestSetWeightForbiddenAndConflictRetry(t *testing.T) {
	c := newFake(defaultTS())
	c.PrependReactor("update", "traefikservices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(TraefikServiceGVR.GroupResource(), wrr, nil)
	})
	p := &RpcPlugin{Client: c}
	mustFail(t, "SetWeight", p.SetWeight(defaultRollout(), 10, nil), "forbidden", "needs get, list, create, update and delete on traefikservices.traefik.io")

	// A conflicting writer: the first update conflicts, the retry succeeds.
	c = newFake(defaultTS())
	conflicts := 0
	c.PrependReactor("update", "traefikservices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(TraefikServiceGVR.GroupResource(), wrr, nil)
		}
		return false, nil, nil
	})
	p = &RpcPlugin{Client: c}
	mustOK(t, "SetWeight after a conflict", p.SetWeight(defaultRollout(), 10, nil))
	if w := weights(t, c); w[canary] != 10 || conflicts != 1 {
		t.Fatalf("weights = %v after %d conflicts", w, conflicts)
	}
}

func TestNoClient(t *testing.T) {
	p := &RpcPlugin{}
	mustFail(t, "SetWeight", p.SetWeight(defaultRollout(), 10, nil), "InitPlugin was not called or failed")
	mustFail(t, "RemoveManagedRoutes", p.RemoveManagedRoutes(defaultRollout()), "InitPlugin")
}
