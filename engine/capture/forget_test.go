package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestForgetErasesACutLastLine: a crash mid-write or a full disk can leave
// a capture file whose last line is cut short, perhaps inside the user's
// key, perhaps with a compressed stream that has no end. Forget must not
// leave the user's key (or part of it) in such a line, nor the outcomes
// of the attempt it held, while everyone else's whole lines stay.
func TestForgetErasesACutLastLine(t *testing.T) {
	const (
		header = `{"capture":{"format":1,"created":"2026-05-04T09:00:00Z","key_id":"%s","retention":"168h0m0s"}}` + "\n"
		att    = `{"tenant":"default","attempt_id":"%s","time":"2026-05-04T09:00:01Z","user_id":"%s","ip":"81.2.69.160","user_agent":"Mozilla/5.0","result":"password_ok","live":{"action":"step_up","score":30,"rules_version":"v1"}}`
		out    = `{"outcome":{"tenant":"default","attempt_id":"%s","outcome":"step_up_passed","time":"2026-05-04T09:00:20Z"}}` + "\n"
	)
	newSink := func(dir string) *Sink {
		t.Helper()
		s, err := New(Options{Dir: dir, Secret: []byte(secret), Now: (&clock{t: t0}).Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	s := newSink(t.TempDir())
	alice, bob := s.UserKey("default", "alice"), s.UserKey("default", "bob")
	hers := fmt.Sprintf(att, "d-alice-1", alice)
	at := strings.Index(hers, alice)
	tests := []struct {
		name string
		// last is the first file's last line(s), after a whole line of
		// bob's; it holds alice's attempt d-alice-1.
		last string
		// cut: the compressed stream has no end either.
		cut bool
	}{
		{"cut after her key", hers[:at+len(alice)+20], true},
		{"cut inside her key", hers[:at+6], true},
		{"cut, with a newline", hers[:at+len(alice)+20] + "\n", false},
		{"bob's whole last line without its newline", hers + "\n" + fmt.Sprintf(att, "d-bob-2", bob), false},
	}
	for _, tt := range tests {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compress=%v", tt.name, compress), func(t *testing.T) {
				dir := t.TempDir()
				s := newSink(dir)
				h := fmt.Sprintf(header, s.KeyID())
				writeCapture(t, dir, "capture-20260504T090000.000000Z", compress, tt.cut,
					h+fmt.Sprintf(att, "d-bob-1", bob)+"\n"+tt.last)
				second := h + fmt.Sprintf(out, "d-alice-1") + fmt.Sprintf(out, "d-bob-1")
				if !strings.Contains(tt.last, "d-bob-2") {
					second += fmt.Sprintf(att, "d-bob-2", bob) + "\n"
				}
				writeCapture(t, dir, "capture-20260504T090001.000000Z", compress, false, second)

				n, err := s.Forget(context.Background(), "default", "alice")
				if err != nil {
					t.Fatal(err)
				}
				if n != 2 {
					t.Errorf("Forget erased %d lines, want 2: her attempt and its outcome", n)
				}
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					text := fileText(t, filepath.Join(dir, e.Name()))
					for _, her := range []string{alice[:6], "d-alice-1"} {
						if strings.Contains(text, her) {
							t.Errorf("%s still holds %q:\n%s", e.Name(), her, text)
						}
					}
				}
				// The folder reads whole (no cut line, no stream without
				// its end), and bob's lines are all there.
				var bobs, bobOutcomes int
				for _, ln := range read(t, dir) {
					switch {
					case ln.UserID == bob:
						bobs++
					case ln.Outcome != nil && ln.Outcome.AttemptID == "d-bob-1":
						bobOutcomes++
					}
				}
				if bobs != 2 || bobOutcomes != 1 {
					t.Errorf("bob's lines: %d attempts, %d outcomes; want 2 and 1", bobs, bobOutcomes)
				}
			})
		}
	}
}

// writeCapture writes a finished capture file; cut leaves its gzip stream
// without its end, as a crash does.
func writeCapture(t *testing.T, dir, name string, compress, cut bool, content string) {
	t.Helper()
	name += ".jsonl"
	data := []byte(content)
	if compress {
		name += ".gz"
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		if cut {
			zw.Flush()
		} else {
			zw.Close()
		}
		data = buf.Bytes()
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestForgetReadsAFileAsReplayDoes: replay tells a gzip file by its magic
// number, not its name, so a file copied in under the other name (a
// .jsonl holding gzip, a .jsonl.gz holding plain text) is read whole by
// replay and backtest. Forget must search it the same way: read by its
// name, the first was searched as binary (her key, compressed, never
// found, the erasure reported done) and the second taken for a damaged
// stream and deleted, everyone's lines with it. So too for the files
// replay reads: every capture-*.jsonl and capture-*.jsonl.gz of the
// folder, whether or not its name holds a time.
func TestForgetReadsAFileAsReplayDoes(t *testing.T) {
	const (
		header = `{"capture":{"format":1,"created":"2026-05-04T09:00:00Z","key_id":"%s","retention":"168h0m0s"}}` + "\n"
		att    = `{"tenant":"default","attempt_id":"%s","time":"2026-05-04T09:00:01Z","user_id":"%s","ip":"81.2.69.160","user_agent":"Mozilla/5.0","result":"password_ok","live":{"action":"step_up","score":30,"rules_version":"v1"}}` + "\n"
		out    = `{"outcome":{"tenant":"default","attempt_id":"%s","outcome":"step_up_passed","time":"2026-05-04T09:00:20Z"}}` + "\n"
	)
	tests := []struct {
		name     string // the file's name
		compress bool   // its content
	}{
		{"capture-20260504T090000.000000Z.jsonl", true},
		{"capture-20260504T090000.000000Z.jsonl.gz", false},
		// Not a name the sink gives, but one replay reads (capture-*.jsonl):
		// Forget once skipped it as "not one of ours".
		{"capture-copied-from-node-2.jsonl", false},
		{"capture-copied-from-node-2.jsonl.gz", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Now: (&clock{t: t0}).Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(context.Background()) })
			alice, bob := s.UserKey("default", "alice"), s.UserKey("default", "bob")
			content := fmt.Sprintf(header, s.KeyID()) + fmt.Sprintf(att, "d-bob-1", bob) + fmt.Sprintf(att, "d-alice-1", alice) +
				fmt.Sprintf(out, "d-alice-1") + fmt.Sprintf(out, "d-bob-1")
			data := []byte(content)
			if tt.compress {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				zw.Write(data)
				zw.Close()
				data = buf.Bytes()
			}
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}

			n, err := s.Forget(context.Background(), "default", "alice")
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("Forget erased %d lines, want 2: her attempt and its outcome", n)
			}
			text := fileText(t, path)
			for _, her := range []string{alice, "d-alice-1"} {
				if strings.Contains(text, her) {
					t.Errorf("%s still holds %q:\n%s", tt.name, her, text)
				}
			}
			// What replay reads of the folder: none of hers, all of bob's.
			var bobs, bobOutcomes int
			for _, ln := range read(t, dir) {
				switch {
				case ln.UserID == alice || ln.Outcome != nil && ln.Outcome.AttemptID == "d-alice-1":
					t.Errorf("replay still reads her line: %+v", ln)
				case ln.UserID == bob:
					bobs++
				case ln.Outcome != nil && ln.Outcome.AttemptID == "d-bob-1":
					bobOutcomes++
				}
			}
			if bobs != 1 || bobOutcomes != 1 {
				t.Errorf("bob's lines: %d attempts, %d outcomes; want 1 and 1", bobs, bobOutcomes)
			}
		})
	}
}

// fileText is what a search could find in the file at path: its bytes,
// and, for gzip, what can be read of its stream (of one cut short too).
func fileText(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
		plain, _ := io.ReadAll(zr)
		text += string(plain)
	}
	return text
}

// TestForgetLogsWhatWasDamaged: the warning for a damaged end says what
// was damaged, where (the cut line's offset and length in the content)
// and, for a compressed stream, why it could not be read, without any of
// the cut bytes: for a plain file cut short it said only "err=<nil>".
func TestForgetLogsWhatWasDamaged(t *testing.T) {
	const (
		header = `{"capture":{"format":1,"created":"2026-05-04T09:00:00Z","key_id":"%s","retention":"168h0m0s"}}` + "\n"
		att    = `{"tenant":"default","attempt_id":"%s","time":"2026-05-04T09:00:01Z","user_id":"%s","ip":"81.2.69.160","result":"password_ok","live":{"action":"allow","score":0,"rules_version":"v1"}}`
	)
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			var logged bytes.Buffer
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Now: (&clock{t: t0}).Now,
				Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(context.Background()) })
			alice, bob := s.UserKey("default", "alice"), s.UserKey("default", "bob")
			whole := fmt.Sprintf(header, s.KeyID()) + fmt.Sprintf(att, "d-bob-1", bob) + "\n"
			cut := fmt.Sprintf(att, "d-carol-1", "c0ffee")[:40] // no one's key: dropped, not counted
			writeCapture(t, dir, "capture-20260504T090000.000000Z", compress, compress, whole+cut)
			if _, err := s.Forget(context.Background(), "default", "alice"); err != nil {
				t.Fatal(err)
			}
			log := logged.String()
			want := []string{
				"dropped the damaged end",
				fmt.Sprintf("cut_line_offset=%d cut_line_bytes=%d", len(whole), len(cut)),
				fmt.Sprintf("a last line cut short (%d bytes at byte %d of ", len(cut), len(whole)),
			}
			if compress {
				want = append(want, "decompressed content", fmt.Sprintf("readable_bytes=%d", len(whole)+len(cut)), "err=\"unexpected EOF\"")
			}
			for _, w := range want {
				if !strings.Contains(log, w) {
					t.Errorf("the log lacks %q:\n%s", w, log)
				}
			}
			for _, never := range []string{"<nil>", "d-carol-1", "tenant", alice[:8]} {
				if strings.Contains(log, never) {
					t.Errorf("the log holds %q:\n%s", never, log)
				}
			}
		})
	}
}
