package demo

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
)

// connection tracks whether the cluster's API server answers, so that
// viewers can say so while it restarts and controls that need it are
// refused with the reason instead of failing half-way.
type connection struct {
	mu      sync.Mutex
	down    bool
	since   time.Time
	lastErr string
}

const (
	connCheckEvery   = time.Second
	connCheckTimeout = 2 * time.Second
)

// monitor asks the API server's /readyz every second until ctx ends.
func (c *connection) monitor(ctx context.Context, cs kubernetes.Interface) {
	t := time.NewTicker(connCheckEvery)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, connCheckTimeout)
		err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(rctx).Error()
		cancel()
		if ctx.Err() != nil {
			return
		}
		c.set(err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *connection) set(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.down, c.lastErr = false, ""
	case !c.down:
		c.down, c.since, c.lastErr = true, time.Now(), err.Error()
	}
}

// status is whether the API server answered last time, and if not, what a
// viewer reads.
func (c *connection) status() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.down {
		return true, ""
	}
	return false, "the API server is not answering (for " + time.Since(c.since).Round(time.Second).String() + "): reconnecting"
}
