package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/rules"
)

// tenantRules hands acme the shared rules with its overlay on them.
type tenantRules struct{ shared, acme engine.Ruleset }

func (r tenantRules) Current() engine.Ruleset { return r.shared }
func (r tenantRules) ForTenant(t string) engine.Ruleset {
	if t == "acme" {
		return r.acme
	}
	return r.shared
}

// TestOverlayRuleErrorsAreMarked: observers could not tell a failing rule
// of a tenant's overlay, whose ids the tenant's admin writes, from a
// shared one, so one overlay of failing rules used up the metrics' rule
// series; a rule failing in a ruleset composed with an overlay is now
// reported as an engine.OverlayRuleError, with the rule's own message.
func TestOverlayRuleErrorsAreMarked(t *testing.T) {
	shared, err := rules.Compile(rules.Source{Name: "shared.yaml", Data: []byte("rules:\n  - id: shared-int\n    description: d\n    when: int(attempt.username) > 0\n    score: 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	o, err := rules.CompileOverlay("acme", rules.Source{Name: "acme.yaml", Data: []byte("rules:\n  - id: acme-int\n    description: d\n    when: int(attempt.channel) > 0\n    score: 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	type failure struct {
		name    string
		overlay bool
		msg     string
	}
	var got []failure
	obs := &failObserver{f: func(_, name string, err error) {
		var oe *engine.OverlayRuleError
		got = append(got, failure{name, errors.As(err, &oe), err.Error()})
	}}
	e := enginetest.New(t, engine.Options{Rules: tenantRules{shared, rules.Compose(shared, o)}, Now: func() time.Time { return t0 }, Observers: []engine.Observer{obs}})
	for _, tenant := range []string{"default", "acme"} {
		a := paris(t0)
		a.Tenant, a.Username, a.Channel = tenant, "x", "y"
		if _, err := e.Score(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	want := []failure{{"shared-int", false, ""}, {"shared-int", true, ""}, {"acme-int", true, ""}}
	if len(got) != len(want) {
		t.Fatalf("failures %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].name != want[i].name || got[i].overlay != want[i].overlay {
			t.Errorf("failure %d: %+v, want %s (overlay %v)", i, got[i], want[i].name, want[i].overlay)
		}
		if got[i].msg != got[0].msg && got[i].name == "shared-int" {
			t.Errorf("failure %d says %q, the shared rule's own failure %q", i, got[i].msg, got[0].msg)
		}
	}
}
