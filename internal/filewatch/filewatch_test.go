package filewatch

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) changed(p string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, p)
	return nil
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.calls) }

func waitFor(t *testing.T, what string, n func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n() < want {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%d of %d)", what, n(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes data to a temporary file and renames it over path, as
// geoipupdate does.
func replace(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	write(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// modes are the two ways a watcher learns of changes: notifications, and
// polling alone.
var modes = []struct {
	name string
	opts Options
}{
	{"notify", Options{Poll: -1, Debounce: 20 * time.Millisecond}},
	{"poll", Options{Poll: 20 * time.Millisecond, DisableNotify: true}},
}

func TestWatch(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.mmdb"), filepath.Join(dir, "b.txt")
			write(t, a, "one")
			write(t, b, "one")
			var rec recorder
			mode.opts.Logger = slog.New(slog.DiscardHandler)
			w, err := New([]string{a, b}, rec.changed, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()

			replace(t, a, "two")
			waitFor(t, "the rename", rec.count, 1)
			// An unrelated file in the same directory is no change.
			write(t, filepath.Join(dir, "other"), "x")
			// Rewritten in place, with a different size.
			write(t, b, "three!")
			waitFor(t, "the rewrite", rec.count, 2)
			// Deleted: not reported; reappearing: reported.
			if err := os.Remove(a); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if n := rec.count(); n != 2 {
				t.Errorf("removal reported: %v", rec.calls)
			}
			replace(t, a, "four")
			waitFor(t, "the reappearance", rec.count, 3)
			time.Sleep(100 * time.Millisecond)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.calls) != 3 || rec.calls[0] != a || rec.calls[1] != b || rec.calls[2] != a {
				t.Errorf("calls %v", rec.calls)
			}
		})
	}
}

// TestSymlinkSwap is how Kubernetes updates a mounted ConfigMap: the file
// is a link through "..data", which is swapped to a new directory.
func TestSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "..v1"), filepath.Join(dir, "..v2")
	for _, d := range []string{v1, v2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(v1, "list.txt"), "10.0.0.0/8\n")
	write(t, filepath.Join(v2, "list.txt"), "10.0.0.0/8\n192.0.2.0/24\n")
	data := filepath.Join(dir, "..data")
	if err := os.Symlink("..v1", data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "list.txt")
	if err := os.Symlink(filepath.Join("..data", "list.txt"), path); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	w, err := New([]string{path}, rec.changed, Options{Poll: -1, Debounce: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink("..v2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, data); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the symlink swap", rec.count, 1)
}

func TestCloseTwice(t *testing.T) {
	w, err := New(nil, func(string) error { return nil }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
}

// TestFolder: a watched folder changes when a file in it is added,
// rewritten or removed; hidden files (an atomic writer's temporary) and
// files the filter refuses do not count.
func TestFolder(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "a.yaml"), "one")
			var rec recorder
			mode.opts.Logger = slog.New(slog.DiscardHandler)
			mode.opts.Filter = func(name string) bool { return filepath.Ext(name) == ".yaml" }
			w, err := New([]string{dir}, rec.changed, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			write(t, filepath.Join(dir, "b.yaml"), "two")
			waitFor(t, "a new file", rec.count, 1)
			write(t, filepath.Join(dir, "notes.txt"), "ignored")
			write(t, filepath.Join(dir, ".b.yaml.tmp"), "ignored")
			replace(t, filepath.Join(dir, "a.yaml"), "three")
			waitFor(t, "a replaced file", rec.count, 2)
			if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a removed file", rec.count, 3)
			time.Sleep(100 * time.Millisecond)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.calls) != 3 || rec.calls[0] != dir {
				t.Errorf("calls %v", rec.calls)
			}
		})
	}
}

// TestSubfolders: with Subfolders, a folder added to a watched folder (or
// a symbolic link to one) and a folder removed are changes of it; a
// hidden folder is not; and without the option none is.
func TestSubfolders(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			dir, elsewhere := t.TempDir(), t.TempDir()
			var rec, without recorder
			mode.opts.Logger = slog.New(slog.DiscardHandler)
			plain := mode.opts
			mode.opts.Subfolders = true
			w, err := New([]string{dir}, rec.changed, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w2, err := New([]string{dir}, without.changed, plain)
			if err != nil {
				t.Fatal(err)
			}
			defer w2.Close()
			if err := os.Mkdir(filepath.Join(dir, ".hidden"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "acme"), 0o755); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a new folder", rec.count, 1)
			if err := os.Symlink(elsewhere, filepath.Join(dir, "beta")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a link to a folder", rec.count, 2)
			if err := os.Remove(filepath.Join(dir, "acme")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a removed folder", rec.count, 3)
			if n := without.count(); n != 0 {
				t.Errorf("without Subfolders, folders were changes: %v", without.calls)
			}
		})
	}
}

// TestContent: with Content, a rewrite that keeps the size and the
// modification time is a change, and a touch is not.
func TestContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write(t, path, "score: 90")
	stamp := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	w, err := New([]string{path}, rec.changed, Options{Poll: 20 * time.Millisecond, DisableNotify: true, Content: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write(t, path, "score: 85")
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a same-size rewrite", rec.count, 1)
	if err := os.Chtimes(path, stamp.Add(time.Hour), stamp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := rec.count(); n != 1 {
		t.Errorf("a touch counted as a change: %d calls", n)
	}
}

// flaky is a loader whose first loads fail: a file unreadable until a
// chmod, a snapshot folder full until space is freed.
type flaky struct {
	mu    sync.Mutex
	fails int // loads left to fail
	calls int
}

func (f *flaky) changed(string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fails > 0 {
		f.fails--
		return errors.New("permission denied")
	}
	return nil
}

func (f *flaky) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

// TestFailedLoadRetried: a version that failed to load is tried again
// though nothing about the file changes (its inode, size and time stay),
// at a poll or at an event in its folder once its backoff has passed; once
// it loads it is not reported again. A new version is tried at once.
func TestFailedLoadRetried(t *testing.T) {
	for _, mode := range []struct {
		name  string
		opts  Options
		nudge func(dir string) // what makes the watcher look again
	}{
		{"poll", Options{Poll: 10 * time.Millisecond, DisableNotify: true}, func(string) {}},
		// An event beside the file (a chmod is one, on the file itself).
		{"notify", Options{Poll: -1, Debounce: 10 * time.Millisecond}, func(dir string) { write(t, filepath.Join(dir, "other"), time.Now().String()) }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "city.mmdb")
			write(t, path, "one")
			loader := &flaky{fails: 2}
			mode.opts.Logger = slog.New(slog.DiscardHandler)
			mode.opts.retryMin = 50 * time.Millisecond
			w, err := New([]string{path}, loader.changed, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			replace(t, path, "two")
			waitFor(t, "the first load", loader.count, 1)
			// Retried, with nothing changed but time: fails again, then loads.
			for i := 2; i <= 3; i++ {
				deadline := time.Now().Add(5 * time.Second)
				for loader.count() < i && time.Now().Before(deadline) {
					mode.nudge(dir)
					time.Sleep(20 * time.Millisecond)
				}
				waitFor(t, "a retry", loader.count, i)
			}
			// Loaded: no more calls, whatever happens beside it.
			for range 10 {
				mode.nudge(dir)
				time.Sleep(20 * time.Millisecond)
			}
			if n := loader.count(); n != 3 {
				t.Fatalf("%d loads after the good one, want 3 in all", n)
			}
		})
	}
}

// TestRetryBacksOff: a version that keeps failing is not retried before
// its backoff, even with events in its folder (a snapshot written beside
// it, a busy folder) or polls; a new version is tried at once.
func TestRetryBacksOff(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.mmdb")
	write(t, path, "one")
	loader := &flaky{fails: 1000}
	w, err := New([]string{path}, loader.changed, Options{Poll: 10 * time.Millisecond, Debounce: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), retryMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	replace(t, path, "two")
	waitFor(t, "the first load", loader.count, 1)
	for i := range 10 {
		write(t, filepath.Join(dir, "other"), fmt.Sprint(i))
		time.Sleep(20 * time.Millisecond)
	}
	if n := loader.count(); n != 1 {
		t.Fatalf("retried %d times within the backoff", n-1)
	}
	replace(t, path, "three")
	waitFor(t, "the new version", loader.count, 2)
}

// TestOneFolderNotWatchable: a folder notifications cannot watch (one
// the process may not read: a tenant's rules folder made unreadable; or
// one gone since it was listed) leaves that folder to polling, not every
// other: they were all left to it, so one tenant's folder delayed every
// edit of the shared rules and of the other tenants by up to a minute.
func TestOneFolderNotWatchable(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "rules.yaml")
	write(t, ok, "one")
	gone := filepath.Join(dir, "gone", "tenant", "rules.yaml") // its folder cannot be watched
	var rec recorder
	// No polling: only notifications can tell of the change.
	w, err := New([]string{gone, ok}, rec.changed, Options{Poll: -1, Debounce: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write(t, ok, "two!")
	waitFor(t, "the change of a file in a watched folder", rec.count, 1)
}

// TestEventsThatNeverStop: a file written beside a watched one all the
// time (a log, every few milliseconds) keeps its folder from ever being
// quiet; a change of the watched file is still seen, after a few
// Debounces at most, not held back until the next poll (none here).
func TestEventsThatNeverStop(t *testing.T) {
	dir := t.TempDir()
	watched, noise := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "audit.log")
	write(t, watched, "one")
	var rec recorder
	w, err := New([]string{watched}, rec.changed, Options{Poll: -1, Debounce: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(noise, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				fmt.Fprintln(f, "a line")
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(100 * time.Millisecond) // the noise going
	replace(t, watched, "two")
	waitFor(t, "the change amid the noise", rec.count, 1)
}

// TestIdentityReadableAgain: with Content, a file read one time and not
// the other (unreadable until a chmod, which changes neither its inode,
// size nor time) is not the same version: a failing file made readable
// is tried at once, not after its backoff. The test runs as root in CI,
// which reads any file: the identities are made by hand.
func TestIdentityReadableAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.pem")
	write(t, path, "one")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	unreadable := identity{exists: true, info: fi}
	readable := identity{exists: true, info: fi, hashed: true, sum: sha256.Sum256([]byte("one"))}
	if unreadable.same(readable) || readable.same(unreadable) {
		t.Error("a file read and the same file unread are the same version")
	}
	if !unreadable.same(unreadable) || !readable.same(readable) {
		t.Error("an identity differs from itself")
	}
}
