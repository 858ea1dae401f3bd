package cluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/platform"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: staging
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: staging
  context: {cluster: staging, user: me}
- name: prod
  context: {cluster: staging, user: me}
current-context: prod
users:
- name: me
  user: {token: secret-token}
`

func TestUpRefusesWithoutANamedContext(t *testing.T) {
	dir := t.TempDir()
	c := New(platform.Options{DataDir: filepath.Join(dir, "data")})
	err := c.Up(context.Background())
	require.ErrorContains(t, err, "name its kubeconfig context with --context")
	assert.NoDirExists(t, filepath.Join(dir, "data"))
}

func TestUpNamesTheContextsThereAre(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(path, []byte(kubeconfig), 0o600))
	c := New(platform.Options{DataDir: filepath.Join(dir, "data"), Kubeconfig: path, Context: "staging-eu"})
	err := c.Up(context.Background())
	require.EqualError(t, err, `kubeconfig has no context "staging-eu" (it has: prod, staging)`)
	assert.NoDirExists(t, filepath.Join(dir, "data"), "a failed Up leaves nothing behind")

	// The named context, not the current one; an API server that does not
	// answer is said so, with the context, and no secret.
	c = New(platform.Options{DataDir: filepath.Join(dir, "data"), Kubeconfig: path, Context: "staging"})
	err = c.Up(context.Background())
	require.ErrorContains(t, err, "context staging: the API server does not answer")
	assert.NotContains(t, err.Error(), "secret-token")
}

func TestCRDProblem(t *testing.T) {
	crd := func(established string, served bool) map[string]any {
		return map[string]any{
			"spec":   map[string]any{"versions": []any{map[string]any{"name": "v1alpha1", "served": served}}},
			"status": map[string]any{"conditions": []any{map[string]any{"type": "Established", "status": established}}},
		}
	}
	assert.Equal(t, "", crdProblem(crd("True", true)))
	assert.Equal(t, "not established", crdProblem(crd("False", true)))
	assert.Equal(t, "does not serve v1alpha1", crdProblem(crd("True", false)))
	assert.Equal(t, "not established", crdProblem(map[string]any{}))
}

func TestImageAndTag(t *testing.T) {
	c := New(platform.Options{Registry: "registry.example:5000/team"})
	assert.Equal(t, "registry.example:5000/team/blastradius/demoapp:blue", c.Image("blastradius/demoapp:blue"))
	assert.Equal(t, "blastradius/demoapp:blue", New(platform.Options{}).Image("blastradius/demoapp:blue"))
	assert.Equal(t, "v1.10.2", imageTag("quay.io/argoproj/argo-rollouts:v1.10.2"))
	assert.Equal(t, "", imageTag("localhost:5000/argo-rollouts"))
	assert.Equal(t, "v1", imageTag("localhost:5000/argo-rollouts:v1@sha256:abc"))
}

func TestServicesAreNotReachedFromTheHarness(t *testing.T) {
	_, err := New(platform.Options{}).ServiceURL(context.Background(), "ns", "app")
	require.ErrorIs(t, err, ErrNotFromHarness)
}
