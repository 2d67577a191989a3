package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireSystemdEnv makes a missing systemd-analyze a failure (CI sets it).
const requireSystemdEnv = "RISKGATE_REQUIRE_SYSTEMD_ANALYZE"

// TestSystemdUnit: systemd accepts the unit, rates its exposure "OK" (at
// most 2.0 of 10), and riskgate has every setting the unit gives it.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv(requireSystemdEnv) != "" {
			t.Fatalf("systemd-analyze not found and %s is set: apt-get install systemd", requireSystemdEnv)
		}
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile("systemd/riskgate.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's program exists: point it at the one
	// built for the test. The unit's name must stay riskgate.service.
	const installed = "/usr/local/bin/riskgate"
	if !strings.Contains(string(unit), "ExecStart="+installed+" ") {
		t.Fatalf("ExecStart does not run %s", installed)
	}
	path := filepath.Join(t.TempDir(), "riskgate.service")
	write(t, path, strings.ReplaceAll(string(unit), installed, riskgate))

	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	if out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", path).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: exposure over 2.0: %v\n%s", err, out)
	}

	var args, env []string
	sc := bufio.NewScanner(strings.NewReader(string(unit)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "ExecStart="):
			f := strings.Fields(strings.TrimPrefix(line, "ExecStart="))
			if len(f) < 2 || f[1] != "serve" {
				t.Fatalf("ExecStart: %q", line)
			}
			args = f[2:]
		case strings.HasPrefix(line, "Environment="):
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "Environment="), "=")
			env = append(env, name)
		}
	}
	checkOptions(t, "riskgate.service", args, env)
	if len(env) < 3 {
		t.Errorf("the unit passes %d variables: the secrets are missing", len(env))
	}
}
