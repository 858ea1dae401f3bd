// Package kube holds the small client-side helpers that the platforms and the
// runner share: decoding manifests and applying them server-side.
package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager names blastradius as the owner of the fields it applies.
const FieldManager = "blastradius"

// Decode reads every object of a multi-document YAML or JSON stream.
func Decode(r io.Reader) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(r, 64*1024)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("document %d: %w", len(objs)+1, err)
		}
		if len(obj.Object) == 0 {
			continue // an empty document between separators
		}
		objs = append(objs, obj)
	}
}

// Applier applies objects server-side. Server-side apply has no
// last-applied annotation, so objects as large as Argo's CRDs fit.
type Applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewApplier builds an Applier for a cluster.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// Apply applies each object in order. A kind that the cluster does not know
// yet (a custom resource whose CRD was just applied) is retried briefly after
// discovery is refreshed.
func (a *Applier) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	for _, obj := range objs {
		if err := a.applyOne(ctx, obj); err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), nsName(obj), err)
		}
	}
	return nil
}

func (a *Applier) applyOne(ctx context.Context, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	var res dynamic.ResourceInterface
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			a.mapper.Reset()
			return false, nil
		}
		res = a.dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ns := obj.GetNamespace()
			if ns == "" {
				ns = metav1.NamespaceDefault
			}
			res = a.dyn.Resource(m.Resource).Namespace(ns)
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("kind %s is not served by the cluster", gvk)
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = res.Patch(ctx, obj.GetName(), "application/apply-patch+yaml", data,
		metav1.PatchOptions{FieldManager: FieldManager, Force: ptrTrue()})
	return err
}

func ptrTrue() *bool { t := true; return &t }

func nsName(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// WaitEstablished waits until each named CRD reports Established.
func (a *Applier) WaitEstablished(ctx context.Context, names ...string) error {
	for _, name := range names {
		err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			crd, err := a.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", name, err)
		}
	}
	a.mapper.Reset()
	return nil
}

// DecodeBytes is Decode over a byte slice.
func DecodeBytes(b []byte) ([]*unstructured.Unstructured, error) { return Decode(bytes.NewReader(b)) }
