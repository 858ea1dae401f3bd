// Package fault is the fault catalog and its timeline: pod kills, runtime
// fault changes through the demo app's admin API, and traffic spikes or
// drops. Every injection and clearing is recorded with its time; a fault that
// cannot be applied fails the run with the reason, never silently.
package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/harness/results"
)

// Target says whose pods a fault hits.
type Target string

const (
	Stable    Target = "stable"
	Candidate Target = "candidate"
)

// Env is what faults act on. The runner fills it; nothing here knows the
// platform.
type Env struct {
	Client    kubernetes.Interface
	Namespace string
	// Pods lists the target's running pods.
	Pods func(ctx context.Context, t Target) ([]corev1.Pod, error)
	// PodURL is the base URL of a pod's port, reachable from the harness.
	PodURL func(ctx context.Context, pod *corev1.Pod, port int) (string, error)
	// SetLoadFactor scales the load generator's rate (1 = as configured).
	SetLoadFactor func(f float64)
	// SetAnalysisChaos injects chaos on the AI analyzers' calls for the
	// namespace ("" ends it).
	SetAnalysisChaos func(c results.Chaos)
	HTTP             *http.Client
}

// Fault is one kind of fault. Apply returns what it touched, for the record.
type Fault interface {
	Kind() string
	String() string
	Apply(ctx context.Context, env *Env) (touched []string, err error)
	// Clear undoes Apply; a fault without an undo (a killed pod) returns nil.
	Clear(ctx context.Context, env *Env) error
}

// PodKill deletes Count pods of Target at once, without grace: a crash of the
// pod, after which its ReplicaSet replaces it.
type PodKill struct {
	Target Target
	Count  int
}

func (f *PodKill) Kind() string   { return "pod-kill" }
func (f *PodKill) String() string { return fmt.Sprintf("kill %d %s pod(s)", f.Count, f.Target) }

func (f *PodKill) Apply(ctx context.Context, env *Env) ([]string, error) {
	pods, err := pick(ctx, env, f.Target, f.Count)
	if err != nil {
		return nil, err
	}
	zero := int64(0)
	var names []string
	for _, p := range pods {
		if err := env.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			return names, fmt.Errorf("delete pod %s: %w", p.Name, err)
		}
		names = append(names, p.Name)
	}
	return names, nil
}

func (f *PodKill) Clear(context.Context, *Env) error { return nil }

// Runtime replaces the demo app faults of Pods pods (0: all) of Target through
// PUT /admin/faults; Clear restores what each pod had before.
type Runtime struct {
	Target Target
	Pods   int
	Faults demoapp.Faults

	before map[string]demoapp.Faults // pod URL -> faults before Apply
}

func (f *Runtime) Kind() string { return "runtime" }
func (f *Runtime) String() string {
	b, _ := json.Marshal(f.Faults)
	return fmt.Sprintf("set faults %s on %d %s pod(s)", compact(b), f.Pods, f.Target)
}

func (f *Runtime) Apply(ctx context.Context, env *Env) ([]string, error) {
	pods, err := pick(ctx, env, f.Target, f.Pods)
	if err != nil {
		return nil, err
	}
	f.before = map[string]demoapp.Faults{}
	var names []string
	for i := range pods {
		base, err := env.PodURL(ctx, &pods[i], 8080)
		if err != nil {
			return names, fmt.Errorf("pod %s: %w", pods[i].Name, err)
		}
		var old demoapp.Faults
		if err := call(ctx, env.http(), http.MethodGet, base+"/admin/faults", nil, &old); err != nil {
			return names, fmt.Errorf("pod %s: read faults: %w", pods[i].Name, err)
		}
		if err := call(ctx, env.http(), http.MethodPut, base+"/admin/faults", f.Faults, nil); err != nil {
			return names, fmt.Errorf("pod %s: set faults: %w", pods[i].Name, err)
		}
		f.before[base] = old
		names = append(names, pods[i].Name)
	}
	return names, nil
}

func (f *Runtime) Clear(ctx context.Context, env *Env) error {
	var errs []string
	for base, old := range f.before {
		if err := call(ctx, env.http(), http.MethodPut, base+"/admin/faults", old, nil); err != nil {
			errs = append(errs, err.Error()) // the pod may be gone: say so, go on
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("restore faults: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Traffic multiplies the load rate by Factor: above 1 a spike, below a drop.
type Traffic struct{ Factor float64 }

func (f *Traffic) Kind() string   { return "traffic" }
func (f *Traffic) String() string { return fmt.Sprintf("traffic x%g", f.Factor) }

func (f *Traffic) Apply(_ context.Context, env *Env) ([]string, error) {
	if env.SetLoadFactor == nil {
		return nil, fmt.Errorf("traffic fault: the load generator cannot change its rate")
	}
	env.SetLoadFactor(f.Factor)
	return nil, nil
}

func (f *Traffic) Clear(_ context.Context, env *Env) error {
	env.SetLoadFactor(1)
	return nil
}

// AnalysisPath injects Chaos on every call of the AI analyzers (llm,
// agent) to their model or agent until cleared: what their failure policy
// is for.
type AnalysisPath struct{ Chaos results.Chaos }

func (f *AnalysisPath) Kind() string { return "analysis-path" }
func (f *AnalysisPath) String() string {
	return fmt.Sprintf("chaos %q on the AI analyzers' calls", f.Chaos)
}

func (f *AnalysisPath) Apply(_ context.Context, env *Env) ([]string, error) {
	if env.SetAnalysisChaos == nil {
		return nil, fmt.Errorf("analysis-path fault: no analysis endpoint to inject into")
	}
	env.SetAnalysisChaos(f.Chaos)
	return nil, nil
}

func (f *AnalysisPath) Clear(_ context.Context, env *Env) error {
	env.SetAnalysisChaos(results.ChaosNone)
	return nil
}

// pick returns n running pods of t (n <= 0: all of them), by name for
// repeatability.
func pick(ctx context.Context, env *Env, t Target, n int) ([]corev1.Pod, error) {
	pods, err := env.Pods(ctx, t)
	if err != nil {
		return nil, err
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	if n <= 0 {
		if len(pods) == 0 {
			return nil, fmt.Errorf("no %s pod running", t)
		}
		return pods, nil
	}
	if len(pods) < n {
		return nil, fmt.Errorf("%d %s pod(s) wanted, %d running", n, t, len(pods))
	}
	return pods[:n], nil
}

func (env *Env) http() *http.Client {
	if env.HTTP != nil {
		return env.HTTP
	}
	return &http.Client{Timeout: 5 * time.Second}
}

func call(ctx context.Context, c *http.Client, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}
