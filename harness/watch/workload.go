package watch

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/blastradius/blastradius/harness/results"
)

// DeploymentOutcome is a plain Deployment's outcome: promoted once every
// replica runs img, degraded when the Deployment controller gave up (the old
// pods still serve), "" while rolling.
func DeploymentOutcome(d *appsv1.Deployment, img string) results.Outcome {
	if DeploymentComplete(d, img) {
		return results.OutcomePromoted
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return results.OutcomeDegraded
		}
	}
	return ""
}

// DeploymentComplete reports whether every replica of d runs img and is
// available.
func DeploymentComplete(d *appsv1.Deployment, img string) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return Image(d.Spec.Template.Spec) == img && d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == want && d.Status.Replicas == want && d.Status.AvailableReplicas == want
}
