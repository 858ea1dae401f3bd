package kind

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

func TestConfigMapsTheNodePortsToLoopback(t *testing.T) {
	cfg := Config("blastradius", NodeImageCgroupV1, PortRange{First: 30000, Last: 30003})
	assert.Equal(t, "blastradius", cfg.Name)
	require.Len(t, cfg.Nodes, 1)
	n := cfg.Nodes[0]
	assert.Equal(t, v1alpha4.ControlPlaneRole, n.Role)
	assert.Equal(t, NodeImageCgroupV1, n.Image)
	require.Len(t, n.ExtraPortMappings, 4)
	for i, m := range n.ExtraPortMappings {
		assert.Equal(t, int32(30000+i), m.ContainerPort)
		assert.Equal(t, m.ContainerPort, m.HostPort, "the same port on the host: Services at 127.0.0.1:<nodePort>")
		assert.Equal(t, "127.0.0.1", m.ListenAddress, "never on other addresses")
	}
	assert.Equal(t, "127.0.0.1", cfg.Networking.APIServerAddress)
	require.Len(t, cfg.KubeadmConfigPatches, 1)
	assert.Contains(t, cfg.KubeadmConfigPatches[0], "name: service-node-port-range\n    value: 30000-30003")
	assert.True(t, NodePorts.Contains(30000) && NodePorts.Contains(NodePorts.Last) && !NodePorts.Contains(30064))
}
