package backtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
	"github.com/riskgate/riskgate/signals"
)

var update = flag.Bool("update", false, "rewrite golden files")

func loadSet(t testing.TB, paths ...string) *rules.Set {
	t.Helper()
	srcs, err := rules.LoadFiles(paths...)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func options(t testing.TB, baseline, candidate *rules.Set) backtest.Options {
	return backtest.Options{
		Baseline: baseline, Candidate: candidate, AutoOutcomes: true,
		Signals: func() []engine.Signal { return signals.Default(signals.Config{}) },
	}
}

func runFile(t *testing.T, path string, opts backtest.Options) *backtest.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := backtest.Run(context.Background(), f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func row(allow, stepUp, deny int) map[string]int {
	return map[string]int{"allow": allow, "step_up": stepUp, "deny": deny}
}

// The hand-made stream's backtest, worked out by hand (testdata/handmade.jsonl):
//
//	a1 a2     u1 on d1 (web): allowed on both sides; u1 is learned.
//	a3        u1 on a new device d2 from a kiosk: the baseline allows it (new-device +20)
//	          and learns d2; the candidate denies it (kiosk-deny) and does not.
//	a4        u1 on d2 (web): known to the baseline (0), still new to the candidate
//	          (new-device +20): each side has its own state.
//	a5 a6 a10 API logins: stepped up before, denied after (api-client's action).
//	a7 a8     mobile logins: allowed; the candidate's shadow rule (+50) would step them up.
//	a9        unlabelled, later confirmed_fraud; a10 later confirmed_legit.
func TestHandMadeBacktest(t *testing.T) {
	rep := runFile(t, "testdata/handmade.jsonl", options(t, loadSet(t, "testdata/baseline.yaml"), loadSet(t, "testdata/candidate.yaml")))

	if rep.Attempts != 10 || rep.Changed != 4 {
		t.Errorf("attempts %d changed %d, want 10 and 4", rep.Attempts, rep.Changed)
	}
	want := backtest.Matrix{"allow": row(6, 0, 1), "step_up": row(0, 0, 3), "deny": row(0, 0, 0)}
	if !reflect.DeepEqual(rep.Transitions, want) {
		t.Errorf("transitions %v, want %v", rep.Transitions, want)
	}
	legit := rep.Labels["legit"]
	if legit == nil || legit.Total != 6 || legit.Before != (backtest.Counts{Allow: 5, StepUp: 1}) || legit.After != (backtest.Counts{Allow: 4, Deny: 2}) {
		t.Errorf("legit: %+v", legit)
	}
	if f := rep.Friction; f == nil || f.Before != 1.0/6 || f.After != 2.0/6 {
		t.Errorf("friction %+v, want 1/6 then 2/6", f)
	}
	if c := rep.Catch; c == nil || c.Before != 0.5 || c.After != 0.5 {
		t.Errorf("catch %+v, want 2 of 4 attacks (stuffing, takeover, confirmed fraud) on both sides", c)
	}
	if f := rep.Labels["fraud"]; f == nil || f.Total != 1 {
		t.Errorf("the confirmed_fraud label: %+v", f)
	}
	if st := rep.Labels["credential_stuffing"]; st == nil || !reflect.DeepEqual(st.Transitions["step_up"], row(0, 0, 2)) {
		t.Errorf("credential_stuffing: %+v", st)
	}

	matches := map[string][2]backtest.RuleSide{}
	changes := map[string]map[string]int{}
	for _, r := range rep.Rules {
		matches[r.ID] = [2]backtest.RuleSide{r.Before, r.After}
		changes[r.ID] = r.Changes
	}
	wantMatches := map[string][2]backtest.RuleSide{
		"api-client":   {{Mode: "enforce", Matches: 3}, {Mode: "enforce", Matches: 3}},
		"new-device":   {{Mode: "enforce", Matches: 1}, {Mode: "enforce", Matches: 2}},
		"kiosk-deny":   {{}, {Mode: "enforce", Matches: 1}},
		"mobile-watch": {{}, {Mode: "shadow", Matches: 2}},
	}
	if !reflect.DeepEqual(matches, wantMatches) {
		t.Errorf("rule matches %v, want %v", matches, wantMatches)
	}
	if !reflect.DeepEqual(changes["kiosk-deny"], map[string]int{"allow->deny": 1}) || !reflect.DeepEqual(changes["api-client"], map[string]int{"step_up->deny": 3}) || changes["new-device"] != nil {
		t.Errorf("rules behind the changes: %v", changes)
	}
	wantShadow := []replay.ShadowCounts{{Rule: "mobile-watch", Matched: 2, StepUp: 2, Legit: 1, Attack: 1}}
	if len(rep.Shadow.Before) != 0 || !reflect.DeepEqual(rep.Shadow.After, wantShadow) {
		t.Errorf("shadow %+v, want %+v", rep.Shadow, wantShadow)
	}
	if b, a := rep.Scores.Before, rep.Scores.After; b[0] != 6 || b[2] != 3 || b[4] != 1 || a[0] != 5 || a[2] != 3 || a[4] != 2 {
		t.Errorf("score histograms %v / %v", b, a)
	}
	var lines []int
	for _, s := range rep.Samples {
		lines = append(lines, s.Line)
	}
	if !reflect.DeepEqual(lines, []int{4, 6, 7, 11}) { // a3, then a5 a6 a10 (the file's line numbers)
		t.Errorf("sampled lines %v", lines)
	}
	if s := rep.Samples[0]; s.Label != "legit" || s.Before.Action != engine.ActionAllow || s.After.Action != engine.ActionDeny || s.After.Reasons[1].RuleID != "kiosk-deny" {
		t.Errorf("sample of a3: %+v", s)
	}
	if s := rep.Samples[3]; s.Label != "legit" {
		t.Errorf("a10's sample is labelled %q; the analyst confirmed it legit", s.Label)
	}
	golden(t, "testdata/handmade.golden.json", rep)
}

func golden(t *testing.T, path string, rep *backtest.Report) {
	t.Helper()
	got, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the JSON report differs from %s (rerun with -update if intended):\n%s", path, got)
	}
}

func TestBacktestErrorsNameTheLine(t *testing.T) {
	set := loadSet(t, "testdata/baseline.yaml")
	good := `{"attempt_id":"a1","time":"2026-05-04T08:00:00Z","user_id":"u1","ip":"81.2.69.160"}`
	tests := []struct{ in, want string }{
		{good + "\n" + `{"ip":`, "line 2"},
		{good + "\n" + good + "\n" + `{"time":"2026-05-04T08:03:00Z","ip":"999.1.1.1"}`, "line 3: ip: not an IPv4 or IPv6 address"},
		{strings.Repeat(good+"\n", 700) + `{"time":"2026-05-04T08:03:00Z","ip":"1.2.3.4","password":{"key":"xyz","status":"clean"}}`, "line 701: password.key"},
		{`{"capture":{"format":9,"key_id":"k"}}`, "line 1: capture: format 9"},
	}
	for _, tt := range tests {
		_, err := backtest.Run(context.Background(), strings.NewReader(tt.in), options(t, set, set))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.60q...: %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
	if _, err := backtest.Run(context.Background(), strings.NewReader(good), options(t, set, nil)); err == nil {
		t.Error("a backtest without a candidate ran")
	}
	// A capture folder's line is named by its file and its line there.
	for _, tt := range []struct{ second, want string }{
		{good + "\n" + `{"time":"2026-05-04T08:03:00Z","ip":"1.2.3.4","password":{"key":"xyz","status":"clean"}}`, ":2: password.key"},
		{good + "\n" + good + "\n" + `{"ip":`, ":3: "},
	} {
		dir := t.TempDir()
		first, second := filepath.Join(dir, "capture-20260504T080000.000000Z.jsonl"), filepath.Join(dir, "capture-20260504T090000.000000Z.jsonl")
		os.WriteFile(first, []byte(strings.Repeat(good+"\n", 700)), 0o600)
		os.WriteFile(second, []byte(tt.second), 0o600)
		in, err := replay.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = backtest.Run(context.Background(), in, options(t, set, set))
		in.Close()
		if want := "backtest: " + second + tt.want; err == nil || !strings.Contains(err.Error(), second+tt.want) {
			t.Errorf("folder: %v, want an error containing %q", err, want)
		}
	}
}

func TestGates(t *testing.T) {
	rep := &backtest.Report{Friction: &backtest.BeforeAfter{Before: 0.02, After: 0.03}, Catch: &backtest.BeforeAfter{Before: 0.9, After: 0.8}}
	tests := []struct {
		gates  backtest.Gates
		failed int
		err    bool
	}{
		{backtest.Gates{MaxFriction: -1, MinCatch: -1}, 0, false},
		{backtest.Gates{MaxFriction: 0.05, MinCatch: 0.5}, 0, false},
		{backtest.Gates{MaxFriction: 0.03, MinCatch: 0.8}, 0, false}, // at the limits
		{backtest.Gates{MaxFriction: 0.025, MinCatch: -1}, 1, false},
		{backtest.Gates{MaxFriction: 0.025, MinCatch: 0.85}, 2, false},
		{backtest.Gates{MaxFriction: math.NaN(), MinCatch: -1}, 0, true}, // would pass anything
		{backtest.Gates{MaxFriction: -1, MinCatch: math.NaN()}, 0, true},
	}
	for _, tt := range tests {
		failed, err := rep.Check(tt.gates)
		if len(failed) != tt.failed || (err != nil) != tt.err {
			t.Errorf("%+v: failed %v, err %v", tt.gates, failed, err)
		}
	}
	if _, err := (&backtest.Report{}).Check(backtest.Gates{MaxFriction: 0.1, MinCatch: -1}); err == nil {
		t.Error("a friction gate on an unlabelled stream passed")
	}
}

// A change the thresholds alone make is attributed to them.
func TestThresholdChangesAreACause(t *testing.T) {
	base := loadSet(t, "testdata/baseline.yaml")
	data, err := os.ReadFile("testdata/baseline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lower, err := rules.Compile(rules.Source{Name: "lower.yaml", Data: bytes.Replace(data, []byte("step_up: 40"), []byte("step_up: 20"), 1)})
	if err != nil {
		t.Fatal(err)
	}
	rep := runFile(t, "testdata/handmade.jsonl", options(t, base, lower))
	// Only a3 (new-device, 20) reaches the lower threshold; its step-up is
	// passed (legit), so d2 is learned on both sides and a4 is unchanged.
	want := []backtest.Cause{{From: engine.ActionAllow, To: engine.ActionStepUp, Count: 1, Rules: []backtest.RuleCount{{Rule: backtest.CauseThresholds, Count: 1}}}}
	if !reflect.DeepEqual(rep.Causes, want) {
		t.Errorf("causes %+v, want %+v", rep.Causes, want)
	}
	if rep.Candidate.Thresholds != (backtest.Thresholds{StepUp: 20, Deny: 80}) {
		t.Errorf("candidate thresholds %+v", rep.Candidate.Thresholds)
	}
}

// A backtest on request is bounded: MaxAttempts cuts the stream short and
// the report says so; a cancelled context stops it.
func TestBounds(t *testing.T) {
	set := loadSet(t, "testdata/baseline.yaml")
	opts := options(t, set, loadSet(t, "testdata/candidate.yaml"))
	opts.MaxAttempts = 4
	rep := runFile(t, "testdata/handmade.jsonl", opts)
	if rep.Attempts != 4 || !rep.Input.Truncated || rep.Changed != 1 {
		t.Errorf("attempts %d truncated %v changed %d, want the first 4 attempts (a3 changes)", rep.Attempts, rep.Input.Truncated, rep.Changed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f, err := os.Open("testdata/handmade.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := backtest.Run(ctx, f, opts); err == nil {
		t.Error("a cancelled backtest succeeded")
	}
}

// TestRulesFailingAtRunTime: a rule that fails at run time counts as not
// matched, and the report says on how many attempts it failed and why, in
// the JSON, the text, the HTML and the coverage warnings (a rule failing
// on every attempt read "0 → 0", or "matched none" with a reason about
// IP lists).
func TestRulesFailingAtRunTime(t *testing.T) {
	rep := runFile(t, "testdata/handmade.jsonl", options(t, loadSet(t, "testdata/baseline.yaml"), loadSet(t, "testdata/failing.yaml")))
	got := map[string]backtest.RuleSide{}
	for _, rr := range rep.Rules {
		got[rr.ID] = rr.After
		if rr.Before.Errors != 0 || rr.Before.Error != "" {
			t.Errorf("%s: the baseline's rules never fail, got %+v", rr.ID, rr.Before)
		}
	}
	for _, tc := range []struct {
		rule string
		want backtest.RuleSide
	}{
		{"attribute-n", backtest.RuleSide{Mode: "enforce", Matches: 0, Errors: 10, Error: "when: conversion error at line 1, column 1"}},
		{"mobile-user-number", backtest.RuleSide{Mode: "enforce", Matches: 0, Errors: 2, Error: "when: conversion error at line 1, column 32"}},
		{"new-device", backtest.RuleSide{Mode: "enforce", Matches: 1}},
		{"api-depth", backtest.RuleSide{Mode: "shadow", Matches: 0, Errors: 3, Error: "when: index error at line 1, column 37"}},
		// A failing reason leaves the rule matched, with its description.
		{"kiosk-reason", backtest.RuleSide{Mode: "enforce", Matches: 1, ReasonErrors: 1, Error: "reason: conversion error at line 1, column 20"}},
	} {
		if got[tc.rule] != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.rule, got[tc.rule], tc.want)
		}
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"rules that failed at run time (a failing when counts as not matched; a failing reason gives the description)\n",
		"attribute-n                      candidate: when on 10 of 10 attempts (when: conversion error at line 1, column 1)\n",
		"mobile-user-number               candidate: when on 2 of 10 attempts (when: conversion error at line 1, column 32)\n",
		"kiosk-reason                     candidate: reason on 1 of its 1 matches (reason: conversion error at line 1, column 20)\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, text.String())
		}
	}
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if want := `<li data-rule="attribute-n"><code>attribute-n</code>: candidate: when on 10 of 10 attempts (when: conversion error at line 1, column 1)</li>`; !strings.Contains(page.String(), want) {
		t.Errorf("the HTML lacks %q", want)
	}

	var warned []string
	for _, w := range backtest.Coverage(rep) {
		warned = append(warned, w.String())
	}
	for _, want := range []string{
		`rule "attribute-n" (enforce) failed at run time on 10 of the 10 attempts (when: conversion error at line 1, column 1), each counted as not matched; it matched none`,
		`rule "mobile-user-number" (enforce) failed at run time on 2 of the 10 attempts (when: conversion error at line 1, column 32), each counted as not matched; it matched none`,
		`rule "api-depth" (shadow) failed at run time on 3 of the 10 attempts (when: index error at line 1, column 37), each counted as not matched; it matched none`,
		`rule "kiosk-reason" (enforce): its reason failed at run time on 1 of its 1 matches (reason: conversion error at line 1, column 20), which gave the description instead`,
	} {
		if !slices.Contains(warned, want) {
			t.Errorf("no warning %q in\n%s", want, strings.Join(warned, "\n"))
		}
	}
	// A report without failures says nothing of them.
	clean := runFile(t, "testdata/handmade.jsonl", options(t, loadSet(t, "testdata/baseline.yaml"), loadSet(t, "testdata/candidate.yaml")))
	text.Reset()
	if err := clean.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "failed at run time") {
		t.Errorf("a report without failures speaks of them:\n%s", text.String())
	}
}

// TestSamplesNameTheirTenant: a changed attempt of a tenant other than
// the default one names its tenant in the text and the HTML (a tenant
// column), since user ids are a tenant's: u1 of acme and u1 of beta were
// two lines alike. A stream of the default tenant alone has no tenant
// column.
func TestSamplesNameTheirTenant(t *testing.T) {
	for _, tc := range []struct {
		stream      string
		text, html  []string
		notText     []string
		tenantTable bool
	}{
		{"testdata/tenants.jsonl",
			[]string{"81.2.69.160  tenant acme  user u1  [legit]", "81.2.69.161  tenant beta  user u1  [legit]", "81.2.69.162  user u2  [legit]"},
			[]string{"<th>tenant</th>", "<td>acme</td>", "<td>beta</td>", "<td>default</td>"}, []string{"tenant default"}, true},
		{"testdata/handmade.jsonl", nil, nil, []string{"tenant "}, false},
	} {
		t.Run(tc.stream, func(t *testing.T) {
			rep := runFile(t, tc.stream, options(t, loadSet(t, "testdata/baseline.yaml"), loadSet(t, "testdata/candidate.yaml")))
			var text, page bytes.Buffer
			if err := rep.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := rep.WriteHTML(&page); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.text {
				if !strings.Contains(text.String(), want) {
					t.Errorf("the text lacks %q:\n%s", want, text.String())
				}
			}
			for _, not := range tc.notText {
				if strings.Contains(text.String(), not) {
					t.Errorf("the text has %q:\n%s", not, text.String())
				}
			}
			for _, want := range tc.html {
				if !strings.Contains(page.String(), want) {
					t.Errorf("the HTML lacks %q", want)
				}
			}
			if got := strings.Contains(page.String(), "<th>tenant</th>"); got != tc.tenantTable {
				t.Errorf("a tenant column: %v, want %v", got, tc.tenantTable)
			}
		})
	}
}
