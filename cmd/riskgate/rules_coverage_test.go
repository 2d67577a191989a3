package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/simulator"
)

const coverageRules = `rules:
  - id: never
    description: A typo the type checker accepts.
    when: attempt.channel == "Web"
    action: deny
  - id: always
    description: '>= for >.'
    when: ip.failures_10m >= 0
    score: 1
  - id: failed
    description: Failed logins.
    when: attempt.failed
    score: 10
  - id: unguarded
    description: An attribute no attempt has, converted without a guard.
    when: int(attempt.attributes["n"]) > 3
    score: 1
`

// TestRulesCheckCoverage: rules check warns about the rules that match
// none or every attempt of a stream (--in) or of the built-in scenarios,
// or fail at run time (with the failure, not as matching none), and says
// nothing of a rule that matches some; warnings do not fail it.
func TestRulesCheckCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	os.WriteFile(file, []byte(coverageRules), 0o644)
	cfg := simulator.DefaultConfig()
	cfg.Users, cfg.Days, cfg.WarmupDays = 50, 2, 3
	out, err := simulator.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stream := filepath.Join(dir, "stream.jsonl")
	f, _ := os.Create(stream)
	if err := out.WriteJSONL(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, args := range [][]string{{"--in", stream}, {"--scenarios"}} {
		code, stdout, stderr := run(t, bin, append([]string{"rules", "check", file}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, want := range []string{`rule "never" (enforce) matched none of the`, `rule "always" (enforce) matched every one of the`,
			`rule "unguarded" (enforce) failed at run time on `, `(when: conversion error at line 1, column 1), each counted as not matched; it matched none`} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: %q missing from\n%s", args, want, stdout)
			}
		}
		if strings.Contains(stdout, `"failed"`) {
			t.Errorf("%v: a rule matching some attempts was warned about:\n%s", args, stdout)
		}
	}
	// An input without attempts is no pass: it said every rule matched
	// some but not all of them, exit 0.
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, []byte(`{"outcome":{"outcome":"login_failed","time":"2026-05-04T08:00:00Z","attempt_id":"a1"}}`+"\n"), 0o644)
	if code, stdout, stderr := run(t, bin, "rules", "check", file, "--in", empty); code == 0 || !strings.Contains(stderr, "--in "+empty+": holds no attempts") {
		t.Errorf("rules check --in an input without attempts: exit %d, %s%s", code, stdout, stderr)
	}
}

// TestScenariosCoverBuiltinRules: the scenarios have the attacks the
// built-in rules are for, the crude bursts included, so that --scenarios
// on them warns only of the rules the README names, for the reasons it
// gives: the deny list, which the scenarios cannot have, says so.
func TestScenariosCoverBuiltinRules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	code, stdout, stderr := run(t, bin, "rules", "check", filepath.Join("..", "..", "rules", "default.yaml"), "--scenarios")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var warned []string
	for _, line := range strings.Split(stdout, "\n") {
		if _, rest, ok := strings.Cut(line, "warning: the simulated scenarios: rule "); ok {
			id, _, _ := strings.Cut(strings.TrimPrefix(rest, `"`), `"`)
			warned = append(warned, id)
		}
	}
	if want := []string{"country-return-hop", "ip-deny-list", "stuffing-shared-network"}; strings.Join(warned, " ") != strings.Join(want, " ") {
		t.Errorf("warned of %v, want %v (the README names them):\n%s", warned, want, stdout)
	}
	if want := `rule "ip-deny-list" (enforce) matched none of the`; !strings.Contains(stdout, want) || !strings.Contains(stdout, "it tests ip.lists, and this run has no IP list") {
		t.Errorf("ip-deny-list: no word of the missing list:\n%s", stdout)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), "warns of three sound rules: `ip-deny-list` (no list), `stuffing-shared-network` and `country-return-hop`") {
		t.Error("the README no longer names the rules --scenarios warns of")
	}
}
