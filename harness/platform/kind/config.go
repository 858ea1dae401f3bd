package kind

import (
	"fmt"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// NodePorts is the node port range of a kind cluster: the API server
// allocates every NodePort Service in it, and each port is mapped to the
// same port on the host's 127.0.0.1, so that the load generator, the
// dashboard and report links reach Services at 127.0.0.1:<nodePort>, as on
// the local platform.
var NodePorts = PortRange{First: 30000, Last: 30063}

// PortRange is an inclusive range of ports.
type PortRange struct{ First, Last int32 }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// Contains reports whether port is in the range.
func (r PortRange) Contains(port int32) bool { return port >= r.First && port <= r.Last }

// Config renders the kind cluster: one control-plane node of image, the
// node port range narrowed to ports and mapped to 127.0.0.1.
func Config(name, image string, ports PortRange) *v1alpha4.Cluster {
	node := v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Image: image}
	for p := ports.First; p <= ports.Last; p++ {
		node.ExtraPortMappings = append(node.ExtraPortMappings, v1alpha4.PortMapping{
			ContainerPort: p, HostPort: p, ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP,
		})
	}
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     name,
		Nodes:    []v1alpha4.Node{node},
		// The API server on 127.0.0.1 only (kind's default too, said
		// here so that it cannot change under us).
		Networking: v1alpha4.Networking{APIServerAddress: "127.0.0.1"},
		// kind renders kubeadm's v1beta3 for Kubernetes before 1.36 (the
		// cgroup v1 image), where extraArgs is a map, and v1beta4 from 1.36
		// (its default image), where it is a list: one patch for each, each
		// applied only to its own apiVersion.
		KubeadmConfigPatches: []string{fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
apiServer:
  extraArgs:
    service-node-port-range: %s
`, ports), fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  extraArgs:
  - name: service-node-port-range
    value: %s
`, ports)},
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg
}
