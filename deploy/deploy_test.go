// Package deploy_test checks the deployment files against the schemas and
// tools that judge them (Kubernetes' OpenAPI schemas, systemd-analyze,
// Prometheus' promtool for the alerting rules) and against the riskgate
// binary they run: every flag and RISKGATE_* variable they use exists, and
// the Deployment's arguments start a server that answers its probes.
package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/api/client/clienttest"
)

// riskgate is the binary built for these tests.
var riskgate string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "riskgate-deploy-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if riskgate, err = clienttest.Build(context.Background(), dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

var (
	flagRE = regexp.MustCompile(`--(?:\[no-\])?([a-z0-9-]+)`)
	envRE  = regexp.MustCompile(`\$(RISKGATE_[A-Z0-9_]+)`)
)

// serveOptions lists the flags and environment variables of `riskgate
// serve`, read from its --help.
func serveOptions(t *testing.T) (flags, env map[string]bool) {
	t.Helper()
	out, err := exec.Command(riskgate, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("riskgate serve --help: %v\n%s", err, out)
	}
	flags, env = map[string]bool{}, map[string]bool{}
	for _, m := range flagRE.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	for _, m := range envRE.FindAllStringSubmatch(string(out), -1) {
		env[m[1]] = true
	}
	// Secrets have no flag, only a variable or a file (README "Security").
	for _, v := range []string{"RISKGATE_HMAC_SECRET", "RISKGATE_ADMIN_TOKEN", "RISKGATE_SCORING_TOKEN"} {
		if !strings.Contains(string(out), v) {
			t.Errorf("serve --help no longer mentions %s", v)
		}
	}
	if len(flags) < 20 || len(env) < 20 {
		t.Fatalf("read %d flags and %d variables from serve --help: the pattern is off", len(flags), len(env))
	}
	return flags, env
}

// checkOptions reports the flags and variables of args and env that
// riskgate does not have.
func checkOptions(t *testing.T, where string, args, env []string) {
	t.Helper()
	flags, vars := serveOptions(t)
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !flags[name] {
			t.Errorf("%s: riskgate serve has no flag --%s", where, name)
		}
	}
	for _, e := range env {
		if strings.HasPrefix(e, "RISKGATE_") && !vars[e] {
			t.Errorf("%s: riskgate serve reads no %s", where, e)
		}
	}
}

// manifests decodes every object of deploy/kubernetes, by file.
func manifests(t *testing.T) map[string][]map[string]any {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	out := map[string][]map[string]any{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if obj != nil {
				out[f] = append(out[f], obj)
			}
		}
	}
	return out
}

// get walks a decoded YAML value by keys and indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := get(v, path...).([]any)
	return l
}
