package cli

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/loadgen"
)

// TestRunInClusterLoad runs scenarios/incluster on the local platform: the
// smoke release with its load from the harness, from 2 and from 4 worker
// pods, under canary analysis and (2 workers, and a preview worker) under
// blue-green analysis (the harness's image run by the node agent). Every request is
// accounted for, each worker sent only for its own users, and the verdict
// and blast radius match the harness's own load within noise.
func TestRunInClusterLoad(t *testing.T) {
	out, set, _ := runShipped(t, "incluster", 2)
	require.Len(t, set.Runs, 5)
	byName := map[string]results.Run{}
	for _, r := range set.Runs {
		byName[r.Scenario+"/"+r.Strategy] = r
	}
	for _, c := range []struct {
		n        int
		strategy string
	}{{2, "canary-analysis"}, {4, "canary-analysis"}, {2, "blue-green-analysis"}} {
		n := c.n
		base := byName["incluster-baseline/"+c.strategy]
		require.Equal(t, results.LoadLocal, base.Load.Generator)
		r := byName[fmt.Sprintf("incluster-%d-workers/%s", n, c.strategy)]
		t.Run(r.ID, func(t *testing.T) {
			assert.False(t, r.Failed(), "expectations: %+v", r.Expectations)
			assert.Equal(t, results.LoadInCluster, r.Load.Generator)
			assert.Equal(t, r.Load.Total, r.BlastRadius.TotalRequests+r.Excluded, "every request is accounted for")
			require.Len(t, r.Load.Workers, n)
			var shares float64
			var records int64
			index := map[string]int{}
			for i, w := range r.Load.Workers {
				assert.True(t, w.Complete, "%+v", w)
				require.NotNil(t, w.Sent)
				assert.Equal(t, *w.Sent, w.Records, "worker %s: its count and its stream agree", w.Name)
				shares += w.Share
				records += w.Records
				index[w.Name] = i
			}
			assert.InDelta(t, 1, shares, 1e-12)
			assert.Zero(t, r.Load.LostShare)
			assert.Equal(t, r.Load.Total, records)
			recs := readRecords(t, filepath.Join(out, r.Records))
			assert.Len(t, recs, int(r.Load.Total))
			for _, rec := range recs {
				i, ok := index[rec.Worker]
				require.True(t, ok, "record from an unknown worker %q", rec.Worker)
				require.Equal(t, i, loadgen.UserIndex(rec.User)%n, "%s sent for %s, another worker's user", rec.Worker, rec.User)
			}
			assert.InDelta(t, r.Load.RequestedRate, r.Load.AchievedRate, 0.05*r.Load.RequestedRate, "the workers sent the whole rate")

			// Within noise of the harness's own load: the same verdict, and
			// failed requests within 3 sigma of a Poisson count or half of
			// the baseline, whichever is wider (the decision's moment
			// moves by an analysis interval from run to run).
			assert.Equal(t, base.Verdict, r.Verdict)
			a, b := float64(base.BlastRadius.FailedRequests), float64(r.BlastRadius.FailedRequests)
			t.Logf("failed requests: harness load %v, %d workers %v; requests %d vs %d", a, n, b, base.BlastRadius.TotalRequests, r.BlastRadius.TotalRequests)
			assert.LessOrEqual(t, math.Abs(a-b), math.Max(3*math.Sqrt(a+b), 0.5*a)+5)
			assert.False(t, strings.Contains(r.Error, "worker"), r.Error)
			if c.strategy == "blue-green-analysis" {
				assert.Positive(t, r.Load.PreviewTotal, "the preview's load came from its own worker")
			}
		})
	}
}
