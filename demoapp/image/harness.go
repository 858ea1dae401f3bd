package image

import (
	"maps"
	"path/filepath"
	"slices"

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
	return BuildProgram(Program{Binary: binaryPath, What: "blastradius", Entrypoint: HarnessEntrypoint, Labels: map[string]string{
		"org.opencontainers.image.title":       "blastradius",
		"org.opencontainers.image.description": "the blastradius harness; its load-worker command drives load from inside a cluster",
	}})
}

// Program describes an image made of one static binary: what the clusters
// of a platform without a registry run of tools the harness builds (the
// Argo Rollouts controller, from its module).
type Program struct {
	Binary     string            // the static binary's path on this machine
	What       string            // its name, for errors
	Entrypoint string            // where it sits in the image, and runs from
	Labels     map[string]string // image labels
	// WorkingDir, when set, is the process's working directory, made in
	// the image (owned by the image's user) if it is not "/".
	WorkingDir string
	// Files are more static programs in the image (Argo's plugins beside
	// its controller), keyed by their path in the image.
	Files map[string]string
}

// BuildProgram builds p's image: the binary at its entrypoint, a writable
// /tmp, run as a non-root user.
func BuildProgram(p Program) (v1.Image, error) {
	bin, err := readBinary(p.Binary, p.What)
	if err != nil {
		return nil, err
	}
	entries := []tarEntry{
		{path: HarnessTmp, mode: 0o1777, dir: true},
		{path: p.Entrypoint, mode: 0o755, data: bin},
	}
	if p.WorkingDir != "" && p.WorkingDir != "/" {
		entries = append(entries, tarEntry{path: p.WorkingDir, mode: 0o755, dir: true, uid: nonRootUID})
	}
	for _, path := range slices.Sorted(maps.Keys(p.Files)) {
		data, err := readBinary(p.Files[path], filepath.Base(path))
		if err != nil {
			return nil, err
		}
		entries = append(entries, tarEntry{path: path, mode: 0o755, data: data})
	}
	layer, err := tarLayer(entries...)
	if err != nil {
		return nil, err
	}
	return withConfig(layer, v1.Config{
		Entrypoint: []string{p.Entrypoint},
		Env:        append([]string(nil), HarnessEnv...),
		User:       nonRoot,
		WorkingDir: p.WorkingDir,
		Labels:     p.Labels,
	})
}
