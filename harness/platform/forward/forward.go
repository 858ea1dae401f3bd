// Package forward reaches pods' ports from the harness through port-forwards
// of the API server, as kubectl port-forward does: for platforms whose pod
// addresses the harness cannot reach (an existing cluster, kind).
package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

var errNotConnected = errors.New("not connected to a cluster")

// Forwarder keeps one port-forward per pod and port: the harness reaches
// pods (load workers, metrics) on 127.0.0.1 whatever the cluster's
// network. A forward that ends (its pod went) is dropped and made again on
// the next ask.
type Forwarder struct {
	rest   *rest.Config
	client kubernetes.Interface

	mu  sync.Mutex
	fwd map[fwdKey]*forward
}

type fwdKey struct {
	pod  types.UID
	port int
}

type forward struct {
	stop  chan struct{}
	local string // 127.0.0.1:<port>
	done  chan struct{}
}

// New returns a Forwarder through the API server of cfg.
func New(cfg *rest.Config, client kubernetes.Interface) *Forwarder {
	return &Forwarder{rest: cfg, client: client, fwd: map[fwdKey]*forward{}}
}

// URL is an http URL on 127.0.0.1 forwarded to the pod's port.
func (f *Forwarder) URL(ctx context.Context, pod *corev1.Pod, port int) (string, error) {
	if f == nil {
		return "", errNotConnected
	}
	key := fwdKey{pod.UID, port}
	f.mu.Lock()
	if fw, ok := f.fwd[key]; ok {
		select {
		case <-fw.done:
			delete(f.fwd, key)
		default:
			f.mu.Unlock()
			return "http://" + fw.local, nil
		}
	}
	f.mu.Unlock()
	fw, err := f.open(ctx, pod, port)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.fwd[key]; ok { // opened twice at once: keep one
		close(fw.stop)
		return "http://" + old.local, nil
	}
	f.fwd[key] = fw
	return "http://" + fw.local, nil
}

func (f *Forwarder) open(ctx context.Context, pod *corev1.Pod, port int) (*forward, error) {
	rt, upgrader, err := spdy.RoundTripperFor(f.rest)
	if err != nil {
		return nil, err
	}
	req := f.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, req.URL())
	fw := &forward{stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, fw.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() {
		defer close(fw.done)
		errc <- pf.ForwardPorts()
	}()
	select {
	case <-ready:
	case err := <-errc:
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", pod.Namespace, pod.Name, port, err)
	case <-ctx.Done():
		close(fw.stop)
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		close(fw.stop)
		return nil, fmt.Errorf("port-forward to %s/%s:%d: not ready after 30s", pod.Namespace, pod.Name, port)
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(fw.stop)
		return nil, fmt.Errorf("port-forward to %s/%s:%d: no local port: %v", pod.Namespace, pod.Name, port, err)
	}
	fw.local = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	return fw, nil
}

// CloseAll stops every forward and waits for them to end.
func (f *Forwarder) CloseAll() {
	f.mu.Lock()
	all := f.fwd
	f.fwd = map[fwdKey]*forward{}
	f.mu.Unlock()
	for _, fw := range all {
		close(fw.stop)
		<-fw.done
	}
}
