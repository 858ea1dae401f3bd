package relay

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// Where the relay runs, and its ports.
const (
	Namespace  = "blastradius-analysis"
	Name       = "analysis-relay"
	PublicPort = 8080 // Argo's side
	TunnelPort = 8081 // the harness's
)

// Env is what deploying a relay needs from the platform.
type Env struct {
	Client kubernetes.Interface
	Image  string // the harness's image, as the platform's pods name it
	// PodURL reaches a pod's port from the harness; ServiceURL a Service
	// from the cluster's pods (platform.Platform's).
	PodURL     func(ctx context.Context, pod *corev1.Pod, port int) (string, error)
	ServiceURL func(ctx context.Context, namespace, name string) (string, error)
}

// Deployed is a relay up and a tunnel to it.
type Deployed struct {
	URL    string // where Argo calls the analysis endpoint
	tunnel *Tunnel
	client kubernetes.Interface
}

// Deploy starts a relay (its namespace, pod and NodePort Service), opens
// the tunnel serving handler, and returns the URL Argo calls.
func Deploy(ctx context.Context, e Env, handler http.Handler) (*Deployed, error) {
	d := &Deployed{client: e.Client}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	// A new namespace's default service account comes a moment later,
	// from the controller manager; a pod cannot be made before it.
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := e.Client.CoreV1().ServiceAccounts(Namespace).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return nil, fmt.Errorf("analysis relay: namespace %s has no default service account: %w", Namespace, err)
	}
	if _, err := e.Client.CoreV1().Pods(Namespace).Create(ctx, pod(e.Image), metav1.CreateOptions{}); err != nil {
		d.Remove(ctx)
		return nil, fmt.Errorf("analysis relay: %w", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: Name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": Name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(PublicPort)}}},
	}
	if _, err := e.Client.CoreV1().Services(Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		d.Remove(ctx)
		return nil, fmt.Errorf("analysis relay: %w", err)
	}
	var p *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := e.Client.CoreV1().Pods(Namespace).Get(ctx, Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		p = got
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		d.Remove(ctx)
		return nil, fmt.Errorf("analysis relay: not ready: %w", err)
	}
	dial := func(ctx context.Context) (net.Conn, error) {
		raw, err := e.PodURL(ctx, p, TunnelPort)
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		return (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	}
	if d.tunnel, err = Open(context.WithoutCancel(ctx), dial, handler); err != nil {
		d.Remove(ctx)
		return nil, err
	}
	if d.URL, err = e.ServiceURL(ctx, Namespace, Name); err != nil {
		d.Remove(ctx)
		return nil, err
	}
	return d, nil
}

// Remove closes the tunnel and deletes the relay's namespace.
func (d *Deployed) Remove(ctx context.Context) {
	if d.tunnel != nil {
		d.tunnel.Close()
	}
	_ = d.client.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), Namespace, metav1.DeleteOptions{})
}

func pod(image string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Labels: map[string]string{"app": Name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "relay", Image: image, Args: []string{"relay"},
				// No POD_IP (see ListenAddrs): the local platform's node
				// agent sets it for every pod.
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: PublicPort}, {Name: "tunnel", ContainerPort: TunnelPort}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: HealthPath, Port: intstr.FromInt32(PublicPort)}},
					PeriodSeconds: 1,
				},
			}},
		},
	}
}

// ListenAddrs are the relay's two listen addresses in its pod: every
// address of a pod's own network (a port-forward to the tunnel port arrives
// on localhost), or its own address where the platform gives pods one of the
// host's and says which in POD_IP (the local platform's node agent does).
func ListenAddrs(podIP string) (public, tunnel string) {
	return net.JoinHostPort(podIP, strconv.Itoa(PublicPort)), net.JoinHostPort(podIP, strconv.Itoa(TunnelPort))
}
