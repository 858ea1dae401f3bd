package traefikrouter

import (
	"context"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	rolloutsrpc "github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	goplugin "github.com/hashicorp/go-plugin"
)

// The handshake and plugin key of Argo Rollouts' traffic-router plugin client.
var argoHandshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "trafficrouter",
}

// serve serves impl over go-plugin's net/rpc transport in this process and
// returns the controller's side of it, as Argo dispenses it.
func serve(t *testing.T, impl *RpcPlugin) rolloutsrpc.TrafficRouterPlugin {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *goplugin.ReattachConfig, 1)
	closed := make(chan struct{})
	plugins := map[string]goplugin.Plugin{"RpcTrafficRouterPlugin": &rolloutsrpc.RpcTrafficRouterPlugin{Impl: impl}}
	go goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: argoHandshake,
		Plugins:         plugins,
		Test:            &goplugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed},
	})
	var cfg *goplugin.ReattachConfig
	select {
	case cfg = <-reattach:
	case <-time.After(5 * time.Second):
		t.Fatal("the plugin server did not start")
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: argoHandshake,
		Plugins:         map[string]goplugin.Plugin{"RpcTrafficRouterPlugin": &rolloutsrpc.RpcTrafficRouterPlugin{}},
		Reattach:        cfg,
	})
	rpcClient, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = rpcClient.Close()
		cancel()
		<-closed
	})
	raw, err := rpcClient.Dispense("RpcTrafficRouterPlugin")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := raw.(rolloutsrpc.TrafficRouterPlugin)
	if !ok {
		t.Fatalf("dispensed %T", raw)
	}
	return p
}

func TestOverRPC(t *testing.T) {
	c := newFake(defaultTS(), defaultIR())
	p := serve(t, &RpcPlugin{Client: c})
	ro := defaultRollout()

	mustOK(t, "InitPlugin", p.InitPlugin())
	if p.Type() != PluginName {
		t.Fatalf("Type() = %q", p.Type())
	}
	mustOK(t, "UpdateHash", p.UpdateHash(ro, "c", "s", nil))
	mustOK(t, "SetWeight", p.SetWeight(ro, 10, []v1alpha1.WeightDestination{{ServiceName: "exp", Weight: 5}}))
	if w := weights(t, c); w[stable] != 85 || w[canary] != 10 || w["exp"] != 5 {
		t.Fatalf("weights = %v", w)
	}
	v, err := p.VerifyWeight(ro, 10, []v1alpha1.WeightDestination{{ServiceName: "exp", Weight: 5}})
	mustOK(t, "VerifyWeight", err)
	if v != types.Verified {
		t.Fatalf("VerifyWeight = %v", v)
	}
	v, err = p.VerifyWeight(ro, 20, nil)
	mustOK(t, "VerifyWeight", err)
	if v != types.NotVerified {
		t.Fatalf("VerifyWeight = %v", v)
	}
	mustOK(t, "SetHeaderRoute", p.SetHeaderRoute(ro, cohort("internal")))
	get(t, c, IngressRouteGVR, "checkout-cohort")
	mustOK(t, "SetMirrorRoute", p.SetMirrorRoute(ro, shadow(ptr(int32(50)))))
	get(t, c, IngressRouteGVR, "checkout-shadow")
	get(t, c, TraefikServiceGVR, "checkout-shadow-mirror")

	// Errors cross the RPC boundary as RpcErrors.
	mustFail(t, "SetMirrorRoute", p.SetMirrorRoute(ro, shadow(ptr(int32(-1)))), "percentage -1 is outside 0..100")
	bad := defaultRollout()
	bad.Spec.Strategy.Canary.TrafficRouting.Plugins[PluginName] = []byte(`{}`)
	_, err = p.VerifyWeight(bad, 10, nil)
	mustFail(t, "VerifyWeight", err, "weightedTraefikServiceName is required")

	mustOK(t, "RemoveManagedRoutes", p.RemoveManagedRoutes(ro))
	absent(t, c, IngressRouteGVR, "checkout-cohort")
	absent(t, c, IngressRouteGVR, "checkout-shadow")
	absent(t, c, TraefikServiceGVR, "checkout-shadow-mirror")
}
