package traefikrouter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Config is the plugin's configuration, the JSON object a Rollout gives under
// spec.strategy.canary.trafficRouting.plugins["blastradius/traefik"].
//
//	weightedTraefikServiceName  required: the weighted TraefikService (in the
//	                            Rollout's namespace) that lists the stable and
//	                            canary Services; setWeight edits its weights.
//	ingressRouteName            the IngressRoute whose route sends to that
//	                            TraefikService; managed routes copy its rule,
//	                            entry points, middlewares and TLS.
//	baseMatch                   a Traefik v3 rule to use as the base rule
//	                            instead of (or without) the IngressRoute's.
//	entryPoints                 entry points of the managed IngressRoutes
//	                            (default: the IngressRoute's, else Traefik's).
//	priority                    the lowest priority of a managed route
//	                            (default: one above the base route's).
//	mirrorBody, mirrorMaxBodySize  passed to the mirroring TraefikServices.
//
// ingressRouteName or baseMatch is needed only by setHeaderRoute and
// setMirrorRoute steps.
type Config struct {
	WeightedTraefikServiceName string   `json:"weightedTraefikServiceName"`
	IngressRouteName           string   `json:"ingressRouteName,omitempty"`
	BaseMatch                  string   `json:"baseMatch,omitempty"`
	EntryPoints                []string `json:"entryPoints,omitempty"`
	Priority                   int64    `json:"priority,omitempty"`
	MirrorBody                 *bool    `json:"mirrorBody,omitempty"`
	MirrorMaxBodySize          *int64   `json:"mirrorMaxBodySize,omitempty"`
}

// configFrom reads and validates the plugin's configuration from a Rollout.
func configFrom(ro *v1alpha1.Rollout) (*Config, error) {
	if ro == nil {
		return nil, errors.New("no rollout given")
	}
	if ro.Spec.Strategy.Canary == nil {
		return nil, fmt.Errorf("rollout %s/%s: the %s traffic router needs a canary strategy (spec.strategy.canary)", ro.Namespace, ro.Name, PluginName)
	}
	tr := ro.Spec.Strategy.Canary.TrafficRouting
	if tr == nil || tr.Plugins == nil {
		return nil, fmt.Errorf("rollout %s/%s: spec.strategy.canary.trafficRouting.plugins[%q] is missing", ro.Namespace, ro.Name, PluginName)
	}
	raw, ok := tr.Plugins[PluginName]
	if !ok {
		return nil, fmt.Errorf("rollout %s/%s: spec.strategy.canary.trafficRouting.plugins[%q] is missing", ro.Namespace, ro.Name, PluginName)
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("rollout %s/%s: %w", ro.Namespace, ro.Name, err)
	}
	return cfg, nil
}

// ParseConfig decodes and validates a plugin configuration. Unknown fields
// are rejected so that a misspelt key is an error rather than ignored.
func ParseConfig(raw []byte) (*Config, error) {
	prefix := fmt.Sprintf("plugin config trafficRouting.plugins[%q]", PluginName)
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, fmt.Errorf("%s is empty: weightedTraefikServiceName is required", prefix)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s is not valid: %v (known fields: weightedTraefikServiceName, ingressRouteName, baseMatch, entryPoints, priority, mirrorBody, mirrorMaxBodySize)", prefix, err)
	}
	var problems []string
	if cfg.WeightedTraefikServiceName == "" {
		problems = append(problems, "weightedTraefikServiceName is required")
	} else if errs := validation.IsDNS1123Subdomain(cfg.WeightedTraefikServiceName); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("weightedTraefikServiceName %q is not a valid object name: %s", cfg.WeightedTraefikServiceName, strings.Join(errs, "; ")))
	}
	if cfg.IngressRouteName != "" {
		if errs := validation.IsDNS1123Subdomain(cfg.IngressRouteName); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("ingressRouteName %q is not a valid object name: %s", cfg.IngressRouteName, strings.Join(errs, "; ")))
		}
	}
	if cfg.BaseMatch != "" && strings.TrimSpace(cfg.BaseMatch) == "" {
		problems = append(problems, "baseMatch is blank")
	}
	if strings.Count(cfg.BaseMatch, "`")%2 != 0 {
		problems = append(problems, fmt.Sprintf("baseMatch %q has an unbalanced backtick", cfg.BaseMatch))
	}
	for i, ep := range cfg.EntryPoints {
		if strings.TrimSpace(ep) == "" {
			problems = append(problems, fmt.Sprintf("entryPoints[%d] is empty", i))
		}
	}
	if cfg.Priority < 0 {
		problems = append(problems, fmt.Sprintf("priority %d is negative", cfg.Priority))
	}
	if cfg.MirrorMaxBodySize != nil && *cfg.MirrorMaxBodySize < -1 {
		problems = append(problems, fmt.Sprintf("mirrorMaxBodySize %d is invalid (-1 means unlimited)", *cfg.MirrorMaxBodySize))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s is not valid: %s", prefix, strings.Join(problems, "; "))
	}
	cfg.BaseMatch = strings.TrimSpace(cfg.BaseMatch)
	return &cfg, nil
}

// hasBase reports whether header and mirror routes can be built.
func (c *Config) hasBase() bool { return c.IngressRouteName != "" || c.BaseMatch != "" }
