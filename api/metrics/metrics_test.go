package metrics

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/engine"
)

func newMetrics(t *testing.T, o Options) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, o)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// TestTenantCap: tenants past the cap count as "other", so a client that
// invents tenants cannot grow the series without bound.
func TestTenantCap(t *testing.T) {
	m, _ := newMetrics(t, Options{MaxTenants: 3})
	for i := range 10 {
		m.Decided(nil, &engine.Decision{Tenant: fmt.Sprintf("t%d", i), Action: engine.ActionAllow}, time.Millisecond)
	}
	// Three tenants of their own, then "other", three actions each.
	if n := testutil.CollectAndCount(m.decisions); n != 4*3 {
		t.Errorf("%d decision series", n)
	}
	if v := testutil.ToFloat64(m.decisions.WithLabelValues("allow", Other)); v != 7 {
		t.Errorf("other = %v, want 7", v)
	}
	if v := testutil.ToFloat64(m.decisions.WithLabelValues("allow", "t0")); v != 1 {
		t.Errorf("t0 = %v", v)
	}
}

func TestRuleMatchesAndShadow(t *testing.T) {
	m, _ := newMetrics(t, Options{})
	d := &engine.Decision{Tenant: "default", Action: engine.ActionDeny, Alert: true,
		Reasons: []engine.Reason{{RuleID: "a"}, {RuleID: "b"}}, Shadow: []engine.Reason{{RuleID: "a"}}}
	m.Decided(nil, d, 80*time.Microsecond)
	m.Decided(nil, d, 80*time.Microsecond)
	for _, c := range []struct {
		rule, mode string
		want       float64
	}{{"a", "enforce", 2}, {"b", "enforce", 2}, {"a", "shadow", 2}, {"b", "shadow", 0}} {
		if v := testutil.ToFloat64(m.ruleMatches.WithLabelValues(c.rule, c.mode)); v != c.want {
			t.Errorf("%s/%s = %v, want %v", c.rule, c.mode, v, c.want)
		}
	}
	if v := testutil.ToFloat64(m.alerts); v != 2 {
		t.Errorf("alerts = %v", v)
	}
}

// TestObserverDoesNotAllocate: the scoring path calls the observer
// synchronously; in the steady state it must not allocate.
func TestObserverDoesNotAllocate(t *testing.T) {
	m, _ := newMetrics(t, Options{})
	d := &engine.Decision{Tenant: "acme", Action: engine.ActionStepUp, Reasons: []engine.Reason{{RuleID: "new-device"}}}
	m.Decided(nil, d, time.Millisecond) // resolves the children
	m.StoreCall("observe", time.Microsecond, nil)
	allocs := testing.AllocsPerRun(1000, func() {
		m.StoreCall("observe", 30*time.Microsecond, nil)
		m.Decided(nil, d, 90*time.Microsecond)
		m.StoreCall("commit", 10*time.Microsecond, nil)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decision", allocs)
	}
}

func BenchmarkDecided(b *testing.B) {
	reg := prometheus.NewRegistry()
	m, _ := New(reg, Options{})
	d := &engine.Decision{Tenant: "acme", Action: engine.ActionAllow, Reasons: []engine.Reason{{RuleID: "x"}}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Decided(nil, d, 50*time.Microsecond)
			m.StoreCall("observe", 20*time.Microsecond, nil)
		}
	})
}

// TestRuleErrorsCap: rules that fail at run time count by rule id up to
// the rules' cap, then as "other": a tenant admin putting overlays of new
// failing rules cannot grow the series without bound. Enrichers and
// signals, a fixed set, keep their names.
func TestRuleErrorsCap(t *testing.T) {
	m, _ := newMetrics(t, Options{MaxRules: 3})
	for i := range 10 {
		m.Failed("rule", fmt.Sprintf("boom-%d", i), nil)
	}
	m.Failed("rule", "boom-0", nil)
	m.Failed("signal", "geo", nil)
	m.Failed("enrich", "*geoip.Reader", nil)
	// Three rules of their own, "other", and the two other stages.
	if n := testutil.CollectAndCount(m.signalErrs); n != 3+1+2 {
		t.Errorf("%d rule error series, want 6", n)
	}
	for _, c := range []struct {
		stage, name string
		want        float64
	}{{"rule", "boom-0", 2}, {"rule", Other, 7}, {"signal", "geo", 1}, {"enrich", "*geoip.Reader", 1}} {
		if v := testutil.ToFloat64(m.signalErrs.WithLabelValues(c.stage, c.name)); v != c.want {
			t.Errorf("%s/%s = %v, want %v", c.stage, c.name, v, c.want)
		}
	}
}

// TestOverlayRulesCannotUseUpTheRuleCap: a tenant's admin writes its
// overlay's rule ids; one login of a tenant whose overlay holds a
// thousand matching rules once left every shared rule that had not yet
// matched counted as "other" for good. Decisions of an overlay now add at
// most half the cap; a shared rule still gets its series, from any
// decision, until the cap.
func TestOverlayRulesCannotUseUpTheRuleCap(t *testing.T) {
	m, _ := newMetrics(t, Options{MaxRules: 10})
	junk := &engine.Decision{Tenant: "acme", Action: engine.ActionAllow, RulesVersion: "sha256:1e7ca68cc234 + tenant:acme@sha256:76c786e09a20"}
	for i := range 20 {
		junk.Reasons = append(junk.Reasons, engine.Reason{RuleID: fmt.Sprint("junk-", i)})
	}
	m.Decided(nil, junk, time.Millisecond)
	if v := testutil.ToFloat64(m.ruleMatches.WithLabelValues(Other, "enforce")); v != 15 {
		t.Errorf("the overlay's matches counted as other: %v, want 15 (5 ids of its own)", v)
	}
	shared := &engine.Decision{Tenant: "beta", Action: engine.ActionDeny, RulesVersion: "sha256:1e7ca68cc234",
		Reasons: []engine.Reason{{RuleID: "stuffing-address-burst"}}}
	m.Decided(nil, shared, time.Millisecond)
	if v := testutil.ToFloat64(m.ruleMatches.WithLabelValues("stuffing-address-burst", "enforce")); v != 1 {
		t.Errorf("a shared rule after a tenant's thousand ids: %v matches of its own, want 1", v)
	}
	// The same rule matched in the overlay's decision counts on its series.
	junk.Reasons = []engine.Reason{{RuleID: "stuffing-address-burst"}}
	m.Decided(nil, junk, time.Millisecond)
	if v := testutil.ToFloat64(m.ruleMatches.WithLabelValues("stuffing-address-burst", "enforce")); v != 2 {
		t.Errorf("stuffing-address-burst = %v, want 2", v)
	}
}

// TestOverlayRuleErrorsCannotUseUpTheCap: an overlay of a thousand failing
// rules took, in one login, every rule-error series, and a shared rule
// failing later counted as "other" for good; an overlay's failing rules
// now add at most half the cap.
func TestOverlayRuleErrorsCannotUseUpTheCap(t *testing.T) {
	m, _ := newMetrics(t, Options{MaxRules: 10})
	for i := range 20 {
		m.Failed("rule", fmt.Sprint("junk-", i), &engine.OverlayRuleError{Err: errors.New("boom")})
	}
	if v := testutil.ToFloat64(m.signalErrs.WithLabelValues("rule", Other)); v != 15 {
		t.Errorf("the overlay's failures counted as other: %v, want 15 (5 ids of its own)", v)
	}
	m.Failed("rule", "shared-rule", errors.New("boom"))
	if v := testutil.ToFloat64(m.signalErrs.WithLabelValues("rule", "shared-rule")); v != 1 {
		t.Errorf("a shared rule after an overlay's twenty failing ids: %v failures of its own, want 1", v)
	}
}

// TestKnownRules: the shared rules' match counters exist at 0 in both
// modes before any match, under the rules' cap, and a first match counts
// on them.
func TestKnownRules(t *testing.T) {
	m, _ := newMetrics(t, Options{MaxRules: 3})
	m.KnownRules([]string{"honeypot", "travel"})
	if n := testutil.CollectAndCount(m.ruleMatches); n != 4 {
		t.Fatalf("%d match series before any match, want 4 (two rules, two modes)", n)
	}
	m.KnownRules([]string{"honeypot", "travel", "stuffing", "spray", "brute"}) // past the cap: "other"
	if n := testutil.CollectAndCount(m.ruleMatches); n != 8 {
		t.Errorf("%d match series past the cap, want 8 (three rules and other, two modes)", n)
	}
	m.Decided(nil, &engine.Decision{Tenant: "default", Action: engine.ActionDeny, Reasons: []engine.Reason{{RuleID: "honeypot"}}}, time.Millisecond)
	if v := testutil.ToFloat64(m.ruleMatches.WithLabelValues("honeypot", "enforce")); v != 1 {
		t.Errorf("honeypot's first match: %v, want 1", v)
	}
}
