package ruletest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotATestFile: an empty test file, or a rule file given to rules
// test, is refused saying so, not as "EOF" or as unknown keys.
func TestNotATestFile(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "the file is empty (or comments only)"},
		{"blank lines", "\n\n  \n", "the file is empty (or comments only)"},
		{"comments only", "# to do\n", "the file is empty (or comments only)"},
		{"rule file", "rules:\n  - id: a\n    description: A.\n    when: device.new\n    score: 1\n", "looks like a rule file (it has rules:), not a rule test file"},
		{"rule file with thresholds first", "version: x\nthresholds:\n  step_up: 40\n  deny: 90\nrules: []\n", "looks like a rule file (it has thresholds:)"},
		{"test file with a typo", "tests: []\nrules: []\n", `unknown key "rules"`},
		{"test file", "tests: []\n", "no tests"},
	} {
		path := filepath.Join(t.TempDir(), "x_test.yaml")
		os.WriteFile(path, []byte(tc.data), 0o644)
		_, err := RunFile(context.Background(), path, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ruletest: "+path+":") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
