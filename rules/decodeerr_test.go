package rules

import (
	"errors"
	"strings"
	"testing"
)

// TestDecodeErrorsNamedAndAll: a value of the wrong type in a rule names
// the rule, as the compiler's errors do (the README's `bad.yaml:6: rule
// "typo": score: ...`), and does not hide the other errors of the file;
// a quoted true or number says it is a string; the thresholds' errors
// give their line.
func TestDecodeErrorsNamedAndAll(t *testing.T) {
	rule := func(id, body string) string {
		return "  - id: " + id + "\n    description: D.\n" + body
	}
	for _, tc := range []struct {
		name  string
		files []string // a.yaml, b.yaml, ...
		want  []string // every error, in order
	}{
		{"score of the wrong type", []string{"rules:\n" + rule("typo", "    when: device.new\n    score: high\n")},
			[]string{"a.yaml:5: rule \"typo\": score: want a whole number, got `high`"}},
		{"every error of the file", []string{"rules:\n" +
			rule("typo", "    score: high\n    when: ip.failures_10m >> 3\n") +
			rule("second", "    when: device.new\n    action: denyy\n") +
			rule("third", "    when: device.nwe\n    score: 10\n") +
			rule("fourth", "    when: device.new\n    acton: deny\n")},
			[]string{
				"a.yaml:4: rule \"typo\": score: want a whole number, got `high`",
				"a.yaml:17: rule \"fourth\": unknown key \"acton\"; did you mean \"action\"?",
				"a.yaml:5: rule \"typo\": when: unexpected token",
				"a.yaml:9: rule \"second\": action: unknown action \"denyy\"",
				"a.yaml:12: rule \"third\": when: device has no field nwe",
			}},
		{"every error of an overlay", []string{"rules:\n" +
			rule("typo", "    score: high\n    when: device.new\n") +
			rule("second", "    when: device.new\n    action: denyy\n")},
			[]string{
				"a.yaml:4: rule \"typo\": score: want a whole number, got `high`",
				"a.yaml:9: rule \"second\": action: unknown action \"denyy\"",
			}},
		{"quoted true", []string{"rules:\n" + rule("a", "    when: device.new\n    score: 10\n    alert: \"true\"\n")},
			[]string{`a.yaml:6: rule "a": alert: want true or false, got the quoted string "true": write it without the quotes`}},
		{"quoted number", []string{"rules:\n" + rule("a", "    when: device.new\n    score: '10'\n")},
			[]string{`a.yaml:5: rule "a": score: want a whole number, got the quoted string "10": write it without the quotes`}},
		{"unquoted word", []string{"rules:\n" + rule("a", "    when: device.new\n    score: 10\n    alert: maybe\n")},
			[]string{"a.yaml:6: rule \"a\": alert: want true or false, got `maybe`"}},
		{"thresholds of the wrong type", []string{"thresholds:\n  step_up: high\nrules:\n" + rule("a", "    when: device.new\n    action: denyy\n")},
			[]string{"a.yaml:2: step_up: want a whole number, got `high`"}},
		{"thresholds out of order", []string{"version: x\nthresholds:\n  step_up: 90\n  deny: 50\nrules:\n" + rule("a", "    when: device.new\n    score: 1\n")},
			[]string{"a.yaml:2: thresholds: want 0 < step_up <= deny <= 100, got step_up 90, deny 50"}},
		{"thresholds twice", []string{"thresholds:\n  step_up: 40\n  deny: 90\nrules:\n" + rule("a", "    when: device.new\n    score: 1\n"),
			"\nthresholds:\n  step_up: 40\n  deny: 90\nrules:\n" + rule("b", "    when: device.new\n    score: 1\n")},
			[]string{"b.yaml:2: thresholds already set in a.yaml:1"}},
		{"a big integer reported once", []string{"rules:\n" +
			rule("r1", "    when: device.new\n    score: 10\n") +
			rule("r3", "    when: device.new\n    score: 99999999999999999999\n")},
			[]string{"a.yaml:9: rule \"r3\": score: want a whole number, got `9999999...`"}},
		{"a broken score is not range-checked", []string{"rules:\n" +
			rule("r1", "    when: device.new\n    score: 2.5e3\n    alert: maybe\n")},
			[]string{
				"a.yaml:6: rule \"r1\": alert: want true or false, got `maybe`",
				"a.yaml:5: rule \"r1\": score: want a whole number, got `2.5e3`",
			}},
		{"a fraction beside another rule's error", []string{"rules:\n" +
			rule("r1", "    when: device.new\n    score: 2.5e3\n") +
			rule("r2", "    when: device.new\n    acton: deny\n")},
			[]string{
				"a.yaml:9: rule \"r2\": unknown key \"acton\"; did you mean \"action\"?",
				"a.yaml:5: rule \"r1\": score: want a whole number, got `2.5e3`",
			}},
		{"an alias", []string{"rules:\n" +
			rule("r1", "    score: &s bad\n    when: device.new\n") +
			rule("r2", "    score: *s\n    when: device.new\n")},
			[]string{"a.yaml:4: score: want a whole number, got `bad`"}},
		{"an alias in an overlay", []string{"rules:\n" +
			rule("r1", "    score: &s bad\n    when: device.new\n") +
			rule("r2", "    score: *s\n    when: device.new\n")},
			[]string{"a.yaml:4: score: want a whole number, got `bad`"}},
		{"rules on one line", []string{"rules: [{id: r1, description: D., when: device.new, score: x}, {id: r2, description: D., when: device.new}]\n"},
			[]string{"a.yaml:1: rules: want a whole number, got `x`"}}, // (the key its line starts)
		{"overlay thresholds", []string{"thresholds:\n  step_up: 40\nrules:\n" + rule("a", "    when: device.new\n    score: 1\n")},
			[]string{"a.yaml:1: thresholds: a tenant overlay sets both step_up and deny"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srcs []Source
			for i, f := range tc.files {
				srcs = append(srcs, Source{Name: string(rune('a'+i)) + ".yaml", Data: []byte(f)})
			}
			var err error
			if strings.Contains(tc.name, "overlay") {
				_, err = CompileOverlay("acme", srcs...)
			} else {
				_, err = Compile(srcs...)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("%v", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			ok := len(got) == len(tc.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tc.want[i])
			}
			if !ok {
				t.Fatalf("errors:\n%s\nwant, in order:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
