//go:build unix

package capture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/internal/fifotest"
)

// Two servers given one capture folder: the second used to finish the
// first's file in progress as a crash's leftover, and the first wrote on
// into a file no longer in the folder, its lines lost without an error.
// The second is refused, naming the folder and the process writing it;
// once the first closes, the folder is free.
func TestFolderIsOneSinks(t *testing.T) {
	dir := t.TempDir()
	first, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(context.Background())
	decide(first, "alice", 0, engine.ActionAllow)
	// An erasure drains the queue: the line is in the file in progress.
	if _, err := first.Forget(context.Background(), "default", "nobody"); err != nil {
		t.Fatal(err)
	}
	before := dirFiles(t, dir)
	if len(before) != 1 || !strings.HasSuffix(before[0], replay.InProgressSuffix) {
		t.Fatalf("the first sink's folder holds %v, want its file in progress", before)
	}
	second, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err == nil {
		second.Close(context.Background())
		t.Fatal("a second sink opened the folder another writes")
	}
	for _, want := range []string{dir, fmt.Sprintf("process %d", os.Getpid()), "give each server its own"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if after := dirFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the refused sink changed the folder: %v, was %v", after, before)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	third, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatalf("the folder closed by its sink is still taken: %v", err)
	}
	third.Close(context.Background())
}

// The lock is the folder's, not its lock file's: the file removed or
// replaced while a sink writes (a "stale lock" cleared by hand) leaves the
// folder locked, and a second sink is still refused. Whatever is found
// at the lock file's name (a link to another file, a FIFO) is never
// written through nor blocked on.
func TestFolderLockOutlivesItsFile(t *testing.T) {
	dir := t.TempDir()
	first, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(context.Background())
	lock := filepath.Join(dir, lockFile)
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if second, err := New(Options{Dir: dir, Secret: []byte(secret)}); err == nil {
		second.Close(context.Background())
		t.Fatal("a second sink opened the folder once its lock file was removed")
	}
	fifotest.Make(t, lock)
	var err2 error
	fifotest.Returns(t, "a second sink with a FIFO for a lock file", func() {
		var s *Sink
		if s, err2 = New(Options{Dir: dir, Secret: []byte(secret)}); err2 == nil {
			s.Close(context.Background())
		}
	})
	if err2 == nil || !strings.Contains(err2.Error(), "is being written by another capture") {
		t.Errorf("with a FIFO for a lock file: %v", err2)
	}
}

// A link at the lock file's name is not followed: the file it names is
// not overwritten with the process id.
func TestLockFileLinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(precious, []byte("IMPORTANT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(precious, filepath.Join(dir, lockFile)); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	if b, _ := os.ReadFile(precious); string(b) != "IMPORTANT\n" {
		t.Fatalf("the file the lock file links to was written: %q", b)
	}
}
