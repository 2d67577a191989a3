package capture

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
)

// TestForgetErasesInAFileAFullDiskLeftInProgress: a write error (a full
// disk) abandons the file being written, and finishing it (a copy) fails
// too: the *.inprogress file stayed, with users' lines, unseen until a
// restart. Forget searched the finished files and the file being written
// (by then another), and reported success with the user's lines on disk;
// retention and riskgate_capture_files skipped it. Forget fails while
// the file cannot be rewritten, then erases there and finishes it; the
// stats count it meanwhile.
func TestForgetErasesInAFileAFullDiskLeftInProgress(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			for i := range 5 {
				decide(s, "alice", i, engine.ActionAllow)
				decide(s, "bob", i, engine.ActionAllow)
			}
			if _, err := s.ask(context.Background(), control{op: opFlush}); err != nil {
				t.Fatal(err)
			}
			full := func() error { return syscall.ENOSPC }
			s.hooks.Store(&hooks{write: full, rewrite: func(string) error { return full() }})
			decide(s, "bob", 5, engine.ActionAllow)
			if _, err := s.ask(context.Background(), control{op: opFlush}); err != nil {
				t.Fatal(err)
			}
			names := dirFiles(t, dir)
			if s.Stats().WriteErrors == 0 || len(names) != 1 || !strings.HasSuffix(names[0], replay.InProgressSuffix) {
				t.Fatalf("write errors %d, folder %v: want the failed file left in progress", s.Stats().WriteErrors, names)
			}
			left := filepath.Join(dir, names[0])
			info, err := os.Stat(left)
			if err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Files != 1 || st.Bytes != info.Size() {
				t.Errorf("stats %+v: want the file left in progress counted, 1 file of %d bytes", st, info.Size())
			}
			s.applyRetention()
			if st := s.Stats(); st.Files != 1 || st.Bytes != info.Size() {
				t.Errorf("stats %+v after a retention pass: want the file left in progress counted, 1 file of %d bytes", st, info.Size())
			}

			// The disk still full: the erasure cannot be done, and says so.
			n, err := s.Forget(context.Background(), "default", "alice")
			if err == nil || !strings.Contains(err.Error(), names[0]) {
				t.Errorf("Forget with her lines in %s, which cannot be rewritten: %d lines, err %v; want an error naming it", names[0], n, err)
			}

			// Room again: her lines are erased there.
			s.hooks.Store(nil)
			n, err = s.Forget(context.Background(), "default", "alice")
			if err != nil || n != 5 {
				t.Errorf("Forget: %d lines, %v; want her 5 attempts", n, err)
			}
			for _, name := range dirFiles(t, dir) {
				if strings.Contains(fileText(t, filepath.Join(dir, name)), s.UserKey("default", "alice")) {
					t.Errorf("%s still holds her lines", name)
				}
				if strings.HasSuffix(name, replay.InProgressSuffix) {
					t.Errorf("%s still in progress: Forget finishes it", name)
				}
			}
			bobs := 0
			for _, ln := range read(t, dir) {
				if ln.UserID == s.UserKey("default", "bob") {
					bobs++
				}
			}
			if bobs != 5 {
				t.Errorf("read back %d of bob's attempts, want the 5 written before the disk filled", bobs)
			}
			files, _ := s.finished()
			if st := s.Stats(); len(files) != 1 || st.Files != 1 || st.Bytes != files[0].size {
				t.Errorf("stats %+v, files %+v: want the one finished file", st, files)
			}
		})
	}
}

// TestForgetRefusesAFileBeingWrittenDamagedMidway: a gzip file being
// written whose stream is corrupt before its (unfinished) end was taken
// for clean, and rewritten without everyone's lines after the damage.
// Forget fails, and leaves it as it is.
func TestForgetRefusesAFileBeingWrittenDamagedMidway(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: true, Rules: defaultRules, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	decide(s, "alice", 0, engine.ActionAllow)
	first, err := s.ask(context.Background(), control{op: opFlush})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		decide(s, "bob", i, engine.ActionAllow)
	}
	if _, err := s.ask(context.Background(), control{op: opFlush}); err != nil {
		t.Fatal(err)
	}
	// A flush ends on a byte boundary, where the next deflate block
	// begins: 0b110 is a block of the reserved type 3.
	f, err := os.OpenFile(first.path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0x06}, first.size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before, _ := os.ReadFile(first.path)
	n, err := s.Forget(context.Background(), "default", "alice")
	if err == nil || !strings.Contains(err.Error(), filepath.Base(first.path)) {
		t.Errorf("Forget in a damaged file being written: %d lines, err %v; want an error naming it", n, err)
	}
	// Left as it is (the writer's flush may have appended an empty
	// block).
	after, _ := os.ReadFile(first.path)
	if len(after) < len(before) || string(after[:len(before)]) != string(before) {
		t.Errorf("the damaged file was rewritten (%d bytes, was %d)", len(after), len(before))
	}
}

// TestForgetRetriedAfterAFailureErasesTheOutcomesLeft: her attempt in a
// finished file, the outcome of it (naming the attempt by its id only) in
// a later one. An erasure rewrote the earlier file, then failed at the
// later one (a file a full disk left in progress, the disk still full;
// its context ended): the retry, finding no attempt of hers any more,
// could not link the outcome to her, and reported success with it on
// disk. Forget rewrites the files newest first, so that a failure leaves
// the attempts for the retry.
func TestForgetRetriedAfterAFailureErasesTheOutcomesLeft(t *testing.T) {
	for _, fault := range []string{"disk-full", "context-ended"} {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprint(fault, ",compress=", compress), func(t *testing.T) {
				dir := t.TempDir()
				s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close(context.Background())
				id := decide(s, "alice", 0, engine.ActionAllow)
				decide(s, "bob", 0, engine.ActionAllow)
				finishFile(t, s)
				s.Reported(&engine.Outcome{Tenant: "default", DecisionID: id, Outcome: engine.ConfirmedFraud}, nil)
				decide(s, "bob", 1, engine.ActionAllow)
				if _, err := s.ask(context.Background(), control{op: opFlush}); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				switch fault {
				case "disk-full": // the outcome's file is left in progress, and stays
					full := func() error { return syscall.ENOSPC }
					s.hooks.Store(&hooks{write: full, rewrite: func(string) error { return full() }})
					decide(s, "bob", 2, engine.ActionAllow)
					if _, err := s.ask(context.Background(), control{op: opFlush}); err != nil {
						t.Fatal(err)
					}
					s.hooks.Store(&hooks{rewrite: func(path string) error {
						if strings.HasSuffix(path, replay.InProgressSuffix) {
							return syscall.ENOSPC
						}
						return nil
					}})
				case "context-ended": // as the first file it rewrites is copied
					finishFile(t, s)
					s.hooks.Store(&hooks{rewrite: func(string) error { cancel(); return nil }})
				}
				if names := dirFiles(t, dir); len(names) != 2 {
					t.Fatalf("folder %v: want her attempt's file and her outcome's", names)
				}
				if n, err := s.Forget(ctx, "default", "alice"); err == nil {
					t.Fatalf("Forget: %d lines, no error; want it to fail", n)
				}
				s.hooks.Store(nil)
				n, err := s.Forget(context.Background(), "default", "alice")
				if err != nil {
					t.Fatalf("retried Forget: %v", err)
				}
				if n == 0 {
					t.Errorf("retried Forget erased nothing; want what the first left")
				}
				for _, name := range dirFiles(t, dir) {
					txt := fileText(t, filepath.Join(dir, name))
					if strings.Contains(txt, s.UserKey("default", "alice")) || strings.Contains(txt, `"attempt_id":"`+id+`"`) {
						t.Errorf("erasure reported done, yet %s holds her attempt %s or its outcome:\n%s", name, id, txt)
					}
				}
				bobs := 0
				for _, ln := range read(t, dir) {
					if ln.UserID == s.UserKey("default", "bob") {
						bobs++
					}
				}
				if bobs != 2 {
					t.Errorf("read back %d of bob's attempts, want 2", bobs)
				}
			})
		}
	}
}

// quiet is a logger for tests whose errors are expected.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
