package replay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/rules"
)

func TestAdaptOutcome(t *testing.T) {
	tests := []struct {
		decided  engine.Action
		reported engine.OutcomeKind
		want     engine.OutcomeKind
		ok       bool
	}{
		{engine.ActionStepUp, engine.LoginSucceeded, engine.StepUpPassed, true},
		{engine.ActionStepUp, engine.StepUpPassed, engine.StepUpPassed, true},
		{engine.ActionStepUp, engine.LoginFailed, engine.LoginFailed, true},
		{engine.ActionStepUp, engine.StepUpFailed, engine.StepUpFailed, true},
		{engine.ActionAllow, engine.LoginSucceeded, engine.LoginSucceeded, true},
		{engine.ActionAllow, engine.StepUpPassed, engine.LoginSucceeded, true},
		{engine.ActionAllow, engine.LoginFailed, engine.LoginFailed, true},
		{engine.ActionAllow, engine.StepUpFailed, 0, false},
		{engine.ActionDeny, engine.LoginSucceeded, 0, false},
		{engine.ActionDeny, engine.LoginFailed, 0, false},
	}
	for _, tt := range tests {
		got, ok := replay.AdaptOutcome(tt.decided, tt.reported)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s answered by %s: %s %v, want %s %v", tt.decided, tt.reported, got, ok, tt.want, tt.ok)
		}
	}
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestOpenReadsFilesGzipAndFolders(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"capture-20260504T090000.000000Z.jsonl":               []byte("1\n2"), // no final newline
		"capture-20260504T100000.000000Z.jsonl.gz":            gz(t, "3\n4\n"),
		"capture-20260504T110000.000000Z.jsonl.gz.inprogress": gz(t, "not yet\n"),
		"capture-20260504T120000.000000Z.jsonl.tmp":           []byte("half a rewrite\n"),
		"notes.txt": []byte("not a capture\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) string {
		r, err := replay.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(dir); got != "1\n2\n3\n4\n" {
		t.Errorf("folder: %q, want the finished captures in order, each ending in a newline", got)
	}
	if got := read(filepath.Join(dir, "capture-20260504T100000.000000Z.jsonl.gz")); got != "3\n4\n" {
		t.Errorf("gzip file: %q", got)
	}
	if got := read(filepath.Join(dir, "notes.txt")); got != "not a capture\n" {
		t.Errorf("plain file: %q", got)
	}
	if _, err := replay.Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no capture files") {
		t.Errorf("empty folder: %v", err)
	}
	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "capture-20260504T110000.000000Z.jsonl.gz.inprogress"), nil, 0o600)
	if _, err := replay.Open(busy); err == nil || !strings.Contains(err.Error(), "only capture-20260504T110000.000000Z.jsonl.gz.inprogress still being written") {
		t.Errorf("folder with only a file in progress: %v", err)
	}
	if _, err := replay.Open(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file opened")
	}
	broken := filepath.Join(dir, "broken.gz")
	os.WriteFile(broken, gz(t, strings.Repeat("x", 1000))[:30], 0o600)
	r, err := replay.Open(broken)
	if err == nil {
		_, err = io.ReadAll(r)
		r.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "broken.gz") {
		t.Errorf("truncated gzip: %v, want an error naming the file", err)
	}
}

const shadowRules = `version: shadow-test
thresholds: {step_up: 40, deny: 80}
rules:
  - id: failed
    description: A failed login.
    when: attempt.failed
    score: 30
  - id: api-watch
    description: API logins, on trial.
    when: attempt.channel == "api"
    score: 20
    mode: shadow
  - id: kiosk-deny-trial
    description: Kiosk logins refused, on trial.
    when: attempt.channel == "kiosk"
    action: deny
    mode: shadow
`

// The replay summary says what each shadow rule would have done had it
// been enforced, with the labels analysts gave later.
func TestReplaySummaryReportsShadowRules(t *testing.T) {
	set, err := rules.Compile(rules.Source{Name: "shadow.yaml", Data: []byte(shadowRules)})
	if err != nil {
		t.Fatal(err)
	}
	e := enginetest.New(t, engine.Options{Rules: set})
	in := `{"attempt_id":"a1","time":"2026-05-04T08:00:00Z","user_id":"u1","ip":"81.2.69.160","channel":"api","result":"password_bad","label":"credential_stuffing"}
{"attempt_id":"a2","time":"2026-05-04T08:01:00Z","user_id":"u2","ip":"81.2.69.161","channel":"api","result":"password_ok","label":"legit"}
{"attempt_id":"a3","time":"2026-05-04T08:02:00Z","user_id":"u3","ip":"81.2.69.162","channel":"kiosk","result":"password_ok"}
{"attempt_id":"a4","time":"2026-05-04T08:03:00Z","user_id":"u4","ip":"81.2.69.163","channel":"kiosk","result":"password_bad"}
{"outcome":{"attempt_id":"a3","outcome":"confirmed_legit"}}
{"outcome":{"attempt_id":"a4","outcome":"confirmed_fraud"}}
`
	th := func(v string) (rules.Thresholds, bool) { return set.Thresholds(), v == set.Version() }
	sum, err := replay.Run(context.Background(), e, strings.NewReader(in), io.Discard, replay.Options{Thresholds: th})
	if err != nil {
		t.Fatal(err)
	}
	want := []replay.ShadowCounts{
		// a1: 30 + 20 reaches step-up; a2: 20 does not.
		{Rule: "api-watch", Matched: 2, StepUp: 1, Attack: 1},
		{Rule: "kiosk-deny-trial", Matched: 2, Deny: 2, Legit: 1, Attack: 1},
	}
	if !reflect.DeepEqual(sum.Shadow, want) {
		t.Errorf("shadow %+v, want %+v", sum.Shadow, want)
	}
	if sum.Labels["legit"].Total != 2 || sum.Labels["fraud"].Total != 1 {
		t.Errorf("labels %v: the analysts' labels count", sum.Labels)
	}
	table := sum.Table()
	if !strings.Contains(table, "shadow kiosk-deny-trial: matched 2; would have stepped up 0 / denied 2 (of which labelled legit 1, attack 1)") {
		t.Errorf("table:\n%s", table)
	}
	// Without thresholds the matches are counted, nothing more.
	sum, err = replay.Run(context.Background(), enginetest.New(t, engine.Options{Rules: set}), strings.NewReader(in), io.Discard, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Shadow[0].Matched != 2 || sum.Shadow[0].StepUp != 0 || sum.Shadow[1].Deny != 0 {
		t.Errorf("shadow without thresholds: %+v", sum.Shadow)
	}
}

// An outcome that answers a decision this run did not make (the replayed
// rules denied what the stream's outcome says was stepped up) is skipped
// and counted, not applied to something else.
func TestOutcomesThatDoNotApplyAreSkipped(t *testing.T) {
	set, err := rules.Compile(rules.Source{Name: "deny.yaml", Data: []byte(`rules:
  - id: api-deny
    description: API logins are refused.
    when: attempt.channel == "api"
    action: deny
`)})
	if err != nil {
		t.Fatal(err)
	}
	in := `{"attempt_id":"a1","time":"2026-05-04T08:00:00Z","user_id":"u1","ip":"81.2.69.160","channel":"api","result":"unknown"}
{"outcome":{"attempt_id":"a1","outcome":"step_up_passed"}}
{"attempt_id":"a2","time":"2026-05-04T08:01:00Z","user_id":"u1","ip":"81.2.69.160","channel":"web","result":"unknown"}
{"outcome":{"attempt_id":"a2","outcome":"step_up_passed"}}
{"attempt_id":"a3","time":"2026-05-04T08:02:00Z","user_id":"u1","ip":"81.2.69.160","channel":"web","result":"unknown"}
{"outcome":{"attempt_id":"a0","outcome":"login_failed"}}
`
	var out bytes.Buffer
	sum, err := replay.Run(context.Background(), enginetest.New(t, engine.Options{Rules: set}), strings.NewReader(in), &out, replay.Options{NoSignals: true})
	if err != nil {
		t.Fatal(err)
	}
	// a1 was denied: nothing to apply. a2 was allowed before the password
	// check: its passed step-up is a completed login. a0 is not in the
	// stream (cut before it, as by tail): skipped too.
	if sum.Outcomes.Applied != 1 || sum.Outcomes.Skipped != 2 {
		t.Errorf("outcomes %+v, want 1 applied and 2 skipped", sum.Outcomes)
	}
}

// TestTruncatedGzipFileIsNamed: a capture folder holding a cut gzip file
// (a copy that stopped short, a full disk) failed, where the cut fell
// within a line, with "line 1: unexpected EOF", the JSON's error on the
// cut line, naming no file; the error is now the read's, which names the
// file, wherever the cut is.
func TestTruncatedGzipFileIsNamed(t *testing.T) {
	var lines strings.Builder
	for i := range 50 {
		fmt.Fprintf(&lines, `{"time":"2026-05-04T10:00:00Z","ip":"81.2.69.%d","user_id":"u%d","label":"legit"}`+"\n", i, i*7919)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write([]byte(lines.String())); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "capture-20260504T100000.000000Z.jsonl.gz")
	for n := 20; n < z.Len()-8; n += 13 {
		if err := os.WriteFile(cut, z.Bytes()[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := replay.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		d := replay.NewDecoder(in)
		var ev replay.Event
		for err == nil {
			err = d.Next(&ev)
		}
		in.Close()
		if err == io.EOF || !strings.Contains(err.Error(), cut) {
			t.Errorf("cut after %d of %d bytes: %v, want an error naming the file", n, z.Len(), err)
		}
	}
}

// An error on a line of a folder's files names the file and the line in
// it, not the line of the stream they make together (line 525 of the
// stream was line 1 of the second file), whether a file ends in a
// newline or not.
func TestFolderErrorsNameTheFile(t *testing.T) {
	attempt := func(i int) string {
		return fmt.Sprintf(`{"time":"2026-05-04T10:00:%02dZ","ip":"81.2.69.%d","user_id":"u%d"}`, i%60, i%250, i)
	}
	block := func(from, n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(attempt(from+i) + "\n")
		}
		return b.String()
	}
	tests := []struct {
		name  string
		files []string // in name order
		want  string   // file index and line, as "N:LINE"
	}{
		{"bad first line of the second file", []string{block(0, 40), "<html>\n" + block(40, 3)}, "1:1"},
		{"bad line in the third file", []string{block(0, 5), block(5, 7), block(12, 4) + "{\"time\": 3}\n"}, "2:5"},
		{"first file without its final newline", []string{strings.TrimSuffix(block(0, 9), "\n"), "# a comment\n\nnot json\n"}, "1:3"},
		{"bad line in the first file", []string{block(0, 2) + "[]\n" + block(2, 2), block(4, 3)}, "0:3"},
		// Refused by the engine, not the decoder.
		{"an attempt the engine refuses", []string{block(0, 6), block(6, 2) + `{"time":"2026-05-04T11:00:00Z","ip":"not-an-address","user_id":"x"}` + "\n"}, "1:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var names []string
			for i, data := range tt.files {
				name := filepath.Join(dir, fmt.Sprintf("capture-20260504T1%d0000.000000Z.jsonl", i))
				names = append(names, name)
				if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			in, err := replay.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			_, err = replay.Run(context.Background(), enginetest.New(t, engine.Options{}), in, io.Discard, replay.Options{})
			var file, line int
			fmt.Sscanf(tt.want, "%d:%d", &file, &line)
			want := fmt.Sprintf("replay: %s:%d: ", names[file], line)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %v, want one starting %q", err, want)
			}
		})
	}
}
