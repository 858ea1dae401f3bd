// Command rollouts-plugin-traefik is an Argo Rollouts traffic-router plugin
// for Traefik v3 (see ../../README.md). The Argo Rollouts controller starts
// it as a hashicorp/go-plugin subprocess and calls it over net/rpc; it is
// not meant to be run by hand.
//
// Flags (the `args` of its trafficRouterPlugins entry):
//
//	-log-level debug|info|warn|error   (default info)
//	-version                           print the version and exit
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	rolloutsrpc "github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/blastradius/blastradius/harness/router/traefikplugin/traefikrouter"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

// handshake is Argo Rollouts' handshake for traffic-router plugins
// (rollout/trafficrouting/plugin/client in argo-rollouts).
var handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "trafficrouter",
}

// pluginKey is the name under which Argo dispenses a traffic-router plugin.
const pluginKey = "RpcTrafficRouterPlugin"

func main() {
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	_ = fs.Parse(os.Args[1:])
	if *showVersion {
		fmt.Printf("rollouts-plugin-traefik %s (plugin name %s)\n", version, traefikrouter.PluginName)
		return
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "rollouts-plugin-traefik: bad -log-level %q\n", *level)
		os.Exit(2)
	}
	serve(lv)
}

// serve answers the controller until it goes away.
func serve(lv slog.Level) {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lv, ReplaceAttr: hclogKeys})).
		With("plugin", traefikrouter.PluginName)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins: map[string]goplugin.Plugin{
			pluginKey: &rolloutsrpc.RpcTrafficRouterPlugin{Impl: &traefikrouter.RpcPlugin{Log: log}},
		},
	})
}

// hclogKeys writes slog's JSON lines as hclog's: go-plugin copies a plugin's
// stderr into the controller's log, and logs a line in that form at its own
// level with its fields (any other line at debug level).
func hclogKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	case slog.LevelKey:
		return slog.String("@level", strings.ToLower(a.Value.Any().(slog.Level).String()))
	case slog.MessageKey:
		return slog.String("@message", a.Value.String())
	}
	return a
}
