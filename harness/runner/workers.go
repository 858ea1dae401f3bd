package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/blastradius/blastradius/harness/incluster"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/loadgen"
	"github.com/blastradius/blastradius/loadgen/worker"
)

// LoadOptions choose where every run's users' load is generated.
type LoadOptions struct {
	// Generator: results.LoadLocal, results.LoadInCluster, or "" for what
	// each scenario says (in-cluster when it sets load.workers).
	Generator results.LoadGenerator
	// Workers overrides the scenarios' load.workers (0: theirs, or
	// DefaultLoadWorkers for a scenario without).
	Workers int
	// Image is the harness's image the worker pods run.
	Image string
}

// stableImage and candidateImage are the versions' images as the
// platform's pods name them.
func (x *run) stableImage() string    { return x.r.Platform.Image(x.sc.Stable.Image()) }
func (x *run) candidateImage() string { return x.r.Platform.Image(x.sc.Candidate.Image()) }

// DefaultLoadWorkers is the number of in-cluster workers when neither the
// scenario nor the run says.
const DefaultLoadWorkers = 2

// userLoad is the users' load: the harness's own generator or a fleet of
// in-cluster workers.
type userLoad interface {
	SetRateFactor(float64)
	Stop()
	Wait() (*loadgen.Summary, error)
}

// loadPlan is where this run's load is generated, and by how many workers.
func (x *run) loadPlan() (results.LoadGenerator, int, error) {
	opts := x.r.Load
	workers := x.sc.Load.Workers
	if opts.Workers > 0 {
		workers = opts.Workers
	}
	gen := opts.Generator
	switch {
	case gen == results.LoadLocal:
		return gen, 0, nil
	case gen == "" && workers == 0:
		return results.LoadLocal, 0, nil
	case workers == 0:
		workers = DefaultLoadWorkers
	}
	if workers > x.sc.Load.Users {
		return "", 0, fmt.Errorf("%d load workers need at least as many users (load.users: %d)", workers, x.sc.Load.Users)
	}
	return results.LoadInCluster, workers, nil
}

// fleetLoad adapts a worker.Fleet to userLoad, keeping the reports for the
// run's results.
type fleetLoad struct {
	*worker.Fleet
	reports []worker.Report
}

func (f *fleetLoad) Wait() (*loadgen.Summary, error) {
	sum, reports, err := f.Fleet.Wait()
	f.reports = reports
	return sum, err
}

// startFleet starts n worker pods named prefix-<i>, waits until they serve,
// and starts the load on them, every record coming back to cfg.Records.
func (x *run) startFleet(ctx context.Context, prefix string, n int, cfg loadgen.Config) (*fleetLoad, error) {
	members, err := incluster.Start(ctx, incluster.Env{Client: x.r.client, Namespace: x.ns, Image: x.r.Platform.Image(x.r.Load.Image),
		PodURL: x.r.Platform.PodURL, Prefix: prefix}, n)
	if err != nil {
		return nil, err
	}
	// Should the harness vanish without deleting the namespace, the
	// workers stop by themselves once the run could no longer be going on.
	budget := x.sc.Compressed(x.sc.Load.Warmup) + 3*x.sc.Timeout + time.Minute
	f, err := worker.Start(ctx, members, worker.Load{
		URL: cfg.URL, Profile: cfg.Profile, Users: cfg.Users, Seed: cfg.Seed, KeepAlive: cfg.KeepAlive,
		Timeout: cfg.Timeout, SLO: cfg.SLO, Headers: cfg.Headers, Cohort: cfg.Cohort,
		MaxDuration: budget, Records: cfg.Records, OnSecond: cfg.OnSecond,
	})
	if err != nil {
		return nil, err
	}
	x.progress("%s: load from %d in-cluster workers", prefix, n)
	return &fleetLoad{Fleet: f}, nil
}
