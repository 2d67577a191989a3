package deploy_test

import (
	"bufio"
	"net/netip"
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

// TestSystemdRunsAsInstalled follows the installation steps of the unit's
// header comment, under a temporary root, then starts riskgate as the unit
// does (its command, its variables, its credentials): it must become
// ready. Steps that need root or systemd (the binary's and the unit's
// copies, systemctl) are left out.
func TestSystemdRunsAsInstalled(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	unit, err := os.ReadFile("systemd/riskgate.service")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	moved := func(s string) string {
		return strings.ReplaceAll(s, "/etc/riskgate", filepath.Join(root, "etc/riskgate"))
	}
	var command string
	var env []string
	sc := bufio.NewScanner(strings.NewReader(string(unit)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#   "):
			step := strings.TrimSpace(strings.TrimPrefix(line, "#   "))
			if strings.Contains(step, "/usr/local/bin") || strings.Contains(step, "/etc/systemd") || strings.HasPrefix(step, "systemctl") {
				continue
			}
			step, _, _ = strings.Cut(step, "#")
			cmd := exec.Command("sh", "-ec", moved(step))
			cmd.Dir = ".." // the steps run in the repository
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("step %q: %v\n%s", step, err, out)
			}
			if strings.Contains(step, "secrets/hmac-secret") { // "and admin-token, scoring-token"
				for _, s := range []string{"admin-token", "scoring-token"} {
					c := moved("openssl rand -hex 32 > /etc/riskgate/secrets/" + s)
					if out, err := exec.Command("sh", "-ec", c).CombinedOutput(); err != nil {
						t.Fatalf("%s: %v\n%s", c, err, out)
					}
				}
			}
		case strings.HasPrefix(line, "ExecStart="):
			command = strings.TrimPrefix(line, "ExecStart=")
		case strings.HasPrefix(line, "Environment="):
			env = append(env, strings.TrimPrefix(line, "Environment="))
		}
	}
	// The credentials directory (%d) holds what LoadCredential copies:
	// the secrets, under the same names.
	creds := filepath.Join(root, "etc/riskgate/secrets")
	for i := range env {
		env[i] = strings.ReplaceAll(env[i], "%d", creds)
	}
	// The installed configuration names the real paths: move them too.
	cfg := filepath.Join(root, "etc/riskgate/riskgate.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatalf("the steps install no configuration: %v", err)
	}
	write(t, cfg, moved(string(data)))

	f := strings.Fields(moved(command))
	startReady(t, "riskgate, installed as the unit says,", 3, func(ports []netip.AddrPort) (*exec.Cmd, string) {
		cmd := exec.Command(riskgate, f[1:]...)
		cmd.Dir = root
		cmd.Env = append(append(os.Environ(), env...),
			"RISKGATE_HTTP_ADDR="+ports[0].String(), "RISKGATE_GRPC_ADDR="+ports[1].String(), "RISKGATE_METRICS_ADDR="+ports[2].String())
		return cmd, "http://" + ports[2].String() + "/readyz"
	})
}
