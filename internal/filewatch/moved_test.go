package filewatch

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// folderLoader loads a watched folder: it fails while the folder is gone
// or holds no file (an empty mount point), and, once, does what a mover
// does during the read (during).
type folderLoader struct {
	mu     sync.Mutex
	dir    string
	during func()
	calls  int
	loaded int
}

func (l *folderLoader) changed(string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.during != nil {
		l.during()
		l.during = nil
		return errors.New("the folder went away while it was read")
	}
	if des, err := os.ReadDir(l.dir); err != nil || len(des) == 0 {
		return errors.New("the folder is gone or empty")
	}
	l.loaded++
	return nil
}

func (l *folderLoader) count() int   { l.mu.Lock(); defer l.mu.Unlock(); return l.calls }
func (l *folderLoader) loads() int   { l.mu.Lock(); defer l.mu.Unlock(); return l.loaded }
func (l *folderLoader) set(f func()) { l.mu.Lock(); defer l.mu.Unlock(); l.during = f }

// waitLog waits until the log holds line.
func waitLog(t *testing.T, log *syncbuf.Buffer, line string) {
	t.Helper()
	waitFor(t, "the log line "+line, func() int { return strings.Count(log.String(), line) }, 1)
}

func mv(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// TestFailedLoadWhileMoved: a folder moved away while its load read it
// (the rules' tenants folder moved or unmounted under a reload) failed
// that load, and the failure was taken for the version's: the folder back
// was tried only after the backoff, or, when it came back unseen, not at
// all. It is now tried again as soon as it is back. The backoff is an
// hour and there is no poll, so that only a prompt retry loads it within
// the test.
func TestFailedLoadWhileMoved(t *testing.T) {
	for _, tc := range []struct {
		name string
		// watched is the folder watched, under root; its load moves
		// root/tenants away, and back when back is set.
		watched string
		back    bool
	}{
		// A tenant's folder: its folder moved away with the tenants
		// folder, whose return raises no event the watcher hears
		// (fsnotify dropped the moved folder's watch, and the tenants
		// folder's own folder is not watched): only the checks of a
		// failing path see it back.
		{"its folder moved away, back after the load", "tenants/acme", false},
		// Back before the load ends (moved away and back, or swapped for
		// another by two renames): the same files, but the events of the
		// move say that the failure may have been the move's.
		{"moved away and back during the load", "tenants", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tenants, away := filepath.Join(root, "tenants"), filepath.Join(root, "away")
			dir := filepath.Join(root, tc.watched)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "a.yaml"), "one")
			var log syncbuf.Buffer
			l := &folderLoader{dir: dir}
			w, err := New([]string{dir}, l.changed, Options{Poll: -1, Debounce: 10 * time.Millisecond, retryMin: time.Hour,
				Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()

			l.set(func() { // on the watcher's goroutine: t.Error, not t.Fatal
				if err := os.Rename(tenants, away); err != nil {
					t.Error(err)
				}
				if tc.back {
					if err := os.Rename(away, tenants); err != nil {
						t.Error(err)
					}
				}
			})
			write(t, filepath.Join(dir, "b.yaml"), "two")
			waitFor(t, "the failed load", l.count, 1)
			if !tc.back {
				// The watcher has seen the folder gone after its failed
				// load (it says so); then it comes back.
				waitLog(t, &log, "watched file disappeared")
				mv(t, away, tenants)
			}
			waitFor(t, "the folder loaded once back", l.loads, 1)
		})
	}
}

// TestFailedFolderBackToLoaded: a folder whose load failed (an empty mount
// point: its volume unmounted) and that came back as the version loaded
// (the volume mounted again) was taken for "back to the loaded version,
// nothing to retry", and its owner kept reporting the failure. Only a
// load clears that: it is loaded again. (A file back to its loaded
// version is not: it is the same file, and nothing of it failed.)
func TestFailedFolderBackToLoaded(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			root := t.TempDir()
			dir, away := filepath.Join(root, "tenants"), filepath.Join(root, "away")
			for _, d := range []string{dir, away} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write(t, filepath.Join(dir, "a.yaml"), "one")
			l := &folderLoader{dir: dir}
			mode.opts.Logger, mode.opts.retryMin = slog.New(slog.DiscardHandler), time.Hour
			w, err := New([]string{dir}, l.changed, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			mv(t, filepath.Join(dir, "a.yaml"), filepath.Join(away, "a.yaml"))
			waitFor(t, "the failed load of the emptied folder", l.count, 1)
			// Back as it was: the same file (inode, size, time).
			mv(t, filepath.Join(away, "a.yaml"), filepath.Join(dir, "a.yaml"))
			waitFor(t, "the folder loaded once back", l.loads, 1)
		})
	}
}

// TestFolderWatchedAgain: fsnotify drops the watch of a folder that is
// moved (or removed, or unmounted); a watched folder moved away and back
// then had no notifications, and its changes waited for the poll. It is
// watched again once it is back.
func TestFolderWatchedAgain(t *testing.T) {
	root := t.TempDir()
	dir, away := filepath.Join(root, "tenants"), filepath.Join(root, "away")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), "one")
	var rec recorder
	var log syncbuf.Buffer
	// No polling: only notifications can tell of the changes.
	w, err := New([]string{dir}, rec.changed, Options{Poll: -1, Debounce: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mv(t, dir, away)
	waitLog(t, &log, "watched file disappeared")
	mv(t, away, dir)
	waitFor(t, "the folder back", rec.count, 1)
	write(t, filepath.Join(dir, "b.yaml"), "two")
	waitFor(t, "a file added to the folder back", rec.count, 2)
}

// TestFolderReplaced: the folder of a watched file replaced whole, with
// no poll to find it: removed and made again, then moved away and another
// moved in its place. Each is seen at once, from the folder's own events,
// and the folder watched again by name (a watch follows the folder it
// was on).
func TestFolderReplaced(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "tls")
	path := filepath.Join(dir, "ca.pem")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, path, "one")
	var rec recorder
	w, err := New([]string{path}, rec.changed, Options{Poll: -1, Debounce: 20 * time.Millisecond, Content: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the removal seen before the folder is back
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, path, "two")
	waitFor(t, "the folder made again", rec.count, 1)
	write(t, path, "three") // in place, in the folder made again
	waitFor(t, "the file edited in the new folder", rec.count, 2)

	next := filepath.Join(root, "next")
	if err := os.Mkdir(next, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(next, "ca.pem"), "four")
	if err := os.Rename(dir, filepath.Join(root, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the folder moved in", rec.count, 3)
	write(t, path, "five")
	waitFor(t, "the file edited in the folder moved in", rec.count, 4)
	write(t, filepath.Join(root, "old", "ca.pem"), "six") // the folder moved away: no change
	time.Sleep(200 * time.Millisecond)
	if n := rec.count(); n != 4 {
		t.Errorf("%d changes, want 4: the folder moved away is not the watched one", n)
	}
}
