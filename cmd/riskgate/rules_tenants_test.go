package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/rules"
)

// TestRulesCheckTenants: rules check --rules-tenants compiles each tenant's
// overlay on the shared rules, as a server's start does: a broken overlay
// is refused with its file and line (it would fail the start), one that
// disables a rule the shared set lacks is a warning (the server logs it),
// and a good one is reported with its version.
func TestRulesCheckTenants(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shared := "rules:\n  - id: new-country\n    description: New country.\n    when: geo.new_country\n    score: 50\n"
	write("rules/rules.yaml", shared)
	write("tenants/acme/acme.yaml", "version: acme-1\ndisable: [new-country, gone]\nrules:\n  - id: acme-night\n    description: Night.\n    when: attempt.hour < 6\n    action: step_up\n")
	write("tenants/beta/beta.yaml", "rules:\n  - id: typo\n    description: Typo.\n    when: geo.new_countyr\n    action: deny\n")
	set, err := rules.Compile(rules.Source{Name: "rules.yaml", Data: []byte(shared)})
	if err != nil {
		t.Fatal(err)
	}
	tenants := filepath.Join(dir, "tenants")
	// A tenant's folder that is a link to one elsewhere is checked, as
	// the server reads it.
	write("volume/gamma/gamma.yaml", "version: gamma-1\ndisable: [new-country]\n")
	if err := os.Symlink(filepath.Join(dir, "volume", "gamma"), filepath.Join(tenants, "gamma")); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	err = checkTenants(tenants, set, &out, &errs)
	if err == nil || err.Error() != "rules check: 1 tenant overlay(s) rejected" {
		t.Errorf("checkTenants: %v", err)
	}
	for _, want := range []string{
		filepath.Join(tenants, "beta", "beta.yaml") + `:4: rule "typo": when: geo has no field new_countyr`,
		`warning: ` + filepath.Join(tenants, "acme", "acme.yaml") + `:2: disable: the shared ruleset`,
	} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs.String())
		}
	}
	if !strings.Contains(out.String(), "OK: tenant acme: 1 rules in 1 file(s), version "+set.Version()+" + tenant:acme@acme-1@sha256:") ||
		!strings.Contains(out.String(), "OK: tenant gamma: 0 rules in 1 file(s), version "+set.Version()+" + tenant:gamma@gamma-1@sha256:") {
		t.Errorf("stdout:\n%s", out.String())
	}

	// Through the command: the shared rules, then the overlays.
	write("tenants/beta/beta.yaml", "disable: [new-country]\n")
	c := &rulesCheckCmd{Paths: []string{filepath.Join(dir, "rules")}, RulesTenants: tenants}
	if err := c.Run(t.Context()); err != nil {
		t.Errorf("rules check with good overlays: %v", err)
	}
}

// TestRulesCheckTenantsGivenATenantsFolder: --rules-tenants naming a
// tenant's own folder checked no overlay and answered OK without a word
// about it; the check now warns of the rule files no tenant reads and says
// it found no overlay.
func TestRulesCheckTenantsGivenATenantsFolder(t *testing.T) {
	dir := t.TempDir()
	acme := filepath.Join(dir, "tenants", "acme")
	if err := os.MkdirAll(acme, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(acme, "acme.yaml"), []byte("disable: [new-country]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(rules.Source{Name: "rules.yaml", Data: []byte("rules:\n  - id: new-country\n    description: New country.\n    when: geo.new_country\n    score: 50\n")})
	if err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if err := checkTenants(acme, set, &out, &errs); err != nil {
		t.Errorf("checkTenants: %v", err)
	}
	if want := "warning: " + filepath.Join(acme, "acme.yaml") + ": a rule file directly in the tenants folder, which no tenant reads"; !strings.Contains(errs.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errs.String())
	}
	if want := "no tenant overlays in " + acme; !strings.Contains(out.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, out.String())
	}
}

// TestRulesCheckTenantsLocked: an overlay that disables or replaces a
// rule the shared rules lock passed rules check (it loaded everywhere);
// the server now refuses it at start, so the check fails on it, naming
// the overlay's file:line, the tenant and the rule, through the command
// too.
func TestRulesCheckTenantsLocked(t *testing.T) {
	const shared = "rules:\n  - id: deny-list\n    description: Denied.\n    when: '\"deny\" in ip.lists'\n    action: deny\n    locked: true\n"
	for _, tc := range []struct{ name, overlay, want string }{
		{"disable", "version: acme-1\ndisable: [deny-list]\n", `acme.yaml:2: rule "deny-list": disable: tenant acme cannot disable a locked rule`},
		{"replace", "rules:\n  - id: deny-list\n    description: Only steps up.\n    when: '\"deny\" in ip.lists'\n    action: step_up\n", `acme.yaml:2: rule "deny-list": id: tenant acme cannot replace a locked rule`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for rel, data := range map[string]string{"rules/rules.yaml": shared, "tenants/acme/acme.yaml": tc.overlay} {
				p := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			set, err := rules.Compile(rules.Source{Name: "rules.yaml", Data: []byte(shared)})
			if err != nil {
				t.Fatal(err)
			}
			tenants := filepath.Join(dir, "tenants")
			var out, errs bytes.Buffer
			if err := checkTenants(tenants, set, &out, &errs); err == nil || err.Error() != "rules check: 1 tenant overlay(s) rejected" {
				t.Errorf("checkTenants: %v", err)
			}
			if want := filepath.Join(tenants, "acme", tc.want); !strings.Contains(errs.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, errs.String())
			}
			c := &rulesCheckCmd{Paths: []string{filepath.Join(dir, "rules")}, RulesTenants: tenants}
			if err := c.Run(t.Context()); err == nil {
				t.Error("rules check passed an override of a locked rule")
			}
		})
	}
}

// TestRulesCheckTenantsWarnsOfFailingRules: an overlay's rule that fails
// at run time on an empty attempt is warned of under its tenant, as the
// shared rules' are by rules check (it passed without a word); the
// shared rules' failures are not repeated for each tenant.
func TestRulesCheckTenantsWarnsOfFailingRules(t *testing.T) {
	dir := t.TempDir()
	acme := filepath.Join(dir, "acme")
	if err := os.MkdirAll(acme, 0o755); err != nil {
		t.Fatal(err)
	}
	overlay := "rules:\n  - id: acme-app\n    description: App.\n    when: int(attempt.attributes[\"app\"]) > 2\n    action: deny\n" +
		"  - id: acme-night\n    description: Night.\n    when: attempt.hour < 6\n    action: step_up\n"
	if err := os.WriteFile(filepath.Join(acme, "acme.yaml"), []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	shared := "rules:\n  - id: shared-list\n    description: First list.\n    when: ip.lists[0] == \"x\"\n    score: 50\n"
	set, err := rules.Compile(rules.Source{Name: "rules.yaml", Data: []byte(shared)})
	if err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if err := checkTenants(dir, set, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if want := `warning: tenant acme: rule "acme-app" fails at run time on an empty attempt (when: conversion error at line 1, column 1)`; !strings.Contains(out.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, out.String())
	}
	if n := strings.Count(out.String(), "warning: "); n != 1 {
		t.Errorf("%d warnings, want acme-app's alone:\n%s", n, out.String())
	}
}
