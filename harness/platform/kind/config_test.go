package kind

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
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
	// kind renders kubeadm v1beta3 before Kubernetes 1.36 (extraArgs a map)
	// and v1beta4 from it (a list); a patch of the wrong shape fails kubeadm
	// init, so there is one per apiVersion, each naming it.
	require.Len(t, cfg.KubeadmConfigPatches, 2)
	var v3, v4 struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		APIServer  struct {
			ExtraArgs json.RawMessage `json:"extraArgs"`
		} `json:"apiServer"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(cfg.KubeadmConfigPatches[0]), &v3))
	require.NoError(t, yaml.Unmarshal([]byte(cfg.KubeadmConfigPatches[1]), &v4))
	assert.Equal(t, "kubeadm.k8s.io/v1beta3", v3.APIVersion)
	assert.Equal(t, "kubeadm.k8s.io/v1beta4", v4.APIVersion)
	assert.Equal(t, "ClusterConfiguration", v3.Kind)
	assert.Equal(t, "ClusterConfiguration", v4.Kind)
	var asMap map[string]string
	require.NoError(t, json.Unmarshal(v3.APIServer.ExtraArgs, &asMap))
	assert.Equal(t, map[string]string{"service-node-port-range": "30000-30003"}, asMap)
	var asList []map[string]string
	require.NoError(t, json.Unmarshal(v4.APIServer.ExtraArgs, &asList))
	assert.Equal(t, []map[string]string{{"name": "service-node-port-range", "value": "30000-30003"}}, asList)
	assert.True(t, NodePorts.Contains(30000) && NodePorts.Contains(NodePorts.Last) && !NodePorts.Contains(30064))
}
