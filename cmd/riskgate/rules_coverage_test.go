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
`

// TestRulesCheckCoverage: rules check warns about the rules that match
// none or every attempt of a stream (--in) or of the built-in scenarios,
// and says nothing of a rule that matches some; warnings do not fail it.
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
		for _, want := range []string{`rule "never" (enforce) matched none of the`, `rule "always" (enforce) matched every one of the`} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: %q missing from\n%s", args, want, stdout)
			}
		}
		if strings.Contains(stdout, `"failed"`) {
			t.Errorf("%v: a rule matching some attempts was warned about:\n%s", args, stdout)
		}
	}
}
