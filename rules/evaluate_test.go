package rules

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

// TestEvaluateOrderAndPaths: Evaluate runs the fast rules' conditions
// first and visits only the matches and the VM's rules (a bitmap), or,
// for a set larger than the bitmap, every rule in turn. Both must give
// the verdict the rules give one at a time on the VM: the same reasons
// and shadow matches in rule order, score, action, alert and notify. On
// the default rules, on a set mixing fast and VM rules, enforced and
// shadow, and on one of more rules than the bitmap holds.
func TestEvaluateOrderAndPaths(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	slowWhens := []string{
		`len(ip.lists) > 1`,
		`ip.failures_10m % 2 == 0`,
		`any(ip.lists, # == "allow")`,
		`user.known ? ip.failures_10m > 3 : ip.failures_10m > 9`,
	}
	mixed := func(n int) *Set {
		var b strings.Builder
		b.WriteString("rules:\n")
		for i := range n {
			when := fastCases[i%len(fastCases)]
			if i%5 == 2 {
				when = slowWhens[i%len(slowWhens)]
			}
			mode := "enforce"
			if i%4 == 3 {
				mode = "shadow"
			}
			action := [...]string{"none", "allow", "step_up", "deny"}[i%4]
			fmt.Fprintf(&b, "  - id: r%d\n    description: rule %d\n    when: %q\n    action: %s\n    score: %d\n    mode: %s\n", i, i, when, action, 1+i%7*5, mode)
			if i%6 == 1 {
				fmt.Fprintf(&b, "    notify: n%d\n", i%3)
			}
		}
		s, err := Compile(Source{Name: "mixed.yaml", Data: []byte(b.String())})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	big := mixed(len(ruleBits{})*64 + 40)
	if len(big.rules) <= len(ruleBits{})*64 {
		t.Fatalf("%d rules: not more than the bitmap holds", len(big.rules))
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, set := range []*Set{def, mixed(45), big} {
		// Every rule in turn, as a set larger than the bitmap is taken.
		oneByOne := &Set{rules: set.rules, thresholds: set.thresholds, version: set.version}
		oneByOne.vms.New = set.vms.New
		vmOnly := withoutFast(set)
		for range 1500 {
			env := randomEnv(r)
			var got, turn, want engine.Verdict
			set.Evaluate(&env, &got)
			oneByOne.Evaluate(&env, &turn)
			vmOnly.Evaluate(&env, &want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%d rules: Evaluate gives\n%+v\nthe VM rule by rule\n%+v", len(set.rules), got, want)
			}
			if !reflect.DeepEqual(turn, want) {
				t.Fatalf("%d rules, every rule in turn: Evaluate gives\n%+v\nthe VM rule by rule\n%+v", len(set.rules), turn, want)
			}
		}
	}
}
