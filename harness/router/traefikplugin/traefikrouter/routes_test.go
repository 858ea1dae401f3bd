package traefikrouter

import (
	"reflect"
	"strings"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func cohort(value string) *v1alpha1.SetHeaderRoute {
	return &v1alpha1.SetHeaderRoute{Name: "cohort", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "X-Cohort", HeaderValue: &v1alpha1.StringMatch{Exact: value}},
	}}
}

func TestSetHeaderRouteCreatesUpdatesAndRemoves(t *testing.T) {
	c := newFake(defaultTS(), defaultIR())
	p := &RpcPlugin{Client: c}
	ro := defaultRollout()

	mustOK(t, "SetHeaderRoute", p.SetHeaderRoute(ro, cohort("internal")))
	ir := get(t, c, IngressRouteGVR, "checkout-cohort")
	if l := ir.GetLabels(); l[LabelManagedBy] != ManagedBy || l[LabelRollout] != roName {
		t.Fatalf("labels = %v", l)
	}
	if a := ir.GetAnnotations(); a[AnnotationRollout] != roName || a[AnnotationRoute] != "cohort" || a[AnnotationRouteKind] != "header" {
		t.Fatalf("annotations = %v", a)
	}
	if refs := ir.GetOwnerReferences(); len(refs) != 1 || refs[0].Kind != "Rollout" || refs[0].UID != "ro-uid-1" {
		t.Fatalf("ownerReferences = %v", refs)
	}
	r := route(t, ir)
	wantRule := "(" + host + ") && (Header(`X-Cohort`, `internal`))"
	if r["match"] != wantRule {
		t.Fatalf("match = %q, want %q", r["match"], wantRule)
	}
	// Base priority: Traefik's default, the length of the base rule; "cohort"
	// is listed first of two managed routes, so it gets base+1+1.
	if want := int64(len(host) + 2); r["priority"] != want {
		t.Fatalf("priority = %v, want %d", r["priority"], want)
	}
	wantSvc := []any{map[string]any{"name": canary, "port": int64(8080), "nodePortLB": true, "scheme": "http"}}
	if !reflect.DeepEqual(r["services"], wantSvc) {
		t.Fatalf("services = %#v, want %#v", r["services"], wantSvc)
	}
	if !reflect.DeepEqual(r["middlewares"], []any{map[string]any{"name": "strip"}}) {
		t.Fatalf("middlewares = %#v", r["middlewares"])
	}
	if eps, _, _ := unstructured.NestedStringSlice(ir.Object, "spec", "entryPoints"); !reflect.DeepEqual(eps, []string{"web"}) {
		t.Fatalf("entryPoints = %v", eps)
	}

	// Calling again with other values updates the same object.
	hr := &v1alpha1.SetHeaderRoute{Name: "cohort", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "X-Cohort", HeaderValue: &v1alpha1.StringMatch{Prefix: "int.er"}},
		{HeaderName: "X-Beta", HeaderValue: &v1alpha1.StringMatch{Regex: "^(yes|1)$"}},
	}}
	mustOK(t, "SetHeaderRoute update", p.SetHeaderRoute(ro, hr))
	r = route(t, get(t, c, IngressRouteGVR, "checkout-cohort"))
	wantRule = "(" + host + ") && (HeaderRegexp(`X-Cohort`, `^int\\.er`) && HeaderRegexp(`X-Beta`, `^(yes|1)$`))"
	if r["match"] != wantRule {
		t.Fatalf("match = %q, want %q", r["match"], wantRule)
	}
	// Same again: no update.
	before := len(c.Actions())
	mustOK(t, "SetHeaderRoute same", p.SetHeaderRoute(ro, hr))
	for _, a := range c.Actions()[before:] {
		if a.GetVerb() == "update" {
			t.Fatalf("unchanged route updated: %v", a)
		}
	}

	// No match: the route goes; twice is fine.
	mustOK(t, "SetHeaderRoute remove", p.SetHeaderRoute(ro, &v1alpha1.SetHeaderRoute{Name: "cohort"}))
	absent(t, c, IngressRouteGVR, "checkout-cohort")
	mustOK(t, "SetHeaderRoute remove again", p.SetHeaderRoute(ro, &v1alpha1.SetHeaderRoute{Name: "cohort"}))
	get(t, c, IngressRouteGVR, baseIR) // the base route is untouched
}

func TestSetHeaderRouteWithBaseMatchAndPriority(t *testing.T) {
	c := newFake(defaultTS())
	p := &RpcPlugin{Client: c}
	ro := rollout(map[string]any{
		"weightedTraefikServiceName": wrr,
		"baseMatch":                  "Host(`a`) || Host(`b`)",
		"entryPoints":                []string{"websecure"},
		"priority":                   5000,
	}, "shadow", "cohort")
	mustOK(t, "SetHeaderRoute", p.SetHeaderRoute(ro, cohort("x`y")))
	ir := get(t, c, IngressRouteGVR, "checkout-cohort")
	r := route(t, ir)
	if want := "(Host(`a`) || Host(`b`)) && (Header(`X-Cohort`, \"x`y\"))"; r["match"] != want {
		t.Fatalf("match = %q, want %q", r["match"], want)
	}
	if r["priority"] != int64(5000) { // listed last of two
		t.Fatalf("priority = %v, want 5000", r["priority"])
	}
	if _, ok := r["middlewares"]; ok {
		t.Fatal("no base IngressRoute: no middlewares expected")
	}
	if eps, _, _ := unstructured.NestedStringSlice(ir.Object, "spec", "entryPoints"); !reflect.DeepEqual(eps, []string{"websecure"}) {
		t.Fatalf("entryPoints = %v", eps)
	}
}

func TestRoutePriority(t *testing.T) {
	withPrio := defaultIR()
	routes, _, _ := unstructured.NestedSlice(withPrio.Object, "spec", "routes")
	routes[1].(map[string]any)["priority"] = int64(100)
	_ = unstructured.SetNestedSlice(withPrio.Object, routes, "spec", "routes")

	c := newFake(defaultTS(), withPrio)
	p := &RpcPlugin{Client: c}
	mustOK(t, "SetHeaderRoute", p.SetHeaderRoute(defaultRollout(), cohort("a")))
	if r := route(t, get(t, c, IngressRouteGVR, "checkout-cohort")); r["priority"] != int64(102) {
		t.Fatalf("priority = %v, want 102 (base 100, first of two managed routes)", r["priority"])
	}
	ro := rollout(map[string]any{"weightedTraefikServiceName": wrr, "ingressRouteName": baseIR, "priority": 100}, "cohort")
	mustFail(t, "priority not above base", p.SetHeaderRoute(ro, cohort("a")), "priority 100 must be above the base route's priority 100")
}

func TestSetHeaderRouteErrors(t *testing.T) {
	unmanaged := ingressRoute("checkout-cohort", map[string]any{"kind": "Rule", "match": "Host(`x`)"})
	otherRollout := ingressRoute("checkout-cohort", map[string]any{"kind": "Rule", "match": "Host(`x`)"})
	otherRollout.SetLabels(map[string]string{LabelManagedBy: ManagedBy, LabelRollout: "payments"})
	otherRollout.SetAnnotations(map[string]string{AnnotationRollout: "payments"})
	twoRoutes := ingressRoute(baseIR,
		map[string]any{"match": "Host(`a`)", "services": []any{map[string]any{"name": wrr, "kind": "TraefikService"}}},
		map[string]any{"match": "Host(`b`)", "services": []any{map[string]any{"name": wrr, "kind": "TraefikService"}}})
	v2 := ingressRoute(baseIR, map[string]any{"match": "Host(`a`)", "syntax": "v2", "services": []any{map[string]any{"name": wrr, "kind": "TraefikService"}}})

	cases := []struct {
		name  string
		objs  []runtime.Object
		ro    *v1alpha1.Rollout
		hr    *v1alpha1.SetHeaderRoute
		wants []string
	}{
		{"unmanaged object in the way", []runtime.Object{defaultTS(), defaultIR(), unmanaged}, defaultRollout(), cohort("a"),
			[]string{"conflict: IngressRoute shop/checkout-cohort already exists", "not managed by the blastradius/traefik plugin", "never overwrites"}},
		{"another rollout's object", []runtime.Object{defaultTS(), defaultIR(), otherRollout}, defaultRollout(), cohort("a"),
			[]string{"conflict", `for another rollout ("payments")`}},
		{"canary missing", []runtime.Object{weightedTS(wrr, entry(stable, 100)), defaultIR()}, defaultRollout(), cohort("a"),
			[]string{`no entry for the canary Service "checkout-canary"`}},
		{"no base", []runtime.Object{defaultTS()}, rollout(map[string]any{"weightedTraefikServiceName": wrr}), cohort("a"),
			[]string{"sets neither ingressRouteName nor baseMatch"}},
		{"base IngressRoute missing", []runtime.Object{defaultTS()}, defaultRollout(), cohort("a"),
			[]string{"IngressRoute shop/checkout (ingressRouteName) not found"}},
		{"base IngressRoute without the route", []runtime.Object{defaultTS(), ingressRoute(baseIR, map[string]any{"match": "Host(`a`)"})}, defaultRollout(), cohort("a"),
			[]string{`has no route sending to TraefikService "checkout-wrr"`}},
		{"base IngressRoute with two routes", []runtime.Object{defaultTS(), twoRoutes}, defaultRollout(), cohort("a"),
			[]string{"has 2 routes sending"}},
		{"v2 syntax", []runtime.Object{defaultTS(), v2}, defaultRollout(), cohort("a"),
			[]string{`rule syntax "v2"`, "set baseMatch"}},
		{"no header value", []runtime.Object{defaultTS(), defaultIR()}, defaultRollout(),
			&v1alpha1.SetHeaderRoute{Name: "cohort", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Cohort"}}},
			[]string{`match[0]: header "X-Cohort": no value to match`}},
		{"bad regex", []runtime.Object{defaultTS(), defaultIR()}, defaultRollout(),
			&v1alpha1.SetHeaderRoute{Name: "cohort", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Cohort", HeaderValue: &v1alpha1.StringMatch{Regex: "("}}}},
			[]string{"does not compile"}},
		{"bad route name", []runtime.Object{defaultTS(), defaultIR()}, defaultRollout(),
			&v1alpha1.SetHeaderRoute{Name: "Cohort_1", Match: cohort("a").Match},
			[]string{`"checkout-Cohort_1"`, "not a valid object name"}},
		{"no name", []runtime.Object{defaultTS(), defaultIR()}, defaultRollout(), &v1alpha1.SetHeaderRoute{}, []string{"no name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newFake(tc.objs...)
			p := &RpcPlugin{Client: c}
			mustFail(t, "SetHeaderRoute", p.SetHeaderRoute(tc.ro, tc.hr), tc.wants...)
			if strings.Contains(tc.name, "object") {
				ir := get(t, c, IngressRouteGVR, "checkout-cohort")
				if r := route(t, ir); r["match"] != "Host(`x`)" {
					t.Fatalf("the conflicting object was changed: %v", ir.Object)
				}
				// Removing leaves it alone too.
				mustOK(t, "remove", p.SetHeaderRoute(tc.ro, &v1alpha1.SetHeaderRoute{Name: "cohort"}))
				mustOK(t, "RemoveManagedRoutes", p.RemoveManagedRoutes(tc.ro))
				get(t, c, IngressRouteGVR, "checkout-cohort")
			}
		})
	}
}

func TestRoutesCRDMissing(t *testing.T) {
	c := newFake(defaultTS(), defaultIR())
	crdMissing(c, IngressRouteGVR)
	p := &RpcPlugin{Client: c}
	mustFail(t, "SetHeaderRoute", p.SetHeaderRoute(defaultRollout(), cohort("a")),
		"the Traefik CRD ingressroutes.traefik.io (traefik.io/v1alpha1 IngressRoute) is not installed", "kubectl apply")
	// Nothing can exist without the CRD: removing is no error.
	mustOK(t, "RemoveManagedRoutes", p.RemoveManagedRoutes(defaultRollout()))
	mustOK(t, "SetHeaderRoute remove", p.SetHeaderRoute(defaultRollout(), &v1alpha1.SetHeaderRoute{Name: "cohort"}))

	c = newFake(defaultIR())
	crdMissing(c, TraefikServiceGVR)
	p = &RpcPlugin{Client: c}
	mustFail(t, "SetMirrorRoute", p.SetMirrorRoute(defaultRollout(), shadow(nil)), "the Traefik CRD traefikservices.traefik.io")
}

func shadow(pct *int32, matches ...v1alpha1.RouteMatch) *v1alpha1.SetMirrorRoute {
	if len(matches) == 0 {
		matches = []v1alpha1.RouteMatch{{
			Method: &v1alpha1.StringMatch{Exact: "get"},
			Path:   &v1alpha1.StringMatch{Prefix: "/api"},
		}}
	}
	return &v1alpha1.SetMirrorRoute{Name: "shadow", Match: matches, Percentage: pct}
}

func TestSetMirrorRoute(t *testing.T) {
	c := newFake(defaultTS(), defaultIR())
	p := &RpcPlugin{Client: c}
	ro := rollout(map[string]any{"weightedTraefikServiceName": wrr, "ingressRouteName": baseIR, "mirrorBody": false, "mirrorMaxBodySize": 4096}, "cohort", "shadow")

	mustOK(t, "SetMirrorRoute", p.SetMirrorRoute(ro, shadow(ptr(int32(25)))))
	ts := get(t, c, TraefikServiceGVR, "checkout-shadow-mirror")
	if ts.GetLabels()[LabelManagedBy] != ManagedBy || ts.GetAnnotations()[AnnotationRouteKind] != "mirror" {
		t.Fatalf("metadata = %v %v", ts.GetLabels(), ts.GetAnnotations())
	}
	wantSpec := map[string]any{"mirroring": map[string]any{
		"name": wrr, "kind": "TraefikService",
		"mirrors": []any{map[string]any{
			"name": canary, "port": int64(8080), "nodePortLB": true, "scheme": "http", "percent": int64(25),
		}},
		"mirrorBody":  false,
		"maxBodySize": int64(4096),
	}}
	if !reflect.DeepEqual(ts.Object["spec"], wantSpec) {
		t.Fatalf("mirror spec = %#v\nwant %#v", ts.Object["spec"], wantSpec)
	}
	r := route(t, get(t, c, IngressRouteGVR, "checkout-shadow"))
	if want := "(" + host + ") && (Method(`GET`) && PathPrefix(`/api`))"; r["match"] != want {
		t.Fatalf("match = %q, want %q", r["match"], want)
	}
	if !reflect.DeepEqual(r["services"], []any{map[string]any{"name": "checkout-shadow-mirror", "kind": "TraefikService"}}) {
		t.Fatalf("services = %#v", r["services"])
	}
	if r["priority"] != int64(len(host)+1) { // second of two managed routes
		t.Fatalf("priority = %v", r["priority"])
	}

	// Several matches are ORed; percentage defaults to 100.
	mr := shadow(nil,
		v1alpha1.RouteMatch{Path: &v1alpha1.StringMatch{Exact: "/health"}},
		v1alpha1.RouteMatch{
			Method:  &v1alpha1.StringMatch{Prefix: "P"},
			Path:    &v1alpha1.StringMatch{Regex: "^/v[0-9]+/"},
			Headers: map[string]v1alpha1.StringMatch{"X-B": {Exact: "1"}, "X-A": {Prefix: "z"}},
		})
	mustOK(t, "SetMirrorRoute update", p.SetMirrorRoute(ro, mr))
	r = route(t, get(t, c, IngressRouteGVR, "checkout-shadow"))
	want := "(" + host + ") && ((Path(`/health`)) || ((Method(`PATCH`) || Method(`POST`) || Method(`PUT`)) && PathRegexp(`^/v[0-9]+/`) && HeaderRegexp(`X-A`, `^z`) && Header(`X-B`, `1`)))"
	if r["match"] != want {
		t.Fatalf("match = %q\nwant %q", r["match"], want)
	}
	mirrors, _, _ := unstructured.NestedSlice(get(t, c, TraefikServiceGVR, "checkout-shadow-mirror").Object, "spec", "mirroring", "mirrors")
	if mirrors[0].(map[string]any)["percent"] != int64(100) {
		t.Fatalf("default percent: %v", mirrors)
	}

	// An empty RouteMatch mirrors everything of the base route.
	mustOK(t, "SetMirrorRoute all", p.SetMirrorRoute(ro, shadow(nil, v1alpha1.RouteMatch{})))
	if r := route(t, get(t, c, IngressRouteGVR, "checkout-shadow")); r["match"] != host {
		t.Fatalf("match = %q", r["match"])
	}

	// No match: both go.
	mustOK(t, "SetMirrorRoute remove", p.SetMirrorRoute(ro, &v1alpha1.SetMirrorRoute{Name: "shadow"}))
	absent(t, c, IngressRouteGVR, "checkout-shadow")
	absent(t, c, TraefikServiceGVR, "checkout-shadow-mirror")
	if w := weights(t, c); w[stable] != 100 {
		t.Fatal("the weighted TraefikService must stay")
	}
}

func TestSetMirrorRouteErrors(t *testing.T) {
	unmanaged := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService",
		"metadata": map[string]any{"name": "checkout-shadow-mirror", "namespace": ns},
		"spec":     map[string]any{"weighted": map[string]any{"services": []any{}}},
	}}
	cases := []struct {
		name  string
		objs  []runtime.Object
		mr    *v1alpha1.SetMirrorRoute
		wants []string
	}{
		{"percentage", []runtime.Object{defaultTS(), defaultIR()}, shadow(ptr(int32(101))), []string{"percentage 101 is outside 0..100"}},
		{"method matching nothing", []runtime.Object{defaultTS(), defaultIR()},
			shadow(nil, v1alpha1.RouteMatch{Method: &v1alpha1.StringMatch{Regex: "^X"}}), []string{"matches none of the standard methods"}},
		{"relative path", []runtime.Object{defaultTS(), defaultIR()},
			shadow(nil, v1alpha1.RouteMatch{Path: &v1alpha1.StringMatch{Prefix: "api"}}), []string{"must start with /"}},
		{"two values", []runtime.Object{defaultTS(), defaultIR()},
			shadow(nil, v1alpha1.RouteMatch{Path: &v1alpha1.StringMatch{Prefix: "/a", Exact: "/a"}}), []string{"set only one of exact, prefix, regex"}},
		{"bad header name", []runtime.Object{defaultTS(), defaultIR()},
			shadow(nil, v1alpha1.RouteMatch{Headers: map[string]v1alpha1.StringMatch{"X A": {Exact: "1"}}}), []string{"not a valid HTTP header name"}},
		{"canary missing", []runtime.Object{weightedTS(wrr, entry(stable, 100)), defaultIR()}, shadow(nil), []string{"no entry for the canary Service"}},
		{"unmanaged mirror service in the way", []runtime.Object{defaultTS(), defaultIR(), unmanaged}, shadow(nil),
			[]string{"conflict: TraefikService shop/checkout-shadow-mirror already exists"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newFake(tc.objs...)
			p := &RpcPlugin{Client: c}
			mustFail(t, "SetMirrorRoute", p.SetMirrorRoute(defaultRollout(), tc.mr), tc.wants...)
			absent(t, c, IngressRouteGVR, "checkout-shadow") // nothing half-made
		})
	}
}

func TestRemoveManagedRoutes(t *testing.T) {
	unmanaged := ingressRoute("checkout-legacy", map[string]any{"match": "Host(`x`)"})
	unmanaged.SetLabels(map[string]string{LabelRollout: roName}) // not managed-by the plugin
	c := newFake(defaultTS(), defaultIR(), unmanaged)
	p := &RpcPlugin{Client: c}
	ro := defaultRollout()
	other := defaultRollout()
	other.Name = "payments"
	other.UID = "ro-uid-2"

	mustOK(t, "SetHeaderRoute", p.SetHeaderRoute(ro, cohort("a")))
	mustOK(t, "SetMirrorRoute", p.SetMirrorRoute(ro, shadow(nil)))
	mustOK(t, "other rollout", p.SetHeaderRoute(other, cohort("b")))
	get(t, c, IngressRouteGVR, "payments-cohort")

	mustOK(t, "RemoveManagedRoutes", p.RemoveManagedRoutes(ro))
	absent(t, c, IngressRouteGVR, "checkout-cohort")
	absent(t, c, IngressRouteGVR, "checkout-shadow")
	absent(t, c, TraefikServiceGVR, "checkout-shadow-mirror")
	get(t, c, IngressRouteGVR, "payments-cohort")
	get(t, c, IngressRouteGVR, "checkout-legacy")
	get(t, c, IngressRouteGVR, baseIR)
	get(t, c, TraefikServiceGVR, wrr)

	mustOK(t, "RemoveManagedRoutes again", p.RemoveManagedRoutes(ro))
}

func TestLongRolloutName(t *testing.T) {
	long := strings.Repeat("a", 70)
	v := rolloutLabelValue(long)
	if len(v) > 63 || !strings.HasPrefix(v, strings.Repeat("a", 52)+"-") {
		t.Fatalf("label value %q", v)
	}
	if rolloutLabelValue(long) != v || rolloutLabelValue(long+"b") == v {
		t.Fatal("the label value must be stable and distinct")
	}
	c := newFake(defaultTS(), defaultIR())
	p := &RpcPlugin{Client: c}
	ro := defaultRollout()
	ro.Name = long
	mustOK(t, "SetHeaderRoute", p.SetHeaderRoute(ro, cohort("a")))
	get(t, c, IngressRouteGVR, long+"-cohort")
	mustOK(t, "RemoveManagedRoutes", p.RemoveManagedRoutes(ro))
	absent(t, c, IngressRouteGVR, long+"-cohort")
}
