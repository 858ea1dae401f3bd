package node

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok, kv)
		_, dup := m[k]
		require.False(t, dup, "duplicate %s", k)
		m[k] = v
	}
	return m
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-1", Namespace: "shop", UID: "uid-1",
			Labels:      map[string]string{"app": "web"},
			Annotations: map[string]string{"note": "hi"},
		},
		Spec: corev1.PodSpec{
			NodeName:           "blastradius-local",
			ServiceAccountName: "sa",
			Containers:         []corev1.Container{{Name: "app", Image: "img"}},
		},
	}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func TestContainerEnvDownwardAPIAndPrecedence(t *testing.T) {
	pod := testPod()
	c := &pod.Spec.Containers[0]
	c.Env = []corev1.EnvVar{
		{Name: "COLOR", Value: "green"}, // overrides the image
		fieldEnv("POD_NAME", "metadata.name"),
		fieldEnv("POD_NAMESPACE", "metadata.namespace"),
		fieldEnv("POD_UID", "metadata.uid"),
		fieldEnv("APP", "metadata.labels['app']"),
		fieldEnv("NOTE", "metadata.annotations['note']"),
		fieldEnv("NODE", "spec.nodeName"),
		fieldEnv("SA", "spec.serviceAccountName"),
		fieldEnv("MY_IP", "status.podIP"),
		fieldEnv("HOST_IP", "status.hostIP"),
		{Name: "URL", Value: "http://$(MY_IP):8080/$(UNDEFINED)/$$(MY_IP)"},
		{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
		{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu"}}},
	}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}

	env, _, err := containerEnv(envInput{
		Pod: pod, Container: c, PodIP: "127.1.0.7", HostIP: "127.0.0.1",
		ImageEnv: []string{"COLOR=blue", "VERSION=blue", "PATH=/img/bin"},
	})
	require.NoError(t, err)
	m := envMap(t, env)
	assert.Equal(t, "green", m["COLOR"], "pod env overrides image env")
	assert.Equal(t, "blue", m["VERSION"], "image env is kept")
	assert.Equal(t, "/img/bin", m["PATH"])
	assert.Equal(t, "web-1", m["HOSTNAME"])
	assert.Equal(t, "web-1", m["POD_NAME"])
	assert.Equal(t, "shop", m["POD_NAMESPACE"])
	assert.Equal(t, "uid-1", m["POD_UID"])
	assert.Equal(t, "web", m["APP"])
	assert.Equal(t, "hi", m["NOTE"])
	assert.Equal(t, "blastradius-local", m["NODE"])
	assert.Equal(t, "sa", m["SA"])
	assert.Equal(t, "127.1.0.7", m["MY_IP"])
	assert.Equal(t, "127.0.0.1", m["HOST_IP"])
	assert.Equal(t, "127.1.0.7", m["POD_IP"], "POD_IP is always set")
	assert.Equal(t, "http://127.1.0.7:8080/$(UNDEFINED)/$(MY_IP)", m["URL"])
	assert.Equal(t, "64", m["MEM"])
	assert.Equal(t, "1", m["CPU"], "CPU rounds up to whole cores")
}

func TestContainerEnvPodIPOverride(t *testing.T) {
	pod := testPod()
	c := &pod.Spec.Containers[0]
	c.Env = []corev1.EnvVar{{Name: "POD_IP", Value: "0.0.0.0"}}
	env, _, err := containerEnv(envInput{Pod: pod, Container: c, PodIP: "127.1.0.7", ImageEnv: []string{"POD_IP=image"}})
	require.NoError(t, err)
	m := envMap(t, env)
	assert.Equal(t, "0.0.0.0", m["POD_IP"], "a pod that sets POD_IP keeps its value")
	assert.Equal(t, defaultPath, m["PATH"], "runtime default PATH when the image has none")
}

func TestContainerEnvConfigMapsAndSecrets(t *testing.T) {
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	cms, secs := idx(), idx()
	require.NoError(t, cms.Add(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "shop"}, Data: map[string]string{"LEVEL": "debug", "B": "2", "A": "1"}}))
	require.NoError(t, secs.Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: "shop"}, Data: map[string][]byte{"TOKEN": []byte("s3cret")}}))
	in := func(c *corev1.Container, pod *corev1.Pod) envInput {
		return envInput{Pod: pod, Container: c, PodIP: "127.1.0.2",
			ConfigMaps: corev1listers.NewConfigMapLister(cms), Secrets: corev1listers.NewSecretLister(secs)}
	}
	yes := true

	pod := testPod()
	c := &pod.Spec.Containers[0]
	c.EnvFrom = []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
	c.Env = []corev1.EnvVar{
		{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "LEVEL"}}},
		{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "TOKEN"}}},
		{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "X", Optional: &yes}}},
	}
	env, _, err := containerEnv(in(c, pod))
	require.NoError(t, err)
	m := envMap(t, env)
	assert.Equal(t, "debug", m["LEVEL"])
	assert.Equal(t, "s3cret", m["TOKEN"])
	assert.Equal(t, "1", m["CFG_A"])
	assert.NotContains(t, m, "OPT", "an optional missing reference leaves the variable unset")

	// A required reference to something missing is a config error (retried).
	c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "K"}}}}
	_, _, err = containerEnv(in(c, pod))
	var cfgErr *envConfigError
	require.ErrorAs(t, err, &cfgErr)
	assert.Contains(t, err.Error(), `secret "nope" not found`)
}

func TestCommandLineSemantics(t *testing.T) {
	exe := Executable{Path: "/opt/bin/demoapp", Args: []string{"--default"}}
	vars := newOrderedEnv()
	vars.Set("PORT", "9090")
	cases := []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image defaults", nil, nil, []string{"/opt/bin/demoapp", "--default"}},
		{"args replace image args", nil, []string{"--port=$(PORT)"}, []string{"/opt/bin/demoapp", "--port=9090"}},
		{"command drops image args", []string{"/app/demoapp"}, nil, []string{"/opt/bin/demoapp"}},
		{"command and args", []string{"demoapp", "-v"}, []string{"x"}, []string{"/opt/bin/demoapp", "-v", "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &corev1.Container{Command: tc.command, Args: tc.args}
			prog, argv, err := commandLine(exe, c, vars, "/usr/bin:/bin")
			require.NoError(t, err)
			assert.Equal(t, "/opt/bin/demoapp", prog)
			assert.Equal(t, tc.want, argv)
		})
	}

	// Another program is looked up in the container's PATH.
	prog, argv, err := commandLine(exe, &corev1.Container{Command: []string{"sh", "-c", "true"}}, vars, "/nonexistent:/bin:/usr/bin")
	require.NoError(t, err)
	assert.Contains(t, []string{"/bin/sh", "/usr/bin/sh"}, prog)
	assert.Equal(t, []string{prog, "-c", "true"}, argv)

	_, _, err = commandLine(exe, &corev1.Container{Command: []string{"no-such-program-here"}}, vars, "/bin")
	assert.ErrorContains(t, err, "executable file not found")
}

func TestExpandVars(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"A": "x", "EMPTY": ""}[k]
		return v, ok
	}
	for in, want := range map[string]string{
		"plain":        "plain",
		"$(A)":         "x",
		"$(A)$(A)":     "xx",
		"$$(A)":        "$(A)",
		"$(B)":         "$(B)",
		"$(EMPTY)-":    "-",
		"cost $5":      "cost $5",
		"unclosed $(A": "unclosed $(A",
		"trailing $":   "trailing $",
	} {
		assert.Equal(t, want, expandVars(in, lookup), in)
	}
}
