package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/blastradius/blastradius/harness/internal/sleep"
)

// This file runs what the kubelet runs beside a container: commands (for
// exec probes, exec hooks and `kubectl exec`) and the postStart and preStop
// lifecycle hooks.

// exec runs argv beside inst until it exits, ctx ends, or the instance does.
func (c *container) exec(ctx context.Context, inst *instance, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-inst.ended:
			cancel()
		case <-ctx.Done():
		}
	}()
	code, err := c.p.h.spawner.run(ctx, execRequest{
		Argv: argv, Env: inst.env, Dir: inst.dir, ImagePath: inst.image,
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
	})
	if errors.Is(err, errExecTimeout) {
		select {
		case <-inst.ended:
			return code, fmt.Errorf("container %s stopped while %q ran", c.name, strings.Join(argv, " "))
		default:
		}
	}
	return code, err
}

// running finds a container by name ("" means the first app container) and
// its running instance, nil if it is not running.
func (p *podRunner) running(name string) (*container, *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.allContainers() {
		if (name == "" && !c.init) || c.name == name {
			if n := len(c.insts); n > 0 && c.st.State.Running != nil && c.insts[n-1].proc != nil {
				return c, c.insts[n-1]
			}
			return c, nil
		}
	}
	return nil, nil
}

// probeTarget is what the probes of inst check.
func (c *container) probeTarget(inst *instance, spec *corev1.Container) probeTarget {
	return probeTarget{ip: c.p.podIP, ports: spec.Ports,
		exec: func(ctx context.Context, argv []string, out io.Writer) (int, error) {
			return c.exec(ctx, inst, argv, nil, out, out)
		}}
}

// runHook runs a lifecycle handler until it is done or ctx ends; the error
// says why it failed, for the Failed*Hook event.
func (c *container) runHook(ctx context.Context, inst *instance, spec *corev1.Container, h *corev1.LifecycleHandler) error {
	switch {
	case h.Exec != nil:
		out := &limitedBuffer{max: maxProbeOutput}
		code, err := c.exec(ctx, inst, h.Exec.Command, nil, out, out)
		switch {
		case errors.Is(err, errExecTimeout):
			return fmt.Errorf("command %q did not finish in time", strings.Join(h.Exec.Command, " "))
		case err != nil:
			return err
		case code != 0:
			return fmt.Errorf("command %q exited with %d: %s", strings.Join(h.Exec.Command, " "), code, strings.TrimSpace(out.String()))
		}
	case h.HTTPGet != nil:
		if ok, msg := checkHTTP(ctx, h.HTTPGet, c.p.podIP, spec.Ports); !ok {
			return errors.New(msg)
		}
	case h.Sleep != nil:
		sleep.For(ctx, time.Duration(h.Sleep.Seconds)*time.Second)
	}
	return nil
}

// postStart runs the postStart hook, then then(); as with the kubelet the
// container is not started (no probes, not ready) until the hook is done,
// and a failed hook kills it.
func (c *container) postStart(ctx context.Context, wg *sync.WaitGroup, inst *instance, spec *corev1.Container, then func()) {
	if spec.Lifecycle == nil || spec.Lifecycle.PostStart == nil {
		then()
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := c.runHook(ctx, inst, spec, spec.Lifecycle.PostStart)
		if ctx.Err() != nil {
			return // the container is going away; the hook's end means nothing
		}
		if err != nil {
			c.p.event(c, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %s", err)
			c.requestRestart(restartRequest{reason: "FailedPostStartHook", grace: podGrace(c.p.podNow())})
			return
		}
		then()
	}()
}

// preStop runs the preStop hook until it is done, the deadline passes or the
// container exits.
func (c *container) preStop(inst *instance, spec *corev1.Container, deadline time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	go func() {
		select {
		case <-inst.ended:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := c.runHook(ctx, inst, spec, spec.Lifecycle.PreStop); err != nil && ctx.Err() == nil {
		c.p.event(c, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %s", err)
	}
}
