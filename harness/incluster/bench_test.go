package incluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	demoimage "github.com/blastradius/blastradius/demoapp/image"
	"github.com/blastradius/blastradius/harness/incluster"
	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/loadgen"
	"github.com/blastradius/blastradius/loadgen/worker"
)

// benchApp is the target: the demo app behind a NodePort Service.
const benchApp = `
apiVersion: v1
kind: Namespace
metadata: {name: bench}
---
apiVersion: v1
kind: Service
metadata: {name: demo, namespace: bench}
spec:
  type: NodePort
  selector: {app: demo}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: demo, namespace: bench}
spec:
  replicas: 4
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers:
      - name: demo
        image: blastradius/demoapp:blue
        readinessProbe:
          httpGet: {path: /readyz, port: 8080}
          periodSeconds: 1
`

// BenchmarkInClusterLoad measures the attributed requests per second one
// generator in the harness achieves against the demo app on the local
// platform, and what 1, 2 and 4 in-cluster workers achieve together, each
// asked for more than the machine can serve, in the same run: the ratios
// (workersN/local) are the comparable numbers. On one machine the workers,
// the demo app and the harness share the same cores, so more workers add
// no capacity here; on a cluster each worker brings its node's.
func BenchmarkInClusterLoad(b *testing.B) {
	bin := os.Getenv("BLASTRADIUS_BIN")
	if bin == "" {
		b.Skip("BLASTRADIUS_BIN is not set: run `make bench` (it builds the tools)")
	}
	bin, _ = filepath.Abs(bin)
	dataDir, err := filepath.Abs(filepath.Join("..", "..", ".blastradius", "bench-incluster"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	c := local.New(local.Options{BinDir: bin, DataDir: dataDir})
	if err := c.Up(ctx); err != nil {
		_ = c.Down(ctx)
		b.Fatal(err)
	}
	defer func() { _ = c.Down(context.Background()) }()
	client, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	if err := deployTarget(ctx, c); err != nil {
		b.Fatal(err)
	}
	url, err := c.InClusterServiceURL(ctx, "bench", "demo")
	if err != nil {
		b.Fatal(err)
	}
	url += "/color"
	const (
		rate  = 20000.0 // well above what 2 cores serve: the generators' ceiling shows
		users = 1000
		d     = 5 * time.Second
	)
	for range b.N {
		sum, err := loadgen.Run(ctx, loadgen.Config{URL: url, Profile: loadgen.ConstantProfile(rate), Duration: d, Users: users})
		if err != nil {
			b.Fatal(err)
		}
		localRPS := attributedRate(sum)
		b.ReportMetric(localRPS, "local-rps")
		for _, n := range []int{1, 2, 4} {
			ns := fmt.Sprintf("bench-workers-%d", n)
			if err := createNamespace(ctx, c, ns); err != nil {
				b.Fatal(err)
			}
			members, err := incluster.Start(ctx, incluster.Env{Client: client, Namespace: ns,
				Image: demoimage.HarnessImage(demoimage.DefaultHarnessTag), PodURL: c.PodURL}, n)
			if err != nil {
				b.Fatal(err)
			}
			f, err := worker.Start(ctx, members, worker.Load{URL: url, Profile: loadgen.ConstantProfile(rate), Users: users,
				MaxDuration: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Until(f.StartAt().Add(d)))
			f.Stop()
			sum, reports, err := f.Wait()
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range reports {
				if !r.Complete {
					b.Fatalf("worker %s: %s", r.Name, r.Error)
				}
			}
			rps := attributedRate(sum)
			b.ReportMetric(rps, fmt.Sprintf("workers%d-rps", n))
			b.ReportMetric(rps/localRPS, fmt.Sprintf("workers%d/local", n))
			_ = client.CoreV1().Namespaces().Delete(ctx, ns, deleteNow)
		}
	}
}

// attributedRate is the attributed responses per second of the attack.
func attributedRate(s *loadgen.Summary) float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Total-s.Unattributed) / s.Elapsed.Seconds()
}

func deployTarget(ctx context.Context, c *local.Cluster) error {
	objs, err := kube.Decode(strings.NewReader(benchApp))
	if err != nil {
		return err
	}
	a, err := kube.NewApplier(c.RESTConfig())
	if err != nil {
		return err
	}
	if err := a.Apply(ctx, objs...); err != nil {
		return err
	}
	return waitDeploymentReady(ctx, c, "bench", "demo", 4)
}

var deleteNow = metav1.DeleteOptions{}

func createNamespace(ctx context.Context, c *local.Cluster, name string) error {
	client, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return err
}

func waitDeploymentReady(ctx context.Context, c *local.Cluster, ns, name string, replicas int32) error {
	client, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == replicas, nil
	})
}
