package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExportLogsCopiesComponentAndContainerLogs(t *testing.T) {
	data, dest := t.TempDir(), filepath.Join(t.TempDir(), "kept")
	write := func(rel, content string) {
		p := filepath.Join(data, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("logs/kube-apiserver.log", "apiserver says")
	write("logs/node-agent.log", "agent says")
	write("node/pods/ns_pod_uid/app/0.log", "first run")
	write("node/pods/ns_pod_uid/app/1.log", "second run")
	write("etcd/member/snap/db", "not a log")
	write("pki/ca.key", "secret")

	require.NoError(t, ExportLogsFrom(context.Background(), data, dest))
	for rel, want := range map[string]string{
		"kube-apiserver.log":        "apiserver says",
		"node-agent.log":            "agent says",
		"pods/ns_pod_uid/app/0.log": "first run",
		"pods/ns_pod_uid/app/1.log": "second run",
	} {
		got, err := os.ReadFile(filepath.Join(dest, rel))
		require.NoError(t, err, rel)
		assert.Equal(t, want, string(got), rel)
	}
	assert.NoFileExists(t, filepath.Join(dest, "ca.key"), "keys are not logs")
	assert.NoDirExists(t, filepath.Join(dest, "etcd"))

	err := ExportLogsFrom(context.Background(), filepath.Join(data, "missing"), dest)
	assert.ErrorContains(t, err, "no cluster data")
}
