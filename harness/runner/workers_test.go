package runner

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/scenario"
)

func TestLoadPlan(t *testing.T) {
	for _, c := range []struct {
		name    string
		opts    LoadOptions
		workers int // the scenario's load.workers
		wantGen results.LoadGenerator
		wantN   int
		wantErr string
		scUsers int
	}{
		{name: "default: local", wantGen: results.LoadLocal},
		{name: "scenario workers", workers: 3, wantGen: results.LoadInCluster, wantN: 3},
		{name: "--load local wins", opts: LoadOptions{Generator: results.LoadLocal}, workers: 3, wantGen: results.LoadLocal},
		{name: "--load in-cluster, default workers", opts: LoadOptions{Generator: results.LoadInCluster}, wantGen: results.LoadInCluster, wantN: DefaultLoadWorkers},
		{name: "--load-workers overrides", opts: LoadOptions{Workers: 4}, workers: 2, wantGen: results.LoadInCluster, wantN: 4},
		{name: "more workers than users", opts: LoadOptions{Workers: 4}, scUsers: 3, wantErr: "4 load workers need at least as many users (load.users: 3)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			users := c.scUsers
			if users == 0 {
				users = 100
			}
			x := &run{r: &Runner{Load: c.opts}, sc: &scenario.Scenario{Load: scenario.LoadSpec{Users: users, Workers: c.workers}}}
			gen, n, err := x.loadPlan()
			if c.wantErr != "" {
				require.EqualError(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.wantGen, gen)
			assert.Equal(t, c.wantN, n)
		})
	}
}
