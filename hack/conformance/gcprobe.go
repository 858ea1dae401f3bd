package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var rolloutGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

// waitGarbageCollector returns once the cluster's garbage collector deletes
// the dependents of a deleted Rollout. It learns of CRDs installed after it
// started only at its next rediscovery (every 30 s, fixed in
// kube-controller-manager), and a cluster that is up in seconds runs the
// first tests before that: their Rollouts' ReplicaSets would outlive them
// and confuse the next test that reuses the name, which on a cluster where
// Argo was installed earlier never happens. The probe: a ConfigMap owned by
// a Rollout (0 replicas), the Rollout deleted, the ConfigMap waited out.
func waitGarbageCollector(ctx context.Context, kubeconfig, namespace string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	const name = "conformance-gc-probe"
	ro := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": int64(0),
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "blastradius/demoapp:blue"}}},
			},
			"strategy": map[string]any{"canary": map[string]any{}},
		},
	}}
	created, err := dyn.Resource(rolloutGVR).Namespace(namespace).Create(ctx, ro, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("garbage collector probe: create Rollout: %w", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: name, UID: created.GetUID(),
	}}}}
	if _, err := kube.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("garbage collector probe: create ConfigMap: %w", err)
	}
	if err := dyn.Resource(rolloutGVR).Namespace(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("garbage collector probe: delete Rollout: %w", err)
	}
	start := time.Now()
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		_ = kube.CoreV1().ConfigMaps(namespace).Delete(context.Background(), name, metav1.DeleteOptions{})
		return fmt.Errorf("garbage collector probe: the ConfigMap owned by a deleted Rollout is still there after %s: %w", time.Since(start).Round(time.Second), err)
	}
	fmt.Printf("the garbage collector collects Rollouts' dependents (after %s)\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}
