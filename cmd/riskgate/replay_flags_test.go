package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayCapturedRulesFlags: --captured-rules with --rules is refused
// naming both, and on a stream that is not a capture it is an error, not
// a replay under the built-in rules; a capture is read whole.
func TestReplayCapturedRulesFlags(t *testing.T) {
	_, err := parse(context.Background(), []string{"replay", "--captured-rules", "--rules", "cand.yaml"})
	if err == nil || !strings.Contains(err.Error(), "--rules: not with --captured-rules") {
		t.Errorf("--captured-rules --rules: %v", err)
	}
	// A replay stream is not a capture: the replay stops before scoring.
	run, err := parse(context.Background(), []string{"replay", "--captured-rules", "-i", "testdata/unlabelled.jsonl", "-o", os.DevNull})
	if err != nil {
		t.Fatal(err)
	}
	if err := run(); err == nil || !strings.Contains(err.Error(), "--captured-rules: testdata/unlabelled.jsonl is not a capture") {
		t.Errorf("--captured-rules on a replay stream: %v", err)
	}

	const header = `{"capture":{"format":1,"created":"2026-05-04T09:00:00Z","key_id":"abc"}}` + "\n"
	const attempt = `{"attempt":{"ip":"192.0.2.1","user_id":"u1"}}` + "\n"
	for _, tc := range []struct {
		name, in string
		want     string // "": read whole
	}{
		{"capture", header + attempt, ""},
		{"capture after comments", "# made by hand\n\n" + header + attempt, ""},
		{"capture without newline", strings.TrimSuffix(header, "\n"), ""},
		{"replay stream", attempt + header, "in.jsonl is not a capture"},
		{"null capture", `{"capture":null}` + "\n", "in.jsonl is not a capture"},
		{"not json", "hello\n", "in.jsonl is not a capture"},
		{"empty", "", "in.jsonl is empty"},
		{"comments only", "# nothing\n\n", "in.jsonl is empty"},
	} {
		r, err := needCapture(strings.NewReader(tc.in), "in.jsonl")
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--captured-rules") {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got, _ := io.ReadAll(r); string(got) != tc.in {
			t.Errorf("%s: read %q, want %q", tc.name, got, tc.in)
		}
	}
}

// TestReplayCapturedRulesFromEnv: RISKGATE_RULES (a deployment's
// environment) is set aside with --captured-rules, and said to be, rather
// than refused: the analyst typed no --rules. Its file does not exist, so
// a replay that loaded it would fail. A --rules typed is still refused.
func TestReplayCapturedRulesFromEnv(t *testing.T) {
	t.Setenv("RISKGATE_RULES", filepath.Join(t.TempDir(), "no-such-rules.yaml"))
	const capture = `{"capture":{"format":1,"created":"2026-05-04T09:00:00Z","key_id":"abc"}}` + "\n" +
		`{"attempt_id":"a1","user_id":"u1","ip":"81.2.69.160","result":"password_ok","time":"2026-05-04T09:00:01Z"}` + "\n"
	in := filepath.Join(t.TempDir(), "capture.jsonl")
	if err := os.WriteFile(in, []byte(capture), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	stderr := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(stderr)
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = f
	run, err := parse(context.Background(), []string{"replay", "--captured-rules", "-i", in, "-o", out})
	if err == nil {
		err = run()
	}
	os.Stderr = saved
	f.Close()
	if err != nil {
		t.Fatalf("--captured-rules with RISKGATE_RULES: %v", err)
	}
	if said, _ := os.ReadFile(stderr); !strings.Contains(string(said), "RISKGATE_RULES set aside: --captured-rules replays under the capture's own rules") {
		t.Errorf("not said on standard error: %q", said)
	}
	if got, _ := os.ReadFile(out); strings.Count(string(got), "\n") != 1 {
		t.Errorf("decisions: %q, want one", got)
	}
	_, err = parse(context.Background(), []string{"replay", "--captured-rules", "--rules", "cand.yaml"})
	if err == nil || !strings.Contains(err.Error(), "--rules: not with --captured-rules") {
		t.Errorf("--captured-rules --rules with RISKGATE_RULES set: %v", err)
	}
}

// TestReplayGzipStdin: a gzip capture on standard input is decompressed,
// as one given with -i is, rather than refused as no capture.
func TestReplayGzipStdin(t *testing.T) {
	const capture = `{"capture":{"format":1,"created":"2026-05-04T09:00:00Z","key_id":"abc"}}` + "\n" +
		`{"attempt_id":"a1","user_id":"u1","ip":"81.2.69.160","result":"password_ok","time":"2026-05-04T09:00:01Z"}` + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(capture))
	zw.Close()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"without -i", nil},
		{"-i -", []string{"-i", "-"}},
	} {
		f, err := os.CreateTemp(t.TempDir(), "capture-*.jsonl.gz")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(gz.Bytes())
		f.Seek(0, io.SeekStart)
		stdin := os.Stdin
		os.Stdin = f
		run, err := parse(context.Background(), append([]string{"replay", "--captured-rules", "-o", os.DevNull}, tc.args...))
		if err == nil {
			err = run()
		}
		os.Stdin = stdin
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestReplaySameSeedSameOutput: the same input and --seed give the same
// bytes, as --seed's help and the README promise, whether or not an HMAC
// secret is configured. Decision ids are signed with the secret
// (engine/decisionid.go), so a random one made every id differ from run
// to run; another seed still gives other ids.
func TestReplaySameSeedSameOutput(t *testing.T) {
	const in = "../../testdata/scenarios/basic.jsonl"
	replayOut := func(t *testing.T, args ...string) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "decisions.jsonl")
		run, err := parse(context.Background(), append([]string{"replay", "-i", in, "--auto-outcomes", "-o", out}, args...))
		if err == nil {
			err = run()
		}
		if err != nil {
			t.Fatalf("replay %v: %v", args, err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for _, tc := range []struct {
		name   string
		secret string // RISKGATE_HMAC_SECRET
		args   []string
	}{
		{"default seed, no secret", "", nil},
		{"--seed 7, no secret", "", []string{"--seed", "7"}},
		{"default seed, a secret", "replay-test-secret-0123456789", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("RISKGATE_HMAC_SECRET", tc.secret)
			first, second := replayOut(t, tc.args...), replayOut(t, tc.args...)
			if first == "" || first != second {
				t.Errorf("two replays differ:\n%.300s\n%.300s", first, second)
			}
			other := replayOut(t, append(tc.args, "--seed", "1000")...)
			if other == first {
				t.Error("--seed 1000 gave the same decision ids")
			}
		})
	}
}
