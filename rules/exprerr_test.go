package rules

import (
	"errors"
	"strings"
	"testing"
)

// TestCompileErrorsSpeakRules (issue 10 item 18): a rule's compile error
// names the group of fields, not the Go type behind it, suggests the
// field a typo was meant to be, and points to the line of the field that
// is wrong, not the rule's first line.
func TestCompileErrorsSpeakRules(t *testing.T) {
	for _, tc := range []struct {
		when, want string
	}{
		{`geo.new_countyr`, `b.yaml:5: rule "typo": when: geo has no field new_countyr (did you mean geo.new_country?)`},
		{`geoo.new_country`, `unknown name geoo (did you mean geo?)`},
		{`ip.zzzzzzzzzz`, `when: ip has no field zzzzzzzzzz (1:4)`},
	} {
		src := "rules:\n  - id: typo\n    description: T.\n    action: deny\n    when: " + tc.when + "\n"
		_, err := Compile(Source{Name: "b.yaml", Data: []byte(src)})
		if err == nil {
			t.Fatalf("%s compiled", tc.when)
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "engine.") {
			t.Errorf("%s:\n%v\nwant %q, and no Go type", tc.when, err, tc.want)
		}
		var el ErrorList
		if !errors.As(err, &el) || el[0].Line != 5 || el[0].Field != "when" {
			t.Errorf("%s: %+v, want line 5 field when", tc.when, el)
		}
	}
}
