package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/rules"
)

// TestDocsShowTheBuiltInVersion: the decisions, alerts and notifications
// the README and docs show were made under the built-in rules, so their
// rules_version (and a tenant's, before " + tenant:") is the built-in
// rules' version, not an older one's (README examples are compared by
// shape, which a stale version passes).
func TestDocsShowTheBuiltInVersion(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	want := set.Version()
	shown := regexp.MustCompile(`"rules_?[vV]ersion": ?"(sha256:[0-9a-f]{12})"|(sha256:[0-9a-f]{12}) \+ tenant:`)
	files, _ := filepath.Glob("../../docs/*.md")
	for _, f := range append(files, "../../README.md") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range shown.FindAllSubmatchIndex(data, -1) {
			g := m[2:4]
			if g[0] < 0 {
				g = m[4:6]
			}
			v := string(data[g[0]:g[1]])
			if v != want {
				line := strings.Count(string(data[:m[0]]), "\n") + 1
				t.Errorf("%s:%d: shows rules version %s; the built-in rules are %s", filepath.Base(f), line, v, want)
			}
		}
	}
}

// TestDocsSayWhichRuleFilesLoad: a folder of rules loads *.yaml and *.yml
// files, in lower case, not rule tests, and the docs say so.
func TestDocsSayWhichRuleFilesLoad(t *testing.T) {
	dir := t.TempDir()
	rule := func(id string) []byte {
		return []byte("rules:\n  - id: " + id + "\n    description: D.\n    when: device.new\n    score: 1\n")
	}
	for name, id := range map[string]string{"a.yaml": "a", "b.yml": "b", "c.YAML": "c", "d.Yml": "d", ".e.yaml": "e", "f_test.yaml": "f", "g_test.yml": "g"} {
		os.WriteFile(filepath.Join(dir, name), rule(id), 0o644)
	}
	srcs, err := rules.LoadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range srcs {
		got = append(got, filepath.Base(s.Name))
	}
	if strings.Join(got, ",") != "a.yaml,b.yml" {
		t.Errorf("a folder loads %v, the docs say a.yaml and b.yml", got)
	}
	for f, says := range map[string]string{
		"../../README.md":             "loads its `*.yaml` and `*.yml` files (the extension in lower case",
		"../../docs/configuration.md": "`*.yaml` and `*.yml` files, the extension in lower case",
	} {
		data, _ := os.ReadFile(f)
		if !strings.Contains(strings.Join(strings.Fields(string(data)), " "), says) {
			t.Errorf("%s does not say %q", f, says)
		}
	}
}
