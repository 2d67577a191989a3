package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestErrorsAnalystsCanActOn: a typo names the documented field nearest to
// it and keeps expr's caret; no message names a Go type; an action or
// score error points to its own line.
func TestErrorsAnalystsCanActOn(t *testing.T) {
	rule := func(body string) string {
		return "rules:\n  - id: r\n    description: R.\n" + body
	}
	for _, tc := range []struct {
		name, file string
		line       int
		field      string
		want       []string
	}{
		{"field typo", rule("    when: geo.new_contry\n    action: deny\n"), 4, "when",
			[]string{"geo has no field new_contry; did you mean `geo.new_country`?", "(1:5)", "....^"}},
		{"group typo", rule("    when: |\n      ip.failures_10m > 3 &&\n        devise.known\n    action: deny\n"), 6, "when",
			[]string{"unknown name devise; did you mean `device.known`?", "(2:3)"}},
		{"no near field", rule("    when: geo.zzzzzzzzzzzz\n    action: deny\n"), 4, "when",
			[]string{"geo has no field zzzzzzzzzzzz"}},
		{"group as a value", rule("    when: attempt.hour + geo > 1\n    action: deny\n"), 4, "when",
			[]string{"mismatched types int and `geo` (a group of fields)"}},
		{"action", rule("    when: geo.new_country\n    score: 10\n    action: denyy\n"), 6, "action",
			[]string{`action: unknown action "denyy"`}},
		// A misspelt action alone is one error, not also "could never
		// change anything".
		{"action without score", rule("    when: \"true\"\n    action: denyy\n"), 5, "action",
			[]string{`action: unknown action "denyy"`}},
		{"score range", rule("    when: geo.new_country\n    action: deny\n    score: 500\n"), 6, "score",
			[]string{"score 500 out of range"}},
		{"score type", rule("    when: geo.new_country\n    action: deny\n    score: high\n"), 6, "score",
			[]string{"score: want a whole number, got `high`"}},
		// An unknown key is named as the file has it, with the nearest
		// known key, never as a field of a Go type.
		{"key typo", rule("    when: geo.new_country\n    action: deny\n    scroe: 10\n"), 6, "scroe",
			[]string{`unknown key "scroe"; did you mean "score"?`}},
		{"top-level key typo", "rulez:\n  - id: a\n", 1, "rulez",
			[]string{`unknown key "rulez"; did you mean "rules"?`}},
		{"function typo", rule("    when: geo.new_country\n    action: deny\n    reason: sprint(\"%d\", 1)\n"), 6, "reason",
			[]string{"did you mean `sprintf`?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(Source{Name: "r.yaml", Data: []byte(tc.file)})
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			e := list[0]
			if e.Line != tc.line || e.Field != tc.field {
				t.Errorf("line %d field %q, want %d %q: %v", e.Line, e.Field, tc.line, tc.field, e)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Error(), w) {
					t.Errorf("%q missing from\n%v", w, e)
				}
			}
			if goName.MatchString(e.Error()) {
				t.Errorf("a Go type name in %q", e)
			}
		})
	}
}

var goName = regexp.MustCompile(`engine\.|float64|\[\]|map\[|interface \{|\*?rules\.`)

func TestNearest(t *testing.T) {
	names := []string{"geo.new_country", "geo.new_asn", "device.known"}
	for s, want := range map[string]string{
		"geo.new_contry": "geo.new_country", "geo.newcountry": "geo.new_country",
		"devise.known": "device.known", "geo.new_country": "", "password.status": "",
	} {
		if got := nearest(s, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestLongExpressionErrorQuotesAroundTheCaret: an error in a long line of
// an expression quotes the part of the line around its caret, the caret
// still under the mistake, rather than the whole line and as many dots
// (a rule of 3,000 conditions on one line gave a 90 KB error).
func TestLongExpressionErrorQuotesAroundTheCaret(t *testing.T) {
	conds := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(" || ")
			}
			fmt.Fprintf(&b, "ip.failures_10m == %d", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, when, at string // at: the text the caret must point to
	}{
		{"typo at the start", "geo.new_contry || " + conds(40), "new_contry"},
		{"typo in the middle", conds(20) + " || geo.new_contry || " + conds(20), "new_contry"},
		{"typo at the end", conds(40) + " || geo.new_contry", "new_contry"},
		{"short line", "geo.new_contry", "new_contry"},
		{"too many nodes", conds(3000), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := "rules:\n  - id: r\n    description: R.\n    score: 1\n    when: \"" + tc.when + "\"\n"
			_, err := Compile(Source{Name: "r.yaml", Data: []byte(file)})
			if err == nil {
				t.Fatal("compiled")
			}
			msg := err.Error()
			if len(msg) > 2*snippetWidth+300 {
				t.Fatalf("a %d-byte error for a %d-byte expression:\n%.400s", len(msg), len(tc.when), msg)
			}
			lines := strings.Split(msg, "\n")
			if len(lines) < 3 || !strings.HasPrefix(lines[len(lines)-1], " | ") {
				t.Fatalf("no snippet and caret in\n%s", msg)
			}
			quoted, caret := []rune(lines[len(lines)-2]), lines[len(lines)-1]
			col := strings.Index(caret, "^")
			if col < 0 || col >= len(quoted) {
				t.Fatalf("caret at %d, outside the quote:\n%s", col, msg)
			}
			if tc.at != "" && !strings.HasPrefix(string(quoted[col:]), tc.at) {
				t.Errorf("the caret points at %q, want %q:\n%s", string(quoted[col:]), tc.at, msg)
			}
		})
	}
}
