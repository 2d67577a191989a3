package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileGivenTwice: a rule file given twice, by the same name, another
// name, or within its folder, is refused as such, not as a duplicate id
// per rule; two copies are two files.
func TestFileGivenTwice(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	const rules = "rules:\n  - id: a\n    description: A.\n    when: device.new\n    score: 1\n"
	os.WriteFile(a, []byte(rules), 0o644)
	other := t.TempDir()
	b := filepath.Join(other, "a.yaml")
	os.WriteFile(b, []byte(rules), 0o644)
	link := filepath.Join(other, "link.yaml")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		paths []string
		want  string // "": loaded
	}{
		{"twice", []string{a, a}, a + " is given twice: give each file or folder once"},
		{"another name", []string{a, dir + "/./a.yaml"}, " is given twice (as " + a + " and as " + dir + "/./a.yaml)"},
		{"in its folder", []string{dir, a}, a + " is given twice"},
		{"folder twice", []string{dir, dir + "/"}, a + " is given twice"},
		{"through a link", []string{a, link}, "is given twice (as " + a + " and as " + link + ")"},
		{"copies", []string{a, b}, ""},
	} {
		_, err := LoadFiles(tc.paths...)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
