package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/envfuncs"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/loadgen"
)

// These end-to-end tests run the real control plane and the real Argo
// Rollouts controller built by `make tools`. Plain `go test` without
// BLASTRADIUS_BIN (set by `make test`) or with -short skips them.

const clusterName = "e2e-local"

var (
	testenv  env.Environment
	provider *local.Provider
	binDir   string
	skipWhy  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	binDir = os.Getenv("BLASTRADIUS_BIN")
	if binDir != "" {
		binDir, _ = filepath.Abs(binDir)
	}
	switch {
	case testing.Short():
		skipWhy = "-short: skipping the local platform end-to-end tests"
	case binDir == "":
		skipWhy = "BLASTRADIUS_BIN is not set: run `make test` (it builds the tools with `make tools`)"
	}
	if skipWhy != "" {
		os.Exit(m.Run())
	}
	dataDir, err := filepath.Abs(filepath.Join("..", "..", "..", ".blastradius", clusterName))
	if err != nil {
		panic(err)
	}
	provider = local.NewProvider(local.Options{
		BinDir: binDir, DataDir: dataDir, Log: os.Stderr,
		// Shorter than the kubelet's 10s so that the crash-loop test sees
		// several restarts in seconds, not minutes.
		CrashLoopBackoff: 2 * time.Second,
	})
	testenv = env.NewWithConfig(envconf.New())
	testenv.Setup(envfuncs.CreateClusterWithOpts(provider, clusterName))
	testenv.Finish(envfuncs.DestroyCluster(clusterName))
	os.Exit(testenv.Run(m))
}

func skipIfNeeded(t *testing.T) {
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
}

func clients(t *testing.T) (kubernetes.Interface, dynamic.Interface, *kube.Applier) {
	cfg := provider.KubernetesRestConfig()
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	a, err := kube.NewApplier(cfg)
	require.NoError(t, err)
	return cs, dyn, a
}

var rolloutGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

// manifests is the test's own canary Rollout and NodePort Service.
var manifests = template.Must(template.New("m").Parse(`
apiVersion: v1
kind: Namespace
metadata: {name: {{.NS}}}
---
apiVersion: v1
kind: Service
metadata: {name: demo, namespace: {{.NS}}}
spec:
  type: NodePort
  selector: {app: demo}
  ports: [{name: http, port: 80, targetPort: http}]
{{- if .AnalysisURL}}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: verdict, namespace: {{.NS}}}
spec:
  metrics:
  - name: verdict
    interval: 1s
    count: 2
    failureLimit: 0
    successCondition: result.ok == true
    provider:
      web:
        url: {{.AnalysisURL}}
        jsonPath: "{$}"
{{- end}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: demo, namespace: {{.NS}}}
spec:
  replicas: 10
  progressDeadlineSeconds: {{.Deadline}}
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: demo
        image: blastradius/demoapp:{{.Image}}
        ports: [{name: http, containerPort: 8080}]
        env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        readinessProbe:
          httpGet: {path: /readyz, port: http}
          periodSeconds: 1
  strategy:
    canary:
      steps:
      - setWeight: 20
{{- if .AnalysisURL}}
      - analysis: {templates: [{templateName: verdict}]}
{{- end}}
      - pause: {duration: 5s}
      - setWeight: 50
      - pause: {duration: 5s}
`))

type setup struct {
	NS, Image, AnalysisURL string
	Deadline               int
}

func render(t *testing.T, s setup) []*unstructured.Unstructured {
	if s.Deadline == 0 {
		s.Deadline = 120
	}
	var buf bytes.Buffer
	require.NoError(t, manifests.Execute(&buf, s))
	objs, err := kube.DecodeBytes(buf.Bytes())
	require.NoError(t, err)
	return objs
}

// rollout is the part of a Rollout's status the tests read.
type rollout struct {
	Phase, Message      string
	PodHash, StableHash string
	Step                int64
	Abort               bool
	Conditions          []map[string]any
}

func getRollout(ctx context.Context, dyn dynamic.Interface, ns string) (rollout, error) {
	u, err := dyn.Resource(rolloutGVR).Namespace(ns).Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		return rollout{}, err
	}
	var r rollout
	r.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
	r.Message, _, _ = unstructured.NestedString(u.Object, "status", "message")
	r.Step, _, _ = unstructured.NestedInt64(u.Object, "status", "currentStepIndex")
	r.Abort, _, _ = unstructured.NestedBool(u.Object, "status", "abort")
	r.PodHash, _, _ = unstructured.NestedString(u.Object, "status", "currentPodHash")
	r.StableHash, _, _ = unstructured.NestedString(u.Object, "status", "stableRS")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			r.Conditions = append(r.Conditions, m)
		}
	}
	return r, nil
}

func waitPhase(ctx context.Context, t *testing.T, dyn dynamic.Interface, ns, phase string, limit time.Duration) rollout {
	t.Helper()
	var last rollout
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, limit, true, func(ctx context.Context) (bool, error) {
		r, err := getRollout(ctx, dyn, ns)
		last = r
		return err == nil && r.Phase == phase, nil
	})
	require.NoError(t, err, "rollout never reached phase %s; last: %+v", phase, last)
	return last
}

func setImage(ctx context.Context, t *testing.T, dyn dynamic.Interface, ns, image string) {
	// A JSON patch of the one field: a merge patch would replace the whole
	// containers list of a custom resource, probes and all.
	patch := fmt.Sprintf(`[{"op":"test","path":"/spec/template/spec/containers/0/name","value":"demo"},`+
		`{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"blastradius/demoapp:%s"}]`, image)
	_, err := dyn.Resource(rolloutGVR).Namespace(ns).Patch(ctx, "demo", "application/json-patch+json", []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
}

func serviceURL(ctx context.Context, t *testing.T, ns string) string {
	u, err := provider.Cluster().ServiceURL(ctx, ns, "demo")
	require.NoError(t, err)
	return u + "/color"
}

// burst sends load for d and returns the summary.
func burst(t *testing.T, url string, rate float64, d time.Duration) *loadgen.Summary {
	sum, err := loadgen.Run(context.Background(), loadgen.Config{URL: url, Profile: loadgen.ConstantProfile(rate), Duration: d, Users: 50, Timeout: 3 * time.Second})
	require.NoError(t, err)
	require.NoError(t, sum.Reconcile())
	return sum
}

// demoProcesses lists the demo app processes running a version (by the
// VERSION in their environment).
func demoProcesses(version string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if filepath.Base(exe) != "demoapp" {
			continue
		}
		envb, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		for _, kv := range bytes.Split(envb, []byte{0}) {
			if string(kv) == "VERSION="+version {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func TestClusterUp(t *testing.T) {
	skipIfNeeded(t)
	f := features.New("up").
		Assess("a Ready node, Argo CRDs established, controller running", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs, dyn, _ := clients(t)
			nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			require.Len(t, nodes.Items, 1)
			ready := false
			for _, c := range nodes.Items[0].Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			assert.True(t, ready, "node not Ready")
			crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
			for _, name := range local.ArgoCRDs {
				_, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
				assert.NoError(t, err, name)
			}
			k8s, argo, err := provider.Cluster().Versions(ctx)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(k8s, "v1.34."), k8s)
			assert.True(t, strings.HasPrefix(argo, "v1.10."), argo)
			return ctx
		}).
		Assess("kubectl get nodes through the built kubectl", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			out, err := exec.CommandContext(ctx, filepath.Join(binDir, "kubectl"), "--kubeconfig", provider.GetKubeconfig(), "get", "nodes").CombinedOutput()
			require.NoError(t, err, string(out))
			assert.Regexp(t, `blastradius-local\s+Ready`, string(out))
			return ctx
		}).
		Assess("the garbage collector knows Rollouts from the start", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			// Right after Up, as the cluster's first use: a deleted
			// Rollout's dependents go at once, not at the garbage
			// collector's next rediscovery (up to 30 s later).
			cs, dyn, _ := clients(t)
			const name = "gc-probe"
			ro := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
				"metadata": map[string]any{"name": name, "namespace": "default"},
				"spec": map[string]any{
					"replicas": int64(0),
					"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
					"template": map[string]any{
						"metadata": map[string]any{"labels": map[string]any{"app": name}},
						"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "blastradius/demoapp:blue"}}},
					},
					"strategy": map[string]any{"canary": map[string]any{}},
				},
			}}
			created, err := dyn.Resource(rolloutGVR).Namespace("default").Create(ctx, ro, metav1.CreateOptions{})
			require.NoError(t, err)
			_, err = cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: name, UID: created.GetUID()}}}},
				metav1.CreateOptions{})
			require.NoError(t, err)
			// Foreground: the Rollout itself goes only once the garbage
			// collector, watching Rollouts, has deleted its dependents
			// (with background deletion an unwatched owner can still be
			// found missing by chance).
			fg := metav1.DeletePropagationForeground
			require.NoError(t, dyn.Resource(rolloutGVR).Namespace("default").Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg}))
			err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
				_, errRO := dyn.Resource(rolloutGVR).Namespace("default").Get(ctx, name, metav1.GetOptions{})
				_, errCM := cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
				return apierrors.IsNotFound(errRO) && apierrors.IsNotFound(errCM), nil
			})
			if !assert.NoError(t, err, "the Rollout deleted in the foreground, or the ConfigMap it owns, is still there") {
				_ = cs.CoreV1().ConfigMaps("default").Delete(context.Background(), name, metav1.DeleteOptions{})
				_, _ = dyn.Resource(rolloutGVR).Namespace("default").Patch(context.Background(), name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// stepShares records, second by second, the green share of responses next to
// the rollout's step and its ready replica counts, while the rollout walks.
type stepSample struct {
	step                 int64
	canaryReady, ready   int
	greenShare, requests float64
}

func TestCanaryWalksTheSteps(t *testing.T) {
	skipIfNeeded(t)
	const ns = "canary"
	f := features.New("canary").
		Setup(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			_, _, a := clients(t)
			require.NoError(t, a.Apply(ctx, render(t, setup{NS: ns, Image: "blue"})...))
			return ctx
		}).
		Assess("becomes Healthy and serves only blue", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			_, dyn, _ := clients(t)
			waitPhase(ctx, t, dyn, ns, "Healthy", 2*time.Minute)
			sum := burst(t, serviceURL(ctx, t, ns), 100, 2*time.Second)
			assert.Positive(t, sum.Total)
			assert.Equal(t, []string{"blue"}, sum.VersionNames())
			assert.Zero(t, sum.Failures)
			return ctx
		}).
		Assess("an update to green walks the steps with matching traffic shares", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs, dyn, _ := clients(t)
			url := serviceURL(ctx, t, ns)
			var mu sync.Mutex
			var samples []stepSample
			state := stepSample{step: -1}
			gen, err := loadgen.New(loadgen.Config{URL: url, Profile: loadgen.ConstantProfile(150), Users: 50, Timeout: 3 * time.Second,
				OnSecond: func(s loadgen.Second) {
					mu.Lock()
					defer mu.Unlock()
					g := s.Versions["green"].Requests
					if s.Requests > 0 {
						samples = append(samples, stepSample{step: state.step, canaryReady: state.canaryReady, ready: state.ready,
							greenShare: float64(g) / float64(s.Requests), requests: float64(s.Requests)})
					}
				}})
			require.NoError(t, err)
			loadCtx, stopLoad := context.WithCancel(ctx)
			require.NoError(t, gen.Start(loadCtx))
			before, err := getRollout(ctx, dyn, ns)
			require.NoError(t, err)
			setImage(ctx, t, dyn, ns, "green")
			err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
				r, err := getRollout(ctx, dyn, ns)
				if err != nil {
					return false, nil
				}
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return false, nil
				}
				canary, ready := 0, 0
				for _, p := range pods.Items {
					if p.DeletionTimestamp != nil || !podReady(&p) {
						continue
					}
					ready++
					if strings.HasSuffix(p.Spec.Containers[0].Image, ":green") {
						canary++
					}
				}
				mu.Lock()
				state = stepSample{step: r.Step, canaryReady: canary, ready: ready}
				mu.Unlock()
				// Done once the green ReplicaSet is the stable one.
				return r.Phase == "Healthy" && r.PodHash != before.PodHash && r.StableHash == r.PodHash, nil
			})
			require.NoError(t, err)
			gen.Stop()
			sum, err := gen.Wait()
			stopLoad()
			require.NoError(t, err)
			require.NoError(t, sum.Reconcile())
			assert.Zero(t, sum.Failures, "no request may fail while a good version rolls out: %s", failureKinds(sum))

			// In each pause (step 1 after setWeight 20, step 3 after setWeight 50),
			// seconds whose replica counts held steady carry green at the
			// replica ratio, within binomial noise.
			mu.Lock()
			defer mu.Unlock()
			for _, step := range []int64{1, 3} {
				var green, total float64
				var ratio float64
				for i := 1; i < len(samples); i++ {
					s, prev := samples[i], samples[i-1]
					if s.step != step || prev.step != step || s.canaryReady != prev.canaryReady || s.ready != prev.ready || s.ready == 0 {
						continue
					}
					ratio = float64(s.canaryReady) / float64(s.ready)
					green += s.greenShare * s.requests
					total += s.requests
				}
				require.Positive(t, total, "no steady second observed at step %d: %+v", step, samples)
				assert.InDelta(t, ratio, green/total, 0.1, "step %d: green share %.3f over %v requests, replica ratio %.3f", step, green/total, total, ratio)
				t.Logf("step %d: green share %.3f over %v requests, replica ratio %.3f", step, green/total, total, ratio)
			}
			return ctx
		}).
		Assess("ends Healthy and all green", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			_, dyn, _ := clients(t)
			waitPhase(ctx, t, dyn, ns, "Healthy", time.Minute)
			sum := burst(t, serviceURL(ctx, t, ns), 100, 2*time.Second)
			assert.Equal(t, []string{"green"}, sum.VersionNames())
			assert.Zero(t, sum.Failures)
			return ctx
		}).
		Assess("kubectl argo rollouts get rollout shows it", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cmd := exec.CommandContext(ctx, filepath.Join(binDir, "kubectl-argo-rollouts"), "get", "rollout", "demo", "-n", ns, "--kubeconfig", provider.GetKubeconfig())
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			assert.Contains(t, string(out), "demo")
			assert.Contains(t, string(out), "Healthy")
			assert.Contains(t, string(out), "blastradius/demoapp:green")
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func TestFailedAnalysisAborts(t *testing.T) {
	skipIfNeeded(t)
	const ns = "abort"
	// The analysis endpoint: Argo's web provider calls it and reads the verdict.
	var calls sync.WaitGroup
	calls.Add(1)
	var once sync.Once
	verdict := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		once.Do(calls.Done)
		_ = json.NewEncoder(w).Encode(map[string]bool{"ok": false})
	}))
	defer verdict.Close()
	f := features.New("abort").
		Setup(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			_, dyn, a := clients(t)
			require.NoError(t, a.Apply(ctx, render(t, setup{NS: ns, Image: "blue", AnalysisURL: verdict.URL})...))
			waitPhase(ctx, t, dyn, ns, "Healthy", 2*time.Minute)
			return ctx
		}).
		Assess("a failing web metric aborts the update to a bad version", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			_, dyn, _ := clients(t)
			setImage(ctx, t, dyn, ns, "bad-green")
			r := waitPhase(ctx, t, dyn, ns, "Degraded", 2*time.Minute)
			calls.Wait()
			assert.True(t, r.Abort, "rollout not aborted: %+v", r)
			return ctx
		}).
		Assess("traffic is back on the stable version and no bad process is left", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs, _, _ := clients(t)
			err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return false, nil
				}
				for _, p := range pods.Items {
					if strings.HasSuffix(p.Spec.Containers[0].Image, ":bad-green") {
						return false, nil
					}
				}
				return len(demoProcesses("bad-green")) == 0, nil
			})
			require.NoError(t, err, "bad-green pods or processes remain: %v", demoProcesses("bad-green"))
			sum := burst(t, serviceURL(ctx, t, ns), 100, 2*time.Second)
			assert.Equal(t, []string{"blue"}, sum.VersionNames())
			assert.Zero(t, sum.Failures)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func TestCrashLoopDoesNotProgress(t *testing.T) {
	skipIfNeeded(t)
	const ns = "crash"
	f := features.New("crash loop").
		Setup(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			_, dyn, a := clients(t)
			require.NoError(t, a.Apply(ctx, render(t, setup{NS: ns, Image: "blue", Deadline: 15})...))
			waitPhase(ctx, t, dyn, ns, "Healthy", 2*time.Minute)
			return ctx
		}).
		Assess("restarts rise, pods never Ready, ProgressDeadlineExceeded", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs, dyn, _ := clients(t)
			setImage(ctx, t, dyn, ns, "crash-green")
			r := waitPhase(ctx, t, dyn, ns, "Degraded", 2*time.Minute)
			found := false
			for _, c := range r.Conditions {
				if c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded" {
					found = true
				}
			}
			assert.True(t, found, "no ProgressDeadlineExceeded condition: %+v", r.Conditions)
			assert.Equal(t, int64(0), r.Step, "the rollout must not pass its first step")

			maxRestarts := func() int32 {
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				require.NoError(t, err)
				var most int32
				for _, p := range pods.Items {
					if !strings.HasSuffix(p.Spec.Containers[0].Image, ":crash-green") {
						continue
					}
					assert.False(t, podReady(&p), "crash-looping pod %s is Ready", p.Name)
					for _, s := range p.Status.ContainerStatuses {
						most = max(most, s.RestartCount)
					}
				}
				return most
			}
			first := maxRestarts()
			assert.Positive(t, first)
			err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
				return maxRestarts() > first, nil
			})
			assert.NoError(t, err, "restart count did not rise above %d", first)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// promGet decodes the data of a Prometheus HTTP API answer.
func promGet(ctx context.Context, t *testing.T, path string, data any) {
	t.Helper()
	base, err := provider.Cluster().PrometheusURL(ctx)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status, path)
	require.NoError(t, json.Unmarshal(body.Data, data))
}

// promSample is one series of an instant query's vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func promQuery(ctx context.Context, t *testing.T, q string) []promSample {
	var data struct {
		Result []promSample `json:"result"`
	}
	promGet(ctx, t, "/api/v1/query?query="+url.QueryEscape(q), &data)
	return data.Result
}

func TestPrometheusScrapesAnnotatedPods(t *testing.T) {
	skipIfNeeded(t)
	const ns = "prom"
	f := features.New("prometheus").
		Setup(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs, dyn, a := clients(t)
			_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			require.NoError(t, err)
			blue, _ := catalog.Lookup("blue")
			canary, _ := strategy.Lookup(strategy.Canary)
			objs, err := canary.Render(strategy.Params{Namespace: ns, Image: blue.Image(), Replicas: 2,
				Steps: []int{50}, StepPause: time.Second, ScrapeInterval: time.Second})
			require.NoError(t, err)
			require.NoError(t, a.Apply(ctx, objs...))
			waitPhase(ctx, t, dyn, ns, "Healthy", 2*time.Minute)
			return ctx
		}).
		Assess("Prometheus is ready once Up returned", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			base, err := provider.Cluster().PrometheusURL(ctx)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)
			resp, err := http.Get(base + "/-/ready")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			return ctx
		}).
		Assess("each pod is an up target, scraped every second, with its pod template hash", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs, _, _ := clients(t)
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			require.Len(t, pods.Items, 2)
			want := map[string]string{} // pod name -> rollouts-pod-template-hash
			for _, p := range pods.Items {
				want[p.Name] = p.Labels["rollouts-pod-template-hash"]
				require.NotEmpty(t, want[p.Name], "pod %s has no rollouts-pod-template-hash", p.Name)
			}
			var last []promSample
			err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				last = promQuery(ctx, t, fmt.Sprintf(`up{namespace=%q} == 1`, ns))
				got := map[string]string{}
				for _, s := range last {
					got[s.Metric["pod"]] = s.Metric["rollouts_pod_template_hash"]
				}
				return assert.ObjectsAreEqual(want, got), nil
			})
			require.NoError(t, err, "want up targets %v, last query: %+v", want, last)
			for _, s := range last {
				assert.Equal(t, "demo", s.Metric["app"])
				assert.Equal(t, "kubernetes-pods", s.Metric["job"])
			}
			var targets struct {
				ActiveTargets []struct {
					Labels         map[string]string `json:"labels"`
					ScrapeURL      string            `json:"scrapeUrl"`
					ScrapeInterval string            `json:"scrapeInterval"`
					ScrapeTimeout  string            `json:"scrapeTimeout"`
				} `json:"activeTargets"`
			}
			promGet(ctx, t, "/api/v1/targets?state=active", &targets)
			n := 0
			for _, tg := range targets.ActiveTargets {
				if tg.Labels["namespace"] != ns {
					continue
				}
				n++
				assert.Equal(t, "1s", tg.ScrapeInterval, tg.Labels["pod"])
				assert.Equal(t, "1s", tg.ScrapeTimeout, tg.Labels["pod"])
				assert.Regexp(t, `^http://127\.\d+\.\d+\.\d+:8080/metrics$`, tg.ScrapeURL)
			}
			assert.Equal(t, 2, n, "one active target per pod")
			return ctx
		}).
		Assess("demoapp_http_requests_total is queryable per pod and version", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			sum := burst(t, serviceURL(ctx, t, ns), 50, 2*time.Second)
			require.Positive(t, sum.Total)
			var last []promSample
			err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				last = promQuery(ctx, t, fmt.Sprintf(`sum by (pod, rollouts_pod_template_hash, version) (demoapp_http_requests_total{namespace=%q})`, ns))
				var total float64
				for _, s := range last {
					var v float64
					_, _ = fmt.Sscan(fmt.Sprint(s.Value[1]), &v)
					total += v
				}
				return total >= float64(sum.Total), nil
			})
			require.NoError(t, err, "requests counted by Prometheus never reached the %d sent; last: %+v", sum.Total, last)
			for _, s := range last {
				assert.NotEmpty(t, s.Metric["rollouts_pod_template_hash"])
				assert.NotEmpty(t, s.Metric["pod"])
				assert.NotEmpty(t, s.Metric["version"])
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestZTeardown runs last (go test runs tests in source order): it stops the
// cluster itself and checks that nothing is left: no process and no port.
func TestZTeardown(t *testing.T) {
	skipIfNeeded(t)
	c := provider.Cluster()
	kubeconfig := provider.GetKubeconfig()
	cfg := provider.KubernetesRestConfig()
	addrs := []string{strings.TrimPrefix(cfg.Host, "https://")}
	cs, _, _ := clients(t)
	svcs, err := cs.CoreV1().Services("").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	for _, s := range svcs.Items {
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p.NodePort))
			}
		}
	}
	require.Greater(t, len(addrs), 1, "expected the tests' NodePort services")
	prom, err := c.PrometheusURL(context.Background())
	require.NoError(t, err)
	addrs = append(addrs, strings.TrimPrefix(prom, "http://"))
	require.NoError(t, provider.Destroy(context.Background()))

	// The cluster's processes are those whose arguments name its data dir
	// (every control-plane component and Prometheus) or that run in it (pods run in their
	// pod's directory there).
	var left []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if e.Name() != fmt.Sprint(os.Getpid()) && (strings.HasPrefix(cwd, c.DataDir()) || strings.Contains(string(cmdline), c.DataDir())) {
			left = append(left, fmt.Sprintf("%s (pid %s)", exe, e.Name()))
		}
	}
	assert.Empty(t, left, "processes left after teardown")
	for _, addr := range addrs {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "port %s still listening", addr)
	}
	_, err = os.Stat(c.DataDir())
	assert.True(t, os.IsNotExist(err), "data dir %s left behind", c.DataDir())
	_, err = os.Stat(kubeconfig)
	assert.True(t, os.IsNotExist(err))
}

// failureKinds says what kind of failures a summary holds, per version, so
// that a failed assertion names them.
func failureKinds(sum *loadgen.Summary) string {
	var parts []string
	add := func(v string, st loadgen.VersionStats) {
		if st.Failures > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d 5xx, %d 4xx, %d without a response, max latency %s",
				v, st.ServerErrors, st.ClientErrors, st.TransportErrors, st.Max))
		}
	}
	for v, st := range sum.Versions {
		add(v, *st)
	}
	add("unattributed", sum.UnattributedStats)
	return strings.Join(parts, "; ")
}
