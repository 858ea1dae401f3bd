package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/defaults"
)

// The node images, pinned by digest. kind v0.33.0 (go.mod) ships its
// default (Kubernetes 1.37) and pre-built images back to 1.34; Kubernetes
// 1.35 and later refuse to run on cgroup v1, so such a host gets 1.34 (the
// local platform's minor too).
const (
	// NodeImageCgroupV2 is kind's own default for this release.
	NodeImageCgroupV2 = defaults.Image
	// NodeImageCgroupV1 is the release's pre-built Kubernetes 1.34 image.
	NodeImageCgroupV1 = "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d"
)

// engines are the container engines kind drives, in the order kind's own
// detection tries them.
var engines = []string{"docker", "nerdctl", "podman"}

// Preflight is what the host offers kind, read before anything is made.
type Preflight struct {
	Engine        string // the engine's command; "" if none is installed
	Running       bool   // its daemon answers
	EngineError   string // why it does not, when it does not
	CgroupVersion int    // 1 or 2
	NodeImage     string // the node image for this host
	ImagePresent  bool   // the engine has the node image already
}

// host is how the preflight reads the machine: the real one, or a test's.
type host struct {
	lookPath func(string) (string, error)
	run      func(ctx context.Context, name string, args ...string) (string, error)
	exists   func(path string) bool
}

func realHost() host {
	return host{
		lookPath: exec.LookPath,
		run: func(ctx context.Context, name string, args ...string) (string, error) {
			out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		},
		exists: func(p string) bool { _, err := os.Stat(p); return err == nil },
	}
}

// RunPreflight reads the host: which engine, whether it runs, the cgroup
// version (the engine's answer when it runs, else the host's), and so the
// node image and whether the engine has it. nodeImage overrides the choice.
func RunPreflight(ctx context.Context, nodeImage string) Preflight {
	return preflight(ctx, realHost(), nodeImage)
}

func preflight(ctx context.Context, h host, nodeImage string) Preflight {
	var p Preflight
	for _, e := range engines {
		if _, err := h.lookPath(e); err == nil {
			p.Engine = e
			break
		}
	}
	p.CgroupVersion = 1
	if h.exists("/sys/fs/cgroup/cgroup.controllers") {
		p.CgroupVersion = 2
	}
	if p.Engine != "" {
		out, err := h.run(ctx, p.Engine, "info", "--format", "{{.CgroupVersion}}")
		switch {
		case err != nil:
			p.EngineError = firstLine(out, err)
		case out == "1" || out == "2":
			p.Running = true
			p.CgroupVersion = int(out[0] - '0')
		default:
			p.Running = true // an engine that does not say: the host's answer stands
		}
	}
	p.NodeImage = nodeImage
	if p.NodeImage == "" {
		p.NodeImage = NodeImageCgroupV2
		if p.CgroupVersion == 1 {
			p.NodeImage = NodeImageCgroupV1
		}
	}
	if p.Running {
		_, err := h.run(ctx, p.Engine, "image", "inspect", p.NodeImage)
		p.ImagePresent = err == nil
	}
	return p
}

// firstLine is an error's first line, with the command's own words if any.
func firstLine(out string, err error) string {
	s := out
	if s == "" {
		s = err.Error()
	}
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// ErrNoEngine is returned when no container engine is installed.
var ErrNoEngine = errors.New("kind runs Kubernetes nodes as containers, and no container engine (docker, nerdctl or podman) is on PATH: " +
	"install Docker (https://docs.docker.com/engine/install/) or Podman, or use --platform local, which needs only Go")

// Check says what stops kind on this host, or nil. A missing node image
// is not an error here: Up pulls it (and says so when it cannot).
func (p Preflight) Check() error {
	switch {
	case p.Engine == "":
		return ErrNoEngine
	case !p.Running:
		return fmt.Errorf("%s is installed but its daemon does not answer (`%s info`: %s): start it, e.g. `sudo systemctl start %s`",
			p.Engine, p.Engine, p.EngineError, p.Engine)
	}
	return nil
}

// String is the preflight as one line for the user.
func (p Preflight) String() string {
	engine := "no container engine"
	if p.Engine != "" {
		engine = p.Engine
		if !p.Running {
			engine += " (not running)"
		}
	}
	have := "to be pulled"
	if p.ImagePresent {
		have = "present"
	}
	return fmt.Sprintf("%s, cgroup v%d, node image %s (%s)", engine, p.CgroupVersion, p.NodeImage, have)
}
