package traefikrouter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"weightedTraefikServiceName":"app-wrr","ingressRouteName":"app","baseMatch":"  Host(` + "`a`" + `) ","entryPoints":["web"],"priority":10,"mirrorBody":true,"mirrorMaxBodySize":-1}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WeightedTraefikServiceName != "app-wrr" || cfg.BaseMatch != "Host(`a`)" || cfg.Priority != 10 || !*cfg.MirrorBody || *cfg.MirrorMaxBodySize != -1 {
		t.Fatalf("cfg = %+v", cfg)
	}
	bad := map[string][]string{
		``:     {"is empty", "weightedTraefikServiceName is required"},
		`null`: {"is empty"},
		`[]`:   {"is not valid"},
		`{}`:   {"weightedTraefikServiceName is required"},
		`{"weightedTraefikServiceName":"Bad_Name"}`:                           {`weightedTraefikServiceName "Bad_Name" is not a valid object name`},
		`{"weightedTraefikServiceName":"a","ingressRoute":"x"}`:               {`unknown field "ingressRoute"`, "known fields:"},
		`{"weightedTraefikServiceName":"a","ingressRouteName":"X"}`:           {`ingressRouteName "X" is not a valid object name`},
		`{"weightedTraefikServiceName":"a","priority":-1}`:                    {"priority -1 is negative"},
		`{"weightedTraefikServiceName":"a","priority":"high"}`:                {"is not valid"},
		`{"weightedTraefikServiceName":"a","entryPoints":[""]}`:               {"entryPoints[0] is empty"},
		`{"weightedTraefikServiceName":"a","baseMatch":"Host(` + "`a" + `)"}`: {"unbalanced backtick"},
		`{"weightedTraefikServiceName":"a","baseMatch":"   "}`:                {"baseMatch is blank"},
		`{"weightedTraefikServiceName":"a","mirrorMaxBodySize":-2}`:           {"mirrorMaxBodySize -2 is invalid"},
		`{"priority":-1}`: {"weightedTraefikServiceName is required", "priority -1 is negative"},
	}
	for raw, wants := range bad {
		_, err := ParseConfig([]byte(raw))
		if err == nil {
			t.Errorf("ParseConfig(%s): expected an error", raw)
			continue
		}
		if !strings.Contains(err.Error(), `trafficRouting.plugins["blastradius/traefik"]`) {
			t.Errorf("ParseConfig(%s): the error should say where the config is: %v", raw, err)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseConfig(%s): error %q does not contain %q", raw, err, w)
			}
		}
	}
}

func TestConfigFromRollout(t *testing.T) {
	ro := defaultRollout()
	if _, err := configFrom(ro); err != nil {
		t.Fatal(err)
	}
	noCanary := defaultRollout()
	noCanary.Spec.Strategy.Canary = nil
	noRouting := defaultRollout()
	noRouting.Spec.Strategy.Canary.TrafficRouting = nil
	otherPlugin := defaultRollout()
	otherPlugin.Spec.Strategy.Canary.TrafficRouting.Plugins = map[string]json.RawMessage{"argoproj-labs/gatewayAPI": []byte(`{}`)}
	for name, tc := range map[string]struct {
		ro   *v1alpha1.Rollout
		want string
	}{
		"nil":          {nil, "no rollout"},
		"no canary":    {noCanary, "needs a canary strategy"},
		"no routing":   {noRouting, `plugins["blastradius/traefik"] is missing`},
		"other plugin": {otherPlugin, `plugins["blastradius/traefik"] is missing`},
	} {
		if _, err := configFrom(tc.ro); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestInitPlugin(t *testing.T) {
	// Not in a cluster: KUBECONFIG names the cluster.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kc)
	p := &RpcPlugin{}
	mustOK(t, "InitPlugin", p.InitPlugin())
	if p.Client == nil {
		t.Fatal("InitPlugin should build a client")
	}

	// ~/.kube/config when KUBECONFIG is unset.
	t.Setenv("KUBECONFIG", "")
	if err := os.MkdirAll(filepath.Join(dir, ".kube"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(kc, filepath.Join(dir, ".kube", "config")); err != nil {
		t.Fatal(err)
	}
	if _, err := RESTConfig(); err != nil {
		t.Fatalf("~/.kube/config: %v", err)
	}

	// Nothing at all: a clear error.
	t.Setenv("HOME", t.TempDir())
	p = &RpcPlugin{}
	mustFail(t, "InitPlugin", p.InitPlugin(), "blastradius/traefik: no Kubernetes configuration: not running in a cluster and ~/.kube/config gives none")
}
