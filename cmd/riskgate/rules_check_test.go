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

// TestRulesCheckCountsTheFilesRejected: the summary counts the files with
// errors, not every file of the folder: "1 of 2", when one of two is bad.
func TestRulesCheckCountsTheFilesRejected(t *testing.T) {
	dir := t.TempDir()
	good := "rules:\n  - id: good\n    description: Fine.\n    when: geo.new_country\n    score: 10\n"
	bad := "rules:\n  - id: typo\n    description: A misspelt field.\n    when: geo.new_countyr\n    action: denyy\n"
	for name, data := range map[string]string{"a.yaml": good, "b.yaml": bad} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		paths []string
		want  string
	}{
		{[]string{dir}, "rules check: 1 of 2 file(s) rejected"},
		{[]string{filepath.Join(dir, "b.yaml")}, "rules check: 1 of 1 file(s) rejected"},
	} {
		err := (&rulesCheckCmd{Paths: tt.paths}).Run(t.Context())
		if err == nil || err.Error() != tt.want {
			t.Errorf("rules check %v: %v, want %s", tt.paths, err, tt.want)
		}
	}
}

// TestRulesCheckNamesAliasLines: an alias to an anchor not defined, and a
// merge key of a scalar, are refused at their line, as every other YAML
// error is; yaml's own text has no line for them, and `rules check`
// printed the file alone.
func TestRulesCheckNamesAliasLines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	const rule = "rules:\n  - id: a\n    description: d\n    when: geo.new_country\n"
	for _, c := range []struct{ name, data, want string }{
		{"unknown anchor", rule + "    score: *nope\n", "bad.yaml:5: unknown anchor 'nope' referenced"},
		{"merge of a scalar", "version: &v x\n" + rule + "    <<: *v\n", "bad.yaml:6: map merge requires map or sequence of maps as the value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(c.data), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "rules", "check", "bad.yaml")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if first, _, _ := strings.Cut(string(out), "\n"); err == nil || first != c.want {
				t.Errorf("rules check bad.yaml: %v\n%s\nwant first line:\n%s", err, out, c.want)
			}
		})
	}
}
