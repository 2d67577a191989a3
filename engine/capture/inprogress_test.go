package capture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
)

// dirFiles lists the folder's file names, but for its lock.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != lockFile {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestForgetOfAnUnknownUserStartsNoFile: an erasure finished the file
// being written and the next event started another, with its own header
// and a copy of the rules (some 17 KB): at erasure volumes, thousands of
// files a week. An erasure of a user the capture does not hold leaves the
// file being written as it is, and written on.
func TestForgetOfAnUnknownUserStartsNoFile(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 6 {
				decide(s, "alice", i, engine.ActionAllow)
				n, err := s.Forget(context.Background(), "default", fmt.Sprint("nobody", i))
				if err != nil || n != 0 {
					t.Fatalf("Forget of a user never seen: %d, %v", n, err)
				}
			}
			names := dirFiles(t, dir)
			if len(names) != 1 || !strings.HasSuffix(names[0], replay.InProgressSuffix) {
				t.Fatalf("after 6 scores and 6 erasures of unknown users, the folder holds %v; want the one file being written", names)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			var attempts, rules, headers int
			for _, ln := range read(t, dir) {
				switch {
				case ln.Capture != nil:
					headers++
				case ln.Rules != nil:
					rules++
				case ln.UserID != "":
					attempts++
				}
			}
			if attempts != 6 || rules != 1 || headers != 1 {
				t.Errorf("read back %d attempts, %d rules records, %d headers; want 6, 1, 1", attempts, rules, headers)
			}
		})
	}
}

// TestForgetErasesInTheFileBeingWritten: the user's lines in the file
// being written are erased: the writer finishes it, and Forget rewrites
// it as a finished file (the next event opens another); an outcome there
// naming an attempt of theirs in a finished file goes with it; everyone
// else's lines stay.
func TestForgetErasesInTheFileBeingWritten(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules})
			if err != nil {
				t.Fatal(err)
			}
			first := decide(s, "alice", 0, engine.ActionStepUp)
			decide(s, "bob", 0, engine.ActionStepUp)
			finishFile(t, s) // her first attempt and its outcome are in a finished file
			// An analyst's label on it, in the file being written.
			s.Reported(&engine.Outcome{DecisionID: first, Outcome: engine.ConfirmedFraud}, nil)
			for i := 1; i <= 3; i++ {
				decide(s, "alice", i, engine.ActionStepUp)
				decide(s, "bob", i, engine.ActionStepUp)
			}
			if _, err := s.ask(context.Background(), control{op: opFlush}); err != nil {
				t.Fatal(err)
			}
			before := dirFiles(t, dir)

			n, err := s.Forget(context.Background(), "default", "alice")
			if err != nil {
				t.Fatal(err)
			}
			if n != 9 { // 4 attempts, their 4 outcomes, the label
				t.Errorf("Forget erased %d lines, want 9", n)
			}
			after := dirFiles(t, dir)
			if len(before) != 2 || len(after) != 2 || after[0] != before[0] || after[1]+replay.InProgressSuffix != before[1] {
				t.Errorf("files before Forget %v, after %v: want the same two, both finished", before, after)
			}
			for _, name := range after {
				text := fileText(t, filepath.Join(dir, name))
				for _, her := range []string{s.UserKey("default", "alice"), "d-alice"} {
					if strings.Contains(text, her) {
						t.Errorf("%s still holds %q", name, her)
					}
				}
			}
			if st := s.Stats(); st.Removed != 9 || st.Files != 2 {
				t.Errorf("stats %+v: want 9 lines removed, 2 files", st)
			}

			// The writer writes on, in a new file.
			decide(s, "bob", 4, engine.ActionStepUp)
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			var bobs, bobOutcomes, headers, rules int
			for _, ln := range read(t, dir) {
				switch {
				case ln.Capture != nil:
					headers++
				case ln.Rules != nil:
					rules++
				case ln.UserID == s.UserKey("default", "bob"):
					bobs++
				case ln.Outcome != nil && strings.HasPrefix(ln.Outcome.AttemptID, "d-bob"):
					bobOutcomes++
				default:
					t.Errorf("a line that is not bob's: %+v", ln)
				}
			}
			if bobs != 5 || bobOutcomes != 5 || headers != 3 || rules != 3 {
				t.Errorf("read back bob's %d attempts, %d outcomes, %d headers, %d rules records; want 5, 5, 3, 3", bobs, bobOutcomes, headers, rules)
			}
		})
	}
}

// TestForgetWhileScoring: erasures while another user's attempts are
// captured, the files rotating meanwhile: each erasure finds the user's
// line wherever it is by then, and no other line is lost.
func TestForgetWhileScoring(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: true, MaxFileBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	const bobs = 400
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range bobs {
			decide(s, "bob", i, engine.ActionAllow)
		}
	}()
	for i := range 20 {
		decide(s, "alice", i, engine.ActionAllow)
		if n, err := s.Forget(context.Background(), "default", "alice"); err != nil || n != 1 {
			t.Errorf("Forget %d: erased %d lines, %v; want her one attempt", i, n, err)
		}
		if i == 10 {
			finishFile(t, s)
		}
	}
	wg.Wait()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, ln := range read(t, dir) {
		switch ln.UserID {
		case s.UserKey("default", "alice"):
			t.Errorf("her line survived: %+v", ln)
		case s.UserKey("default", "bob"):
			got++
		}
	}
	if st := s.Stats(); got != bobs || st.Dropped != 0 {
		t.Errorf("bob's lines: %d, want %d (%d dropped)", got, bobs, st.Dropped)
	}
}

// TestStatsCountTheFileBeingWritten: riskgate_capture_files and
// riskgate_capture_bytes read 0 while a file of hundreds of kilobytes was
// being written. They count it, as of the writer's last flush.
func TestStatsCountTheFileBeingWritten(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 50 {
				decide(s, "alice", i, engine.ActionStepUp)
			}
			cur, err := s.ask(context.Background(), control{op: opFlush})
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(cur.path)
			if err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Files != 1 || st.Bytes != info.Size() || st.Bytes == 0 {
				t.Errorf("stats %+v while %s is being written (%d bytes): want 1 file of its size", st, filepath.Base(cur.path), info.Size())
			}
			want := fmt.Sprintf("# HELP riskgate_capture_files %s\n# TYPE riskgate_capture_files gauge\nriskgate_capture_files 1\n", helpOf(t, "riskgate_capture_files"))
			if err := testutil.CollectAndCompare(s, strings.NewReader(want), "riskgate_capture_files"); err != nil {
				t.Error(err)
			}

			finishFile(t, s)
			files, _ := s.finished()
			if st := s.Stats(); len(files) != 1 || st.Files != 1 || st.Bytes != files[0].size {
				t.Errorf("stats %+v once finished, want 1 file of %d bytes", st, files[0].size)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// helpOf is a metric's help text, as the sink describes it.
func helpOf(t *testing.T, name string) string {
	t.Helper()
	for _, d := range []string{descFiles.String(), descBytes.String()} {
		if strings.Contains(d, `fqName: "`+name+`"`) {
			_, rest, _ := strings.Cut(d, `help: "`)
			help, _, _ := strings.Cut(rest, `"`)
			return help
		}
	}
	t.Fatalf("no metric %s", name)
	return ""
}

// TestACrashMidRewriteLosesNothing: a crash while the file being written
// was finished by a copy (after a failed write, or by Forget once the
// writer finished it) leaves it as it was, beside the temporary file; the
// next start finishes the file whole and deletes the temporary one.
func TestACrashMidRewriteLosesNothing(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		decide(s, "alice", i, engine.ActionAllow)
		decide(s, "bob", i, engine.ActionAllow)
	}
	cur, err := s.ask(context.Background(), control{op: opFlush})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cur.path)
	if err != nil {
		t.Fatal(err)
	}
	// The state a crash mid-rewrite leaves: the file, its half-written
	// replacement.
	dead := t.TempDir()
	if err := os.WriteFile(filepath.Join(dead, filepath.Base(cur.path)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	final := strings.TrimSuffix(filepath.Base(cur.path), replay.InProgressSuffix)
	if err := os.WriteFile(filepath.Join(dead, final+".tmp"), data[:len(data)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	again, err := New(Options{Dir: dead, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(context.Background())
	if names := dirFiles(t, dead); len(names) != 1 || strings.HasSuffix(names[0], ".tmp") || strings.HasSuffix(names[0], replay.InProgressSuffix) {
		t.Errorf("after recovery: %v, want one finished file", names)
	}
	attempts := 0
	for _, ln := range read(t, dead) {
		if ln.UserID != "" {
			attempts++
		}
	}
	if attempts != 6 {
		t.Errorf("%d attempts recovered, want 6", attempts)
	}
}

// TestForgetDoesNotPauseTheWriterForTheCopy: erasing a user who has lines
// in the file being written had the writer copy the whole file (up to
// --capture-max-file-bytes: 5 s for a 37 MB gzip file), events queuing
// meanwhile; at 5,000 Scores a second the queue filled and events were
// dropped. The copy is made outside the writer: while it runs, the writer
// answers and writes every event, however small its queue.
func TestForgetDoesNotPauseTheWriterForTheCopy(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			const buffer = 32
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Buffer: buffer, Rules: defaultRules})
			if err != nil {
				t.Fatal(err)
			}
			decide(s, "alice", 0, engine.ActionAllow)
			const bobs = 3000
			for i := range bobs {
				decide(s, "bob", i, engine.ActionAllow)
				if i%(buffer/2) == 0 {
					if _, err := s.ask(context.Background(), control{op: opFlush}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if s.Stats().Dropped != 0 {
				t.Fatalf("dropped %d events before the erasure", s.Stats().Dropped)
			}
			// While the file holding alice is copied without her, carol
			// scores 8 queues' worth, the writer asked to write them out
			// every half queue (a writer paused for the copy cannot).
			var copies, carols int
			var askErr error
			s.hooks.Store(&hooks{rewrite: func(path string) error {
				copies++
				if copies > 1 {
					return nil
				}
				for carols < 8*buffer {
					decide(s, "carol", carols, engine.ActionAllow)
					carols++
					if carols%(buffer/2) == 0 {
						// A deadlock guard, not a timing: a writer that is
						// not copying answers at once.
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, err := s.ask(ctx, control{op: opFlush})
						cancel()
						if err != nil {
							askErr = err
							break
						}
					}
				}
				for carols < 8*buffer { // the rest, as scoring would go on
					decide(s, "carol", carols, engine.ActionAllow)
					carols++
				}
				return nil
			}})
			n, err := s.Forget(context.Background(), "default", "alice")
			if err != nil || n != 1 {
				t.Fatalf("Forget: %d lines, %v; want her one attempt", n, err)
			}
			s.hooks.Store(nil)
			if copies == 0 {
				t.Fatal("the file holding her was not copied")
			}
			if askErr != nil {
				t.Errorf("the writer did not answer while her file was copied: %v", askErr)
			}
			if d := s.Stats().Dropped; d != 0 {
				t.Errorf("%d events dropped while her file was copied, with a queue of %d", d, buffer)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, ln := range read(t, dir) {
				for _, u := range []string{"alice", "bob", "carol"} {
					if ln.UserID == s.UserKey("default", u) {
						counts[u]++
					}
				}
			}
			if counts["alice"] != 0 || counts["bob"] != bobs || counts["carol"] != 8*buffer {
				t.Errorf("read back %v; want no alice, %d bob, %d carol", counts, bobs, 8*buffer)
			}
		})
	}
}
