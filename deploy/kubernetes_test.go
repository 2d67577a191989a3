package deploy_test

import (
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/freeport"
	"github.com/riskgate/riskgate/internal/redistest"
)

var update = flag.Bool("update", false, "regenerate kubernetes/rules-configmap.yaml from rules/default.yaml")

// TestKubernetesSchemas validates every object against the official
// schemas, strictly.
func TestKubernetesSchemas(t *testing.T) {
	vs := validators(t)
	seen := map[string]bool{}
	for file, objs := range manifests(t) {
		for i, obj := range objs {
			seen[fmt.Sprint(obj["apiVersion"], "/", obj["kind"])] = true
			if err := validate(vs, obj); err != nil {
				t.Errorf("%s, object %d (%s %s): %v", file, i, obj["kind"], str(obj, "metadata", "name"), err)
			}
		}
	}
	for gvk := range kinds {
		if !seen[gvk] {
			t.Errorf("no %s in the manifests", gvk)
		}
	}
}

// TestSchemaCatchesMistakes: the validator refuses what the API server
// would refuse or silently drop, so a passing TestKubernetesSchemas means
// something.
func TestSchemaCatchesMistakes(t *testing.T) {
	vs := validators(t)
	dep := func() map[string]any { return manifests(t)["kubernetes/deployment.yaml"][0] }
	cases := []struct {
		name   string
		change func(map[string]any)
	}{
		{"misspelt field", func(d map[string]any) { get(d, "spec").(map[string]any)["replica"] = 3 }},
		{"wrong type", func(d map[string]any) { get(d, "spec").(map[string]any)["replicas"] = "three" }},
		{"misspelt probe field", func(d map[string]any) {
			get(d, "spec", "template", "spec", "containers", 0, "readinessProbe").(map[string]any)["periodSecond"] = 5
		}},
		{"no containers", func(d map[string]any) { get(d, "spec", "template", "spec").(map[string]any)["containers"] = nil }},
		{"no selector", func(d map[string]any) { delete(get(d, "spec").(map[string]any), "selector") }},
		{"bad port type", func(d map[string]any) {
			get(d, "spec", "template", "spec", "containers", 0, "ports", 0).(map[string]any)["containerPort"] = "http"
		}},
	}
	for _, tc := range cases {
		d := dep()
		tc.change(d)
		if err := validate(vs, d); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// TestKubernetesWiring checks what the schemas cannot: the names that tie
// the objects together, and that riskgate has every flag and variable the
// Deployment gives it.
func TestKubernetesWiring(t *testing.T) {
	all := manifests(t)
	byKind := map[string]map[string]any{}
	for _, objs := range all {
		for _, o := range objs {
			byKind[str(o, "kind")+"/"+str(o, "metadata", "name")] = o
		}
	}
	dep := byKind["Deployment/riskgate"]
	if dep == nil {
		t.Fatal("no Deployment riskgate")
	}
	podLabels, _ := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
	selects := func(what string, sel any) {
		m, _ := sel.(map[string]any)
		if len(m) == 0 {
			t.Errorf("%s: empty selector", what)
		}
		for k, v := range m {
			if podLabels[k] != v {
				t.Errorf("%s: selector %s=%v does not match the pods", what, k, v)
			}
		}
	}
	selects("Deployment", get(dep, "spec", "selector", "matchLabels"))
	selects("PodDisruptionBudget", get(byKind["PodDisruptionBudget/riskgate"], "spec", "selector", "matchLabels"))

	c := get(dep, "spec", "template", "spec", "containers", 0)
	ports := map[string]int{}
	for _, p := range list(c, "ports") {
		ports[str(p, "name")] = get(p, "containerPort").(int)
	}
	for _, name := range []string{"Service/riskgate", "Service/riskgate-grpc"} {
		svc := byKind[name]
		selects(name, get(svc, "spec", "selector"))
		for _, p := range list(svc, "spec", "ports") {
			if _, ok := ports[str(p, "targetPort")]; !ok {
				t.Errorf("%s: targetPort %v is no container port", name, get(p, "targetPort"))
			}
		}
	}

	var args []string
	for _, a := range list(c, "args") {
		args = append(args, a.(string))
	}
	if args[0] != "serve" {
		t.Fatalf("args %v: not serve", args)
	}
	var env []string
	for _, e := range list(c, "env") {
		env = append(env, str(e, "name"))
		if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
			if _, ok := get(byKind["Secret/"+str(ref, "name")], "stringData", str(ref, "key")).(string); !ok {
				t.Errorf("env %s: no key %s in Secret %s", str(e, "name"), str(ref, "key"), str(ref, "name"))
			}
		}
	}
	checkOptions(t, "deployment.yaml", args[1:], env)
	arg := func(name string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
		}
		t.Fatalf("no --%s in the args", name)
		return ""
	}
	_, metricsPort, _ := net.SplitHostPort(arg("metrics-addr"))
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"} {
		p := get(c, probe, "httpGet")
		if str(p, "path") != path || fmt.Sprint(ports[str(p, "port")]) != metricsPort {
			t.Errorf("%s: %s on port %v, want %s on the metrics port %s", probe, str(p, "path"), get(p, "port"), path, metricsPort)
		}
	}

	// Every file the args name is in a mounted volume, from an object
	// that exists, with the key it needs.
	mounts := map[string]map[string]any{}
	vols := map[string]map[string]any{}
	for _, v := range list(dep, "spec", "template", "spec", "volumes") {
		vols[str(v, "name")] = v.(map[string]any)
	}
	for _, m := range list(c, "volumeMounts") {
		mounts[str(m, "mountPath")] = vols[str(m, "name")]
	}
	for _, name := range []string{"rules", "hmac-secret-file", "admin-token-file", "scoring-token-file"} {
		path := arg(name)
		dir, file := path, ""
		if name != "rules" {
			dir, file = filepath.Dir(path), filepath.Base(path)
		}
		v := mounts[dir]
		switch {
		case v == nil:
			t.Errorf("--%s=%s: no volume mounted at %s", name, path, dir)
		case get(v, "configMap") != nil:
			if byKind["ConfigMap/"+str(v, "configMap", "name")] == nil {
				t.Errorf("--%s: no ConfigMap %s", name, str(v, "configMap", "name"))
			}
		case get(v, "secret") != nil:
			secret := byKind["Secret/"+str(v, "secret", "secretName")]
			found := false
			for _, it := range list(v, "secret", "items") {
				if str(it, "path") == file {
					found = true
					if _, ok := get(secret, "stringData", str(it, "key")).(string); !ok {
						t.Errorf("--%s: Secret has no key %s", name, str(it, "key"))
					}
				}
			}
			if !found {
				t.Errorf("--%s: %s is not an item of the secret volume", name, file)
			}
		}
	}
}

// TestKubernetesRunsAsWritten starts riskgate with the Deployment's own
// arguments and environment (paths moved into a temporary folder holding
// the ConfigMap's and the Secret's files, addresses onto free loopback
// ports, the store onto a private Redis) and asks its probes.
func TestKubernetesRunsAsWritten(t *testing.T) {
	rd := redistest.Start(t)
	all := manifests(t)
	dep := all["kubernetes/deployment.yaml"][0]
	secret := all["kubernetes/secret.yaml"][0]
	cm := all["kubernetes/rules-configmap.yaml"][0]
	c := get(dep, "spec", "template", "spec", "containers", 0)

	root := t.TempDir()
	moved := func(p string) string { return filepath.Join(root, p) }
	for _, m := range list(c, "volumeMounts") {
		if err := os.MkdirAll(moved(str(m, "mountPath")), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range get(cm, "data").(map[string]any) {
		write(t, filepath.Join(moved("/etc/riskgate/rules"), name), data.(string))
	}
	for key, data := range get(secret, "stringData").(map[string]any) {
		write(t, filepath.Join(moved("/etc/riskgate/secrets"), key), data.(string))
	}
	var addrs int
	for _, a := range list(c, "args") {
		if name, _, ok := strings.Cut(a.(string), "="); ok && strings.HasSuffix(name, "-addr") {
			addrs++
		}
	}
	var ports map[string]string
	startReady(t, "riskgate", addrs, func(free []netip.AddrPort) (*exec.Cmd, string) {
		ports = map[string]string{}
		var args []string
		for _, a := range list(c, "args") {
			a := a.(string)
			if name, val, ok := strings.Cut(a, "="); ok {
				switch {
				case strings.HasSuffix(name, "-addr"):
					val = free[len(ports)].String()
					ports[name] = val
				case strings.HasPrefix(val, "/"):
					val = moved(val)
				}
				a = name + "=" + val
			}
			args = append(args, a)
		}
		cmd := exec.Command(riskgate, args...)
		cmd.Env = append(os.Environ(), "RISKGATE_STORE="+rd.URL, "GOMEMLIMIT=1073741824")
		return cmd, "http://" + ports["--metrics-addr"] + "/readyz"
	})
	metrics := "http://" + ports["--metrics-addr"]
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(metrics + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %v %v", path, err, resp)
		} else {
			resp.Body.Close()
		}
	}
	// Scoring needs the scoring token from the Secret.
	req, _ := http.NewRequest("POST", "http://"+ports["--http-addr"]+"/v1/score", strings.NewReader(`{"ip":"81.2.69.160"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("score without the token: %v %v", err, resp)
	}
	req, _ = http.NewRequest("POST", "http://"+ports["--http-addr"]+"/v1/score", strings.NewReader(`{"ip":"81.2.69.160"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+get(secret, "stringData", "scoring-token").(string))
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("score with the token: %v %v", err, resp)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

const configMapHeader = `# The rules riskgate runs, mounted at /etc/riskgate/rules. Generated from
# rules/default.yaml (go test ./deploy -run TestRulesConfigMap -update):
# replace default.yaml with your own ruleset, or add files beside it; check
# them with riskgate rules check. riskgate reloads them when Kubernetes
# updates the mounted files. PUT /v1/rules cannot write to a ConfigMap, so
# change the rules here (and with kubectl apply), not through the API.
`

// TestRulesConfigMap: the ConfigMap carries the default rules as they are
// now, and riskgate accepts them.
func TestRulesConfigMap(t *testing.T) {
	src, err := os.ReadFile("../rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(configMapHeader)
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: riskgate-rules\n  labels:\n    app.kubernetes.io/name: riskgate\ndata:\n  default.yaml: |\n")
	for _, line := range strings.SplitAfter(string(src), "\n") {
		if line == "" {
			continue
		}
		if line == "\n" {
			b.WriteString(line)
			continue
		}
		b.WriteString("    " + line)
	}
	const path = "kubernetes/rules-configmap.yaml"
	if *update {
		write(t, path, b.String())
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != b.String() {
		t.Fatalf("%s is stale: run go test ./deploy -run TestRulesConfigMap -update", path)
	}
	data := get(manifests(t)[path][0], "data").(map[string]any)
	if got := data["default.yaml"]; got != string(src) {
		t.Fatal("the ConfigMap's YAML does not decode to rules/default.yaml")
	}
	dir := t.TempDir()
	for _, name := range slices.Sorted(maps.Keys(data)) {
		write(t, filepath.Join(dir, name), data[name].(string))
	}
	if out, err := exec.Command(riskgate, "rules", "check", dir).CombinedOutput(); err != nil {
		t.Fatalf("riskgate rules check: %v\n%s", err, out)
	}
}

// startReady starts the riskgate that command makes (described as what
// in failures) on n free loopback ports, waits until its readyz answers
// 200 and stops the process when the test ends, logging its output when
// the test failed. A port can be taken between the kernel's answer and
// riskgate's bind: it is then started again on other ports.
func startReady(t *testing.T, what string, n int, command func(ports []netip.AddrPort) (cmd *exec.Cmd, readyz string)) {
	t.Helper()
	_, err := freeport.Start(freeport.Options{Ports: n}, func(ports []netip.AddrPort) (struct{}, error) {
		cmd, readyz := command(ports)
		return struct{}{}, freeport.Process(t, cmd, readyz, what, 30*time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
}
