package runner

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/fault"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
)

// logExcerptPods and logExcerptLines bound what goes into results.json.
const (
	logExcerptPods  = 2
	logExcerptLines = 20
)

// candidateLogs takes the tail of a few candidate pods' logs, their error
// lines if there are any (the demo app logs every request at info level).
func (x *run) candidateLogs(ctx context.Context) []results.LogExcerpt {
	out := []results.LogExcerpt{}
	pods, err := x.targetPods(ctx, fault.Candidate)
	if err != nil {
		return out
	}
	for i := range pods {
		if len(out) == logExcerptPods {
			break
		}
		tail := int64(500)
		data, err := x.r.client.CoreV1().Pods(x.ns).GetLogs(pods[i].Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		if err != nil || len(data) == 0 {
			continue
		}
		out = append(out, results.LogExcerpt{Pod: pods[i].Name, Container: strategy.ContainerName,
			Version: x.sc.Candidate.Tag, Lines: strings.Join(analysis.Excerpt(string(data), logExcerptLines), "\n")})
	}
	return out
}
