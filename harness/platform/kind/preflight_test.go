package kind

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeHost answers the preflight's questions as a described machine
// would: which commands exist, what they print, which files exist.
type fakeHost struct {
	commands map[string]bool
	outputs  map[string]string // "docker info ..." -> output
	failing  map[string]string // command line -> error output
	files    map[string]bool
}

func (f fakeHost) host() host {
	return host{
		lookPath: func(name string) (string, error) {
			if f.commands[name] {
				return "/usr/bin/" + name, nil
			}
			return "", errors.New("not found")
		},
		run: func(_ context.Context, name string, args ...string) (string, error) {
			line := strings.Join(append([]string{name}, args...), " ")
			for prefix, out := range f.failing {
				if strings.HasPrefix(line, prefix) {
					return out, errors.New("exit status 1")
				}
			}
			for prefix, out := range f.outputs {
				if strings.HasPrefix(line, prefix) {
					return out, nil
				}
			}
			return "", errors.New("unexpected command " + line)
		},
		exists: func(p string) bool { return f.files[p] },
	}
}

func TestPreflightWithoutAnEngine(t *testing.T) {
	p := preflight(context.Background(), fakeHost{files: map[string]bool{"/sys/fs/cgroup/cgroup.controllers": true}}.host(), "")
	assert.Equal(t, "", p.Engine)
	require.ErrorIs(t, p.Check(), ErrNoEngine)
	assert.Contains(t, p.Check().Error(), "install Docker")
	assert.Equal(t, 2, p.CgroupVersion)
	assert.Equal(t, NodeImageCgroupV2, p.NodeImage)
}

func TestPreflightEngineNotRunning(t *testing.T) {
	p := preflight(context.Background(), fakeHost{
		commands: map[string]bool{"docker": true},
		failing:  map[string]string{"docker info": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\nmore"},
	}.host(), "")
	assert.False(t, p.Running)
	err := p.Check()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "docker is installed but its daemon does not answer (`docker info`: Cannot connect to the Docker daemon")
	assert.Contains(t, err.Error(), "systemctl start docker")
	assert.Equal(t, 1, p.CgroupVersion, "no cgroup.controllers: the host's cgroup v1")
	assert.Equal(t, NodeImageCgroupV1, p.NodeImage)
}

func TestPreflightPicksTheImageForTheCgroupVersion(t *testing.T) {
	for _, c := range []struct {
		engineSays string
		hostV2     bool
		want       string
		version    int
	}{
		{"2", false, NodeImageCgroupV2, 2}, // the engine's word beats the host's
		{"1", true, NodeImageCgroupV1, 1},
		{"", true, NodeImageCgroupV2, 2}, // an engine that does not say: the host's
		{"", false, NodeImageCgroupV1, 1},
	} {
		p := preflight(context.Background(), fakeHost{
			commands: map[string]bool{"podman": true},
			outputs:  map[string]string{"podman info": c.engineSays, "podman image inspect": "[]"},
			files:    map[string]bool{"/sys/fs/cgroup/cgroup.controllers": c.hostV2},
		}.host(), "")
		require.NoError(t, p.Check())
		assert.Equal(t, "podman", p.Engine)
		assert.Equal(t, c.version, p.CgroupVersion, "%+v", c)
		assert.Equal(t, c.want, p.NodeImage, "%+v", c)
		assert.True(t, p.ImagePresent)
	}
	assert.Contains(t, NodeImageCgroupV1, "kindest/node:v1.34.")
	assert.Contains(t, NodeImageCgroupV1, "@sha256:")
	assert.Contains(t, NodeImageCgroupV2, "@sha256:")
}

func TestPreflightImageOverrideAndMissingImage(t *testing.T) {
	p := preflight(context.Background(), fakeHost{
		commands: map[string]bool{"docker": true},
		outputs:  map[string]string{"docker info": "2"},
		failing:  map[string]string{"docker image inspect": "Error: No such image"},
	}.host(), "kindest/node:custom")
	require.NoError(t, p.Check())
	assert.Equal(t, "kindest/node:custom", p.NodeImage)
	assert.False(t, p.ImagePresent)
	assert.Equal(t, "docker, cgroup v2, node image kindest/node:custom (to be pulled)", p.String())
}
