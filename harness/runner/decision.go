package runner

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/fault"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/watch"
)

// poll is how often the runner looks at what its informers and the API say.
const poll = 250 * time.Millisecond

// waitDecision waits for Argo's decision, or the Deployment's completion,
// printing progress once a second. A fault that could not be applied ends
// the run as a harness error.
func (x *run) waitDecision(ctx context.Context) (results.Outcome, time.Time, error) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	lastPrint := time.Time{}
	deadline := x.applied.Add(x.sc.Timeout)
	for {
		select {
		case <-ctx.Done():
			return results.OutcomeError, time.Now(), ctx.Err()
		case <-tick.C:
		}
		if err := x.timeline.Err(); err != nil {
			return results.OutcomeError, time.Now(), err
		}
		now := time.Now()
		if outcome := x.decision(ctx); outcome != "" {
			return outcome, now, nil
		}
		if now.After(deadline) {
			return results.OutcomeTimeout, now, nil
		}
		if now.Sub(lastPrint) >= time.Second {
			lastPrint = now
			st := x.w.Rollout()
			x.status("t+%3.0fs %-11s step %d/%d weight %3d | %s", now.Sub(x.applied).Seconds(), st.Phase, st.Step, st.Steps, st.Weight, x.live.String())
		}
	}
}

// decision reads the outcome so far: "" while undecided.
func (x *run) decision(ctx context.Context) results.Outcome {
	if !x.traits.Rollout {
		d, err := x.r.client.AppsV1().Deployments(x.ns).Get(ctx, x.params.App, metav1.GetOptions{})
		if err != nil {
			return "" // transient; the timeout bounds it
		}
		return watch.DeploymentOutcome(d, x.candidateImage())
	}
	st := x.w.Rollout()
	switch {
	case st.Abort:
		return results.OutcomeAborted
	case st.Phase == "Degraded":
		return results.OutcomeDegraded
	case st.Inconclusive:
		return results.OutcomePaused
	case st.Phase == "Healthy" && st.PodHash != "" && st.StableHash == st.PodHash && x.candidateIsStable(ctx, st.StableHash):
		return results.OutcomePromoted
	}
	return ""
}

// candidateIsStable checks that the stable ReplicaSet runs the candidate, so
// that the stable version's own Healthy phase is not read as a promotion.
func (x *run) candidateIsStable(ctx context.Context, hash string) bool {
	rss, err := x.r.client.AppsV1().ReplicaSets(x.ns).List(ctx, metav1.ListOptions{LabelSelector: analysis.HashLabel + "=" + hash})
	if err != nil {
		return false
	}
	for _, rs := range rss.Items {
		if watch.Image(rs.Spec.Template.Spec) == x.candidateImage() {
			return true
		}
	}
	return false
}

// waitStable waits until the stable version serves with every replica.
func (x *run) waitStable(ctx context.Context) error {
	limit := x.sc.Timeout
	err := wait.PollUntilContextTimeout(ctx, poll, limit, true, func(ctx context.Context) (bool, error) {
		if !x.traits.Rollout {
			d, err := x.r.client.AppsV1().Deployments(x.ns).Get(ctx, x.params.App, metav1.GetOptions{})
			return err == nil && watch.DeploymentComplete(d, x.stableImage()), nil
		}
		st := x.w.Rollout()
		return st.Phase == "Healthy" && st.ReadyReplicas == int64(x.sc.Replicas), nil
	})
	if err != nil {
		return fmt.Errorf("stable %s not healthy within %s: %w (last: %+v)", x.sc.Stable.Tag, limit, err, x.w.Rollout())
	}
	return nil
}

// waitTrafficOffCandidate waits (bounded) until a whole second of the
// users' load, sent after the decision, got no answer from the candidate.
// That, not the candidate's pods being gone, is what users see: a
// blue-green preview keeps its pods for Argo's abortScaleDownDelay (30 s)
// while every user is already on the stable version.
func (x *run) waitTrafficOffCandidate(ctx context.Context) {
	_ = wait.PollUntilContextTimeout(ctx, poll, drain, true, func(context.Context) (bool, error) {
		return x.live.servedWithout(x.sc.Candidate.Tag, x.decided), nil
	})
}

// targetPods lists the running, not terminating, pods of a fault target,
// told apart by image so that it works for every strategy.
func (x *run) targetPods(ctx context.Context, t fault.Target) ([]corev1.Pod, error) {
	img := x.stableImage()
	if t == fault.Candidate {
		img = x.candidateImage()
	}
	pods, err := x.r.client.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if watch.Image(p.Spec) == img && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out, nil
}
