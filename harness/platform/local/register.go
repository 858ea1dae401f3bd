package local

import "github.com/blastradius/blastradius/harness/platform"

// Name is the platform's name in the registry and on the command line.
const Name = "local"

func init() {
	platform.Register(Name, func(o platform.Options) (platform.Platform, error) {
		return New(Options{BinDir: o.BinDir, DataDir: o.DataDir, Log: o.Log, FailureLogs: o.FailureLogs, MetricPlugins: o.MetricPlugins,
			StepPlugins: o.StepPlugins, ImageAliases: o.ImageAliases, StartDelay: o.StartDelay}), nil
	})
}
