package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// clock is a settable wall clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// decide feeds the sink a decision on user's attempt n, and the outcome
// of a step-up.
func decide(s *Sink, user string, n int, action engine.Action) string {
	a := engine.Attempt{UserID: user, Username: user + "@example.com", IP: "81.2.69.160", DeviceID: "dev-" + user,
		PasswordSHA1: strings.Repeat("ab", 20), Result: engine.ResultPasswordOK}
	id := fmt.Sprintf("d-%s-%03d", user, n)
	d := engine.Decision{DecisionID: id, Tenant: "default", Time: t0.Add(time.Duration(n) * time.Minute), Action: action, RulesVersion: "v1"}
	d.Signals.Attempt.Username = a.Username
	d.Signals.Password.Status = "clean"
	s.Decided(&a, &d, 0)
	if action == engine.ActionStepUp {
		s.Reported(&engine.Outcome{Tenant: "default", DecisionID: id, Outcome: engine.StepUpPassed}, nil)
	}
	return id
}

// read returns the capture's lines, all files, in order.
func read(t *testing.T, dir string) []replay.Line {
	t.Helper()
	in, err := replay.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dec := replay.NewDecoder(in)
	var out []replay.Line
	var ev replay.Event
	for {
		err := dec.Next(&ev)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Line)
	}
}

func TestFilesRotateBySizeAndAgeAndExpire(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			clk := &clock{t: t0}
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, MaxFileBytes: 2000,
				MaxFileAge: time.Hour, Retention: 3 * time.Hour, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				decide(s, "alice", i, engine.ActionAllow)
			}
			finishFile(t, s) // everything queued is in finished files
			before, err := s.finished()
			if err != nil {
				t.Fatal(err)
			}
			if len(before) < 3 {
				es, _ := os.ReadDir(dir)
				for _, e := range es {
					t.Log(e.Name())
				}
				t.Fatalf("%d files for 20 lines of ~400 bytes at 2000 bytes a file", len(before))
			}
			for _, f := range before {
				if got := strings.HasSuffix(f.path, ".gz"); got != compress {
					t.Errorf("%s: compressed %v, want %v", f.path, got, compress)
				}
			}
			if n := len(read(t, dir)); n != 20+len(before)*2 { // header and rules record per file
				t.Errorf("%d lines read back, want 20 attempts and %d headers and rules records", n, len(before)*2)
			}

			// Two hours on, a new file; nothing has expired yet.
			clk.Set(t0.Add(2 * time.Hour))
			decide(s, "bob", 0, engine.ActionAllow)
			finishFile(t, s)
			s.applyRetention()
			mid, _ := s.finished()
			if len(mid) != len(before)+1 {
				t.Fatalf("%d files after two hours, want %d", len(mid), len(before)+1)
			}
			// Past the retention of the first files, only the new one stays.
			clk.Set(t0.Add(3*time.Hour + time.Second))
			s.applyRetention()
			after, _ := s.finished()
			if len(after) != 1 || after[0].path != mid[len(mid)-1].path {
				t.Fatalf("after retention: %v, want only the newest file", after)
			}
			if st := s.Stats(); st.Files != 1 || st.Bytes != after[0].size {
				t.Errorf("stats %+v, want one file of %d bytes", st, after[0].size)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// finishFile finishes the file being written.
func finishFile(t *testing.T, s *Sink) {
	t.Helper()
	if err := s.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestTotalSizeLimitDeletesTheOldest: past MaxTotalBytes the oldest
// files go, and the log says so, with when the capture now starts.
func TestTotalSizeLimitDeletesTheOldest(t *testing.T) {
	dir := t.TempDir()
	var logs syncbuf.Buffer
	s, err := New(Options{Dir: dir, Secret: []byte(secret), MaxFileBytes: 1500, MaxTotalBytes: 5000,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		decide(s, "alice", i, engine.ActionAllow)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.applyRetention()
	files, _ := s.finished()
	var total int64
	for _, f := range files {
		total += f.size
	}
	if total > 5000 || len(files) == 0 {
		t.Fatalf("%d files, %d bytes: want at most 5000 bytes", len(files), total)
	}
	lines := read(t, dir)
	if last := lines[len(lines)-1]; last.AttemptID != "d-alice-039" {
		t.Errorf("the newest line is %q: the oldest files should go first", last.AttemptID)
	}
	if l := logs.String(); !strings.Contains(l, `msg="capture: oldest files deleted over the size limit" files=`) ||
		!strings.Contains(l, "limit=5000 oldest_kept=") {
		t.Errorf("no log line says the oldest files were deleted:\n%s", l)
	}
}

func TestForgetErasesTheUsersLines(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, MaxFileBytes: 3000})
			if err != nil {
				t.Fatal(err)
			}
			var aliceIDs []string
			for i := range 12 {
				aliceIDs = append(aliceIDs, decide(s, "alice", i, engine.ActionStepUp))
				decide(s, "bob", i, engine.ActionStepUp)
			}
			// An analyst's label on one of alice's attempts, and an outcome
			// reported with her attempt itself.
			s.Reported(&engine.Outcome{DecisionID: aliceIDs[3], Outcome: engine.ConfirmedFraud}, nil)
			s.Reported(&engine.Outcome{Attempt: &engine.Attempt{UserID: "alice", IP: "81.2.69.160"}, Outcome: engine.LoginFailed}, nil)
			alice, bob := s.UserKey("", "alice"), s.UserKey("default", "bob")

			n, err := s.Forget(context.Background(), "default", "alice")
			if err != nil {
				t.Fatal(err)
			}
			// 12 attempts, their 12 step-up outcomes, the label, the outcome with an attempt.
			if n != 26 {
				t.Errorf("Forget erased %d lines, want 26", n)
			}
			// No file holds her, the one being written included (the
			// label and the outcome with her attempt are in it).
			entries, _ := os.ReadDir(dir)
			inProgress := 0
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), replay.InProgressSuffix) {
					inProgress++
				}
				text := fileText(t, filepath.Join(dir, e.Name()))
				for _, her := range []string{alice, "d-alice"} {
					if strings.Contains(text, her) {
						t.Errorf("%s still holds %q", e.Name(), her)
					}
				}
			}
			if inProgress != 0 {
				t.Errorf("%d files in progress after Forget, want none: the one being written held her, and was finished to be rewritten", inProgress)
			}
			finishFile(t, s)
			lines := read(t, dir)
			var bobs, bobOutcomes int
			for _, ln := range lines {
				switch {
				case ln.Outcome != nil && ln.Outcome.Attempt != nil && ln.Outcome.Attempt.UserID == alice,
					ln.UserID == alice:
					t.Fatalf("alice's line survived: %+v", ln)
				case ln.Outcome != nil && strings.HasPrefix(ln.Outcome.AttemptID, "d-alice"):
					t.Fatalf("an outcome of alice's attempt survived: %+v", ln.Outcome)
				case ln.UserID == bob:
					bobs++
				case ln.Outcome != nil && strings.HasPrefix(ln.Outcome.AttemptID, "d-bob"):
					bobOutcomes++
				}
			}
			if bobs != 12 || bobOutcomes != 12 {
				t.Errorf("bob's lines: %d attempts, %d outcomes; want 12 and 12", bobs, bobOutcomes)
			}
			if st := s.Stats(); st.Removed != 26 {
				t.Errorf("stats: %d removed", st.Removed)
			}
			// Nothing left to erase; later lines of alice's are kept (new data).
			if n, err := s.Forget(context.Background(), "default", "alice"); err != nil || n != 0 {
				t.Errorf("second Forget: %d, %v", n, err)
			}
			decide(s, "alice", 99, engine.ActionAllow)
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := read(t, dir); got[len(got)-1].UserID != alice {
				t.Error("an attempt after Forget was not captured")
			}
			if _, err := s.Forget(context.Background(), "default", ""); err == nil {
				t.Error("Forget without a user id succeeded")
			}
		})
	}
}

// The sink never waits: with the writer stalled and the queue full, events
// are dropped and counted, and the capture says where.
func TestAFullQueueDropsAndMarksTheGap(t *testing.T) {
	dir := t.TempDir()
	hold := make(chan struct{})
	s, err := newSink(Options{Dir: dir, Secret: []byte(secret), Buffer: 4}, hold)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		decide(s, "alice", i, engine.ActionAllow)
	}
	close(hold)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Attempts != 4 || st.Dropped != 96 {
		t.Fatalf("stats %+v, want 4 written and 96 dropped", st)
	}
	in, err := replay.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dec := replay.NewDecoder(in)
	var ev replay.Event
	for dec.Next(&ev) == nil {
	}
	if dec.Stats.Dropped != 96 || dec.Stats.Attempts != 4 {
		t.Errorf("a reader sees %+v, want the gap of 96", dec.Stats)
	}
}

// A crash leaves a file in progress, perhaps with half a line or a gzip
// stream without its end: New finishes it with its whole lines.
func TestRecoveryKeepsWholeLines(t *testing.T) {
	header := `{"capture":{"format":1,"created":"2026-05-04T09:00:00Z","key_id":"k"}}` + "\n"
	line := `{"attempt_id":"a1","time":"2026-05-04T09:00:00Z","ip":"81.2.69.160","live":{"action":"allow","score":0}}` + "\n"
	half := `{"attempt_id":"a2","ip":"81.2.`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(header + line + half))
	zw.Flush() // no Close: the stream has no end
	tests := []struct {
		name    string
		content []byte
		lines   int
	}{
		{"capture-20260504T090000.000000Z.jsonl", []byte(header + line + half), 2},
		{"capture-20260504T090001.000000Z.jsonl.gz", gz.Bytes(), 2},
		{"capture-20260504T090002.000000Z.jsonl.gz", []byte{0x1f}, 0},
		// Whole but for its newline: kept, as a replay reads it.
		{"capture-20260504T090004.000000Z.jsonl", []byte(header + strings.TrimSuffix(line, "\n")), 2},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		writeFile(t, dir, tt.name+replay.InProgressSuffix, string(tt.content))
	}
	writeFile(t, dir, "capture-20260504T090003.000000Z.jsonl.tmp", "half a rewrite")
	clk := &clock{t: t0}
	s, err := New(Options{Dir: dir, Secret: []byte(secret), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name)
		n := 0
		if _, err := os.Stat(p); err == nil {
			if err := eachLine(p, func([]byte) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if n != tt.lines {
			t.Errorf("%s: %d lines recovered, want %d", tt.name, n, tt.lines)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"+replay.InProgressSuffix))
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if len(left)+len(tmps) != 0 {
		t.Errorf("left over: %v %v", left, tmps)
	}
	if lines := read(t, dir); len(lines) != 6 {
		t.Errorf("a reader gets %d lines from the recovered files, want 6", len(lines))
	}
}

// TestForgetSaysWhatItCannotSearch: after the secret changed, the folder's
// earlier files are keyed under another key; the user's lines in them
// cannot be found, so Forget says its erasure is incomplete (naming the
// key ids and what to do) instead of reporting success, and still erases
// what it can find in the files of its own key.
func TestForgetSaysWhatItCannotSearch(t *testing.T) {
	dir := t.TempDir()
	old, err := New(Options{Dir: dir, Secret: []byte("an-earlier-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	decide(old, "alice", 1, engine.ActionAllow)
	if err := old.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	decide(s, "alice", 2, engine.ActionAllow)
	n, err := s.Forget(context.Background(), "default", "alice")
	if !errors.Is(err, ErrOtherSecret) || !strings.Contains(err.Error(), "1 file(s) of "+dir+" are keyed under key id "+old.KeyID()+", not this secret's "+s.KeyID()) {
		t.Errorf("Forget over a file of another secret: %v", err)
	}
	if n != 1 {
		t.Errorf("Forget erased %d lines of its own files, want 1", n)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Her line under this secret is gone; the earlier file is as it was.
	files, err := s.finished()
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := 0, 0
	for _, f := range files {
		if err := eachLine(f.path, func(line []byte) error {
			mine += bytes.Count(line, []byte(s.UserKey("default", "alice")))
			theirs += bytes.Count(line, []byte(old.UserKey("default", "alice")))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if mine != 0 || theirs != 1 {
		t.Errorf("alice's lines: %d under this secret (want 0), %d under the earlier one (want 1, untouched)", mine, theirs)
	}
}

// TestRetentionCoversFilesCopiedIn: retention holds every file replay
// reads, and Forget searches, to the same rule: a file copied in under a
// name that is not a time (capture-node2.jsonl) was never deleted, nor
// counted in the files and bytes of Stats (riskgate_capture_files). Such
// a file is as old as its header says it was created, never later than
// its modification; without a header, as old as its modification.
func TestRetentionCoversFilesCopiedIn(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, Secret: []byte(secret), Retention: 3 * time.Hour, Now: (&clock{t: t0}).Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	header := func(created time.Time) string {
		return fmt.Sprintf(`{"capture":{"format":1,"created":%q,"key_id":"%s","retention":"3h0m0s"}}`+"\n", created.Format(time.RFC3339Nano), s.KeyID())
	}
	attempt := `{"tenant":"default","attempt_id":"a-1","time":"2026-05-04T04:00:01Z","ip":"81.2.69.160","result":"password_ok"}` + "\n"
	old, recent := t0.Add(-5*time.Hour), t0.Add(-time.Hour)
	files := []struct {
		name     string // without .jsonl
		compress bool
		content  string
		modified time.Time
		kept     bool
	}{
		// The sink's own names: their time.
		{"capture-20260504T040000.000000Z", false, header(old) + attempt, recent, false},
		{"capture-20260504T080000.000000Z", true, header(recent) + attempt, recent, true},
		// Copied in (just now, as cp does): the header's time.
		{"capture-node2", false, header(old) + attempt, t0, false},
		{"capture-node2-recent", true, header(recent) + attempt, t0, true},
		{"capture-20260504", false, header(old) + attempt, t0, false},
		// A header later than the file's modification: the modification.
		{"capture-future-header", false, header(t0.Add(10*time.Hour)) + attempt, old, false},
		// No header: the modification.
		{"capture-noheader-old", false, attempt, old, false},
		{"capture-noheader-recent", true, attempt, recent, true},
		{"capture-empty", false, "", recent, true},
	}
	for _, f := range files {
		writeCapture(t, dir, f.name, f.compress, false, f.content)
		path := filepath.Join(dir, f.name+".jsonl")
		if f.compress {
			path += ".gz"
		}
		if err := os.Chtimes(path, f.modified, f.modified); err != nil {
			t.Fatal(err)
		}
	}
	s.applyRetention()
	var keptBytes int64
	for _, f := range files {
		path := filepath.Join(dir, f.name+".jsonl")
		if f.compress {
			path += ".gz"
		}
		info, err := os.Stat(path)
		if kept := err == nil; kept != f.kept {
			t.Errorf("%s: kept %v, want %v", f.name, kept, f.kept)
		}
		if err == nil {
			keptBytes += info.Size()
		}
	}
	// Every file replay reads is counted, and only those.
	read, err := replay.CaptureFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Files != int64(len(read)) || st.Files != 4 || st.Bytes != keptBytes {
		t.Errorf("stats: %d files, %d bytes; want %d files (replay reads %d), %d bytes", st.Files, st.Bytes, 4, len(read), keptBytes)
	}
}
