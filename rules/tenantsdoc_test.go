package rules_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/rules"
)

// TestTenantsDocOverlay: the overlay docs/tenants.md opens with compiles
// over the default rules, the version its Versions section shows is the
// one it gets, and the shared rules it replaces keep their notify: kinds.
// Its replacement of new-country, copied as written, once turned off the
// tenant's new-country notifications with no word (a replacement is the
// whole rule), which no one copying it for its step-up meant to do.
func TestTenantsDocOverlay(t *testing.T) {
	doc, err := os.ReadFile("../docs/tenants.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/tenants.md: no yaml example")
	}
	o, err := rules.CompileOverlay("acme", rules.Source{Name: "acme.yaml", Data: m[1]})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	if errs := o.Check(shared); len(errs) > 0 {
		t.Errorf("the example over the default rules: %v", errs)
	}
	want := rules.Compose(shared, o).Version()
	if !strings.Contains(string(doc), "\n"+want+"\n") {
		t.Errorf("docs/tenants.md's Versions section does not show the example's version %s", want)
	}
	notify := map[string]string{}
	for _, r := range shared.Rules() {
		notify[r.ID] = r.Notify
	}
	for _, r := range o.Rules() {
		if n, ok := notify[r.ID]; ok && r.Notify != n {
			t.Errorf("the example replaces %s, which notifies %q, with a rule that notifies %q", r.ID, n, r.Notify)
		}
	}
}
