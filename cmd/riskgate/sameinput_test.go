package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/node"
)

// An output that is the input (the same path, a link to it, or a file of
// the input capture folder) is refused before anything is created: it
// used to be truncated before it was read.
func TestOutputIsNotTheInput(t *testing.T) {
	fixture, err := os.ReadFile("testdata/unlabelled.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	capDir := filepath.Join(dir, "capture")
	captured := filepath.Join(capDir, "capture-20260504T090000.000000Z.jsonl")
	for _, f := range []string{in, captured} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, fixture, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(in, filepath.Join(dir, "hard.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(in, filepath.Join(dir, "soft.jsonl")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		flag string
	}{
		{"replay -o same", (&replayCmd{In: in, Out: in}).runner(), "-o"},
		{"replay -o hard link", (&replayCmd{In: in, Out: filepath.Join(dir, "hard.jsonl")}).runner(), "-o"},
		{"replay -o symlink", (&replayCmd{In: in, Out: filepath.Join(dir, "soft.jsonl")}).runner(), "-o"},
		{"replay -o through ..", (&replayCmd{In: in, Out: filepath.Join(capDir, "..", "in.jsonl")}).runner(), "-o"},
		{"replay --summary same", (&replayCmd{In: in, Out: filepath.Join(dir, "out.jsonl"), Summary: in}).runner(), "--summary"},
		{"replay -o a capture file", (&replayCmd{In: capDir, Out: captured}).runner(), "-o"},
		{"backtest --json same", func() error {
			return (&backtestCmd{In: in, Rules: []string{"../../rules/default.yaml"}, JSON: in}).Run(context.Background())
		}, "--json"},
		// A file new in the capture folder would be read as part of it:
		// a report named as a capture file broke every later replay.
		{"backtest --html a new capture file", func() error {
			return (&backtestCmd{In: capDir, Rules: []string{"../../rules/default.yaml"}, HTML: filepath.Join(capDir, "capture-20260505T000000.000000Z.jsonl")}).Run(context.Background())
		}, "--html"},
		{"replay --summary into the folder", (&replayCmd{In: capDir, Out: filepath.Join(dir, "out.jsonl"), Summary: filepath.Join(capDir, "s.json")}).runner(), "--summary"},
		{"replay -o into the folder through ..", (&replayCmd{In: capDir, Out: filepath.Join(dir, "capture", "..", "capture", "new.jsonl")}).runner(), "-o"},
		// The input one of the folder's files: the folder is the capture's.
		{"replay of a capture file -o into its folder", (&replayCmd{In: captured, Out: filepath.Join(capDir, "capture-20260505T000000.000000Z.jsonl")}).runner(), "-o"},
		{"backtest of a capture file --json into its folder", func() error {
			return (&backtestCmd{In: captured, Rules: []string{"../../rules/default.yaml"}, JSON: filepath.Join(capDir, "report.json")}).Run(context.Background())
		}, "--json"},
	}
	for _, tt := range tests {
		err := tt.run()
		if err == nil || !strings.HasPrefix(err.Error(), tt.flag+" ") || !strings.Contains(err.Error(), "is the input") && !strings.Contains(err.Error(), "is in the input capture folder") {
			t.Errorf("%s: %v, want refused naming %s", tt.name, err, tt.flag)
		}
		if names, _ := os.ReadDir(capDir); len(names) != 1 {
			t.Errorf("%s: the capture folder holds %d files, want its one", tt.name, len(names))
		}
		for _, f := range []string{in, captured} {
			if got, _ := os.ReadFile(f); !bytes.Equal(got, fixture) {
				t.Fatalf("%s: %s was changed: %q", tt.name, f, got)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); err == nil {
			t.Errorf("%s: created -o before refusing", tt.name)
		}
	}
}

func (c *replayCmd) runner() func() error {
	return func() error { return c.Run(context.Background()) }
}

// --summary is written for any stream, an unlabelled one without shadow
// rules too (no labels, the stream's counts): it used to write nothing
// and exit 0, leaving an earlier run's summary in place for CI to read.
func TestReplaySummaryOfAnUnlabelledStream(t *testing.T) {
	dir := t.TempDir()
	summary := filepath.Join(dir, "s.json")
	if err := os.WriteFile(summary, []byte(`{"labels": {"legit": {"total": 99}}, "stale": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &replayCmd{In: "testdata/unlabelled.jsonl", Out: filepath.Join(dir, "out.jsonl"), Summary: summary, Seed: 1}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Labels map[string]any `json:"labels"`
		Stale  bool           `json:"stale"`
		Stream struct {
			Attempts int `json:"attempts"`
		} `json:"stream"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	if got.Stale || got.Labels == nil || len(got.Labels) != 0 || got.Stream.Attempts != 2 {
		t.Errorf("summary of an unlabelled stream:\n%s\nwant no labels ({}) and 2 attempts", data)
	}
}

// An output that is a rule or data file the command reads, or a rule file
// in a rules folder it reads, is refused before anything is written:
// `backtest --rules cand.yaml --json cand.yaml` replaced the candidate
// rules with the report.
func TestOutputIsNotARuleFile(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	cand := filepath.Join(rulesDir, "cand.yaml")
	ruleText, err := os.ReadFile("../../rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cand, ruleText, 0o644); err != nil {
		t.Fatal(err)
	}
	in := "testdata/unlabelled.jsonl"
	tests := []struct {
		name string
		run  func() error
		flag string
	}{
		{"backtest --json the candidate", func() error {
			return (&backtestCmd{In: in, Rules: []string{cand}, JSON: cand}).Run(context.Background())
		}, "--json"},
		{"backtest --html the baseline", func() error {
			return (&backtestCmd{In: in, Rules: []string{"../../rules/default.yaml"}, BaselineRules: []string{cand}, HTML: cand}).Run(context.Background())
		}, "--html"},
		{"backtest --json a rule file of the rules folder", func() error {
			return (&backtestCmd{In: in, Rules: []string{rulesDir}, JSON: cand}).Run(context.Background())
		}, "--json"},
		{"replay -o the rules", (&replayCmd{In: in, Out: cand, EngineConfig: engineRules(cand)}).runner(), "-o"},
		{"replay --summary the rules", (&replayCmd{In: in, Out: filepath.Join(dir, "out.jsonl"), Summary: cand, EngineConfig: engineRules(cand)}).runner(), "--summary"},
	}
	for _, tt := range tests {
		err := tt.run()
		if err == nil || !strings.HasPrefix(err.Error(), tt.flag+" ") || !strings.Contains(err.Error(), "which writing it would overwrite") {
			t.Errorf("%s: %v, want refused naming %s", tt.name, err, tt.flag)
		}
		if got, _ := os.ReadFile(cand); !bytes.Equal(got, ruleText) {
			t.Fatalf("%s: the rule file was changed", tt.name)
		}
	}
}

func engineRules(paths ...string) node.EngineConfig { return node.EngineConfig{Rules: paths} }

// Two outputs of one command naming the same file, or both standard
// output, are refused before anything is written: the second replaced
// the first without a word (`--json r --html r` left the HTML where CI
// read the JSON; `-o out --summary out` lost the decisions), or both
// went into one stream. `replay --summary -` wrote a file named "-".
func TestOutputsAreNotShared(t *testing.T) {
	in := "testdata/unlabelled.jsonl"
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(existing, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	defaultRules := []string{"../../rules/default.yaml"}
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"backtest --json and --html one file", func() error {
			return (&backtestCmd{In: in, Rules: defaultRules, JSON: out, HTML: out}).Run(context.Background())
		}, "--json " + out + " and --html " + out + ": the same file"},
		{"backtest --json and --html one file spelt two ways", func() error {
			return (&backtestCmd{In: in, Rules: defaultRules, JSON: out, HTML: filepath.Join(dir, ".", "x", "..", "out")}).Run(context.Background())
		}, ": the same file"},
		{"backtest --json and --html standard output", func() error {
			return (&backtestCmd{In: in, Rules: defaultRules, JSON: "-", HTML: "-"}).Run(context.Background())
		}, "--json and --html: both write to standard output"},
		{"replay -o and --summary one file", (&replayCmd{In: in, Out: out, Summary: out}).runner(), "-o " + out + " and --summary " + out + ": the same file"},
		{"replay -o and --summary a file and its link", (&replayCmd{In: in, Out: existing, Summary: filepath.Join(dir, "link")}).runner(), ": the same file"},
		{"replay --summary - with the decisions on standard output", (&replayCmd{In: in, Summary: "-"}).runner(), "-o and --summary: both write to standard output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want refused: %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("wrote the output before refusing")
			}
			if got, _ := os.ReadFile(existing); string(got) != "kept" {
				t.Errorf("the existing file was overwritten: %q", got)
			}
			if _, err := os.Stat("-"); err == nil {
				os.Remove("-")
				t.Error(`wrote a file named "-"`)
			}
		})
	}
}

// A report on standard output is alone there: backtest --html - puts the
// text on standard error, as --json - does, and replay --summary - with
// -o a file writes the summary to standard output.
func TestReportOnStandardOutputIsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	code, stdout, stderr := run(t, bin, "backtest", "-i", "testdata/unlabelled.jsonl", "--rules", "../../rules/default.yaml", "--html", "-")
	if code != 0 || !strings.HasPrefix(stdout, "<!DOCTYPE html>") || !strings.HasSuffix(stdout, "</html>\n") || !strings.Contains(stderr, "backtest of 2 attempts") {
		t.Errorf("backtest --html -: exit %d, stdout %.80q ... %.40q, stderr %.200q", code, stdout, stdout[max(0, len(stdout)-40):], stderr)
	}
	dir := t.TempDir()
	code, stdout, stderr = run(t, bin, "replay", "-i", "testdata/unlabelled.jsonl", "-o", filepath.Join(dir, "d.jsonl"), "--summary", "-")
	var sum map[string]any
	if err := json.Unmarshal([]byte(stdout), &sum); code != 0 || err != nil || sum["labels"] == nil {
		t.Errorf("replay --summary -: exit %d, %v: stdout %.200q, stderr %.200q", code, err, stdout, stderr)
	}
	if _, err := os.Stat("-"); err == nil {
		os.Remove("-")
		t.Error(`wrote a file named "-"`)
	}
}
