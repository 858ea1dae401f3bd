package fault

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/harness/results"
)

// testEnv has two "candidate" pods backed by real in-process demo apps.
func testEnv(t *testing.T) (*Env, []*demoapp.Server, *float64) {
	var apps []*demoapp.Server
	urls := map[string]string{}
	var pods []corev1.Pod
	for _, name := range []string{"cand-b", "cand-a"} {
		app, err := demoapp.New(demoapp.Config{Color: "green", Version: "green", Pod: name, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		t.Cleanup(app.Close)
		srv := httptest.NewServer(app)
		t.Cleanup(srv.Close)
		apps = append(apps, app)
		urls[name] = srv.URL
		pods = append(pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}})
	}
	client := fake.NewClientset(&pods[0], &pods[1])
	factor := 1.0
	var mu sync.Mutex
	env := &Env{
		Client: client, Namespace: "ns",
		Pods: func(ctx context.Context, tgt Target) ([]corev1.Pod, error) {
			if tgt != Candidate {
				return nil, nil
			}
			list, err := client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
			return list.Items, err
		},
		PodURL:        func(_ context.Context, p *corev1.Pod, _ int) (string, error) { return urls[p.Name], nil },
		SetLoadFactor: func(f float64) { mu.Lock(); factor = f; mu.Unlock() },
	}
	return env, apps, &factor
}

func TestRuntimeFaultAppliesAndRestores(t *testing.T) {
	env, apps, _ := testEnv(t)
	f := &Runtime{Target: Candidate, Pods: 1, Faults: demoapp.Faults{ErrorRate: 0.3}}
	touched, err := f.Apply(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, []string{"cand-a"}, touched, "pods are picked by name")
	assert.Equal(t, 0.3, apps[1].Faults().ErrorRate)
	assert.Zero(t, apps[0].Faults().ErrorRate)
	require.NoError(t, f.Clear(context.Background(), env))
	assert.Zero(t, apps[1].Faults().ErrorRate)

	all := &Runtime{Target: Candidate, Faults: demoapp.Faults{ErrorRate: 0.1}}
	touched, err = all.Apply(context.Background(), env)
	require.NoError(t, err)
	assert.Len(t, touched, 2, "no pod count means every running target pod")
}

func TestAnalysisPathSetsAndEndsChaos(t *testing.T) {
	var got []results.Chaos
	env := &Env{SetAnalysisChaos: func(c results.Chaos) { got = append(got, c) }}
	f := &AnalysisPath{Chaos: results.ChaosRateLimited}
	_, err := f.Apply(context.Background(), env)
	require.NoError(t, err)
	require.NoError(t, f.Clear(context.Background(), env))
	assert.Equal(t, []results.Chaos{results.ChaosRateLimited, results.ChaosNone}, got)
	assert.Equal(t, "analysis-path", f.Kind())
	_, err = f.Apply(context.Background(), &Env{})
	assert.ErrorContains(t, err, "no analysis endpoint")
}

func TestFaultsThatCannotApplySayWhy(t *testing.T) {
	env, _, _ := testEnv(t)
	_, err := (&PodKill{Target: Candidate, Count: 3}).Apply(context.Background(), env)
	assert.ErrorContains(t, err, "3 candidate pod(s) wanted, 2 running")
	_, err = (&Runtime{Target: Stable, Faults: demoapp.Faults{ErrorRate: 0.1}}).Apply(context.Background(), env)
	assert.ErrorContains(t, err, "no stable pod running")
	_, err = (&Runtime{Target: Candidate, Pods: 1, Faults: demoapp.Faults{ErrorRate: 3}}).Apply(context.Background(), env)
	assert.ErrorContains(t, err, "errorRate")
}

func TestTimelineRecordsInjectionAndClearing(t *testing.T) {
	env, _, factor := testEnv(t)
	start := time.Now()
	var changes []Record
	var indexes []int
	var mu sync.Mutex
	tl := Play(context.Background(), env, start, []Item{
		{At: 100 * time.Millisecond, Clear: 200 * time.Millisecond, Fault: &Traffic{Factor: 3}},
		{At: 50 * time.Millisecond, Fault: &PodKill{Target: Candidate, Count: 1}},
	}, func(i int, r Record) {
		mu.Lock()
		changes, indexes = append(changes, r), append(indexes, i)
		mu.Unlock()
	})
	recs := tl.Wait()
	require.NoError(t, tl.Err())
	require.Len(t, recs, 2)
	assert.Equal(t, "pod-kill", recs[0].Kind, "records are in timeline order")
	assert.Equal(t, []string{"cand-a"}, recs[0].Touched)
	assert.Nil(t, recs[0].ClearedAt)
	require.NotNil(t, recs[1].InjectedAt)
	require.NotNil(t, recs[1].ClearedAt)
	assert.GreaterOrEqual(t, recs[1].InjectedAt.Sub(start), 100*time.Millisecond)
	assert.GreaterOrEqual(t, recs[1].ClearedAt.Sub(start), 200*time.Millisecond)
	assert.Equal(t, 1.0, *factor, "the traffic factor is restored on clearing")
	assert.Len(t, changes, 3)
	assert.Equal(t, []int{0, 1, 1}, indexes, "each change names its record: the kill, then the traffic fault twice")
	pods, _ := env.Client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	assert.Len(t, pods.Items, 1)

	// A fault that cannot be applied is the run's error, with its reason.
	tl = Play(context.Background(), env, time.Now(), []Item{{Fault: &PodKill{Target: Candidate, Count: 5}}}, nil)
	tl.Wait()
	assert.ErrorContains(t, tl.Err(), "5 candidate pod(s) wanted")

	// Cancelled before its time, an item never happens.
	ctx, cancel := context.WithCancel(context.Background())
	tl = Play(ctx, env, time.Now(), []Item{{At: time.Hour, Fault: &Traffic{Factor: 2}}}, nil)
	cancel()
	recs = tl.Wait()
	assert.Nil(t, recs[0].InjectedAt)
}
