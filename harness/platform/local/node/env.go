package node

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// defaultPath is what container runtimes put in PATH when the image has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// envInput is everything a container's environment is computed from.
type envInput struct {
	Pod       *corev1.Pod
	Container *corev1.Container
	PodIP     string
	HostIP    string
	ImageEnv  []string // KEY=VALUE from the image config

	ConfigMaps corev1listers.ConfigMapLister // nil: every reference is missing
	Secrets    corev1listers.SecretLister

	// Node capacity, the value of resourceFieldRef limits the container lacks
	// (as the kubelet defaults them to node allocatable).
	NodeCPU, NodeMemory resource.Quantity
}

// envConfigError is an env reference that cannot be satisfied yet (missing
// ConfigMap, Secret or key). The kubelet reports it as CreateContainerConfigError
// and retries, because the object may appear later.
type envConfigError struct{ msg string }

func (e *envConfigError) Error() string { return e.msg }

// orderedEnv is a KEY=VALUE list where a later Set of a name replaces the
// earlier value in place, as a container runtime merges image and pod env.
type orderedEnv struct {
	names []string
	vals  map[string]string
}

func newOrderedEnv() *orderedEnv { return &orderedEnv{vals: map[string]string{}} }

func (e *orderedEnv) Set(name, val string) {
	if _, ok := e.vals[name]; !ok {
		e.names = append(e.names, name)
	}
	e.vals[name] = val
}

func (e *orderedEnv) Get(name string) (string, bool) {
	v, ok := e.vals[name]
	return v, ok
}

func (e *orderedEnv) List() []string {
	out := make([]string, 0, len(e.names))
	for _, n := range e.names {
		out = append(out, n+"="+e.vals[n])
	}
	return out
}

// containerEnv returns the process environment of a container and the pod's
// own variables (envFrom, env and POD_IP) used to expand $(VAR) in command
// and args. Precedence, low to high: runtime defaults (HOSTNAME, PATH), image
// env, envFrom, env, then POD_IP unless the pod sets it: pods share the host
// network here, so the app must learn which loopback address is its own.
func containerEnv(in envInput) (env []string, podVars *orderedEnv, err error) {
	out := newOrderedEnv()
	if !in.Pod.Spec.HostNetwork {
		out.Set("HOSTNAME", in.Pod.Name)
	}
	for _, kv := range in.ImageEnv {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			out.Set(k, v)
		}
	}
	if _, ok := out.Get("PATH"); !ok {
		out.Set("PATH", defaultPath)
	}

	podVars = newOrderedEnv()
	c := in.Container
	for _, from := range c.EnvFrom {
		data, err := in.envFromSource(from)
		if err != nil {
			return nil, nil, err
		}
		for _, kv := range data {
			podVars.Set(from.Prefix+kv[0], kv[1])
		}
	}
	for _, ev := range c.Env {
		val := ev.Value
		if ev.ValueFrom != nil {
			v, ok, err := in.valueFrom(ev.ValueFrom)
			if err != nil {
				return nil, nil, fmt.Errorf("env %s: %w", ev.Name, err)
			}
			if !ok {
				continue // optional reference to something missing: unset, as the kubelet does
			}
			val = v
		} else {
			val = expandVars(val, podVars.Get)
		}
		podVars.Set(ev.Name, val)
	}
	if _, ok := podVars.Get("POD_IP"); !ok && in.PodIP != "" {
		podVars.Set("POD_IP", in.PodIP)
	}
	for _, n := range podVars.names {
		out.Set(n, podVars.vals[n])
	}
	return out.List(), podVars, nil
}

func (in envInput) envFromSource(from corev1.EnvFromSource) ([][2]string, error) {
	ns := in.Pod.Namespace
	var data [][2]string
	switch {
	case from.ConfigMapRef != nil:
		optional := from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional
		var cm map[string]string
		if in.ConfigMaps != nil {
			if obj, err := in.ConfigMaps.ConfigMaps(ns).Get(from.ConfigMapRef.Name); err == nil {
				cm = obj.Data
			} else if !optional {
				return nil, &envConfigError{fmt.Sprintf("configmap %q not found", from.ConfigMapRef.Name)}
			}
		} else if !optional {
			return nil, &envConfigError{fmt.Sprintf("configmap %q not found", from.ConfigMapRef.Name)}
		}
		for k, v := range cm {
			data = append(data, [2]string{k, v})
		}
	case from.SecretRef != nil:
		optional := from.SecretRef.Optional != nil && *from.SecretRef.Optional
		var sec map[string][]byte
		if in.Secrets != nil {
			if obj, err := in.Secrets.Secrets(ns).Get(from.SecretRef.Name); err == nil {
				sec = obj.Data
			} else if !optional {
				return nil, &envConfigError{fmt.Sprintf("secret %q not found", from.SecretRef.Name)}
			}
		} else if !optional {
			return nil, &envConfigError{fmt.Sprintf("secret %q not found", from.SecretRef.Name)}
		}
		for k, v := range sec {
			data = append(data, [2]string{k, string(v)})
		}
	}
	// Map order is random; sort so the environment is stable across restarts.
	slices.SortFunc(data, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return data, nil
}

// valueFrom resolves one env valueFrom. ok is false for an optional reference
// to a missing object or key.
func (in envInput) valueFrom(src *corev1.EnvVarSource) (val string, ok bool, err error) {
	pod := in.Pod
	switch {
	case src.FieldRef != nil:
		v, err := podFieldValue(pod, src.FieldRef.FieldPath, in.PodIP, in.HostIP)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := in.resourceFieldValue(src.ResourceFieldRef)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		if in.ConfigMaps == nil {
			if optional {
				return "", false, nil
			}
			return "", false, &envConfigError{fmt.Sprintf("configmap %q not found", ref.Name)}
		}
		cm, err := in.ConfigMaps.ConfigMaps(pod.Namespace).Get(ref.Name)
		if err != nil {
			if optional {
				return "", false, nil
			}
			return "", false, &envConfigError{fmt.Sprintf("configmap %q not found", ref.Name)}
		}
		if v, found := cm.Data[ref.Key]; found {
			return v, true, nil
		}
		if v, found := cm.BinaryData[ref.Key]; found {
			return string(v), true, nil
		}
		if optional {
			return "", false, nil
		}
		return "", false, &envConfigError{fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)}
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		if in.Secrets == nil {
			if optional {
				return "", false, nil
			}
			return "", false, &envConfigError{fmt.Sprintf("secret %q not found", ref.Name)}
		}
		sec, err := in.Secrets.Secrets(pod.Namespace).Get(ref.Name)
		if err != nil {
			if optional {
				return "", false, nil
			}
			return "", false, &envConfigError{fmt.Sprintf("secret %q not found", ref.Name)}
		}
		if v, found := sec.Data[ref.Key]; found {
			return string(v), true, nil
		}
		if optional {
			return "", false, nil
		}
		return "", false, &envConfigError{fmt.Sprintf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)}
	}
	return "", false, errors.New("empty valueFrom")
}

// podFieldValue is the downward API for env: the field paths the apiserver
// accepts in env fieldRef.
func podFieldValue(pod *corev1.Pod, path, podIP, hostIP string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

// subscript parses `prefix['key']` (the form the apiserver validates).
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

func (in envInput) resourceFieldValue(ref *corev1.ResourceFieldSelector) (string, error) {
	res := in.Container.Resources
	if ref.ContainerName != "" && ref.ContainerName != in.Container.Name {
		c := findContainer(in.Pod, ref.ContainerName)
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q", ref.ContainerName)
		}
		res = c.Resources
	}
	var q resource.Quantity
	var found bool
	switch ref.Resource {
	case "limits.cpu":
		q, found = res.Limits[corev1.ResourceCPU]
		if !found {
			q = in.NodeCPU
		}
	case "limits.memory":
		q, found = res.Limits[corev1.ResourceMemory]
		if !found {
			q = in.NodeMemory
		}
	case "limits.ephemeral-storage":
		q = res.Limits[corev1.ResourceEphemeralStorage]
	case "requests.cpu":
		q = res.Requests[corev1.ResourceCPU]
	case "requests.memory":
		q = res.Requests[corev1.ResourceMemory]
	case "requests.ephemeral-storage":
		q = res.Requests[corev1.ResourceEphemeralStorage]
	default:
		return "", fmt.Errorf("unsupported resourceFieldRef %q", ref.Resource)
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	// The kubelet rounds up, so 250m of CPU with divisor 1 is "1".
	v := math.Ceil(q.AsApproximateFloat64() / div.AsApproximateFloat64())
	return fmt.Sprintf("%d", int64(v)), nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// expandVars implements Kubernetes' $(VAR) syntax: a defined VAR is replaced,
// an undefined one is kept verbatim, and $$ escapes a dollar.
func expandVars(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// commandLine applies Kubernetes' entrypoint semantics to an image: command
// replaces the image entrypoint (and drops its default args), args replace
// the image's default args. It returns the program to execute and argv.
func commandLine(exe Executable, c *corev1.Container, vars *orderedEnv, pathEnv string) (string, []string, error) {
	expand := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = expandVars(s, vars.Get)
		}
		return out
	}
	var argv []string
	switch {
	case len(c.Command) > 0:
		argv = append(expand(c.Command), expand(c.Args)...)
	case len(c.Args) > 0:
		argv = append([]string{exe.Path}, expand(c.Args)...)
	default:
		argv = append([]string{exe.Path}, exe.Args...)
	}
	if argv[0] == "" {
		return "", nil, errors.New("image has no entrypoint and the container no command")
	}
	prog, err := resolveProgram(argv[0], exe.Path, pathEnv)
	if err != nil {
		return "", nil, err
	}
	argv[0] = prog
	return prog, argv, nil
}

// resolveProgram maps argv[0] to a local file. The image's filesystem does not
// exist here, so a command naming the image's own program (by path or base
// name, e.g. /app/demoapp) means the resolved executable; anything else must
// be a local path or found in the container's PATH.
func resolveProgram(name, imagePath, pathEnv string) (string, error) {
	if imagePath != "" && (name == imagePath || filepath.Base(name) == filepath.Base(imagePath)) {
		return imagePath, nil
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}
