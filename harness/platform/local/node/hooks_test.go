package node

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	utilexec "k8s.io/utils/exec"
)

func sh(script string) []string { return []string{"sh", "-c", script} }

func TestExecLivenessFailureRestarts(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("exec-sick", "blastradius/demoapp:blue", func(p *corev1.Pod) {
		grace := int64(1)
		p.Spec.TerminationGracePeriodSeconds = &grace
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: sh("echo no pulse; exit 1")}},
			PeriodSeconds: 1, FailureThreshold: 1,
		}
	}))
	n.waitStatus(pod, 20*time.Second, "restarted by an exec liveness probe", func(st *corev1.PodStatus) bool {
		return st.ContainerStatuses[0].RestartCount >= 1
	})
	assert.True(t, n.events.has("Unhealthy: Liveness probe failed: no pulse"))
	assert.True(t, n.events.has("Killing: Container app failed liveness probe, will be restarted"))
	n.deleteAndWait(pod, 2, 10*time.Second)
}

// TestLifecycleHooksRun: postStart runs before the container counts as
// started (an exec readiness probe waits for its file), preStop runs on
// deletion before SIGTERM, each with the container's env and directory.
func TestLifecycleHooksRun(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	marks := t.TempDir()
	pod := n.create(demoPod("hooked", "blastradius/demoapp:blue", withEnv("MARKS", marks), func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Lifecycle = &corev1.Lifecycle{
			PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: sh(`sleep 1; echo "$POD_NAME" > "$MARKS/started"`)}},
			PreStop:   &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: sh(`pwd > "$MARKS/stopped"`)}},
		}
		c.ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: sh(`test -f "$MARKS/started"`)}},
			PeriodSeconds: 1,
		}
	}))
	st := n.status(pod)
	require.NotNil(t, st.ContainerStatuses[0].Started)
	assert.False(t, *st.ContainerStatuses[0].Started, "not started while postStart runs")
	n.waitStatus(pod, 20*time.Second, "ready once postStart wrote its file", isReady)
	data, err := os.ReadFile(filepath.Join(marks, "started"))
	require.NoError(t, err)
	assert.Equal(t, "hooked\n", string(data))

	n.deleteAndWait(pod, 5, 10*time.Second)
	data, err = os.ReadFile(filepath.Join(marks, "stopped"))
	require.NoError(t, err, "preStop ran")
	assert.Contains(t, string(data), "default_hooked_", "in the pod's directory")
}

func TestPostStartFailureKillsContainer(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("bad-hook", "blastradius/demoapp:blue", func(p *corev1.Pod) {
		grace := int64(1)
		p.Spec.TerminationGracePeriodSeconds = &grace
		p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{
			PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: sh("echo cannot; exit 2")}},
		}
	}))
	n.waitStatus(pod, 20*time.Second, "restarted after its postStart hook failed", func(st *corev1.PodStatus) bool {
		return st.ContainerStatuses[0].RestartCount >= 1
	})
	assert.True(t, n.events.has(`FailedPostStartHook: PostStartHook failed: command "sh -c echo cannot; exit 2" exited with 2: cannot`))
	assert.False(t, isReady(n.status(pod)))
	n.deleteAndWait(pod, 2, 10*time.Second)
}

// attachIO is the streams of one `kubectl exec`.
type attachIO struct {
	in       io.Reader
	out, err *bytes.Buffer
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func (a attachIO) Stdin() io.Reader            { return a.in }
func (a attachIO) Stdout() io.WriteCloser      { return nopCloser{a.out} }
func (a attachIO) Stderr() io.WriteCloser      { return nopCloser{a.err} }
func (a attachIO) TTY() bool                   { return false }
func (a attachIO) Resize() <-chan api.TermSize { return nil }

func TestRunInContainer(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	pod := n.create(demoPod("execd", "blastradius/demoapp:blue"))
	n.waitStatus(pod, 20*time.Second, "ready", isReady)

	streams := attachIO{in: strings.NewReader("from stdin"), out: &bytes.Buffer{}, err: &bytes.Buffer{}}
	err := n.prov.RunInContainer(t.Context(), "default", "execd", "app", sh(`echo "$COLOR $(cat)"; echo oops >&2; exit 3`), streams)
	var exitErr utilexec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 3, exitErr.ExitStatus(), "kubectl gets the command's exit code")
	assert.Equal(t, "blue from stdin\n", streams.out.String(), "the container's env and stdin")
	assert.Equal(t, "oops\n", streams.err.String())

	err = n.prov.RunInContainer(t.Context(), "default", "execd", "nope", []string{"true"}, streams)
	assert.ErrorContains(t, err, `container "nope" of pod default/execd is not running`)
	n.deleteAndWait(pod, 2, 10*time.Second)
}

// TestStartDelay: a container's first start waits in ContainerCreating for
// the start delay, as a kubelet's sandbox and image set-up would.
func TestStartDelay(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	n.h.startDelay = 1500 * time.Millisecond
	created := time.Now()
	pod := n.create(demoPod("slow-start", "blastradius/demoapp:blue"))
	st := n.status(pod)
	require.NotNil(t, st.ContainerStatuses[0].State.Waiting)
	assert.Equal(t, "ContainerCreating", st.ContainerStatuses[0].State.Waiting.Reason)
	n.waitStatus(pod, 20*time.Second, "ready after the delay", isReady)
	assert.GreaterOrEqual(t, time.Since(created), n.h.startDelay)
	n.deleteAndWait(pod, 2, 10*time.Second)
}
