package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/blastradius/blastradius/harness/internal/sleep"
)

// This file is the probe layer: one check (checkProbe) and the loop that
// turns checks into a thresholded result (probeLoop), as the kubelet's
// prober does. It knows nothing about processes.

// probeTransport is shared by all HTTP probes. Keep-alives are off, as in the
// kubelet, so a probe always tests that the app still accepts connections.
var probeTransport = &http.Transport{
	DisableKeepAlives: true,
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the kubelet does not verify probe targets either
	Proxy:             nil,
}

const probeUserAgent = "kube-probe/1.34"

// probeTarget is what a probe checks: the container's address and ports,
// and a way to run a command beside it (nil where none runs, e.g. in tests).
type probeTarget struct {
	ip    string
	ports []corev1.ContainerPort
	exec  func(ctx context.Context, argv []string, out io.Writer) (int, error)
}

// maxProbeOutput is how much of an exec probe's output the kubelet keeps.
const maxProbeOutput = 10 << 10

// checkProbe runs one probe of a container. ok=false comes with a message for
// events. The probe's timeout bounds every kind, exec included.
func checkProbe(ctx context.Context, p *corev1.Probe, t probeTarget) (ok bool, msg string) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return checkHTTP(ctx, p.HTTPGet, t.ip, t.ports)
	case p.TCPSocket != nil:
		return checkTCP(ctx, p.TCPSocket, t.ip, t.ports)
	case p.Exec != nil:
		return checkExec(ctx, p.Exec.Command, t, timeout)
	case p.GRPC != nil:
		return checkGRPC(ctx, p.GRPC, t.ip)
	default:
		return false, "probe has no handler"
	}
}

func checkTCP(ctx context.Context, a *corev1.TCPSocketAction, ip string, ports []corev1.ContainerPort) (bool, string) {
	port, err := resolvePort(a.Port, ports)
	if err != nil {
		return false, err.Error()
	}
	host := a.Host
	if host == "" {
		host = ip
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false, err.Error()
	}
	c.Close()
	return true, ""
}

// checkExec succeeds when the command exits 0; otherwise its output is the
// message, as the kubelet reports it.
func checkExec(ctx context.Context, argv []string, t probeTarget, timeout time.Duration) (bool, string) {
	if t.exec == nil {
		return false, "exec probes need a running container"
	}
	out := &limitedBuffer{max: maxProbeOutput}
	code, err := t.exec(ctx, argv, out)
	switch {
	case errors.Is(err, errExecTimeout):
		return false, fmt.Sprintf("command %q timed out after %s", strings.Join(argv, " "), timeout)
	case err != nil:
		return false, err.Error()
	case code != 0:
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return false, msg
		}
		return false, fmt.Sprintf("command %q exited with %d", strings.Join(argv, " "), code)
	}
	return true, ""
}

// checkGRPC asks the gRPC health service, as the kubelet does: SERVING
// succeeds, anything else fails.
func checkGRPC(ctx context.Context, g *corev1.GRPCAction, ip string) (bool, string) {
	addr := net.JoinHostPort(ip, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(probeUserAgent))
	if err != nil {
		return false, err.Error()
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return false, fmt.Sprintf("failed to connect service %q: %v", addr, err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return false, fmt.Sprintf("service unhealthy (responded with %q)", s)
	}
	return true, ""
}

func checkHTTP(ctx context.Context, g *corev1.HTTPGetAction, ip string, ports []corev1.ContainerPort) (bool, string) {
	port, err := resolvePort(g.Port, ports)
	if err != nil {
		return false, err.Error()
	}
	host := g.Host
	if host == "" {
		host = ip
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if pu, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = pu.Path, pu.RawQuery
	} else {
		u.Path = path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Name, h.Value)
	}
	client := &http.Client{
		Transport: probeTransport,
		// A redirect is an answer: report it as success rather than follow it
		// somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	msg := fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	if b := strings.TrimSpace(string(body)); b != "" && len(b) < 256 {
		msg += ", body: " + b
	}
	return false, msg
}

// resolvePort turns a probe port (number or containerPort name) into a number.
func resolvePort(p intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil && n > 0 && n <= 65535 {
		return n, nil
	}
	return 0, fmt.Errorf("port %q not found in the container's ports", p.StrVal)
}

// probeLoop runs a probe periodically and reports its thresholded result:
// successThreshold consecutive successes make it succeed, failureThreshold
// consecutive failures make it fail. Before either the result is unknown,
// which readiness reads as "not ready", liveness as "alive" and startup as
// "not started".
type probeLoop struct {
	spec  *corev1.Probe
	check func(ctx context.Context) (bool, string)
	// onFailure is called on every failed attempt (Unhealthy events).
	onFailure func(msg string)
	// onResult is called when the thresholded result changes.
	onResult func(ok bool, msg string)
	// period overrides spec.PeriodSeconds, whose one-second unit is slow for tests.
	period time.Duration
}

func (l probeLoop) run(ctx context.Context) {
	period := time.Duration(l.spec.PeriodSeconds) * time.Second
	if l.period > 0 {
		period = l.period
	}
	if period <= 0 {
		period = 10 * time.Second
	}
	success := int(l.spec.SuccessThreshold)
	if success <= 0 {
		success = 1
	}
	failure := int(l.spec.FailureThreshold)
	if failure <= 0 {
		failure = 3
	}
	if !sleep.For(ctx, time.Duration(l.spec.InitialDelaySeconds)*time.Second) {
		return
	}
	const unknown, succeeded, failed = 0, 1, 2
	state, succ, fail := unknown, 0, 0
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		ok, msg := l.check(ctx)
		if ctx.Err() != nil {
			return // the container is going away: this attempt means nothing
		}
		if ok {
			succ, fail = succ+1, 0
			if state != succeeded && succ >= success {
				state = succeeded
				l.onResult(true, "")
			}
		} else {
			succ, fail = 0, fail+1
			if l.onFailure != nil {
				l.onFailure(msg)
			}
			if state != failed && fail >= failure {
				state = failed
				l.onResult(false, msg)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
