package traefikrouter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels and annotations the plugin puts on the objects it manages. An
// object is the plugin's to update or delete only when it carries
// LabelManagedBy=ManagedBy and AnnotationRollout=<the rollout's name>.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "rollouts-plugin-traefik"
	// LabelRollout selects a rollout's managed objects; its value is the
	// rollout's name, shortened with a hash when longer than a label value
	// may be. AnnotationRollout holds the full name.
	LabelRollout      = "rollouts-traefik.blastradius.dev/rollout"
	AnnotationRollout = "rollouts-traefik.blastradius.dev/rollout"
	// AnnotationRoute names the Argo managed route an object implements and
	// AnnotationRouteKind says whether it is a "header" or a "mirror" route.
	AnnotationRoute     = "rollouts-traefik.blastradius.dev/route"
	AnnotationRouteKind = "rollouts-traefik.blastradius.dev/route-kind"
	// AnnotationAddedServices, on the weighted TraefikService, lists the
	// entries the plugin appended for additional destinations (experiment
	// services), so that it removes them, and only them, when they go away.
	AnnotationAddedServices = "rollouts-traefik.blastradius.dev/added-services"
)

// rolloutLabelValue is LabelRollout's value for a rollout name.
func rolloutLabelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	head := name
	if len(head) > 52 {
		head = head[:52]
	}
	head = strings.TrimRight(head, "-_.")
	return head + "-" + hex.EncodeToString(sum[:])[:10]
}

// managedSelector selects a rollout's managed objects.
func managedSelector(ro *v1alpha1.Rollout) string {
	return fmt.Sprintf("%s=%s,%s=%s", LabelManagedBy, ManagedBy, LabelRollout, rolloutLabelValue(ro.Name))
}

// managedMeta is the metadata of a managed object named name.
func managedMeta(ro *v1alpha1.Rollout, name, route, kind string) map[string]any {
	meta := map[string]any{
		"name":      name,
		"namespace": ro.Namespace,
		"labels": map[string]any{
			LabelManagedBy: ManagedBy,
			LabelRollout:   rolloutLabelValue(ro.Name),
		},
		"annotations": map[string]any{
			AnnotationRollout:   ro.Name,
			AnnotationRoute:     route,
			AnnotationRouteKind: kind,
		},
	}
	if ro.UID != "" {
		// Deleting the Rollout garbage-collects its managed routes.
		meta["ownerReferences"] = []any{map[string]any{
			"apiVersion": v1alpha1.SchemeGroupVersion.String(),
			"kind":       "Rollout",
			"name":       ro.Name,
			"uid":        string(ro.UID),
		}}
	}
	return meta
}

// notManaged says why obj is not the rollout's managed object, or "".
func notManaged(obj *unstructured.Unstructured, ro *v1alpha1.Rollout) string {
	if obj.GetLabels()[LabelManagedBy] != ManagedBy {
		return fmt.Sprintf("it is not managed by the %s plugin (no label %s=%s)", PluginName, LabelManagedBy, ManagedBy)
	}
	if owner := obj.GetAnnotations()[AnnotationRollout]; owner != ro.Name {
		return fmt.Sprintf("it is managed by the %s plugin for another rollout (%q)", PluginName, owner)
	}
	return ""
}

// managedName is the name of a managed object; it must be a valid name.
func managedName(parts ...string) (string, error) {
	name := strings.Join(parts, "-")
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("managed object name %q (<rollout>-<route name>) is not a valid object name: %s; use a lowercase route name", name, strings.Join(errs, "; "))
	}
	return name, nil
}

// apply creates desired, or updates the managed object of that name to it.
// An existing object that is not the rollout's managed object is a conflict:
// it is never overwritten.
func (p *RpcPlugin) apply(ctx context.Context, gvr schema.GroupVersionResource, ro *v1alpha1.Rollout, desired *unstructured.Unstructured) error {
	ns, name := desired.GetNamespace(), desired.GetName()
	ri := p.Client.Resource(gvr).Namespace(ns)
	existing, err := ri.Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
	case apierrors.IsNotFound(err) && !resourceMissing(err):
		if _, err := ri.Create(ctx, desired, metav1.CreateOptions{}); err != nil {
			return describe(err, "create", gvr, ns, name)
		}
		p.logger().Info("created", "kind", kinds[gvr], "namespace", ns, "name", name)
		return nil
	default:
		return describe(err, "get", gvr, ns, name)
	}
	if why := notManaged(existing, ro); why != "" {
		return fmt.Errorf("conflict: %s %s/%s already exists and %s; the plugin never overwrites an object it does not manage: rename or delete it, or give the route another name",
			kinds[gvr], ns, name, why)
	}
	updated := existing.DeepCopy()
	updated.Object["spec"] = runtime.DeepCopyJSONValue(desired.Object["spec"])
	labels := updated.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range desired.GetLabels() {
		labels[k] = v
	}
	updated.SetLabels(labels)
	annotations := updated.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	for k, v := range desired.GetAnnotations() {
		annotations[k] = v
	}
	updated.SetAnnotations(annotations)
	if refs := desired.GetOwnerReferences(); len(refs) > 0 {
		have := updated.GetOwnerReferences()
		found := false
		for _, r := range have {
			if r.UID == refs[0].UID {
				found = true
			}
		}
		if !found {
			updated.SetOwnerReferences(append(have, refs[0]))
		}
	}
	if reflect.DeepEqual(updated.Object, existing.Object) {
		return nil
	}
	if _, err := ri.Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return describe(err, "update", gvr, ns, name)
	}
	p.logger().Info("updated", "kind", kinds[gvr], "namespace", ns, "name", name)
	return nil
}

// remove deletes the rollout's managed object of that name, if it exists.
// An object that is not the rollout's own is left alone. A missing CRD means
// there is nothing to remove.
func (p *RpcPlugin) remove(ctx context.Context, gvr schema.GroupVersionResource, ro *v1alpha1.Rollout, name string) error {
	ri := p.Client.Resource(gvr).Namespace(ro.Namespace)
	existing, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return describe(err, "get", gvr, ro.Namespace, name)
	}
	if why := notManaged(existing, ro); why != "" {
		p.logger().Warn("not removing an object the plugin does not manage", "kind", kinds[gvr], "namespace", ro.Namespace, "name", name, "reason", why)
		return nil
	}
	return p.deleteObject(ctx, gvr, existing)
}

func (p *RpcPlugin) deleteObject(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) error {
	uid := obj.GetUID()
	opts := metav1.DeleteOptions{}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := p.Client.Resource(gvr).Namespace(obj.GetNamespace()).Delete(ctx, obj.GetName(), opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return describe(err, "delete", gvr, obj.GetNamespace(), obj.GetName())
	}
	p.logger().Info("deleted", "kind", kinds[gvr], "namespace", obj.GetNamespace(), "name", obj.GetName())
	return nil
}

// removeAll deletes every object of gvr managed for the rollout.
func (p *RpcPlugin) removeAll(ctx context.Context, gvr schema.GroupVersionResource, ro *v1alpha1.Rollout) error {
	list, err := p.Client.Resource(gvr).Namespace(ro.Namespace).List(ctx, metav1.ListOptions{LabelSelector: managedSelector(ro)})
	if resourceMissing(err) {
		return nil
	}
	if err != nil {
		return describe(err, "list", gvr, ro.Namespace, "")
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })
	var errs []string
	for i := range items {
		if notManaged(&items[i], ro) != "" {
			continue
		}
		if err := p.deleteObject(ctx, gvr, &items[i]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
