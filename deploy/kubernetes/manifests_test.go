package kubernetes_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizations are every kustomization an operator may apply: the base
// and each overlay.
func kustomizations(t *testing.T) []string {
	t.Helper()
	dirs := []string{"base"}
	overlays, err := filepath.Glob("overlays/*/kustomization.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, overlays)
	for _, o := range overlays {
		dirs = append(dirs, filepath.Dir(o))
	}
	return dirs
}

// strict decodes YAML into the official API types, refusing unknown and
// duplicate fields.
func strict() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
}

// render builds a kustomization as `kubectl apply -k` would and decodes
// each object strictly.
func render(dir string) ([]runtime.Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	decoder := strict()
	var objects []runtime.Object
	for _, r := range resources.Resources() {
		raw, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		obj, _, err := decoder.Decode(raw, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
		}
		objects = append(objects, obj)
	}
	return objects, nil
}

// manifests is one rendered kustomization, sorted by kind.
type manifests struct {
	deployments     []*appsv1.Deployment
	jobs            []*batchv1.Job
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	serviceAccounts []*corev1.ServiceAccount
	pdbs            []*policyv1.PodDisruptionBudget
	networkPolicies []*networkingv1.NetworkPolicy
	ingresses       []*networkingv1.Ingress
	namespaces      []*corev1.Namespace
}

func load(t *testing.T, dir string) manifests {
	t.Helper()
	objects, err := render(dir)
	require.NoError(t, err)
	var m manifests
	for _, obj := range objects {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployments = append(m.deployments, o)
		case *batchv1.Job:
			m.jobs = append(m.jobs, o)
		case *corev1.Service:
			m.services = append(m.services, o)
		case *corev1.ConfigMap:
			m.configMaps = append(m.configMaps, o)
		case *corev1.Secret:
			m.secrets = append(m.secrets, o)
		case *corev1.ServiceAccount:
			m.serviceAccounts = append(m.serviceAccounts, o)
		case *policyv1.PodDisruptionBudget:
			m.pdbs = append(m.pdbs, o)
		case *networkingv1.NetworkPolicy:
			m.networkPolicies = append(m.networkPolicies, o)
		case *networkingv1.Ingress:
			m.ingresses = append(m.ingresses, o)
		case *corev1.Namespace:
			m.namespaces = append(m.namespaces, o)
		default:
			t.Fatalf("%s: %T is not checked by this test; teach it the kind", dir, obj)
		}
	}
	return m
}

// pod is a pod template and where it comes from.
type pod struct {
	owner    string // "Deployment clusterdesk-web"
	template corev1.PodTemplateSpec
}

func (m manifests) pods() []pod {
	var pods []pod
	for _, d := range m.deployments {
		pods = append(pods, pod{"Deployment " + d.Name, d.Spec.Template})
	}
	for _, j := range m.jobs {
		pods = append(pods, pod{"Job " + j.Name, j.Spec.Template})
	}
	return pods
}

func (m manifests) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s", name)
	return nil
}

// selected are the pods a selector picks.
func (m manifests) selected(t *testing.T, sel labels.Selector) []pod {
	t.Helper()
	var picked []pod
	for _, p := range m.pods() {
		if sel.Matches(labels.Set(p.template.Labels)) {
			picked = append(picked, p)
		}
	}
	return picked
}

func selector(t *testing.T, ls *metav1.LabelSelector) labels.Selector {
	t.Helper()
	require.NotNil(t, ls)
	sel, err := metav1.LabelSelectorAsSelector(ls)
	require.NoError(t, err)
	require.False(t, sel.Empty(), "an empty selector picks every pod of the namespace")
	return sel
}

// hasPort reports whether a port given by name or number is declared by one
// of the containers.
func hasPort(containers []corev1.Container, port intstr.IntOrString) bool {
	for _, c := range containers {
		for _, p := range c.Ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) ||
				(port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return true
			}
		}
	}
	return false
}

// external is the list in docs/deployment.md of the objects an operator
// creates: kind and name -> the keys it must hold.
func external(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/deployment.md")
	require.NoError(t, err)
	entry := regexp.MustCompile("(?m)^- (Secret|ConfigMap) `([^`]+)`(?:, keys? ([^:]+))?:")
	quoted := regexp.MustCompile("`([^`]+)`")
	found := map[string][]string{}
	for _, m := range entry.FindAllStringSubmatch(string(doc), -1) {
		var keys []string
		for _, k := range quoted.FindAllStringSubmatch(m[3], -1) {
			keys = append(keys, k[1])
		}
		found[m[1]+" "+m[2]] = keys
	}
	require.Contains(t, found, "Secret clusterdesk", "docs/deployment.md lists the objects an operator creates as `- Secret `name`, keys `a`, `b`: …`")
	return found
}

// TestManifestsDecodeStrictly renders every kustomization and decodes each
// object into the official API types, unknown fields refused.
func TestManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	for _, dir := range kustomizations(t) {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			objects, err := render(dir)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(objects), 10)
		})
	}
}

// TestStrictDecodingRefusesATypo makes sure the decoder above would catch
// a misspelt field, at the top of a spec and deep in a container.
func TestStrictDecodingRefusesATypo(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("base/web-deployment.yaml")
	require.NoError(t, err)
	for _, tc := range []struct{ name, from, to, field string }{
		{"spec field", "\n  replicas: 2\n", "\n  replica: 2\n", `"spec.replica"`},
		{"container field", "\n          readinessProbe:\n", "\n          readinesProbe:\n", `"spec.template.spec.containers[0].readinesProbe"`},
		{"probe field", "\n              path: /readyz\n", "\n              pat: /readyz\n", `"spec.template.spec.containers[0].readinessProbe.httpGet.pat"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, string(raw), tc.from)
			dir := t.TempDir()
			typo := strings.Replace(string(raw), tc.from, tc.to, 1)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "deployment.yaml"), []byte(typo), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"),
				[]byte("resources:\n  - deployment.yaml\n"), 0o644))
			_, err := render(dir)
			require.ErrorContains(t, err, "unknown field "+tc.field)
		})
	}
}

// TestManifestsReferToEachOther checks, in every kustomization, what
// decoding alone cannot: the objects agree with each other.
func TestManifestsReferToEachOther(t *testing.T) {
	t.Parallel()
	documented := external(t)
	for _, dir := range kustomizations(t) {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			m := load(t, dir)
			web := m.deployment(t, "clusterdesk-web")
			worker := m.deployment(t, "clusterdesk-worker")
			require.Len(t, m.jobs, 1, "one migration Job")
			migrate := m.jobs[0]

			t.Run("roles", func(t *testing.T) {
				require.Equal(t, []string{"serve", "-web"}, web.Spec.Template.Spec.Containers[0].Args)
				require.Equal(t, []string{"serve", "-worker"}, worker.Spec.Template.Spec.Containers[0].Args)
				require.Equal(t, []string{"migrate", "up"}, migrate.Spec.Template.Spec.Containers[0].Args)
				// The rollout waits for the migrations: docs/deployment.md.
				for _, d := range []*appsv1.Deployment{web, worker} {
					require.Len(t, d.Spec.Template.Spec.InitContainers, 1, d.Name)
					require.Equal(t, []string{"migrate", "wait"}, d.Spec.Template.Spec.InitContainers[0].Args, d.Name)
				}
			})

			t.Run("one image", func(t *testing.T) {
				images := map[string]bool{}
				for _, p := range m.pods() {
					for _, c := range slices.Concat(p.template.Spec.InitContainers, p.template.Spec.Containers) {
						images[c.Image] = true
					}
				}
				require.Len(t, images, 1, "web, worker and migrations run the same image: %v", images)
				if strings.HasPrefix(dir, "overlays/") {
					for image := range images {
						require.NotContains(t, image, ":latest", "an overlay pins a release (its images: entry must name the base's image)")
					}
				}
			})

			t.Run("deployment selectors", func(t *testing.T) {
				for _, d := range m.deployments {
					sel := selector(t, d.Spec.Selector)
					require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)), "%s selects its own pods", d.Name)
					require.Len(t, m.selected(t, sel), 1, "%s selects only its own pods", d.Name)
				}
			})

			t.Run("disruption budget", func(t *testing.T) {
				require.Len(t, m.pdbs, 1)
				picked := m.selected(t, selector(t, m.pdbs[0].Spec.Selector))
				require.Len(t, picked, 1)
				require.Equal(t, "Deployment clusterdesk-web", picked[0].owner)
				require.Greater(t, *web.Spec.Replicas, int32(1), "a budget for one replica blocks every drain")
			})

			t.Run("services", func(t *testing.T) {
				for _, s := range m.services {
					picked := m.selected(t, selector(t, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}))
					require.NotEmpty(t, picked, "Service %s selects no pods", s.Name)
					for _, p := range picked {
						for _, port := range s.Spec.Ports {
							require.True(t, hasPort(p.template.Spec.Containers, port.TargetPort),
								"Service %s: %s declares no port %s", s.Name, p.owner, port.TargetPort.String())
						}
					}
				}
			})

			t.Run("ingress", func(t *testing.T) {
				for _, ing := range m.ingresses {
					for _, rule := range ing.Spec.Rules {
						for _, path := range rule.HTTP.Paths {
							backend := path.Backend.Service
							i := slices.IndexFunc(m.services, func(s *corev1.Service) bool { return s.Name == backend.Name })
							require.GreaterOrEqual(t, i, 0, "Ingress %s: no Service %s", ing.Name, backend.Name)
							require.True(t, slices.ContainsFunc(m.services[i].Spec.Ports, func(p corev1.ServicePort) bool {
								return p.Name == backend.Port.Name && (backend.Port.Number == 0 || p.Port == backend.Port.Number)
							}), "Ingress %s: Service %s has no port %v", ing.Name, backend.Name, backend.Port)
						}
					}
				}
			})

			t.Run("network policies", func(t *testing.T) {
				covered := map[string]bool{}
				for _, np := range m.networkPolicies {
					picked := m.selected(t, selector(t, &np.Spec.PodSelector))
					require.NotEmpty(t, picked, "NetworkPolicy %s selects no pods", np.Name)
					require.ElementsMatch(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, np.Spec.PolicyTypes, np.Name)
					for _, p := range picked {
						covered[p.owner] = true
						for _, rule := range np.Spec.Ingress {
							require.NotEmpty(t, rule.Ports, "NetworkPolicy %s lets every port in", np.Name)
							for _, port := range rule.Ports {
								require.True(t, hasPort(p.template.Spec.Containers, *port.Port),
									"NetworkPolicy %s: %s declares no port %s", np.Name, p.owner, port.Port.String())
							}
						}
					}
				}
				for _, p := range m.pods() {
					require.True(t, covered[p.owner], "%s is under no NetworkPolicy", p.owner)
				}
				// Out: DNS, PostgreSQL, and HTTPS to the provider and Cloud Manager.
				for _, np := range m.networkPolicies {
					for _, rule := range np.Spec.Egress {
						require.NotEmpty(t, rule.Ports, "NetworkPolicy %s lets everything out", np.Name)
						for _, port := range rule.Ports {
							require.Contains(t, []string{"53", "5432", "443"}, port.Port.String(), "NetworkPolicy %s", np.Name)
						}
					}
				}
			})

			t.Run("probes", func(t *testing.T) {
				for _, p := range m.pods() {
					for _, c := range p.template.Spec.Containers {
						for _, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
							if probe == nil {
								continue
							}
							switch {
							case probe.HTTPGet != nil:
								require.True(t, hasPort([]corev1.Container{c}, probe.HTTPGet.Port), "%s: probe on undeclared port %s", p.owner, probe.HTTPGet.Port.String())
							case probe.TCPSocket != nil:
								require.True(t, hasPort([]corev1.Container{c}, probe.TCPSocket.Port), "%s: probe on undeclared port %s", p.owner, probe.TCPSocket.Port.String())
							}
						}
					}
				}
				c := web.Spec.Template.Spec.Containers[0]
				require.NotNil(t, c.LivenessProbe)
				require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
				require.NotNil(t, c.ReadinessProbe)
				require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
			})

			t.Run("listen addresses", func(t *testing.T) {
				// The ports the portal listens on (its settings) are the
				// ports the pods declare.
				require.Len(t, m.configMaps, 1)
				settings := m.configMaps[0].Data
				for _, tc := range []struct {
					setting, port string
					pods          []*appsv1.Deployment
				}{
					{"PORTAL_LISTEN_ADDR", "http", []*appsv1.Deployment{web}},
					{"PORTAL_METRICS_ADDR", "metrics", []*appsv1.Deployment{web, worker}},
				} {
					_, port, err := net.SplitHostPort(settings[tc.setting])
					require.NoError(t, err, tc.setting)
					for _, d := range tc.pods {
						require.True(t, hasPort(d.Spec.Template.Spec.Containers, intstr.FromString(tc.port)), "%s declares no port %s", d.Name, tc.port)
						number, _ := strconv.Atoi(port)
						require.True(t, hasPort(d.Spec.Template.Spec.Containers, intstr.FromInt32(int32(number))),
							"%s=%s, but %s declares no port %s", tc.setting, settings[tc.setting], d.Name, port)
					}
				}
				require.NotNil(t, worker.Spec.Template.Spec.Containers[0].LivenessProbe, "the worker is probed on its metrics listener")
			})

			t.Run("secrets and config maps", func(t *testing.T) {
				defined := map[string]map[string]bool{}
				for _, cm := range m.configMaps {
					defined["ConfigMap "+cm.Name] = keysOf(cm.Data)
				}
				for _, s := range m.secrets {
					defined["Secret "+s.Name] = keysOf(s.Data)
				}
				for _, ing := range m.ingresses {
					for _, tls := range ing.Spec.TLS {
						requireKnown(t, defined, documented, "Secret", tls.SecretName, nil, "Ingress "+ing.Name)
					}
				}
				for _, p := range m.pods() {
					spec := p.template.Spec
					for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
						for _, from := range c.EnvFrom {
							if from.ConfigMapRef != nil {
								requireKnown(t, defined, documented, "ConfigMap", from.ConfigMapRef.Name, nil, p.owner)
							}
							if from.SecretRef != nil {
								requireKnown(t, defined, documented, "Secret", from.SecretRef.Name, nil, p.owner)
							}
						}
						for _, env := range c.Env {
							if env.ValueFrom == nil {
								continue
							}
							if ref := env.ValueFrom.ConfigMapKeyRef; ref != nil {
								requireKnown(t, defined, documented, "ConfigMap", ref.Name, []string{ref.Key}, p.owner)
							}
							if ref := env.ValueFrom.SecretKeyRef; ref != nil {
								requireKnown(t, defined, documented, "Secret", ref.Name, []string{ref.Key}, p.owner)
							}
						}
					}
					for _, v := range spec.Volumes {
						if v.Secret != nil {
							requireKnown(t, defined, documented, "Secret", v.Secret.SecretName, itemKeys(v.Secret.Items), p.owner)
						}
						if v.ConfigMap != nil {
							requireKnown(t, defined, documented, "ConfigMap", v.ConfigMap.Name, itemKeys(v.ConfigMap.Items), p.owner)
						}
						if v.Projected != nil {
							for _, src := range v.Projected.Sources {
								if src.Secret != nil {
									requireKnown(t, defined, documented, "Secret", src.Secret.Name, itemKeys(src.Secret.Items), p.owner)
								}
								if src.ConfigMap != nil {
									requireKnown(t, defined, documented, "ConfigMap", src.ConfigMap.Name, itemKeys(src.ConfigMap.Items), p.owner)
								}
							}
						}
					}
				}
			})

			t.Run("secrets through files", func(t *testing.T) {
				for _, cm := range m.configMaps {
					for key := range cm.Data {
						require.NotContains(t, []string{"PORTAL_DATABASE_URL", "PORTAL_OIDC_CLIENT_SECRET", "PORTAL_CLOUD_CLIENT_SECRET", "PORTAL_CLOUD_TOKEN"},
							key, "ConfigMap %s holds a secret", cm.Name)
					}
				}
				for _, p := range m.pods() {
					spec := p.template.Spec
					for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
						for _, env := range c.Env {
							if !strings.HasSuffix(env.Name, "_FILE") {
								continue
							}
							// The file is in a mounted volume of the container.
							mounted := slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
								return strings.HasPrefix(env.Value, vm.MountPath+"/")
							})
							require.True(t, mounted, "%s/%s: %s=%s is in no mounted volume", p.owner, c.Name, env.Name, env.Value)
							require.True(t, secretFileExists(spec, c, env.Value), "%s/%s: %s names a key its volume does not project", p.owner, c.Name, env.Name)
						}
					}
				}
			})

			t.Run("hardening", func(t *testing.T) {
				accounts := map[string]bool{}
				for _, sa := range m.serviceAccounts {
					require.NotNil(t, sa.AutomountServiceAccountToken, sa.Name)
					require.False(t, *sa.AutomountServiceAccountToken, "ServiceAccount %s mounts its token", sa.Name)
					accounts[sa.Name] = true
				}
				for _, p := range m.pods() {
					spec := p.template.Spec
					require.True(t, accounts[spec.ServiceAccountName], "%s runs as ServiceAccount %q, which is not defined here", p.owner, spec.ServiceAccountName)
					require.NotNil(t, spec.AutomountServiceAccountToken, p.owner)
					require.False(t, *spec.AutomountServiceAccountToken, p.owner)
					pod := spec.SecurityContext
					require.NotNil(t, pod, p.owner)
					for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
						name := p.owner + "/" + c.Name
						sc := c.SecurityContext
						require.NotNil(t, sc, name)
						require.Equal(t, ptr(false), sc.AllowPrivilegeEscalation, name)
						require.Equal(t, ptr(true), sc.ReadOnlyRootFilesystem, name)
						require.NotNil(t, sc.Capabilities, name)
						require.Contains(t, sc.Capabilities.Drop, corev1.Capability("ALL"), name)
						require.Empty(t, sc.Capabilities.Add, name)
						require.True(t, *firstSet(sc.RunAsNonRoot, pod.RunAsNonRoot, ptr(false)), "%s may run as root", name)
						if uid := firstSet(sc.RunAsUser, pod.RunAsUser, ptr(int64(-1))); *uid == 0 {
							t.Fatalf("%s runs as uid 0", name)
						}
						seccomp := firstSet(sc.SeccompProfile, pod.SeccompProfile, &corev1.SeccompProfile{})
						require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, seccomp.Type, name)
						require.Nil(t, sc.Privileged, name)
						// Requests, and a memory limit: the portal is a Go
						// program whose memory grows with open streams.
						require.False(t, c.Resources.Requests.Cpu().IsZero(), "%s requests no CPU", name)
						require.False(t, c.Resources.Requests.Memory().IsZero(), "%s requests no memory", name)
						require.False(t, c.Resources.Limits.Memory().IsZero(), "%s has no memory limit", name)
					}
				}
			})
		})
	}
}

func keysOf[V any](data map[string]V) map[string]bool {
	keys := map[string]bool{}
	for k := range data {
		keys[k] = true
	}
	return keys
}

func itemKeys(items []corev1.KeyToPath) []string {
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

// requireKnown fails unless the object is rendered here or documented as
// one the operator creates, with every key used.
func requireKnown(t *testing.T, defined map[string]map[string]bool, documented map[string][]string, kind, name string, keys []string, user string) {
	t.Helper()
	id := kind + " " + name
	if have, ok := defined[id]; ok {
		for _, k := range keys {
			require.True(t, have[k], "%s uses key %s of %s, which it does not hold", user, k, id)
		}
		return
	}
	have, ok := documented[id]
	require.True(t, ok, "%s uses %s, which is neither in the manifests nor listed in docs/deployment.md", user, id)
	for _, k := range keys {
		require.Contains(t, have, k, "%s uses key %s of %s, which docs/deployment.md does not list", user, k, id)
	}
}

// secretFileExists reports whether path is a file a volume mounted in c
// projects: a key in its items, or any file when it has none.
func secretFileExists(spec corev1.PodSpec, c corev1.Container, path string) bool {
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, vm.MountPath+"/")
		if !ok {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			var items []corev1.KeyToPath
			switch {
			case v.Secret != nil:
				items = v.Secret.Items
			case v.ConfigMap != nil:
				items = v.ConfigMap.Items
			default:
				return false
			}
			return len(items) == 0 || slices.ContainsFunc(items, func(it corev1.KeyToPath) bool { return it.Path == rel })
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

func firstSet[T any](values ...*T) *T {
	for _, v := range values {
		if v != nil {
			return v
		}
	}
	return nil
}
