//go:build unix

package capture

import (
	"context"
	"fmt"
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

// waitLines waits until the writer has written n attempts.
func waitLines(t *testing.T, s *Sink, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.Stats().Attempts < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the writer wrote %d attempts, want %d", s.Stats().Attempts, n)
		}
	}
}

// inProgress is the folder's file being written.
func inProgress(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"+replay.InProgressSuffix))
	if len(files) != 1 {
		t.Fatalf("files in progress: %v, want one", files)
	}
	return files[0]
}

// users counts the attempts of a capture (a folder's finished files, or
// one file) by user.
func users(t *testing.T, s *Sink, path string, names ...string) map[string]int {
	t.Helper()
	byKey := map[string]string{}
	for _, n := range names {
		byKey[s.UserKey("default", n)] = n
	}
	out := map[string]int{}
	for _, ln := range read(t, path) {
		if ln.UserID != "" {
			out[byKey[ln.UserID]]++
		}
	}
	return out
}

// errorLines are the ERROR lines of a text log.
func errorLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The capture folder deleted, replaced, or the file in progress deleted
// or moved while serving: the writer wrote on into a file no longer in
// the folder until its rotation (an hour) or shutdown, and only then
// logged an error, the lines lost. Before a write, at most once a second,
// it checks that the path names the file open; when it does not, it logs
// one error at once, counts it, makes the folder again when it is gone,
// copies the lines written since the last check to a new file when the
// old one was deleted, and capture goes on.
func TestWriterFollowsItsFile(t *testing.T) {
	tests := []struct {
		name string
		// idle: the file was finished before (no file open): only the
		// folder can go.
		idle bool
		// do changes the folder (dir, its file in progress file, old a
		// path out of it); it returns where the file went, when it is
		// still on disk.
		do func(t *testing.T, dir, file, old string) (moved string)
		// attempts by user in the folder after Close, and in the moved
		// file.
		wantFolder, wantMoved map[string]int
		wantLog               []string
	}{
		{
			name: "folder removed",
			do: func(t *testing.T, dir, _, _ string) string {
				must(t, os.RemoveAll(dir))
				return ""
			},
			// The lines written before the last check went with the
			// folder (the operator's deletion); those since are copied.
			wantFolder: map[string]int{"since": 3, "after": 1},
			wantLog:    []string{`found="no file at its path"`, "gone: made again (0700)", "lock stays on the folder", "copied_lines=3"},
		},
		{
			name: "folder replaced by another",
			do: func(t *testing.T, dir, file, old string) string {
				must(t, os.Rename(dir, old))
				must(t, os.Mkdir(dir, 0o700))
				return filepath.Join(old, filepath.Base(file))
			},
			wantFolder: map[string]int{"after": 1},
			wantMoved:  map[string]int{"before": 3, "since": 3},
			wantLog:    []string{`found="no file at its path"`, "not the one locked at the start", "lock stays on the folder", "still on disk elsewhere"},
		},
		{
			name: "file in progress removed",
			do: func(t *testing.T, _, file, _ string) string {
				must(t, os.Remove(file))
				return ""
			},
			wantFolder: map[string]int{"since": 3, "after": 1},
			wantLog:    []string{`found="no file at its path"`, "copied_lines=3", "new_file=capture-"},
		},
		{
			name: "file renamed away",
			do: func(t *testing.T, _, file, old string) string {
				must(t, os.Mkdir(old, 0o700))
				moved := filepath.Join(old, "moved")
				must(t, os.Rename(file, moved))
				return moved
			},
			wantFolder: map[string]int{"after": 1},
			wantMoved:  map[string]int{"before": 3, "since": 3},
			wantLog:    []string{`found="no file at its path"`, "still on disk elsewhere"},
		},
		{
			name: "file replaced by another",
			do: func(t *testing.T, dir, file, _ string) string {
				other := filepath.Join(dir, "other")
				must(t, os.WriteFile(other, nil, 0o600))
				must(t, os.Rename(other, file))
				return ""
			},
			wantFolder: map[string]int{"since": 3, "after": 1},
			wantLog:    []string{`found="another file at its path"`, "copied_lines=3"},
		},
		{
			name: "folder removed while no file is open",
			idle: true,
			do: func(t *testing.T, dir, _, _ string) string {
				must(t, os.RemoveAll(dir))
				return ""
			},
			wantFolder: map[string]int{"after": 1},
			wantLog:    []string{"capture folder was removed", "gone: made again (0700)", "lock stays on the folder"},
		},
	}
	for _, tt := range tests {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compress=%v", tt.name, compress), func(t *testing.T) {
				base := t.TempDir()
				dir, old := filepath.Join(base, "capture"), filepath.Join(base, "old")
				clk := &clock{t: t0}
				var logged syncbuf.Buffer
				s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules,
					Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
				must(t, err)
				defer s.Close(context.Background())
				for i := range 3 {
					decide(s, "before", i, engine.ActionAllow)
				}
				waitLines(t, s, 3)
				// The first write of a later second checks, and finds the
				// file: what follows is written since the last check.
				clk.Set(t0.Add(2 * time.Second))
				for i := range 3 {
					decide(s, "since", i, engine.ActionAllow)
				}
				waitLines(t, s, 6)
				file := inProgress(t, dir)
				if tt.idle {
					must(t, s.Finish(context.Background()))
				}
				moved := tt.do(t, dir, file, old)

				clk.Set(t0.Add(4 * time.Second))
				decide(s, "after", 0, engine.ActionAllow)
				waitLines(t, s, 7)
				if n := s.Stats().WriteErrors; n != 1 {
					t.Errorf("%d write errors counted at the next write, want 1", n)
				}
				errs := errorLines(logged.String())
				if len(errs) != 1 {
					t.Fatalf("logged %d errors at the next write, want 1:\n%s", len(errs), logged.String())
				}
				for _, want := range append(tt.wantLog, dir) {
					if !strings.Contains(errs[0], want) {
						t.Errorf("the error lacks %q:\n%s", want, errs[0])
					}
				}
				if !tt.idle && !strings.Contains(errs[0], "file="+filepath.Base(file)) {
					t.Errorf("the error does not name %s:\n%s", filepath.Base(file), errs[0])
				}
				must(t, s.Close(context.Background()))

				if errs := errorLines(logged.String()); len(errs) != 1 {
					t.Errorf("logged %d errors once closed, want the one:\n%s", len(errs), logged.String())
				}
				if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
					t.Errorf("the folder after Close: %v, %v; want it, 0700", info, err)
				}
				names := []string{"before", "since", "after"}
				if got := users(t, s, dir, names...); fmt.Sprint(got) != fmt.Sprint(tt.wantFolder) {
					t.Errorf("the folder holds the attempts %v, want %v", got, tt.wantFolder)
				}
				if moved != "" {
					// The moved file was ended where it is: whole lines,
					// its gzip stream closed (read would fail otherwise).
					if got := users(t, s, moved, names...); fmt.Sprint(got) != fmt.Sprint(tt.wantMoved) {
						t.Errorf("the moved file holds the attempts %v, want %v", got, tt.wantMoved)
					}
				}
				for _, name := range dirFiles(t, dir) {
					if strings.HasSuffix(name, replay.InProgressSuffix) && filepath.Join(dir, name) != file {
						t.Errorf("%s left in progress", name)
					}
				}
			})
		}
	}
}

// Nothing is checked within the second: a file removed is written to
// until the first write of a later second, which copies what was written
// to it since the last check.
func TestWriterChecksAtMostOnceASecond(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			clk := &clock{t: t0}
			var logged syncbuf.Buffer
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules,
				Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			must(t, err)
			defer s.Close(context.Background())
			decide(s, "before", 0, engine.ActionAllow)
			waitLines(t, s, 1)
			must(t, os.Remove(inProgress(t, dir)))
			clk.Set(t0.Add(999 * time.Millisecond))
			for i := range 3 {
				decide(s, "within", i, engine.ActionAllow)
			}
			waitLines(t, s, 4)
			if n := s.Stats().WriteErrors; n != 0 || logged.String() != "" {
				t.Fatalf("within the second of the file's opening: %d write errors, log %q; want nothing checked", n, logged.String())
			}
			clk.Set(t0.Add(time.Second))
			decide(s, "after", 0, engine.ActionAllow)
			waitLines(t, s, 5)
			if n := s.Stats().WriteErrors; n != 1 {
				t.Errorf("%d write errors once the second passed, want 1", n)
			}
			must(t, s.Close(context.Background()))
			// The line before the removal was written after the last
			// check (the file's opening): it is copied too.
			want := map[string]int{"before": 1, "within": 3, "after": 1}
			if got := users(t, s, dir, "before", "within", "after"); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("the folder holds the attempts %v, want %v", got, want)
			}
		})
	}
}

// Rotation under load changes the file being written many times a
// second: no check takes it for a removal.
func TestRotationIsNoRemoval(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: t0}
	var logged syncbuf.Buffer
	s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: true, Rules: defaultRules, MaxFileBytes: 4 << 10,
		Buffer: 1 << 16, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	must(t, err)
	defer s.Close(context.Background())
	const workers, each = 4, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				decide(s, fmt.Sprint("u", w), i, engine.ActionAllow)
				if i%50 == 0 {
					clk.Set(clk.Now().Add(300 * time.Millisecond))
				}
			}
		}()
	}
	wg.Wait()
	must(t, s.Close(context.Background()))
	st := s.Stats()
	if st.WriteErrors != 0 || errorLines(logged.String()) != nil {
		t.Errorf("%d write errors, log:\n%s\nwant none", st.WriteErrors, logged.String())
	}
	files, _ := replay.CaptureFiles(dir)
	if len(files) < 10 {
		t.Errorf("%d files: want rotations under load", len(files))
	}
	n := 0
	for _, ln := range read(t, dir) {
		if ln.UserID != "" {
			n++
		}
	}
	if uint64(n) != workers*each-st.Dropped {
		t.Errorf("read back %d attempts of %d, %d dropped", n, workers*each, st.Dropped)
	}
}

// An erasure right after the file being written was removed, within the
// second: the writer checks before serving it, so the lines it copies to
// a new file are searched, not copied after the erasure reported done.
func TestForgetFindsTheLinesOfARemovedFile(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: t0}
	s, err := New(Options{Dir: dir, Secret: []byte(secret), Rules: defaultRules, Now: clk.Now, Logger: quiet})
	must(t, err)
	defer s.Close(context.Background())
	for i := range 3 {
		decide(s, "alice", i, engine.ActionAllow)
		decide(s, "bob", i, engine.ActionAllow)
	}
	waitLines(t, s, 6)
	must(t, os.Remove(inProgress(t, dir)))
	n, err := s.Forget(context.Background(), "default", "alice")
	if err != nil || n != 3 {
		t.Errorf("Forget: %d lines, %v; want her 3 attempts, copied from the removed file", n, err)
	}
	decide(s, "carol", 0, engine.ActionAllow)
	must(t, s.Close(context.Background()))
	want := map[string]int{"bob": 3, "carol": 1}
	if got := users(t, s, dir, "alice", "bob", "carol"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the folder holds the attempts %v, want %v", got, want)
	}
}

// Shutdown (or Finish) right after a removal, with no write between:
// finishing the removed file failed ("write failed", "could not finish a
// failed file"), its lines lost. The rotation checks first: one error,
// the lines copied and finished.
func TestCloseAfterARemoval(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			var logged syncbuf.Buffer
			s, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules,
				Now: (&clock{t: t0}).Now, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			must(t, err)
			for i := range 3 {
				decide(s, "alice", i, engine.ActionAllow)
			}
			waitLines(t, s, 3)
			must(t, os.Remove(inProgress(t, dir)))
			must(t, s.Close(context.Background()))
			if errs := errorLines(logged.String()); len(errs) != 1 || !strings.Contains(errs[0], "copied_lines=4") {
				t.Errorf("logged %d errors, want one saying the 4 lines (the rules record, 3 attempts) were copied:\n%s", len(errs), logged.String())
			}
			want := map[string]int{"alice": 3}
			if got := users(t, s, dir, "alice"); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("the folder holds the attempts %v, want %v", got, want)
			}
		})
	}
}
