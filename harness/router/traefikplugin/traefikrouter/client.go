package traefikrouter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/homedir"
)

// The Traefik v3 resources the plugin reads and writes (API group traefik.io).
var (
	TraefikServiceGVR = schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "traefikservices"}
	IngressRouteGVR   = schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "ingressroutes"}
)

// kinds names the resources in messages.
var kinds = map[schema.GroupVersionResource]string{
	TraefikServiceGVR: "TraefikService",
	IngressRouteGVR:   "IngressRoute",
}

// crdInstallHint tells how to install Traefik v3's CRDs.
const crdInstallHint = "install Traefik v3's CRDs, e.g. `kubectl apply --server-side -f " +
	"https://raw.githubusercontent.com/traefik/traefik/v3.6/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml` " +
	"or the traefik/traefik-crds Helm chart"

// RESTConfig finds the cluster: the in-cluster configuration when running in
// a pod (the Argo Rollouts controller), else the files named by the
// KUBECONFIG environment variable, else ~/.kube/config.
func RESTConfig() (*rest.Config, error) {
	cfg, inErr := rest.InClusterConfig()
	if inErr == nil {
		return cfg, nil
	}
	// KUBECONFIG (a list of files, merged), else ~/.kube/config, read now
	// rather than at start-up as clientcmd's defaults are.
	where := "~/.kube/config"
	rules := &clientcmd.ClientConfigLoadingRules{}
	if v := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); v != "" {
		where = "KUBECONFIG=" + v
		rules.Precedence = filepath.SplitList(v)
	} else {
		rules.Precedence = []string{filepath.Join(homedir.HomeDir(), clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		if errors.Is(inErr, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("no Kubernetes configuration: not running in a cluster and %s gives none: %w", where, err)
		}
		return nil, fmt.Errorf("no Kubernetes configuration: in-cluster configuration failed (%v) and %s gives none: %w", inErr, where, err)
	}
	return cfg, nil
}

// NewDynamicClient builds the dynamic client the plugin uses.
func NewDynamicClient() (dynamic.Interface, error) {
	cfg, err := RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "rollouts-plugin-traefik"
	return dynamic.NewForConfig(cfg)
}

// resourceMissing reports whether err says that the resource type itself is
// unknown to the API server (its CRD is not installed), as opposed to one
// object not existing. The API server answers a request for an unknown
// resource with a bare 404 page, which client-go turns into a NotFound error
// whose cause is an unexpected server response; a List of an unknown
// resource is a NotFound that names no object.
func resourceMissing(err error) bool {
	if !apierrors.IsNotFound(err) {
		return false
	}
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return false
	}
	s := st.Status()
	if s.Details == nil || s.Details.Name == "" {
		return true
	}
	for _, c := range s.Details.Causes {
		if c.Type == metav1.CauseTypeUnexpectedServerResponse {
			return true
		}
	}
	return false
}

// describe turns an API error about gvr (and object name, if any) in
// namespace into a message that says what to do.
func describe(err error, verb string, gvr schema.GroupVersionResource, namespace, name string) error {
	if err == nil {
		return nil
	}
	kind := kinds[gvr]
	obj := fmt.Sprintf("%s %s/%s", kind, namespace, name)
	if name == "" {
		obj = fmt.Sprintf("%ss in namespace %s", kind, namespace)
	}
	switch {
	case resourceMissing(err):
		return fmt.Errorf("cannot %s %s: the Traefik CRD %s.%s (%s/%s %s) is not installed in the cluster: %s",
			verb, obj, gvr.Resource, gvr.Group, gvr.Group, gvr.Version, kind, crdInstallHint)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("cannot %s %s: forbidden: the Argo Rollouts controller's service account needs get, list, create, update and delete on %s.%s (see the RBAC section of the plugin's README): %w",
			verb, obj, gvr.Resource, gvr.Group, err)
	default:
		return fmt.Errorf("cannot %s %s: %w", verb, obj, err)
	}
}
