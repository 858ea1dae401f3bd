package incluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/blastradius/blastradius/loadgen/worker"
)

func TestPodRunsTheWorkerAndIsNotRestarted(t *testing.T) {
	p := Pod("load-worker", 2, "blastradius/blastradius:dev")
	assert.Equal(t, "load-worker-2", p.Name)
	assert.Equal(t, "2", p.Labels[Label])
	assert.Equal(t, corev1.RestartPolicyNever, p.Spec.RestartPolicy, "a restarted worker knows nothing of its attack")
	c := p.Spec.Containers[0]
	assert.Equal(t, "blastradius/blastradius:dev", c.Image)
	assert.Equal(t, []string{"load-worker"}, c.Args)
	assert.Equal(t, "/healthz", c.ReadinessProbe.HTTPGet.Path)
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	assert.Equal(t, "metadata.name", env["POD_NAME"].ValueFrom.FieldRef.FieldPath)
	assert.NotContains(t, env, "POD_IP", "a pod of its own network listens on every address, where port-forwards arrive")
	assert.Equal(t, "8080", env["PORT"].Value)
}

func TestResultsStateTheLostShare(t *testing.T) {
	sent := int64(10)
	out, lost := Results([]worker.Report{
		{Name: "load-worker-0", Share: 0.25, Records: 10, Sent: &sent, Complete: true},
		{Name: "load-worker-1", Share: 0.25, Records: 4, Lost: time.Unix(100, 0), Error: "stopped answering"},
		{Name: "load-worker-2", Share: 0.5, Records: 20, Complete: true},
	})
	assert.InDelta(t, 0.25, lost, 1e-12)
	assert.Len(t, out, 3)
	assert.Equal(t, "stopped answering", out[1].Error)
	assert.Equal(t, &sent, out[0].Sent)
}
