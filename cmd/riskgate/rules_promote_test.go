package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// trial has a shadow rule every login matches, scoring 50 once enforced.
const trial = `version: trial
rules:
  - id: base
    description: Every login scores this.
    when: ip.failures_10m >= 0
    score: 10
  - id: on-trial
    description: On trial.
    when: ip.failures_10m >= 0
    score: 40
    mode: shadow
`

// TestRulesPromoteBinary: `riskgate rules promote` through a running
// server's admin API, then in the files a server watches; decisions and
// versions follow, and what is on disk is what is in force.
func TestRulesPromoteBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "trial.yaml")
	if err := os.WriteFile(file, []byte(trial), 0o644); err != nil {
		t.Fatal(err)
	}
	tenants := t.TempDir()
	os.MkdirAll(filepath.Join(tenants, "acme"), 0o755)
	os.WriteFile(filepath.Join(tenants, "acme", "acme.yaml"), []byte("rules:\n  - id: acme-trial\n    description: Acme's trial.\n    when: attempt.tenant == \"acme\"\n    score: 45\n    mode: shadow\n"), 0o644)
	p := startBinary(t, bin, []string{"RISKGATE_ADMIN_TOKEN=" + reloadAdmin}, "--rules", dir, "--rules-tenants", tenants, "--rules-debounce", "50ms")
	v10 := waitScore(t, p, 10, "at start")

	// Errors are the API's, named.
	code, _, stderr := run(t, bin, "rules", "promote", "base", "--server", "http://"+p.http)
	if code == 0 || !strings.Contains(stderr, "missing or invalid credentials") {
		t.Fatalf("without a token: %d %s", code, stderr)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(reloadAdmin+"\n"), 0o600)
	if code, _, stderr := run(t, bin, "rules", "promote", "base", "--server", "http://"+p.http, "--token-file", tokenFile); code == 0 || !strings.Contains(stderr, "already enforced") {
		t.Fatalf("an enforced rule: %d %s", code, stderr)
	}

	code, stdout, stderr := run(t, bin, "rules", "promote", "on-trial", "--server", "http://"+p.http, "--token-file", tokenFile, "--if-version", v10)
	if code != 0 || !strings.Contains(stdout, "promoted on-trial: version trial@sha256:") {
		t.Fatalf("promote: %d %s %s", code, stdout, stderr)
	}
	if got, version := scoreNow(t, p); got != 50 || version == v10 || !strings.Contains(stdout, version) {
		t.Fatalf("after promote: score %d version %s", got, version)
	}
	if data, _ := os.ReadFile(file); string(data) != strings.Replace(trial, "mode: shadow", "mode: enforce", 1) {
		t.Fatalf("on disk:\n%s", data)
	}

	// Offline: the tenant's overlay file is edited; SIGHUP-free, the
	// watch of the tenants' folders reloads it.
	code, stdout, stderr = run(t, bin, "rules", "promote", "acme-trial", "--tenant", "acme", "--rules", dir, "--rules-tenants", tenants)
	if code != 0 || !strings.Contains(stdout, "promoted acme-trial in tenant acme: version") {
		t.Fatalf("offline tenant promote: %d %s %s", code, stdout, stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(tenants, "acme", "acme.yaml")); !strings.Contains(string(data), "mode: enforce") {
		t.Fatalf("acme on disk:\n%s", data)
	}
	// The watch of the tenants' folders puts it in force: acme's logins
	// score 50 + 45, capped at 100... 95; other tenants still 50.
	waitUntil(t, p, "acme's promoted rule in force", func() bool { return tenantScore(t, p, "acme") == 95 })
	if got := tenantScore(t, p, "beta"); got != 50 {
		t.Fatalf("beta: %d", got)
	}
	p.stop(t)
}

func tenantScore(t *testing.T, p *process, tenant string) int {
	t.Helper()
	resp, err := http.Post("http://"+p.http+"/v1/score", "application/json", strings.NewReader(`{"tenant":"`+tenant+`","ip":"81.2.69.160","user_id":"u"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Score int `json:"score"`
	}
	json.NewDecoder(resp.Body).Decode(&d)
	return d.Score
}
