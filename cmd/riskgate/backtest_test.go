package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/capture"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
	"github.com/riskgate/riskgate/simulator"
)

// run runs the binary and returns its exit status, standard output and
// standard error.
func run(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

const strictRules = `version: strict-1
rules:
  - id: any-failure-denied
    description: Every failed login is denied.
    when: attempt.failed
    action: deny
  - id: new-device-step-up
    description: Every new device is stepped up.
    when: device.new
    action: step_up
`

// TestBacktestBinary runs backtest, and replay of a capture, through the
// binary (built once: the build is most of the cost).
func TestBacktestBinary(t *testing.T) {
	bin := buildBinary(t)
	t.Run("gates", func(t *testing.T) { testBacktestGates(t, bin) })
	t.Run("capture", func(t *testing.T) { testCaptureThroughTheBinary(t, bin) })
}

// The backtest's reports, and exit statuses CI can gate on (3 for a
// rejected rule change, 1 for a backtest that could not run).
func testBacktestGates(t *testing.T, bin string) {
	dir := t.TempDir()
	stream := filepath.Join(dir, "sim.jsonl")
	if code, _, stderr := run(t, bin, "simulate", "--users", "150", "--days", "4", "--warmup-days", "2", "-o", stream); code != 0 {
		t.Fatalf("simulate: %d %s", code, stderr)
	}
	strict := filepath.Join(dir, "strict.yaml")
	if err := os.WriteFile(strict, []byte(strictRules), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonOut, htmlOut := filepath.Join(dir, "out.json"), filepath.Join(dir, "out.html")

	code, stdout, stderr := run(t, bin, "backtest", "-i", stream, "--rules", strict, "--json", jsonOut, "--html", htmlOut, "--max-friction", "50%", "--min-catch", "0.5")
	if code != 0 {
		t.Fatalf("backtest: exit %d\n%s%s", code, stdout, stderr)
	}
	var rep backtest.Report
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Changed == 0 || rep.Friction == nil || rep.Catch == nil || rep.Baseline.Source != "built-in" || !strings.HasPrefix(rep.Candidate.Versions[0], "strict-1") {
		t.Fatalf("report: changed %d friction %v catch %v baseline %+v", rep.Changed, rep.Friction, rep.Catch, rep.Baseline)
	}
	if !strings.Contains(stdout, "transitions (rows: baseline, columns: candidate)") || !strings.Contains(stdout, "any-failure-denied") {
		t.Errorf("text report:\n%s", stdout)
	}
	if page, err := os.ReadFile(htmlOut); err != nil || !bytes.Contains(page, []byte(`<svg class="chart" id="transitions"`)) {
		t.Errorf("html report: %v", err)
	}

	tight := "0.1%" // below the candidate's friction
	code, _, stderr = run(t, bin, "backtest", "-i", stream, "--rules", strict, "--max-friction", tight)
	if code != 3 || !strings.Contains(stderr, "friction") || !strings.Contains(stderr, "above the maximum 0.10%") {
		t.Errorf("--max-friction %s: exit %d, %s", tight, code, stderr)
	}
	code, _, stderr = run(t, bin, "backtest", "-i", stream, "--rules", strict, "--min-catch", "99.99%")
	if code != 3 || !strings.Contains(stderr, "catch rate") {
		t.Errorf("--min-catch: exit %d, %s", code, stderr)
	}
	// The JSON on standard output for a pipe, the text on standard error.
	code, stdout, stderr = run(t, bin, "backtest", "-i", stream, "--rules", "../../rules/default.yaml", "--json", "-")
	if code != 0 || !json.Valid([]byte(stdout)) || !strings.Contains(stderr, "changed:   0 attempts") {
		t.Errorf("--json -: exit %d, stderr %.200s", code, stderr)
	}

	unlabelled := filepath.Join(dir, "unlabelled.jsonl")
	os.WriteFile(unlabelled, []byte(`{"attempt_id":"a1","time":"2026-05-04T08:00:00Z","user_id":"u1","ip":"81.2.69.160"}`+"\n"), 0o644)
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"attempt_id":"a1","time":"2026-05-04T08:00:00Z","user_id":"u1","ip":"81.2.69.160"}`+"\n"+`{"time":"2026-05-04T08:01:00Z","ip":"81.2.69.999"}`+"\n"), 0o644)
	badRules := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badRules, []byte("rules:\n  - id: typo\n    when: geo.new_countyr\n    action: deny\n"), 0o644)
	empty, outcomesOnly := filepath.Join(dir, "empty.jsonl"), filepath.Join(dir, "outcomes.jsonl")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(outcomesOnly, []byte(`{"outcome":{"outcome":"login_failed","time":"2026-05-04T08:00:00Z","attempt_id":"a1"}}`+"\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", unlabelled, "--rules", strict, "--max-friction", "2%"}, "no labels"},
		{[]string{"-i", stream, "--rules", strict, "--max-friction", "150%"}, "--max-friction \"150%\""},
		{[]string{"-i", bad, "--rules", strict}, "line 2: ip:"},
		{[]string{"-i", stream, "--rules", badRules}, "--rules: "},
		{[]string{"-i", filepath.Join(dir, "missing.jsonl"), "--rules", strict}, "missing.jsonl"},
		{[]string{"-i", stream, "--rules", strict, "--baseline-rules", badRules}, "--baseline-rules:"},
		// Nothing compared passes no gate: it used to exit 0.
		{[]string{"-i", empty, "--rules", strict, "--max-friction", "2%"}, empty + " holds no attempts"},
		{[]string{"-i", outcomesOnly, "--rules", strict}, outcomesOnly + " holds no attempts"},
	} {
		code, _, stderr := run(t, bin, append([]string{"backtest"}, tt.args...)...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("backtest %v: exit %d, %q; want 1 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

// A capture made by the capture sink replays through the binary: replay
// --captured-rules reproduces the live actions, and backtest's baseline is
// the capture's own rules.
func testCaptureThroughTheBinary(t *testing.T, bin string) {
	cfg := simulator.DefaultConfig()
	cfg.Users, cfg.Days, cfg.WarmupDays = 100, 3, 2
	out, err := simulator.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	if err := out.WriteJSONL(&stream); err != nil {
		t.Fatal(err)
	}
	capDir := t.TempDir()
	sink, err := capture.New(capture.Options{Dir: capDir, Secret: []byte(enginetest.Secret), Compress: true, MaxFileBytes: 100 << 10,
		Rules: func(string) []rules.Source { return []rules.Source{rules.DefaultSource()} }})
	if err != nil {
		t.Fatal(err)
	}
	live := enginetest.New(t, engine.Options{Observers: []engine.Observer{sink}})
	if _, err := replay.Run(context.Background(), live, &stream, io.Discard, replay.Options{AutoOutcomes: true}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	summary := filepath.Join(t.TempDir(), "summary.json")
	code, _, stderr := run(t, bin, "replay", "--captured-rules", "-i", capDir, "-o", os.DevNull, "--summary", summary)
	if code != 0 {
		t.Fatalf("replay: exit %d %s", code, stderr)
	}
	var sum replay.Summary
	data, _ := os.ReadFile(summary)
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Live == nil || sum.Live.Compared < 500 || sum.Live.Same != sum.Live.Compared || sum.Stream.Files < 2 {
		t.Errorf("replay of the capture: %+v %+v", sum.Live, sum.Stream)
	}
	code, stdout, stderr := run(t, bin, "backtest", "-i", capDir, "--rules", "../../rules/default.yaml")
	if code != 0 || !strings.Contains(stdout, "baseline:  capture rules") || !strings.Contains(stdout, "changed:   0 attempts") ||
		!strings.Contains(stdout, "the baseline reproduces") {
		t.Errorf("backtest of the capture: exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "warning") {
		t.Errorf("backtest reproducing every live decision warns:\n%s%s", stdout, stderr)
	}

	// A backtest that does not score as the live node did (here: live
	// actions changed, as a GeoIP database the backtest lacks would)
	// says so loudly, on standard error and in the reports, with what
	// to give it; the exit status stays 0.
	other := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(capDir, "*"))
	changed := 0
	for _, f := range files {
		in, err := replay.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(in)
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		for i, l := range lines {
			if changed < 50 && strings.Contains(l, `"live":{"action":"allow"`) {
				lines[i], changed = strings.Replace(l, `"live":{"action":"allow"`, `"live":{"action":"deny"`, 1), changed+1
			}
		}
		os.WriteFile(filepath.Join(other, filepath.Base(f)), []byte(strings.Join(lines, "")), 0o644)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	page := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr = run(t, bin, "backtest", "-i", other, "--rules", "../../rules/default.yaml", "--json", report, "--html", page)
	const want = "live decisions (" // "the baseline reproduces only N of the M live decisions (P%)"
	if code != 0 || changed != 50 || !strings.Contains(stderr, "riskgate backtest: warning: the baseline reproduces only") || !strings.Contains(stderr, want) ||
		!strings.Contains(stderr, "it runs without a GeoIP City database (--geoip-city)") || !strings.Contains(stderr, "the same --geoip-city") ||
		!strings.Contains(stdout, "warning: the baseline reproduces only") {
		t.Errorf("backtest not reproducing the live decisions (%d changed): exit %d\n%s%s", changed, code, stdout, stderr)
	}
	var rep backtest.Report
	data, _ = os.ReadFile(report)
	if err := json.Unmarshal(data, &rep); err != nil || rep.Live == nil || !strings.Contains(rep.Live.Warning, "reproduces only") {
		t.Errorf("--json: %v %+v", err, rep.Live)
	}
	if html, _ := os.ReadFile(page); !strings.Contains(string(html), "Warning: the baseline reproduces only") {
		t.Error("--html: no warning")
	}
}

// The gates' rates: a share or a percentage from 0 to 1; NaN (which would
// pass every comparison, turning the CI gate off), infinities and values
// out of range are refused naming the flag.
func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want float64 // -2: refused
	}{
		{"", -1},
		{"0.02", 0.02},
		{"2%", 0.02},
		{" 95% ", 0.95},
		{"0", 0},
		{"1", 1},
		{"100%", 1},
		{"NaN", -2},
		{"nan", -2},
		{"NaN%", -2},
		{"Inf", -2},
		{"+Inf%", -2},
		{"-Inf", -2},
		{"-0.1", -2},
		{"1.5", -2},
		{"150%", -2},
		{"high", -2},
	}
	for _, tt := range tests {
		got, err := parseRate("--max-friction", tt.in)
		switch {
		case tt.want == -2 && (err == nil || !strings.HasPrefix(err.Error(), "--max-friction ")):
			t.Errorf("parseRate(%q) = %v, %v; want an error naming --max-friction", tt.in, got, err)
		case tt.want != -2 && (err != nil || got != tt.want):
			t.Errorf("parseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestReplayWarnsBackwards: replay warns once, naming the line, of a
// stream whose attempts go back in time, and not of one in order.
func TestReplayWarnsBackwards(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	line := func(ts string) string {
		return `{"time":"` + ts + `","user_id":"u","ip":"81.2.69.1","result":"password_bad"}` + "\n"
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		stream, want string
	}{
		{line("2026-03-02T10:00:00Z") + line("2026-03-02T10:05:00Z") + line("2026-03-02T10:06:00Z"), ""},
		{line("2026-03-02T10:00:00Z") + line("2026-03-02T10:05:00Z") + line("2026-03-02T09:00:00Z") + line("2026-03-02T09:01:00Z"),
			"warning: line 3: the attempt is dated before an earlier line's (and 1 more attempts after it)"},
	} {
		file := filepath.Join(dir, "s.jsonl")
		os.WriteFile(file, []byte(tc.stream), 0o644)
		code, _, stderr := run(t, bin, "replay", "-i", file, "-o", os.DevNull)
		if code != 0 || tc.want == "" && strings.Contains(stderr, "warning") || tc.want != "" && strings.Count(stderr, "warning") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("exit %d, %q; want %q", code, stderr, tc.want)
		}
	}
}
