// Package ruletest runs rule tests: YAML cases that give a history of
// attempts and outcomes, then one attempt and the decision expected for it,
// in the spirit of promtool test rules. Each case runs on a fresh node (the
// binary's assembly) with an empty in-memory store and the default
// signals, at the cases' own times, so a test passes or fails the same way
// everywhere.
//
// A test file (name ending in _test.yaml) looks like this:
//
//	rule_files: [default.yaml]   # relative to this file; default: the folder's rule files
//	tests:
//	  - name: impossible travel is stepped up
//	    history:
//	      - attempt: {user_id: u1, ip: 81.2.69.160, result: password_ok, geo: {country: FR, lat: 48.86, lon: 2.35}}
//	        repeat: 5
//	        every: 24h
//	    attempt:
//	      after: 2h
//	      user_id: u1
//	      ip: 1.128.0.1
//	      result: password_ok
//	      geo: {country: AU, lat: -33.87, lon: 151.21}
//	    expect:
//	      action: step_up
//	      reasons_include: [impossible-travel]
//
// History attempts are followed by the outcome a person would produce
// (a step-up passes, unless step_up_passes: false) or by an explicit
// outcome:. "{i}" in an attempt's strings is replaced by the repeat index;
// an entry repeats at most MaxRepeat times, a history makes at most
// MaxHistory attempts.
// A test must expect something, and may name only rules of the ruleset: an
// expectation that could never fail is reported as a failure. A rule that
// fails at run time on the attempt or its history fails the test, unless
// expect.failing lists it (the rules expected to fail on the attempt,
// exactly): it counts as not matched, and would fail so live.
package ruletest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/yamlerr"
	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/signals"
)

// DefaultStart is when a test's history begins unless it says otherwise.
var DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

type fileDoc struct {
	RuleFiles []string  `yaml:"rule_files"`
	Tests     []testDoc `yaml:"tests"`
}

type testDoc struct {
	Name    string     `yaml:"name"`
	Start   *time.Time `yaml:"start"`
	History []eventDoc `yaml:"history"`
	Attempt attemptDoc `yaml:"attempt"`
	Expect  expectDoc  `yaml:"expect"`
}

type eventDoc struct {
	Attempt      attemptDoc     `yaml:"attempt"`
	Repeat       int            `yaml:"repeat"`
	Every        *time.Duration `yaml:"every"`
	Outcome      string         `yaml:"outcome"`
	StepUpPasses *bool          `yaml:"step_up_passes"`
}

// attemptDoc is an attempt in YAML: the JSON fields, plus "after", the
// time since the previous event (default one minute).
type attemptDoc struct {
	After  *time.Duration `yaml:"after"`
	Fields map[string]any `yaml:",inline"`
}

type expectDoc struct {
	Action         string   `yaml:"action"`
	Reasons        []string `yaml:"reasons"`
	ReasonsInclude []string `yaml:"reasons_include"`
	ReasonsExclude []string `yaml:"reasons_exclude"`
	Shadow         []string `yaml:"shadow"`
	MinScore       *int     `yaml:"min_score"`
	MaxScore       *int     `yaml:"max_score"`
	Alert          *bool    `yaml:"alert"`
	// Notify is the decision's notification kinds, exactly ([] for none).
	Notify []string `yaml:"notify"`
	// Failing are the rules expected to fail at run time on the attempt,
	// exactly (a failing rule counts as not matched). Any other rule that
	// fails, on the attempt or its history, fails the test: live, it
	// would fail so on such logins.
	Failing []string `yaml:"failing"`
}

// Result is one test's outcome.
type Result struct {
	File, Name string
	Failures   []string
}

// Passed reports whether the test passed.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Options tune the engine the tests run on.
type Options struct {
	// Breached is the breached-password check the tests see; nil: none.
	Breached signals.BreachChecker
}

// RunPaths runs every test file among paths (files, or folders holding
// *_test.yaml files) and writes a report to w. It returns the results and
// an error for problems that stopped a file from running at all.
func RunPaths(ctx context.Context, w io.Writer, opts Options, paths ...string) ([]Result, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("ruletest: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(p, "*_test.yaml"))
		m2, _ := filepath.Glob(filepath.Join(p, "*_test.yml"))
		files = append(files, append(m, m2...)...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("ruletest: no *_test.yaml files in %s", strings.Join(paths, ", "))
	}
	sort.Strings(files)
	var all []Result
	for _, f := range files {
		res, err := RunFile(ctx, f, opts)
		if err != nil {
			return all, err
		}
		for _, r := range res {
			if r.Passed() {
				fmt.Fprintf(w, "PASS %s: %s\n", f, r.Name)
			} else {
				fmt.Fprintf(w, "FAIL %s: %s\n", f, r.Name)
				for _, m := range r.Failures {
					fmt.Fprintf(w, "     %s\n", m)
				}
			}
		}
		all = append(all, res...)
	}
	return all, nil
}

// RunFile runs one test file.
func RunFile(ctx context.Context, path string, opts Options) ([]Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ruletest: %w", err)
	}
	if err := checkKind(data); err != nil {
		return nil, fmt.Errorf("ruletest: %s: %w", path, err)
	}
	if err := checkDoc(data); err != nil {
		return nil, fmt.Errorf("ruletest: %s:%w", path, err)
	}
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if line, msg, ok := yamlerr.Line(data, err); ok {
			return nil, fmt.Errorf("ruletest: %s:%d: %s", path, line, msg)
		}
		return nil, fmt.Errorf("ruletest: %s", decodeMessage(path, err))
	}
	if len(doc.Tests) == 0 {
		return nil, fmt.Errorf("ruletest: %s: no tests", path)
	}
	set, err := loadRules(path, doc.RuleFiles)
	if err != nil {
		return nil, err
	}
	var out []Result
	for i := range doc.Tests {
		t := &doc.Tests[i]
		name := t.Name
		if name == "" {
			name = fmt.Sprintf("test %d", i+1)
		}
		r := Result{File: path, Name: name}
		if err := runTest(ctx, set, t, opts, &r); err != nil {
			r.Failures = append(r.Failures, err.Error())
		}
		out = append(out, r)
	}
	return out, nil
}

func loadRules(testPath string, ruleFiles []string) (*rules.Set, error) {
	dir := filepath.Dir(testPath)
	var paths []string
	for _, f := range ruleFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		paths = append(paths, f)
	}
	if len(paths) == 0 {
		paths = []string{dir}
	}
	srcs, err := rules.LoadFiles(paths...)
	if err != nil {
		return nil, fmt.Errorf("ruletest: %s: %w", testPath, err)
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		return nil, fmt.Errorf("ruletest: %s: rules do not compile:\n%w", testPath, err)
	}
	return set, nil
}

// MaxRepeat is the most times one history entry is repeated, and
// MaxHistory the most attempts a test's history makes in all: a test is
// scored at some ten thousand attempts a second, and a mistyped repeat
// (100000000) would otherwise run for hours without a word.
const (
	MaxRepeat  = 100_000
	MaxHistory = 1_000_000
)

func runTest(ctx context.Context, set *rules.Set, t *testDoc, opts Options, r *Result) error {
	if err := t.Expect.validate(set); err != nil {
		return err
	}
	total := 0
	for hi, ev := range t.History {
		if ev.Repeat < 0 || ev.Repeat > MaxRepeat {
			return fmt.Errorf("history[%d]: repeat %d: want 0 to %d", hi, ev.Repeat, MaxRepeat)
		}
		if total += max(ev.Repeat, 1); total > MaxHistory {
			return fmt.Errorf("history[%d]: more than %d attempts in the history", hi, MaxHistory)
		}
	}
	// A fresh node per test: the binary's assembly, on an empty memory
	// store, with the test's rules.
	fails := engine.NewRuleFailures()
	n, err := node.New(ctx, node.Config{}, node.WithRuleset(set), node.WithBreachChecker(opts.Breached),
		node.WithSecret([]byte("rule-tests-are-not-secret")), node.WithLogger(slog.New(slog.DiscardHandler)),
		node.WithEngine(func(o *engine.Options) {
			o.NewID = engine.SeededIDs(1)
			o.Observers = append(o.Observers, fails)
		}))
	if err != nil {
		return err
	}
	defer n.Close(ctx)
	e := n.Engine()
	now := DefaultStart
	if t.Start != nil {
		now = *t.Start
	}
	for hi, ev := range t.History {
		n := max(ev.Repeat, 1)
		for i := range n {
			step := time.Minute
			if i == 0 && ev.Attempt.After != nil {
				step = *ev.Attempt.After
			} else if i > 0 && ev.Every != nil {
				step = *ev.Every
			}
			if hi > 0 || i > 0 || ev.Attempt.After != nil {
				now = now.Add(step)
			}
			a, err := ev.Attempt.build(i, now)
			if err != nil {
				return fmt.Errorf("history %d: %w", hi+1, err)
			}
			d, err := e.Score(ctx, a)
			if err != nil {
				return fmt.Errorf("history %d: %w", hi+1, err)
			}
			if err := followUp(ctx, e, &a, &d, &ev); err != nil {
				return fmt.Errorf("history %d: outcome: %w", hi+1, err)
			}
		}
	}
	for _, id := range fails.Rules() {
		if !slices.Contains(t.Expect.Failing, id) {
			f := fails.Of(id)
			r.Failures = append(r.Failures, fmt.Sprintf("history: rule %q failed at run time on %d attempt(s): %s (%s; guard the expression)", id, f.When+f.Reason, f.First, consequence(f)))
		}
	}
	fails.Reset()
	step := time.Minute
	if t.Attempt.After != nil {
		step = *t.Attempt.After
	}
	if len(t.History) > 0 || t.Attempt.After != nil {
		now = now.Add(step)
	}
	a, err := t.Attempt.build(0, now)
	if err != nil {
		return fmt.Errorf("attempt: %w", err)
	}
	d, err := e.Score(ctx, a)
	if err != nil {
		return fmt.Errorf("attempt: %w", err)
	}
	check(&t.Expect, &d, r)
	checkFailing(&t.Expect, fails, r)
	return nil
}

// consequence says what a rule's failure did to the decision.
func consequence(f engine.RuleFailure) string {
	if f.When == 0 {
		return "a failing reason gives the rule's description"
	}
	return "a failing rule counts as not matched"
}

// checkFailing fails the test for each rule that failed at run time on
// the attempt and is not in expect.failing, and for each one there that
// did not fail: a rule that fails counts as not matched, so an
// expectation that it does not match passed without a word.
func checkFailing(x *expectDoc, fails *engine.RuleFailures, r *Result) {
	failed := fails.Rules()
	for _, id := range failed {
		if !slices.Contains(x.Failing, id) {
			f := fails.Of(id)
			r.Failures = append(r.Failures, fmt.Sprintf("rule %q failed at run time: %s (%s; guard the expression, or list the rule in expect.failing)", id, f.First, consequence(f)))
		}
	}
	for _, id := range x.Failing {
		if !slices.Contains(failed, id) {
			r.Failures = append(r.Failures, fmt.Sprintf("failing: want %s to fail at run time, it did not", id))
		}
	}
}

// followUp reports the history event's outcome: the explicit one, or what
// the person would do (a step-up passes unless step_up_passes is false; an
// allowed login scored before the password check succeeds).
func followUp(ctx context.Context, e *engine.Engine, a *engine.Attempt, d *engine.Decision, ev *eventDoc) error {
	var kind engine.OutcomeKind
	switch {
	case ev.Outcome != "":
		k, err := engine.ParseOutcomeKind(ev.Outcome)
		if err != nil {
			return err
		}
		kind = k
	case d.Action == engine.ActionStepUp && !a.Result.Failed():
		kind = engine.StepUpPassed
		if ev.StepUpPasses != nil && !*ev.StepUpPasses {
			kind = engine.StepUpFailed
		}
	case d.Action == engine.ActionAllow && a.Result == engine.ResultUnknown && a.UserID != "":
		kind = engine.LoginSucceeded
	default:
		return nil
	}
	return e.Report(ctx, engine.Outcome{Tenant: a.Tenant, DecisionID: d.DecisionID, Outcome: kind})
}

// build turns the YAML fields into an attempt through its JSON form, so
// that tests use exactly the wire names and checks.
func (ad *attemptDoc) build(i int, at time.Time) (engine.Attempt, error) {
	fields := map[string]any{}
	for k, v := range ad.Fields {
		if s, ok := v.(string); ok {
			v = strings.ReplaceAll(s, "{i}", fmt.Sprint(i))
		}
		fields[k] = v
	}
	if _, ok := fields["time"]; !ok {
		fields["time"] = at.Format(time.RFC3339Nano)
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return engine.Attempt{}, err
	}
	var a engine.Attempt
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return engine.Attempt{}, err
	}
	return a, nil
}

// validate refuses an expectation that could never fail: one that checks
// nothing, or that names a rule the ruleset does not have (a misspelt id
// in reasons_exclude would pass for ever; in reasons_include it would fail
// for a reason that says nothing about the rules).
func (x *expectDoc) validate(set *rules.Set) error {
	if x.Action == "" && x.Reasons == nil && x.ReasonsInclude == nil && x.ReasonsExclude == nil &&
		x.Shadow == nil && x.MinScore == nil && x.MaxScore == nil && x.Alert == nil && x.Notify == nil && x.Failing == nil {
		return fmt.Errorf("expect: nothing to check: give action, reasons, reasons_include, reasons_exclude, shadow, min_score, max_score, alert, notify or failing")
	}
	if x.Action != "" {
		if a, err := engine.ParseAction(x.Action); err != nil || a == engine.ActionNone {
			return fmt.Errorf("expect.action: %q: want allow, step_up or deny", x.Action)
		}
	}
	known := map[string]bool{}
	for _, r := range set.Rules() {
		known[r.ID] = true
	}
	for _, l := range []struct {
		key string
		ids []string
	}{{"reasons", x.Reasons}, {"reasons_include", x.ReasonsInclude}, {"reasons_exclude", x.ReasonsExclude}, {"shadow", x.Shadow}, {"failing", x.Failing}} {
		for _, id := range l.ids {
			if !known[id] {
				return fmt.Errorf("expect.%s: no rule %q in the ruleset", l.key, id)
			}
		}
	}
	return nil
}

func check(x *expectDoc, d *engine.Decision, r *Result) {
	fail := func(format string, args ...any) { r.Failures = append(r.Failures, fmt.Sprintf(format, args...)) }
	got := ruleIDs(d.Reasons)
	if x.Action != "" && x.Action != d.Action.String() {
		fail("action: want %s, got %s (score %d; reasons %v)", x.Action, d.Action, d.Score, got)
	}
	if x.Reasons != nil {
		want := slices.Clone(x.Reasons)
		sort.Strings(want)
		sorted := slices.Clone(got)
		sort.Strings(sorted)
		if !slices.Equal(want, sorted) {
			fail("reasons: want exactly %v, got %v", x.Reasons, got)
		}
	}
	for _, id := range x.ReasonsInclude {
		if !slices.Contains(got, id) {
			fail("reasons: want %s among %v", id, got)
		}
	}
	for _, id := range x.ReasonsExclude {
		if slices.Contains(got, id) {
			fail("reasons: %s matched but should not have", id)
		}
	}
	if x.Shadow != nil {
		gs := ruleIDs(d.Shadow)
		if !slices.Equal(sortedCopy(x.Shadow), sortedCopy(gs)) {
			fail("shadow: want %v, got %v", x.Shadow, gs)
		}
	}
	if x.MinScore != nil && d.Score < *x.MinScore {
		fail("score: want at least %d, got %d", *x.MinScore, d.Score)
	}
	if x.MaxScore != nil && d.Score > *x.MaxScore {
		fail("score: want at most %d, got %d", *x.MaxScore, d.Score)
	}
	if x.Alert != nil && *x.Alert != d.Alert {
		fail("alert: want %v, got %v", *x.Alert, d.Alert)
	}
	if x.Notify != nil && !slices.Equal(sortedCopy(x.Notify), sortedCopy(d.Notify)) {
		fail("notify: want %v, got %v", x.Notify, d.Notify)
	}
}

func ruleIDs(rs []engine.Reason) []string {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.RuleID)
	}
	return ids
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}
