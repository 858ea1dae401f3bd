package local_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blastradius/blastradius/harness/platform/local"
)

// BenchmarkClusterUp measures a cold start of the local cluster with the
// tools already built (control plane ready, node Ready, Argo ready), the idle
// cluster's memory, and teardown. Target on 2 cores: Argo ready within 10 s.
func BenchmarkClusterUp(b *testing.B) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if bin == "" {
		b.Skip("BLASTRADIUS_BIN is not set: run `make bench` (it builds the tools)")
	}
	dataDir, err := filepath.Abs(filepath.Join("..", "..", "..", ".blastradius", "bench-local"))
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		c := local.New(local.Options{BinDir: bin, DataDir: dataDir})
		if err := c.Up(context.Background()); err != nil {
			_ = c.Down(context.Background())
			b.Fatal(err)
		}
		time.Sleep(5 * time.Second) // let start-up work settle before reading memory
		rss := clusterRSS(bin)
		start := time.Now()
		if err := c.Down(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(c.Timings.ControlPlaneReady.Seconds(), "controlplane-s")
		b.ReportMetric(c.Timings.NodeReady.Seconds(), "node-s")
		b.ReportMetric(c.Timings.ArgoReady.Seconds(), "argo-s")
		b.ReportMetric(c.Timings.PrometheusReady.Seconds(), "prometheus-s")
		b.ReportMetric(time.Since(start).Seconds(), "teardown-s")
		b.ReportMetric(float64(rss)/(1<<20), "idle-MiB")
	}
}

// clusterRSS sums the resident memory of the cluster's processes (those run
// from bin) and of this process, which hosts the node agent and the proxy.
func clusterRSS(bin string) int64 {
	bin, _ = filepath.Abs(bin)
	var total int64
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || (e.Name() != self && !strings.HasPrefix(exe, bin+"/")) {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
				total += kb << 10
			}
		}
	}
	return total
}
