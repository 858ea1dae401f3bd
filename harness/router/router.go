// Package router names what routes users' traffic through an L7 router:
// Traefik on the platform, driven by Argo Rollouts either natively (weights
// of a weighted TraefikService) or through blastradius's traffic-router
// plugin (weights, header routes and mirrors), whose code is the separate
// module in traefikplugin/. Strategies render objects for it; platforms
// install the plugin into Argo.
package router

import rbacv1 "k8s.io/api/rbac/v1"

// The traffic-router plugin: its name in Argo's ConfigMap and in a
// Rollout's trafficRouting.plugins, and its binary in the tools directory.
const (
	PluginName   = "blastradius/traefik"
	PluginBinary = "rollouts-plugin-traefik"
)

// PluginRules are what the plugin needs beyond Argo's ClusterRole, which
// lets the controller get, watch and update traefikservices only: the
// plugin creates and deletes the IngressRoutes and mirroring TraefikServices
// of header and mirror routes, with the controller's identity.
var PluginRules = []rbacv1.PolicyRule{{
	APIGroups: []string{"traefik.io"},
	Resources: []string{"ingressroutes", "traefikservices"},
	Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
}}
