package local

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// serviceProxy plays kube-proxy's part for NodePort and LoadBalancer Services:
// it listens on 127.0.0.1:<nodePort> and sends each connection to one ready
// endpoint chosen at random, one choice per connection, as kube-proxy's
// iptables mode does.
//
// Endpoints come from the Service's selector and the pods' Ready condition
// directly, not from EndpointSlices: the API refuses loopback endpoint
// addresses, and pods here live on 127.x.y.z.
type serviceProxy struct {
	client  kubernetes.Interface
	log     *slog.Logger
	factory informers.SharedInformerFactory

	mu        sync.Mutex
	listeners map[int32]*nodePortListener // by node port
	conns     sync.WaitGroup
}

type nodePortListener struct {
	ln        net.Listener
	namespace string
	service   string
	portName  string
	protocol  corev1.Protocol
}

func newServiceProxy(client kubernetes.Interface, log *slog.Logger) *serviceProxy {
	return &serviceProxy{client: client, log: log, listeners: map[int32]*nodePortListener{},
		factory: informers.NewSharedInformerFactory(client, 10*time.Minute)}
}

// run reconciles listeners with Services until ctx ends, then closes them all
// and waits for open connections to finish.
func (p *serviceProxy) run(ctx context.Context) error {
	svcInformer := p.factory.Core().V1().Services()
	pods := p.factory.Core().V1().Pods()
	kick := make(chan struct{}, 1)
	notify := func(any) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	_, err := svcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: notify, UpdateFunc: func(_, o any) { notify(o) }, DeleteFunc: notify,
	})
	if err != nil {
		return err
	}
	pods.Informer() // register before Start so that lookups are served from cache
	p.factory.Start(ctx.Done())
	p.factory.WaitForCacheSync(ctx.Done())
	defer func() {
		p.mu.Lock()
		for port, l := range p.listeners {
			l.ln.Close()
			delete(p.listeners, port)
		}
		p.mu.Unlock()
		p.factory.Shutdown()
		p.conns.Wait()
	}()
	for {
		p.reconcile(svcInformer.Lister().List(labels.Everything()))
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		}
	}
}

func (p *serviceProxy) reconcile(services []*corev1.Service, err error) {
	if err != nil {
		p.log.Error("list services", "err", err)
		return
	}
	want := map[int32]nodePortListener{}
	for _, s := range services {
		if s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		for _, sp := range s.Spec.Ports {
			if sp.NodePort != 0 && sp.Protocol == corev1.ProtocolTCP {
				want[sp.NodePort] = nodePortListener{namespace: s.Namespace, service: s.Name, portName: sp.Name, protocol: sp.Protocol}
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for port, l := range p.listeners {
		if w, ok := want[port]; !ok || w.namespace != l.namespace || w.service != l.service || w.portName != l.portName {
			l.ln.Close()
			delete(p.listeners, port)
		}
	}
	for port, w := range want {
		if _, ok := p.listeners[port]; ok {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		if err != nil {
			p.log.Error("node port unavailable", "service", w.namespace+"/"+w.service, "port", port, "err", err)
			continue
		}
		l := w
		l.ln = ln
		p.listeners[port] = &l
		go p.serve(&l)
	}
}

func (p *serviceProxy) serve(l *nodePortListener) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return // closed by reconcile or shutdown
		}
		p.conns.Add(1)
		go func() {
			defer p.conns.Done()
			p.forward(c, l)
		}()
	}
}

func (p *serviceProxy) forward(c net.Conn, l *nodePortListener) {
	defer c.Close()
	eps := p.readyEndpoints(l)
	if len(eps) == 0 {
		return // no ready endpoint: the client sees the connection close, as with a REJECT
	}
	backend, err := net.DialTimeout("tcp", eps[rand.IntN(len(eps))], 5*time.Second)
	if err != nil {
		return
	}
	defer backend.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(backend, c)
	go pipe(c, backend)
	<-done
	<-done
}

// readyEndpoints lists ip:port of the ready, non-terminating pods that the
// Service selects, as the endpoints controller would.
func (p *serviceProxy) readyEndpoints(l *nodePortListener) []string {
	svc, err := p.factory.Core().V1().Services().Lister().Services(l.namespace).Get(l.service)
	if err != nil || len(svc.Spec.Selector) == 0 {
		return nil
	}
	var target intstr.IntOrString
	found := false
	for _, sp := range svc.Spec.Ports {
		if sp.Name == l.portName {
			target, found = sp.TargetPort, true
			if target.IntValue() == 0 && target.Type == intstr.Int {
				target = intstr.FromInt32(sp.Port)
			}
		}
	}
	if !found {
		return nil
	}
	pods, err := p.factory.Core().V1().Pods().Lister().Pods(l.namespace).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return nil
	}
	var out []string
	for _, pod := range pods {
		if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil || (!podReady(pod) && !svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		if port, ok := containerPort(pod, target); ok {
			out = append(out, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port))))
		}
	}
	return out
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPort resolves a Service targetPort, a number or a container port
// name, on one pod.
func containerPort(pod *corev1.Pod, target intstr.IntOrString) (int32, bool) {
	if target.Type == intstr.Int {
		return target.IntVal, true
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == target.StrVal {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}
