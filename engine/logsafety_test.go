package engine_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/internal/syncbuf"
	"github.com/riskgate/riskgate/rules"
)

// brokenRules fail at run time on the values the attempt carries: the
// three rules of issue 10 item 8.
const brokenRules = `
rules:
  - id: int-of-username
    description: d
    when: int(attempt.username) > 0
    score: 10
  - id: regexp-from-user-agent
    description: d
    when: attempt.username matches attempt.user_agent
    score: 10
  - id: date-of-attribute
    description: d
    when: |
      attempt.username != "" &&
        date(attempt.attributes["k"]) > date("2020-01-01")
    score: 10
`

// TestRuleErrorsLogNoAttemptValues: a rule failing on the attempt's values
// logs its id, the error class and the position in the expression, and
// none of the values (issue 10 item 8).
func TestRuleErrorsLogNoAttemptValues(t *testing.T) {
	set, err := rules.Compile(rules.Source{Name: "broken.yaml", Data: []byte(brokenRules)})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	var failed []error
	obs := &failObserver{f: func(stage, name string, err error) { failed = append(failed, err) }}
	e := enginetest.New(t, engine.Options{Rules: set, Now: func() time.Time { return t0 }, Observers: []engine.Observer{obs},
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	a := paris(t0)
	a.Username = "planted-username-7f3a"
	a.UserAgent = "((planted-agent-9c1e"
	a.Attributes = map[string]string{"k": "planted-attribute-2b8d"}
	for range 3 {
		if _, err := e.Score(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "rule") || !strings.Contains(out, "int-of-username") {
		t.Fatalf("no rule error logged: %s", out)
	}
	for _, err := range failed {
		out += "\n" + err.Error()
	}
	for _, planted := range []string{"planted", "7f3a", "9c1e", "2b8d"} {
		if strings.Contains(out, planted) {
			t.Errorf("the log carries the attempt's value %q:\n%s", planted, out)
		}
	}
	want := map[string]string{
		"when: conversion error at line 1, column 1": "int-of-username",
		"when: regexp error at line 1, column 18":    "regexp-from-user-agent",
		"when: date error at line 2, column 3":       "date-of-attribute",
	}
	if len(failed) != 9 {
		t.Fatalf("%d failures reported to observers, want 9: %v", len(failed), failed)
	}
	for _, err := range failed[:3] {
		if _, ok := want[err.Error()]; !ok {
			t.Errorf("rule error %q: want one of %v", err, want)
		}
	}
}

// TestDryRunFailuresAreNotCounted: a dry run (POST /v1/rules:test) of a
// rule that fails at run time tells no observer, so that
// riskgate_signal_errors_total, and the alerts on it
// (RiskgatePipelineStageFailing, ...Often), count the failures of the
// node's logins only: a candidate's rule is in force nowhere. Found with a
// real Prometheus: an analyst testing a candidate made the warning fire for
// a rule no login ran, and on a node without decisions the critical one
// too. The failure is logged, marked dry_run, and its line does not take
// the place of a live failure's.
func TestDryRunFailuresAreNotCounted(t *testing.T) {
	set, err := rules.Compile(rules.Source{Name: "broken.yaml", Data: []byte(brokenRules)})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	var failed []string
	obs := &failObserver{f: func(stage, name string, err error) { failed = append(failed, stage+" "+name) }}
	e := enginetest.New(t, engine.Options{Rules: set, Now: func() time.Time { return t0 }, Observers: []engine.Observer{obs},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	a := paris(t0)
	a.Username = "x"
	a.UserAgent = "(("
	a.Attributes = map[string]string{"k": "not-a-date"}
	// The candidate, and the ruleset in force, tried.
	for _, rs := range []engine.Ruleset{set, nil} {
		if _, err := e.DryRun(context.Background(), a, rs); err != nil {
			t.Fatal(err)
		}
	}
	obs.mu.Lock()
	n := len(failed)
	obs.mu.Unlock()
	if n != 0 {
		t.Errorf("dry runs told the observers of %d failures (%v), want none", n, failed)
	}
	if out := logs.String(); !strings.Contains(out, "dry_run=true") || strings.Contains(out, "level=WARN") {
		t.Errorf("want the dry run's failure logged at info with dry_run=true, and no warning: %s", out)
	}
	// A login's failures are told and logged as ever, the dry run's line
	// just before notwithstanding.
	if _, err := e.Score(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	n = len(failed)
	obs.mu.Unlock()
	if n != 3 {
		t.Errorf("a Score told the observers of %d failures (%v), want 3", n, failed)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="pipeline stage failed" stage=rule`) {
		t.Errorf("the Score's rule failure was not logged: %s", logs.String())
	}
}

type failObserver struct {
	mu sync.Mutex
	f  func(stage, name string, err error)
}

func (o *failObserver) Decided(*engine.Attempt, *engine.Decision, time.Duration) {}
func (o *failObserver) Reported(*engine.Outcome, *engine.Pending)                {}
func (o *failObserver) StoreCall(string, time.Duration, error)                   {}
func (o *failObserver) Failed(stage, name string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.f(stage, name, err)
}

// toggleStore is a memory store that can be made to fail.
type toggleStore struct {
	*memstore.Store
	down atomic.Bool
}

func (s *toggleStore) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Observe(ctx, ev, st)
}

// TestRuleErrorsDoNotHideStoreOutages: the log limiter is per kind, so a
// rule failing on every login does not silence the warning of a store
// outage that starts a moment later (issue 10 item 11).
func TestRuleErrorsDoNotHideStoreOutages(t *testing.T) {
	set, err := rules.Compile(rules.Source{Name: "broken.yaml", Data: []byte(brokenRules)})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	store := &toggleStore{Store: memstore.New(memstore.Options{})}
	t.Cleanup(func() { store.Close(context.Background()) })
	e := enginetest.New(t, engine.Options{Store: store, Rules: set, Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	a := paris(t0)
	a.Username = "x"
	if _, err := e.Score(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "stage=rule") {
		t.Fatalf("the rule error was not logged: %s", logs.String())
	}
	store.down.Store(true)
	if _, err := e.Score(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "store call failed") {
		t.Errorf("the store outage was not logged after a rule error:\n%s", logs.String())
	}
}
