package node

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// TestCrashLoopNeverReady pins what a rollout relies on when a new version
// crashes on start (the e2e's crash-green): with a short back-off, many
// restarts, and every status notification checked, a crash-looping container
// with a readiness probe is never reported ready, nor is its pod, and the
// status always carries all the kubelet's pod conditions. It covers a fresh
// crash-looping pod and a ready pod whose image is changed to a crashing one
// (the ready instance's readiness must not carry over to the next one).
//
// A container without a readiness probe is ready whenever it runs, as with
// the kubelet, so a crashing one flickers Ready between crashes. That is what
// made the e2e crash test fail when its image update (a JSON merge patch of
// the Rollout's container list) silently dropped the readiness probe; the
// last case pins that behavior so it is not mistaken for an agent bug again.
func TestCrashLoopNeverReady(t *testing.T) {
	n := newTestNode(t, demoImages(demoapp(t)))
	n.h.backoffBase, n.h.backoffMax = 50*time.Millisecond, 200*time.Millisecond

	fresh := n.create(demoPod("crash-fresh", "blastradius/demoapp:crash-green"))
	updated := n.create(demoPod("crash-updated", "blastradius/demoapp:blue"))
	unprobed := n.create(demoPod("crash-unprobed", "blastradius/demoapp:crash-green", func(p *corev1.Pod) {
		p.Spec.Containers[0].ReadinessProbe = nil
	}))

	n.waitStatus(updated, 15*time.Second, "ready on blue", isReady)
	newer := updated.DeepCopy()
	newer.Spec.Containers[0].Image = "blastradius/demoapp:crash-green"
	require.NoError(t, n.prov.UpdatePod(t.Context(), newer))

	const restarts = 5
	for _, p := range []*corev1.Pod{fresh, updated, unprobed} {
		n.waitStatus(p, 30*time.Second, "crash-looping", func(st *corev1.PodStatus) bool {
			cs := st.ContainerStatuses[0]
			return cs.Image == "blastradius/demoapp:crash-green" && cs.RestartCount >= restarts
		})
	}

	want := []corev1.PodConditionType{
		corev1.PodReadyToStartContainers, corev1.PodInitialized,
		corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled,
	}
	history := func(p *corev1.Pod) []*corev1.Pod {
		n.mu.Lock()
		defer n.mu.Unlock()
		return slices.Clone(n.history[p.UID])
	}
	check := func(p *corev1.Pod, probed bool) {
		t.Helper()
		var crashStatuses, readyWhileRunning int
		for i, h := range history(p) {
			st := &h.Status
			var types []corev1.PodConditionType
			for _, c := range st.Conditions {
				types = append(types, c.Type)
			}
			require.Equal(t, want, types, "%s notification %d: incomplete conditions", p.Name, i)
			cs := st.ContainerStatuses[0]
			// Pod and container readiness always agree, and only a running
			// container can be ready.
			assert.Equal(t, cs.Ready, isReady(st), "%s notification %d: PodReady vs container ready", p.Name, i)
			assert.Equal(t, cs.Ready, cond(st, corev1.ContainersReady).Status == corev1.ConditionTrue, "%s notification %d", p.Name, i)
			if cs.Ready {
				assert.NotNil(t, cs.State.Running, "%s notification %d: ready but not running: %+v", p.Name, i, cs.State)
			}
			if cs.Image != "blastradius/demoapp:crash-green" || cs.RestartCount == 0 && p == updated {
				continue // still the blue instance
			}
			crashStatuses++
			if probed {
				assert.False(t, isReady(st), "%s notification %d: a crash-looping container behind a failing readiness probe is Ready (restarts %d, state %+v)", p.Name, i, cs.RestartCount, cs.State)
			} else if cs.Ready {
				readyWhileRunning++
			}
		}
		assert.Positive(t, crashStatuses, p.Name)
		if !probed {
			assert.Positive(t, readyWhileRunning, "%s: without a readiness probe a running container is ready, as with the kubelet", p.Name)
		}
	}
	check(fresh, true)
	check(updated, true)
	check(unprobed, false)
}
