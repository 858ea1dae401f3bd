// Package incluster runs load workers as pods of the run's cluster: the
// harness's own image running `blastradius load-worker`, one pod per share
// of the load (package loadgen/worker drives them).
package incluster

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/loadgen/worker"
)

const (
	// Port is the port a worker's API listens on.
	Port = 8080
	// Label marks worker pods; its value is the worker's index.
	Label = "blastradius.dev/load-worker"
	// FleetLabel names the fleet a worker pod belongs to (its name prefix).
	FleetLabel = "blastradius.dev/load-fleet"
)

// Env is where the workers run.
type Env struct {
	Client    kubernetes.Interface
	Namespace string
	Image     string // the harness's image
	// Prefix names the pods prefix-<i> (default "load-worker"): one run
	// may have two fleets (the users' load, a blue-green preview's).
	Prefix string
	// PodURL reaches a pod's port from the harness (platform.Platform's).
	PodURL func(ctx context.Context, pod *corev1.Pod, port int) (string, error)
}

// Start creates n worker pods in the namespace and returns them as fleet
// members once every one answers. They are not restarted: a worker that
// dies is reported lost, not replaced by one that knows nothing of the
// attack. The pods go with their namespace.
func Start(ctx context.Context, e Env, n int) ([]worker.Member, error) {
	if e.Prefix == "" {
		e.Prefix = "load-worker"
	}
	pods := e.Client.CoreV1().Pods(e.Namespace)
	for i := range n {
		if _, err := pods.Create(ctx, Pod(e.Prefix, i, e.Image), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("load worker %d: %w", i, err)
		}
	}
	var ready []*corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: FleetLabel + "=" + e.Prefix})
		if err != nil {
			return false, nil
		}
		ready = ready[:0]
		for i := range list.Items {
			p := &list.Items[i]
			if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
				return false, fmt.Errorf("load worker %s ended (%s) before the load started", p.Name, p.Status.Phase)
			}
			if podReady(p) {
				ready = append(ready, p)
			}
		}
		return len(ready) == n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("load workers: %d of %d ready: %w", len(ready), n, err)
	}
	members := make([]worker.Member, n)
	for _, p := range ready {
		i, err := strconv.Atoi(p.Labels[Label])
		if err != nil || i < 0 || i >= n {
			return nil, fmt.Errorf("load worker %s: bad %s label %q", p.Name, Label, p.Labels[Label])
		}
		url, err := e.PodURL(ctx, p, Port)
		if err != nil {
			return nil, fmt.Errorf("load worker %s: %w", p.Name, err)
		}
		members[i] = worker.Member{Name: p.Name, URL: url}
	}
	return members, nil
}

// Pod is worker i's pod of the fleet prefix: the harness image running
// load-worker, ready once its API answers.
func Pod(prefix string, i int, image string) *corev1.Pod {
	grace := int64(2)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:   fmt.Sprintf("%s-%d", prefix, i),
			Labels: map[string]string{Label: strconv.Itoa(i), FleetLabel: prefix},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:  "worker",
				Image: image,
				Args:  []string{"load-worker"},
				Env: []corev1.EnvVar{
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					// No POD_IP: in a pod's own network the worker listens on
					// every address, where a port-forward arrives (on
					// localhost); the local platform's node agent sets it,
					// since its pods share the host's network.
					{Name: "PORT", Value: strconv.Itoa(Port)},
				},
				Ports: []corev1.ContainerPort{{Name: "api", ContainerPort: Port}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(Port)}},
					PeriodSeconds: 1,
				},
			}},
		},
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Results turns a fleet's reports into a run's, with the share of the
// load lost with workers that stopped answering.
func Results(reports []worker.Report) ([]results.LoadWorker, float64) {
	var out []results.LoadWorker
	var lost float64
	for _, r := range reports {
		out = append(out, results.LoadWorker{Name: r.Name, Share: r.Share, Records: r.Records, Sent: r.Sent,
			Complete: r.Complete, StartedAt: r.StartedAt, LateStart: r.LateStart, Lost: r.Lost, Error: r.Error})
		if !r.Lost.IsZero() {
			lost += r.Share
		}
	}
	return out, lost
}
