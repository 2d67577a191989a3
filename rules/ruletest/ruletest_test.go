package ruletest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/breached"
)

func TestDefaultRuleTestsPass(t *testing.T) {
	var out bytes.Buffer
	f, err := breached.Default()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	check := func(h *[20]byte) (bool, int) { m := f.Lookup(*h); return m.Found, m.Tier }
	res, err := RunPaths(context.Background(), &out, Options{Breached: check}, "../default_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < 10 {
		t.Errorf("only %d default rule tests", len(res))
	}
	for _, r := range res {
		if !r.Passed() {
			t.Errorf("%s: %s", r.Name, strings.Join(r.Failures, "; "))
		}
	}
	if t.Failed() {
		t.Log(out.String())
	}
}

func TestFailuresAreReported(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("r.yaml", `
rules:
  - id: new-device
    description: New device.
    when: device.new
    action: step_up
`)
	write("r_test.yaml", `
tests:
  - name: passes
    attempt: {user_id: u, ip: 81.2.69.1, device_id: d1, result: password_ok}
    expect: {action: allow, reasons: []}
  - name: wrong expectation
    history:
      - attempt: {user_id: u, ip: 81.2.69.1, device_id: d1, result: password_ok}
    attempt: {user_id: u, ip: 81.2.69.1, device_id: d2, result: password_ok}
    expect: {action: allow, reasons_exclude: [new-device]}
  - name: bad attempt
    attempt: {ip: not-an-ip}
    expect: {action: allow}
`)
	var out bytes.Buffer
	res, err := RunPaths(context.Background(), &out, Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || !res[0].Passed() || res[1].Passed() || res[2].Passed() {
		t.Fatalf("results: %+v", res)
	}
	report := out.String()
	for _, want := range []string{"PASS", "FAIL", "action: want allow, got step_up", "new-device matched but should not have", "ip: not an IPv4 or IPv6 address"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestBrokenRulesStopTheFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("rules:\n  - id: a\n    description: d\n    when: nope\n    action: deny\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "r_test.yaml"), []byte("tests:\n  - attempt: {ip: 1.2.3.4}\n    expect: {action: allow}\n"), 0o644)
	_, err := RunPaths(context.Background(), &bytes.Buffer{}, Options{}, dir)
	if err == nil || !strings.Contains(err.Error(), "r.yaml:4") {
		t.Errorf("err = %v, want the rule file's compile error", err)
	}
}

// TestExpectationsThatCannotFailAreRefused: a test that checks nothing, or
// names a rule the ruleset lacks, fails rather than passing for ever.
func TestExpectationsThatCannotFailAreRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("r.yaml", `
rules:
  - id: new-device
    description: New device.
    when: device.new
    action: step_up
`)
	write("r_test.yaml", `
tests:
  - name: no expectation
    attempt: {user_id: u, ip: 81.2.69.1}
  - name: misspelt exclusion
    attempt: {user_id: u, ip: 81.2.69.1}
    expect: {reasons_exclude: [new_device]}
  - name: misspelt shadow
    attempt: {user_id: u, ip: 81.2.69.1}
    expect: {shadow: [nope]}
  - name: action none
    attempt: {user_id: u, ip: 81.2.69.1}
    expect: {action: none}
  - name: fine
    attempt: {user_id: u, ip: 81.2.69.1}
    expect: {reasons_exclude: [new-device]}
`)
	var out bytes.Buffer
	res, err := RunPaths(context.Background(), &out, Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 {
		t.Fatalf("results: %+v", res)
	}
	for i, want := range []string{"expect: nothing to check", `expect.reasons_exclude: no rule "new_device"`, `expect.shadow: no rule "nope"`, `expect.action: "none"`} {
		if res[i].Passed() || !strings.Contains(strings.Join(res[i].Failures, "\n"), want) {
			t.Errorf("%s: %v, want a failure saying %q", res[i].Name, res[i].Failures, want)
		}
	}
	if !res[4].Passed() {
		t.Errorf("%s: %v", res[4].Name, res[4].Failures)
	}
}

// TestRepeatIsBounded: a mistyped repeat fails its test at once instead of
// scoring for hours.
func TestRepeatIsBounded(t *testing.T) {
	dir := t.TempDir()
	for name, s := range map[string]string{
		"r.yaml": "rules:\n  - id: new-device\n    description: New device.\n    when: device.new\n    action: step_up\n",
		"r_test.yaml": `
tests:
  - name: huge repeat
    history:
      - attempt: {user_id: u, ip: 81.2.69.1}
        repeat: 100000000
    attempt: {user_id: u, ip: 81.2.69.1}
    expect: {action: allow}
  - name: negative repeat
    history:
      - attempt: {user_id: u, ip: 81.2.69.1}
        repeat: -1
    attempt: {user_id: u, ip: 81.2.69.1}
    expect: {action: allow}
  - name: too long a history
    history:
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 100000}
      - {attempt: {user_id: u, ip: 81.2.69.1}, repeat: 1}
    attempt: {user_id: u, ip: 81.2.69.1}
    expect: {action: allow}
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := RunPaths(context.Background(), &bytes.Buffer{}, Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"history[0]: repeat 100000000: want 0 to 100000", "history[0]: repeat -1", "history[10]: more than 1000000 attempts"} {
		if res[i].Passed() || !strings.Contains(strings.Join(res[i].Failures, "\n"), want) {
			t.Errorf("%s: %v, want a failure saying %q", res[i].Name, res[i].Failures, want)
		}
	}
}

// TestTestFilesAreStrict: a test file with a second document (whose tests
// would never run), a fraction where a whole number belongs, or an unknown
// key is refused with its line, in the file's words, not Go's.
func TestTestFilesAreStrict(t *testing.T) {
	const rule = "rules:\n  - id: new-device\n    description: New device.\n    when: device.new\n    action: step_up\n"
	const test = "tests:\n  - name: one\n    attempt: {user_id: u, ip: 81.2.69.1}\n    expect: {action: allow}\n"
	for _, tc := range []struct{ name, file, want string }{
		{"second document", test + "---\n" + test, `x_test.yaml:5: a test file holds one YAML document`},
		{"fractional repeat", "tests:\n  - name: one\n    history:\n      - attempt: {user_id: u, ip: 81.2.69.1}\n        repeat: 2.9\n    attempt: {user_id: u, ip: 81.2.69.1}\n    expect: {action: allow}\n", "x_test.yaml:5: repeat: want a whole number, got `2.9`"},
		{"fractional max_score", "tests:\n  - name: one\n    attempt: {user_id: u, ip: 81.2.69.1}\n    expect: {max_score: 0.5}\n", "x_test.yaml:4: max_score: want a whole number, got `0.5`"},
		{"unknown key", "tests:\n  - name: one\n    history:\n      - attempt: {user_id: u, ip: 81.2.69.1}\n        repaet: 3\n    attempt: {user_id: u, ip: 81.2.69.1}\n    expect: {action: allow}\n", `x_test.yaml:5: unknown key "repaet"; did you mean "repeat"?`},
		// Each unknown key at its own file:line, with the key nearest to
		// it or the keys known there.
		{"unknown keys", "tests:\n  - nmae: one\n    attempt: {user_id: u, ip: 81.2.69.1}\n    expect:\n      actoin: allow\n      zzzzzz: 1\n",
			"x_test.yaml:2: unknown key \"nmae\"; did you mean \"name\"?\n" + dir0 + "x_test.yaml:5: unknown key \"actoin\"; did you mean \"action\"?\n" +
				dir0 + "x_test.yaml:6: unknown key \"zzzzzz\" (known: action, reasons, reasons_include, reasons_exclude, shadow, min_score, max_score, alert, notify, failing)"},
		{"tab", "tests:\n  - name: one\n    expect: {action: allow}\n  - name: 'two'\n\t  attempt: {user_id: u, ip: 81.2.69.1}\n", "x_test.yaml:5: found character that cannot start any token (a tab"},
		{"quote never closed", "tests:\n  - name: \"one\n    attempt: {user_id: u, ip: 81.2.69.1}\n", "x_test.yaml:2: found unexpected end of stream"},
		{"wrong type", "tests:\n  - name: one\n    attempt: {user_id: u, ip: 81.2.69.1}\n    expect: {max_score: two}\n", "x_test.yaml:4: want a whole number, got `two`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, s := range map[string]string{"r.yaml": rule, "x_test.yaml": tc.file} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := RunPaths(context.Background(), &bytes.Buffer{}, Options{}, dir)
			want := strings.ReplaceAll(tc.want, dir0, dir+string(filepath.Separator))
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "ruletest.") && strings.Contains(err.Error(), "type") {
				t.Errorf("%v, want %q", err, want)
			}
		})
	}
}

// dir0 stands, in TestTestFilesAreStrict's messages, for the test's
// folder, which every line of an error after the first names.
const dir0 = "<dir>/"

// TestRulesFailingAtRunTimeFailTheTest: a rule that fails at run time, on
// the attempt or its history, fails the test, naming the rule and the
// failure (it counted as not matched, so reasons_exclude passed), unless
// expect.failing lists it; a rule listed there that does not fail fails
// the test too.
func TestRulesFailingAtRunTimeFailTheTest(t *testing.T) {
	var out bytes.Buffer
	res, err := RunPaths(context.Background(), &out, Options{}, "testdata/failing")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, failure string }{
		{"fails: not matched because it failed", `rule "attribute-n" failed at run time: when: conversion error at line 1, column 1 (a failing rule counts as not matched; guard the expression, or list the rule in expect.failing)`},
		{"fails: the history failed", `history: rule "attribute-n" failed at run time on 3 attempt(s): when: conversion error at line 1, column 1 (a failing rule counts as not matched; guard the expression)`},
		{"passes: expected to fail", ""},
		{"fails: expected to fail, did not", "failing: want attribute-n to fail at run time, it did not"},
		{"passes: no failure", ""},
		{"fails: no such rule", `expect.failing: no rule "attribute_n" in the ruleset`},
		{"fails: the reason failed", `rule "kiosk-reason" failed at run time: reason: conversion error at line 1, column 20 (a failing reason gives the rule's description; guard the expression, or list the rule in expect.failing)`},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d:\n%s", len(res), len(want), out.String())
	}
	for i, w := range want {
		r := res[i]
		if r.Name != w.name {
			t.Errorf("result %d is %q, want %q", i, r.Name, w.name)
			continue
		}
		got := strings.Join(r.Failures, "\n")
		if w.failure == "" && !r.Passed() || w.failure != "" && got != w.failure {
			t.Errorf("%s: failures %q, want %q", r.Name, got, w.failure)
		}
	}
}
