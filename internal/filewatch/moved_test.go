package filewatch

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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

// TestFolderReplaced: the folder of a watched file replaced whole, with no
// poll to find it: a link to a release folder swapped (as capistrano and
// some secret agents deploy), then the file edited in place in the new
// folder; and the folder removed and made again. Each is seen from the
// events of the folder above.
func TestFolderReplaced(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"v1", "v2", "app"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(root, "v1", "ca.pem"), "one")
	write(t, filepath.Join(root, "v2", "ca.pem"), "two")
	current := filepath.Join(root, "app", "current")
	if err := os.Symlink(filepath.Join(root, "v1"), current); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(current, "ca.pem")
	plain := filepath.Join(root, "app", "tls", "ca.pem")
	if err := os.Mkdir(filepath.Dir(plain), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, plain, "one")
	var rec recorder
	w, err := New([]string{linked, plain}, rec.changed, Options{Poll: -1, Debounce: 20 * time.Millisecond, Content: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	tmp := filepath.Join(root, "app", ".current.tmp")
	if err := os.Symlink(filepath.Join(root, "v2"), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, current); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the link swapped", rec.count, 1)
	write(t, filepath.Join(root, "v2", "ca.pem"), "three") // in place, through the new link
	waitFor(t, "the file edited in the folder linked now", rec.count, 2)

	if err := os.RemoveAll(filepath.Dir(plain)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Dir(plain), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, plain, "four")
	waitFor(t, "the folder made again", rec.count, 3)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := []string{linked, linked, plain}; !slices.Equal(rec.calls, want) {
		t.Errorf("calls %q, want %q", rec.calls, want)
	}
}
