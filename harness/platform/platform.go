// Package platform is the seam between the harness and where Kubernetes runs.
// Strategy, fault and scoring code only ever see this interface, so a scenario
// runs unchanged on the local platform and on kind.
package platform

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
)

// Platform is one Kubernetes cluster with Argo Rollouts installed.
type Platform interface {
	// Name is the platform's name: "local", "kind" or "cluster".
	Name() string
	// Up creates the cluster and returns once it is ready: a Ready node,
	// Argo Rollouts' CRDs established and its controller running, and
	// Prometheus ready.
	Up(ctx context.Context) error
	// Down removes everything Up made: processes, ports, containers, data.
	Down(ctx context.Context) error
	// ExportLogs copies the cluster's component logs and its containers'
	// logs to dir, for a failure to be debugged after Down.
	ExportLogs(ctx context.Context, dir string) error
	// Kubeconfig is the path of a kubeconfig for the cluster.
	Kubeconfig() string
	// RESTConfig is the client configuration for the cluster.
	RESTConfig() *rest.Config
	// LoadImages makes demo app images available to the cluster's nodes.
	LoadImages(ctx context.Context, images ...string) error
	// Image is the reference pods use for one of the project's images
	// (blastradius/demoapp:<tag>, blastradius/blastradius:<tag>): the same
	// where the nodes have them, in the platform's registry otherwise.
	Image(ref string) string
	// ServiceURL is an http URL on 127.0.0.1 that reaches a NodePort Service.
	ServiceURL(ctx context.Context, namespace, name string) (string, error)
	// InClusterServiceURL is an http URL that reaches a Service from the
	// cluster's pods: where in-cluster load workers send the users' load.
	InClusterServiceURL(ctx context.Context, namespace, name string) (string, error)
	// InClusterRouterURL is the L7 router's base URL from the cluster's pods.
	InClusterRouterURL(ctx context.Context) (string, error)
	// PodURL is an http URL that reaches a pod's port from the harness, for
	// scraping metrics and the demo app's admin API.
	PodURL(ctx context.Context, pod *corev1.Pod, port int) (string, error)
	// Versions reports the Kubernetes and Argo Rollouts versions running.
	Versions(ctx context.Context) (kubernetes, argoRollouts string, err error)
	// PrometheusURL is the base URL of the cluster's Prometheus as the Argo
	// Rollouts controller reaches it (its prometheus provider's address:
	// 127.0.0.1 where the controller is a local process, a Service's DNS
	// name where it is a pod). Prometheus scrapes the pods annotated as
	// below.
	PrometheusURL(ctx context.Context) (string, error)
	// RouterURL is the base URL of the cluster's L7 router (Traefik, with
	// its Kubernetes CRD provider), on 127.0.0.1: where the load of a
	// strategy that routes through IngressRoutes goes.
	RouterURL(ctx context.Context) (string, error)
}

// The pod annotations the cluster's Prometheus reads: a pod is scraped when
// AnnotationScrape is "true", at its IP and AnnotationPort, on
// AnnotationPath (default /metrics), every AnnotationScrapeInterval (a
// Prometheus duration, see PromDuration; default DefaultScrapeInterval).
const (
	AnnotationScrape         = "prometheus.io/scrape"
	AnnotationPort           = "prometheus.io/port"
	AnnotationPath           = "prometheus.io/path"
	AnnotationScrapeInterval = "blastradius.dev/scrape-interval"
	DefaultScrapeInterval    = 5 * time.Second
)

// PromDuration formats d as a Prometheus duration, which takes no
// fractions: whole seconds as "5s", anything else in milliseconds ("1500ms").
func PromDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}
