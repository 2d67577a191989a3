package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesCheckNamesFilesAsGiven: the README's `riskgate rules check
// bad.yaml` answers with `bad.yaml:5: ...`, the path as typed, not made
// absolute, and a misspelt action and field are its two errors.
func TestRulesCheckNamesFilesAsGiven(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	bad := "rules:\n  - id: typo\n    description: A misspelt field.\n    when: geo.new_countyr\n    action: denyy\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "rules", "check", "bad.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	want := []string{
		`bad.yaml:5: rule "typo": action: unknown action "denyy" (want allow, step_up, deny or none)`,
		"bad.yaml:4: rule \"typo\": when: geo has no field new_countyr; did you mean `geo.new_country`? (1:5)",
	}
	lines := strings.Split(string(out), "\n")
	if err == nil || len(lines) < 2 || lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("rules check bad.yaml: %v\n%s\nwant first lines:\n%s", err, out, strings.Join(want, "\n"))
	}
}
