package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	rolloutsrpc "github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	goplugin "github.com/hashicorp/go-plugin"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The test binary doubles as the plugin: started with serveEnv set it runs
// main, as the controller would run the built plugin.
const serveEnv = "ROLLOUTS_PLUGIN_TRAEFIK_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		os.Args = []string{os.Args[0], "-log-level=debug"}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// apiServer is a minimal Kubernetes API: one TraefikService to GET and PUT;
// any other path answers as an API server without the CRD does (a bare 404).
type apiServer struct {
	mu   sync.Mutex
	ts   map[string]any
	puts int
}

const tsPath = "/apis/traefik.io/v1alpha1/namespaces/shop/traefikservices/app-wrr"

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.URL.Path != tsPath {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.ts = obj
		a.puts++
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a.ts)
}

func (a *apiServer) weights() map[string]float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]float64{}
	for _, s := range a.ts["spec"].(map[string]any)["weighted"].(map[string]any)["services"].([]any) {
		m := s.(map[string]any)
		out[m["name"].(string)] = m["weight"].(float64)
	}
	return out
}

// TestServedPlugin starts the plugin as a subprocess with Argo Rollouts'
// handshake and calls it over go-plugin's RPC, against an HTTP API server.
func TestServedPlugin(t *testing.T) {
	api := &apiServer{ts: map[string]any{
		"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService",
		"metadata": map[string]any{"name": "app-wrr", "namespace": "shop", "resourceVersion": "1"},
		"spec": map[string]any{"weighted": map[string]any{"services": []any{
			map[string]any{"name": "app-stable", "port": 80, "weight": 100},
			map[string]any{"name": "app-canary", "port": 80, "weight": 0},
		}}},
	}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+srv.URL+`"}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serveEnv+"=1", "KUBECONFIG="+kubeconfig, "KUBERNETES_SERVICE_HOST=")
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: handshake,
		Plugins:         map[string]goplugin.Plugin{pluginKey: &rolloutsrpc.RpcTrafficRouterPlugin{}},
		Cmd:             cmd,
	})
	defer client.Kill()
	rpcClient, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rpcClient.Dispense(pluginKey)
	if err != nil {
		t.Fatal(err)
	}
	p := raw.(rolloutsrpc.TrafficRouterPlugin)

	if e := p.InitPlugin(); e.HasError() {
		t.Fatalf("InitPlugin: %v", e)
	}
	if got := p.Type(); got != "blastradius/traefik" {
		t.Fatalf("Type() = %q", got)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			StableService: "app-stable", CanaryService: "app-canary",
			TrafficRouting: &v1alpha1.RolloutTrafficRouting{Plugins: map[string]json.RawMessage{
				"blastradius/traefik": []byte(`{"weightedTraefikServiceName":"app-wrr","ingressRouteName":"app"}`),
			}},
		}}},
	}
	if e := p.SetWeight(ro, 25, nil); e.HasError() {
		t.Fatalf("SetWeight: %v", e)
	}
	if w := api.weights(); w["app-stable"] != 75 || w["app-canary"] != 25 || api.puts != 1 {
		t.Fatalf("weights = %v after %d PUTs", w, api.puts)
	}
	v, e := p.VerifyWeight(ro, 25, nil)
	if e.HasError() || v != types.Verified {
		t.Fatalf("VerifyWeight = %v, %v", v, e)
	}
	// The API server has no IngressRoute CRD: the plugin says so.
	e = p.SetHeaderRoute(ro, &v1alpha1.SetHeaderRoute{Name: "cohort", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "X-Cohort", HeaderValue: &v1alpha1.StringMatch{Exact: "internal"}},
	}})
	if !strings.Contains(e.Error(), "the Traefik CRD ingressroutes.traefik.io (traefik.io/v1alpha1 IngressRoute) is not installed") {
		t.Fatalf("SetHeaderRoute: %q", e.Error())
	}
	if e := p.RemoveManagedRoutes(ro); e.HasError() {
		t.Fatalf("RemoveManagedRoutes without the CRDs: %v", e)
	}
}
