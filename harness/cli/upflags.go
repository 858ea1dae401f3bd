package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/harness/platform"
)

// upFlags are what only cluster up takes: image aliases (--image-alias,
// repeatable, and --image-aliases FILE, one alias a line; both may be
// given) and Argo step plugins (--step-plugin, repeatable).
type upFlags struct {
	aliasFlags []string
	aliasFile  string
	stepFlags  []string
	startDelay time.Duration
	// kind's: the cluster's name, reuse, the node image.
	clusterName, nodeImage string
	reuse                  bool

	aliases     []platform.ImageAlias   // set by load
	stepPlugins []platform.MetricPlugin // set by load
}

func (f *upFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.aliasFlags, "image-alias", nil,
		"run pods naming image FROM as TO, a demo app image, with extra image env: FROM=TO[,KEY=VALUE...], "+
			"e.g. nginx:1.19-alpine=blastradius/demoapp:blue,PORT=80 (repeatable; exact references, no wildcards)")
	cmd.Flags().StringVar(&f.aliasFile, "image-aliases", "", "a file of --image-alias values, one a line (# comments)")
	cmd.Flags().StringArrayVar(&f.stepFlags, "step-plugin", nil,
		"configure an Argo Rollouts step plugin before the controller starts: NAMESPACE/NAME=PATH[,disabled] (repeatable)")
	cmd.Flags().StringVar(&f.clusterName, "cluster-name", "", "--platform kind: the kind cluster's name (default blastradius)")
	cmd.Flags().BoolVar(&f.reuse, "reuse", false, "--platform kind: take the existing kind cluster of that name as it is, and leave it at down")
	cmd.Flags().StringVar(&f.nodeImage, "node-image", "", "--platform kind: the node image (default: pinned per the host's cgroup version)")
	cmd.Flags().DurationVar(&f.startDelay, "start-delay", 0,
		"hold each container's first start this long, as a kubelet's sandbox and image set-up would (local platform: processes start in milliseconds)")
}

// load parses the flags: aliases from the file first, then the flags.
func (f *upFlags) load() error {
	f.aliases, f.stepPlugins = nil, nil
	if f.aliasFile != "" {
		list, err := platform.ReadImageAliases(f.aliasFile)
		if err != nil {
			return err
		}
		f.aliases = list
	}
	for _, s := range f.aliasFlags {
		a, err := platform.ParseImageAlias(s)
		if err != nil {
			return err
		}
		f.aliases = append(f.aliases, a)
	}
	for _, s := range f.stepFlags {
		p, err := parseStepPlugin(s)
		if err != nil {
			return err
		}
		f.stepPlugins = append(f.stepPlugins, p)
	}
	return nil
}

// parseStepPlugin reads NAMESPACE/NAME=PATH[,disabled]; the path becomes
// absolute, since Argo copies the plugin from a file:// location.
func parseStepPlugin(s string) (platform.MetricPlugin, error) {
	name, rest, ok := strings.Cut(s, "=")
	path, opt, _ := strings.Cut(rest, ",")
	if !ok || name == "" || path == "" || (opt != "" && opt != "disabled") {
		return platform.MetricPlugin{}, fmt.Errorf("--step-plugin %q: want NAMESPACE/NAME=PATH[,disabled]", s)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return platform.MetricPlugin{}, fmt.Errorf("--step-plugin %q: %w", s, err)
	}
	return platform.MetricPlugin{Name: name, Path: abs, Disabled: opt == "disabled"}, nil
}

// args hands the loaded flags to the detached supervisor, the alias file
// already read and paths absolute, so its working directory does not matter.
func (f *upFlags) args() []string {
	var out []string
	for _, a := range f.aliases {
		out = append(out, "--image-alias", a.String())
	}
	for _, p := range f.stepPlugins {
		v := p.Name + "=" + p.Path
		if p.Disabled {
			v += ",disabled"
		}
		out = append(out, "--step-plugin", v)
	}
	if f.startDelay > 0 {
		out = append(out, "--start-delay", f.startDelay.String())
	}
	if f.clusterName != "" {
		out = append(out, "--cluster-name", f.clusterName)
	}
	if f.reuse {
		out = append(out, "--reuse")
	}
	if f.nodeImage != "" {
		out = append(out, "--node-image", f.nodeImage)
	}
	return out
}
