// Package traefikrouter is an Argo Rollouts traffic-router plugin for
// Traefik v3 (CRDs of API group traefik.io/v1alpha1).
//
//   - setWeight edits the weights of the stable and canary Services in a
//     weighted TraefikService (as Argo's built-in Traefik support does), and
//     of additional destinations (experiment Services);
//   - setHeaderRoute creates an IngressRoute `<rollout>-<route>` whose route
//     matches the base rule AND the headers, above the base route's
//     priority, and sends to the canary Service;
//   - setMirrorRoute creates a mirroring TraefikService
//     `<rollout>-<route>-mirror` (main service: the weighted TraefikService;
//     mirror: the canary Service) and an IngressRoute `<rollout>-<route>`
//     sending the matching requests to it;
//   - RemoveManagedRoutes deletes all of them.
//
// RpcPlugin implements Argo's rpc.TrafficRouterPlugin; cmd/rollouts-plugin-traefik
// serves it over hashicorp/go-plugin.
package traefikrouter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// PluginName is the plugin's name: the key of its configuration in a
// Rollout's spec.strategy.canary.trafficRouting.plugins and the name of its
// trafficRouterPlugins entry in the argo-rollouts-config ConfigMap.
const PluginName = "blastradius/traefik"

// callTimeout bounds the API calls of one plugin call.
const callTimeout = 30 * time.Second

// RpcPlugin is the traffic router. Client is the dynamic client to use;
// InitPlugin builds one when it is nil.
type RpcPlugin struct {
	Client dynamic.Interface
	Log    *slog.Logger
}

func (p *RpcPlugin) logger() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

func rpcErr(err error) types.RpcError {
	if err == nil {
		return types.RpcError{}
	}
	return types.RpcError{ErrorString: err.Error()}
}

func (p *RpcPlugin) ready() error {
	if p.Client == nil {
		return errors.New("the plugin has no Kubernetes client: InitPlugin was not called or failed")
	}
	return nil
}

// InitPlugin builds the dynamic client (in-cluster, else KUBECONFIG, else
// ~/.kube/config). It does not contact the cluster, so the controller starts
// even before Traefik is installed; missing CRDs are reported per call.
func (p *RpcPlugin) InitPlugin() types.RpcError {
	if p.Client != nil {
		return types.RpcError{}
	}
	c, err := NewDynamicClient()
	if err != nil {
		return rpcErr(fmt.Errorf("%s: %w", PluginName, err))
	}
	p.Client = c
	return types.RpcError{}
}

// Type returns PluginName.
func (p *RpcPlugin) Type() string { return PluginName }

// UpdateHash has nothing to do: the plugin routes by Service, and Argo
// points the stable and canary Services at the right pods.
func (p *RpcPlugin) UpdateHash(*v1alpha1.Rollout, string, string, []v1alpha1.WeightDestination) types.RpcError {
	return types.RpcError{}
}

// SetWeight sets the weights of the weighted TraefikService's entries:
// canary = desiredWeight, stable = maxTrafficWeight (100) - desiredWeight -
// the additional destinations' weights, each additional destination its
// own weight. Every other field of the entries is kept.
func (p *RpcPlugin) SetWeight(ro *v1alpha1.Rollout, desiredWeight int32, additional []v1alpha1.WeightDestination) types.RpcError {
	return rpcErr(p.setWeight(ro, desiredWeight, additional))
}

func (p *RpcPlugin) setWeight(ro *v1alpha1.Rollout, desiredWeight int32, additional []v1alpha1.WeightDestination) error {
	if err := p.ready(); err != nil {
		return err
	}
	cfg, err := configFrom(ro)
	if err != nil {
		return err
	}
	ts, err := targets(ro, desiredWeight, additional)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, services, err := p.weighted(ctx, ro, cfg)
		if err != nil {
			return err
		}
		before := addedServices(obj)
		out, added, err := reweigh(ro, obj.GetName(), services, ts, slices.Clone(before))
		if err != nil {
			return err
		}
		sortedBefore := slices.Sorted(slices.Values(before))
		if slices.Equal(sortedBefore, added) && runtimeEqual(services, out) {
			return nil
		}
		updated := obj.DeepCopy()
		if err := unstructured.SetNestedSlice(updated.Object, out, "spec", "weighted", "services"); err != nil {
			return err
		}
		annotations := updated.GetAnnotations()
		if len(added) > 0 {
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[AnnotationAddedServices] = strings.Join(added, ",")
		} else {
			delete(annotations, AnnotationAddedServices)
		}
		updated.SetAnnotations(annotations)
		_, err = p.Client.Resource(TraefikServiceGVR).Namespace(ro.Namespace).Update(ctx, updated, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			return err // retried on a fresh copy
		}
		if err != nil {
			return describe(err, "update", TraefikServiceGVR, ro.Namespace, obj.GetName())
		}
		p.logger().Info("set weights", "namespace", ro.Namespace, "traefikService", obj.GetName(), "rollout", ro.Name, "canaryWeight", desiredWeight, "additional", len(additional))
		return nil
	})
}

func runtimeEqual(a, b []any) bool {
	return equalJSON(runtime.DeepCopyJSONValue(a), runtime.DeepCopyJSONValue(b))
}

// VerifyWeight reads the weighted TraefikService back: Verified only when
// every weight is exactly what SetWeight sets.
func (p *RpcPlugin) VerifyWeight(ro *v1alpha1.Rollout, desiredWeight int32, additional []v1alpha1.WeightDestination) (types.RpcVerified, types.RpcError) {
	ok, err := p.verifyWeight(ro, desiredWeight, additional)
	if err != nil {
		return types.NotVerified, rpcErr(err)
	}
	if ok {
		return types.Verified, types.RpcError{}
	}
	return types.NotVerified, types.RpcError{}
}

func (p *RpcPlugin) verifyWeight(ro *v1alpha1.Rollout, desiredWeight int32, additional []v1alpha1.WeightDestination) (bool, error) {
	if err := p.ready(); err != nil {
		return false, err
	}
	cfg, err := configFrom(ro)
	if err != nil {
		return false, err
	}
	ts, err := targets(ro, desiredWeight, additional)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	obj, services, err := p.weighted(ctx, ro, cfg)
	if err != nil {
		return false, err
	}
	return verify(ro, obj.GetName(), services, ts, addedServices(obj))
}

// SetHeaderRoute creates or updates the IngressRoute `<rollout>-<name>`
// sending the requests that match the base rule AND every header match to
// the canary Service, at a priority above the base route's; without match
// it removes that IngressRoute.
func (p *RpcPlugin) SetHeaderRoute(ro *v1alpha1.Rollout, hr *v1alpha1.SetHeaderRoute) types.RpcError {
	return rpcErr(p.setHeaderRoute(ro, hr))
}

func (p *RpcPlugin) setHeaderRoute(ro *v1alpha1.Rollout, hr *v1alpha1.SetHeaderRoute) error {
	if err := p.ready(); err != nil {
		return err
	}
	if hr == nil || hr.Name == "" {
		return errors.New("setHeaderRoute has no name")
	}
	cfg, err := configFrom(ro)
	if err != nil {
		return err
	}
	irName, err := managedName(ro.Name, hr.Name)
	if err != nil {
		return fmt.Errorf("setHeaderRoute %q: %w", hr.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if len(hr.Match) == 0 {
		return p.remove(ctx, IngressRouteGVR, ro, irName)
	}
	cond, err := HeaderRouteCondition(hr.Match)
	if err != nil {
		return fmt.Errorf("setHeaderRoute %q: %w", hr.Name, err)
	}
	canary, err := p.canaryEntry(ctx, ro, cfg)
	if err != nil {
		return err
	}
	b, err := p.base(ctx, ro, cfg)
	if err != nil {
		return fmt.Errorf("setHeaderRoute %q: %w", hr.Name, err)
	}
	prio, err := routePriority(ro, cfg, b, hr.Name)
	if err != nil {
		return fmt.Errorf("setHeaderRoute %q: %w", hr.Name, err)
	}
	ir := b.ingressRoute(ro, irName, hr.Name, "header", combine(b.rule, cond), prio, entryOptions(canary))
	return p.apply(ctx, IngressRouteGVR, ro, ir)
}

// SetMirrorRoute creates or updates a mirroring TraefikService
// `<rollout>-<name>-mirror` and the IngressRoute `<rollout>-<name>` that
// sends the requests matching the base rule AND any of the matches to it;
// without match it removes both.
//
// The mirroring TraefikService's main service is the weighted TraefikService,
// so a mirrored request is answered exactly as it would be without the
// mirror (stable or canary per the current weights); Traefik sends a copy of
// `percentage`% of those requests to the canary Service and discards the
// copies' responses. Users therefore only ever get the main service's
// answer; the canary's answers to mirrored traffic are only seen in its own
// metrics and logs. (A mirrored request still runs on the canary: keep
// mirrored routes to requests without side effects, or make the canary
// tolerate duplicates.)
func (p *RpcPlugin) SetMirrorRoute(ro *v1alpha1.Rollout, mr *v1alpha1.SetMirrorRoute) types.RpcError {
	return rpcErr(p.setMirrorRoute(ro, mr))
}

func (p *RpcPlugin) setMirrorRoute(ro *v1alpha1.Rollout, mr *v1alpha1.SetMirrorRoute) error {
	if err := p.ready(); err != nil {
		return err
	}
	if mr == nil || mr.Name == "" {
		return errors.New("setMirrorRoute has no name")
	}
	cfg, err := configFrom(ro)
	if err != nil {
		return err
	}
	irName, err := managedName(ro.Name, mr.Name)
	if err != nil {
		return fmt.Errorf("setMirrorRoute %q: %w", mr.Name, err)
	}
	tsName, err := managedName(ro.Name, mr.Name, "mirror")
	if err != nil {
		return fmt.Errorf("setMirrorRoute %q: %w", mr.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if len(mr.Match) == 0 {
		// The route first, so that nothing is left pointing at a missing service.
		if err := p.remove(ctx, IngressRouteGVR, ro, irName); err != nil {
			return err
		}
		return p.remove(ctx, TraefikServiceGVR, ro, tsName)
	}
	percent := int64(100)
	if mr.Percentage != nil {
		percent = int64(*mr.Percentage)
	}
	if percent < 0 || percent > 100 {
		return fmt.Errorf("setMirrorRoute %q: percentage %d is outside 0..100", mr.Name, percent)
	}
	cond, err := MirrorRouteCondition(mr.Match)
	if err != nil {
		return fmt.Errorf("setMirrorRoute %q: %w", mr.Name, err)
	}
	canary, err := p.canaryEntry(ctx, ro, cfg)
	if err != nil {
		return err
	}
	b, err := p.base(ctx, ro, cfg)
	if err != nil {
		return fmt.Errorf("setMirrorRoute %q: %w", mr.Name, err)
	}
	prio, err := routePriority(ro, cfg, b, mr.Name)
	if err != nil {
		return fmt.Errorf("setMirrorRoute %q: %w", mr.Name, err)
	}

	mirror := entryOptions(canary)
	mirror["percent"] = percent
	mirroring := map[string]any{
		// The main service: its answer is the one the user gets.
		"name":    cfg.WeightedTraefikServiceName,
		"kind":    "TraefikService",
		"mirrors": []any{mirror}, // answers discarded by Traefik
	}
	if cfg.MirrorBody != nil {
		mirroring["mirrorBody"] = *cfg.MirrorBody
	}
	if cfg.MirrorMaxBodySize != nil {
		mirroring["maxBodySize"] = *cfg.MirrorMaxBodySize
	}
	ts := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": TraefikServiceGVR.GroupVersion().String(),
		"kind":       "TraefikService",
		"metadata":   managedMeta(ro, tsName, mr.Name, "mirror"),
		"spec":       map[string]any{"mirroring": mirroring},
	}}
	// The service first, so that the route never points at a missing one.
	if err := p.apply(ctx, TraefikServiceGVR, ro, ts); err != nil {
		return err
	}
	ir := b.ingressRoute(ro, irName, mr.Name, "mirror", combine(b.rule, cond), prio,
		map[string]any{"name": tsName, "kind": "TraefikService"})
	return p.apply(ctx, IngressRouteGVR, ro, ir)
}

// RemoveManagedRoutes deletes every IngressRoute and TraefikService the
// plugin manages for the rollout (found by label); the weights are Argo's
// to reset through SetWeight. Removing what is already gone is no error.
func (p *RpcPlugin) RemoveManagedRoutes(ro *v1alpha1.Rollout) types.RpcError {
	if err := p.ready(); err != nil {
		return rpcErr(err)
	}
	if ro == nil {
		return rpcErr(errors.New("no rollout given"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := p.removeAll(ctx, IngressRouteGVR, ro); err != nil {
		return rpcErr(err)
	}
	return rpcErr(p.removeAll(ctx, TraefikServiceGVR, ro))
}

// canaryEntry is the canary Service's entry in the weighted TraefikService:
// managed routes reach the canary with the same port and options.
func (p *RpcPlugin) canaryEntry(ctx context.Context, ro *v1alpha1.Rollout, cfg *Config) (any, error) {
	canary := ro.Spec.Strategy.Canary.CanaryService
	if canary == "" {
		return nil, fmt.Errorf("rollout %s/%s sets no spec.strategy.canary.canaryService", ro.Namespace, ro.Name)
	}
	_, services, err := p.weighted(ctx, ro, cfg)
	if err != nil {
		return nil, err
	}
	idx := indexOf(services, canary, ro.Namespace)
	if len(idx) == 0 {
		return nil, fmt.Errorf("TraefikService %s/%s has no entry for the canary Service %q in spec.weighted.services (it has: %s)",
			ro.Namespace, cfg.WeightedTraefikServiceName, canary, entryNames(services, ro.Namespace))
	}
	return services[idx[0]], nil
}
