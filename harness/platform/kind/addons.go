package kind

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	demoimage "github.com/blastradius/blastradius/demoapp/image"
	"github.com/blastradius/blastradius/harness/kube"
	"github.com/blastradius/blastradius/harness/platform/local"
	"github.com/blastradius/blastradius/harness/platform/promconfig"
)

// What a kind cluster runs beside Argo Rollouts, as pods of images built
// from bin/ and loaded into the nodes (nothing is pulled): Prometheus, which
// scrapes the runs' pods at their pod IPs with promconfig's configuration
// and answers Argo's prometheus provider at its Service, and Traefik, whose
// Kubernetes CRD provider routes the routed strategies' load. Each has a
// NodePort Service at a fixed port at the top of the mapped range, so that
// people (and the load generator, for Traefik) reach them on 127.0.0.1.
const (
	// SystemNamespace holds Prometheus. Traefik runs in
	// local.TraefikNamespace, where its module's RBAC binds its account.
	SystemNamespace = "blastradius-system"

	PrometheusName     = "prometheus"
	PrometheusNodePort = int32(30062)
	prometheusPort     = 9090

	TraefikName     = "traefik"
	RouterNodePort  = int32(30063)
	traefikWebPort  = 8000
	traefikPingPort = 8080
	traefikSvcPort  = 80

	// addonsReady bounds the wait for a Deployment's first ready replica.
	addonsReady = 3 * time.Minute
)

// Image names of the tools built from bin/, tagged with their release.
func prometheusImage(version string) string { return "blastradius/prometheus:" + version }
func traefikImage(version string) string    { return "blastradius/traefik:" + version }

// PrometheusInClusterURL is where Argo's prometheus provider, in the
// cluster, queries.
var PrometheusInClusterURL = fmt.Sprintf("http://%s.%s.svc:%d", PrometheusName, SystemNamespace, prometheusPort)

// RouterInClusterURL is Traefik's entrypoint from the cluster's pods.
var RouterInClusterURL = fmt.Sprintf("http://%s.%s.svc:%d", TraefikName, local.TraefikNamespace, traefikSvcPort)

var prometheusVersionLine = regexp.MustCompile(`^prometheus, version (\S+)`)

// prometheusVersion asks the built binary which release it is.
func prometheusVersion(ctx context.Context, bin string) (string, error) {
	v, err := local.ToolVersion(ctx, bin, "--version", prometheusVersionLine)
	return "v" + v, err
}

// prometheusObjects are Prometheus's objects: its account may list and
// watch pods in every namespace (service discovery), its configuration is
// a ConfigMap (whose hash, on the pod template, rolls the pod when it
// changes on a reused cluster), its TSDB an emptyDir.
func prometheusObjects(image string) ([]runtime.Object, error) {
	cfg, err := promconfig.Config("")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(cfg)
	labels := map[string]string{"app.kubernetes.io/name": PrometheusName, "app.kubernetes.io/part-of": "blastradius"}
	meta := metav1.ObjectMeta{Name: PrometheusName, Namespace: SystemNamespace, Labels: labels}
	role := "blastradius-" + PrometheusName
	return []runtime.Object{
		&corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}},
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta},
		&rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
			ObjectMeta: metav1.ObjectMeta{Name: role, Labels: labels},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}},
		&rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: metav1.ObjectMeta{Name: role, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: PrometheusName, Namespace: SystemNamespace}}},
		&corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta, Data: map[string]string{"prometheus.yml": string(cfg)}},
		deployment(meta, corev1.PodSpec{
			ServiceAccountName: PrometheusName,
			Containers: []corev1.Container{{
				Name: PrometheusName, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Args: []string{
					"--config.file=/etc/prometheus/prometheus.yml",
					"--storage.tsdb.path=/prometheus",
					"--storage.tsdb.retention.time=" + promconfig.Retention,
					fmt.Sprintf("--web.listen-address=:%d", prometheusPort),
				},
				Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: prometheusPort}},
				ReadinessProbe: httpProbe("/-/ready", prometheusPort),
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/prometheus", ReadOnly: true},
					{Name: "data", MountPath: "/prometheus"},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: PrometheusName}}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		}, map[string]string{"blastradius.dev/config-sha256": hex.EncodeToString(sum[:])}),
		nodePortService(meta, prometheusPort, prometheusPort, PrometheusNodePort),
	}, nil
}

// traefikObjects are Traefik's Deployment and Service; its CRDs and RBAC
// come from its module (local.TraefikRelease). Its static configuration is
// flags: in a pod the CRD provider finds the API server and its token by
// itself. Routes name local.TraefikEntryPoint.
func traefikObjects(image string) []runtime.Object {
	labels := map[string]string{"app.kubernetes.io/name": TraefikName, "app.kubernetes.io/part-of": "blastradius"}
	meta := metav1.ObjectMeta{Name: TraefikName, Namespace: local.TraefikNamespace, Labels: labels}
	return []runtime.Object{
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"),
			ObjectMeta: metav1.ObjectMeta{Name: local.TraefikAccount, Namespace: local.TraefikNamespace, Labels: labels}},
		deployment(meta, corev1.PodSpec{
			ServiceAccountName: local.TraefikAccount,
			Containers: []corev1.Container{{
				Name: TraefikName, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Args: []string{
					fmt.Sprintf("--entryPoints.%s.address=:%d", local.TraefikEntryPoint, traefikWebPort),
					fmt.Sprintf("--entryPoints.traefik.address=:%d", traefikPingPort),
					"--ping.entryPoint=traefik",
					"--providers.kubernetesCRD=true",
					// Rollouts change weights every few seconds: apply each at once.
					"--providers.kubernetesCRD.throttleDuration=0s",
					"--global.checkNewVersion=false",
					"--global.sendAnonymousUsage=false",
					"--log.level=INFO",
					"--log.noColor=true",
				},
				Ports: []corev1.ContainerPort{
					{Name: local.TraefikEntryPoint, ContainerPort: traefikWebPort},
					{Name: "ping", ContainerPort: traefikPingPort},
				},
				ReadinessProbe: httpProbe("/ping", traefikPingPort),
			}},
		}, nil),
		nodePortService(meta, traefikSvcPort, traefikWebPort, RouterNodePort),
	}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// deployment is one replica of spec, selected by meta's labels.
func deployment(meta metav1.ObjectMeta, spec corev1.PodSpec, annotations map[string]string) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: meta.Labels},
			// One at a time: a second Prometheus would scrape everything twice.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: meta.Labels, Annotations: annotations},
				Spec:       spec,
			},
		},
	}
}

func httpProbe(path string, port int) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt(port)}},
		PeriodSeconds: 2, FailureThreshold: 3,
	}
}

// nodePortService exposes targetPort as port, and on every node (so on
// 127.0.0.1, through the port mappings) as nodePort.
func nodePortService(meta metav1.ObjectMeta, port, targetPort int, nodePort int32) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: meta.Labels,
			Ports: []corev1.ServicePort{{
				Name: "http", Port: int32(port), TargetPort: intstr.FromInt(targetPort), NodePort: nodePort,
			}},
		},
	}
}

// toUnstructured converts typed objects for the applier.
func toUnstructured(objs []runtime.Object) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		u, err := kube.ToUnstructured(o)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// buildPrometheus builds Prometheus's image from binDir/prometheus.
func buildPrometheus(ctx context.Context, binDir string) (version, ref string, img v1.Image, err error) {
	bin := filepath.Join(binDir, "prometheus")
	if version, err = prometheusVersion(ctx, bin); err != nil {
		return "", "", nil, err
	}
	img, err = demoimage.BuildProgram(demoimage.Program{Binary: bin, What: "prometheus", Entrypoint: "/bin/prometheus",
		Labels: map[string]string{"org.opencontainers.image.version": version}})
	return version, prometheusImage(version), img, err
}

// buildTraefik builds Traefik's image from binDir/traefik, and reads its
// release's CRDs and RBAC from its module.
func buildTraefik(ctx context.Context, binDir string) (version, ref string, img v1.Image, crds []*unstructured.Unstructured, err error) {
	if version, crds, err = local.TraefikRelease(ctx, binDir); err != nil {
		return "", "", nil, nil, err
	}
	img, err = demoimage.BuildProgram(demoimage.Program{Binary: filepath.Join(binDir, "traefik"), What: "traefik", Entrypoint: "/bin/traefik",
		Labels: map[string]string{"org.opencontainers.image.version": version}})
	return version, traefikImage(version), img, crds, err
}

// installPrometheus loads Prometheus's image, applies its objects and
// waits until it is ready.
func (c *Cluster) installPrometheus(ctx context.Context) error {
	version, ref, img, err := buildPrometheus(ctx, c.bin())
	if err != nil {
		return err
	}
	if err := c.loadImages(ctx, imageSet{ref: img}); err != nil {
		return err
	}
	objs, err := prometheusObjects(ref)
	if err != nil {
		return err
	}
	if err := c.applyAndWait(ctx, objs, SystemNamespace, PrometheusName); err != nil {
		return fmt.Errorf("Prometheus: %w", err)
	}
	c.promVersion = version
	c.say("kind: Prometheus %s ready (image %s built from bin/prometheus; UI at http://127.0.0.1:%d)", version, ref, PrometheusNodePort)
	return nil
}

// installTraefik applies Traefik's CRDs and RBAC, loads its image and runs
// it.
func (c *Cluster) installTraefik(ctx context.Context) error {
	version, ref, img, crds, err := buildTraefik(ctx, c.bin())
	if err != nil {
		return err
	}
	if err := c.loadImages(ctx, imageSet{ref: img}); err != nil {
		return err
	}
	if err := c.apply(ctx, crds, local.TraefikCRDs...); err != nil {
		return fmt.Errorf("Traefik %s manifests: %w", version, err)
	}
	if err := c.applyAndWait(ctx, traefikObjects(ref), local.TraefikNamespace, TraefikName); err != nil {
		return fmt.Errorf("Traefik: %w", err)
	}
	c.routerURL = fmt.Sprintf("http://127.0.0.1:%d", RouterNodePort)
	c.say("kind: Traefik %s ready at %s (image %s built from bin/traefik)", version, c.routerURL, ref)
	return nil
}

// applyAndWait applies objs and waits for the Deployment namespace/name to
// have a ready replica.
func (c *Cluster) applyAndWait(ctx context.Context, typed []runtime.Object, namespace, name string) error {
	objs, err := toUnstructured(typed)
	if err != nil {
		return err
	}
	if err := c.apply(ctx, objs); err != nil {
		return err
	}
	return c.waitReady(ctx, namespace, name)
}

// apply applies objs server-side, and waits for the CRDs named to be
// established.
func (c *Cluster) apply(ctx context.Context, objs []*unstructured.Unstructured, crds ...string) error {
	a, err := kube.NewApplier(c.rest)
	if err != nil {
		return err
	}
	if err := a.Apply(ctx, objs...); err != nil {
		return err
	}
	return a.WaitEstablished(ctx, crds...)
}

// waitReady waits up to addonsReady for the Deployment namespace/name to
// have a ready replica.
func (c *Cluster) waitReady(ctx context.Context, namespace, name string) error {
	err := wait.PollUntilContextTimeout(ctx, time.Second, addonsReady, true, func(ctx context.Context) (bool, error) {
		d, err := c.client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas > 0, nil
	})
	if err != nil {
		return fmt.Errorf("deployment %s/%s has no ready replica after %s: %w", namespace, name, addonsReady, err)
	}
	return nil
}
