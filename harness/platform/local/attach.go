package local

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
)

// Attach connects to the local cluster another process runs with
// opts.DataDir (`blastradius cluster up`). Everything but Up and Down
// works as on a cluster of one's own; Up and Down do nothing, since the
// cluster belongs to that process.
func Attach(opts Options) (*Cluster, error) {
	c := New(opts)
	if _, err := os.Stat(c.kubeconfig); err != nil {
		return nil, fmt.Errorf("no local cluster running in %s: %w", c.opts.DataDir, err)
	}
	rc, err := restConfig(c.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of the running cluster: %w", err)
	}
	if c.client, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, err
	}
	c.rest, c.attached = rc, true
	// Either may be absent (built without it); the strategies and
	// analyzers that need them say so.
	c.promURL, _ = PrometheusURLIn(c.opts.DataDir)
	c.routerURL, _ = RouterURLIn(c.opts.DataDir)
	return c, nil
}
