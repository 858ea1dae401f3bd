package image

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HarnessRepository is the image repository of the blastradius harness itself.
const HarnessRepository = "blastradius/blastradius"

// HarnessEntrypoint is where the harness binary sits in its image.
const HarnessEntrypoint = "/blastradius"

// DefaultHarnessTag is the harness image's tag unless one is given.
const DefaultHarnessTag = "dev"

// HarnessTmp is the harness image's one writable directory (mode 1777): the
// image runs as a non-root user and has nothing else it could write to
// unless a volume is mounted.
const HarnessTmp = "/tmp"

// HarnessEnv is the harness image's environment.
var HarnessEnv = []string{"HOME=" + HarnessTmp, "TMPDIR=" + HarnessTmp}

// HarnessImage is the harness image's reference for a tag,
// blastradius/blastradius:<tag>.
func HarnessImage(tag string) string { return HarnessRepository + ":" + tag }

// BuildHarness builds the harness's image from its binary (bin/blastradius):
// the binary at HarnessEntrypoint is the entrypoint, so a pod running the
// image with args ["load-worker", ...] runs `blastradius load-worker ...`.
// The binary must be static (CGO_ENABLED=0, as `make build` builds it). The
// image does not carry its tag: the same binary gives the same digest under
// any tag.
func BuildHarness(binaryPath string) (v1.Image, error) {
	bin, err := readBinary(binaryPath, "blastradius")
	if err != nil {
		return nil, err
	}
	layer, err := tarLayer(
		tarEntry{path: HarnessTmp, mode: 0o1777, dir: true},
		tarEntry{path: HarnessEntrypoint, mode: 0o755, data: bin},
	)
	if err != nil {
		return nil, err
	}
	return withConfig(layer, v1.Config{
		Entrypoint: []string{HarnessEntrypoint},
		Env:        append([]string(nil), HarnessEnv...),
		User:       nonRoot,
		Labels: map[string]string{
			"org.opencontainers.image.title":       "blastradius",
			"org.opencontainers.image.description": "the blastradius harness; its load-worker command drives load from inside a cluster",
		},
	})
}
