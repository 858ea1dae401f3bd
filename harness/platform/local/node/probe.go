package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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

// checkProbe runs one probe of a container at ip. ok=false comes with a
// message for events. Exec and gRPC probes cannot run here (there is no
// container to exec into) and count as success.
func checkProbe(ctx context.Context, p *corev1.Probe, ip string, ports []corev1.ContainerPort) (ok bool, msg string) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return checkHTTP(ctx, p.HTTPGet, ip, ports)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, ports)
		if err != nil {
			return false, err.Error()
		}
		host := p.TCPSocket.Host
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
	default:
		return true, "probe type not supported by this node; assumed to succeed"
	}
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
