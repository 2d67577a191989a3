package filewatch

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestReportGone: with ReportGone, a loaded file deleted is a load that
// fails (its owner's gauge says a restart would fail on it), retried
// with the backoff while it stays gone; put back as it was loaded it is
// a revert (Reverted, no load), and a new version is loaded at once.
// Before, a deleted GeoIP database or certificate kept every gauge at 1,
// and the first sign of it was a restart that failed.
func TestReportGone(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "city.mmdb")
			write(t, path, "good")
			l := &contentLoader{path: path}
			reverted := make(chan string, 10)
			mode.opts.Logger, mode.opts.retryMin = slog.New(slog.DiscardHandler), 10*time.Millisecond
			// Content: put back as loaded is the same version (by inode
			// and time it would be a new one, and loaded).
			mode.opts.ReportGone, mode.opts.Content, mode.opts.Reverted = true, true, func(p string) { reverted <- p }
			w, err := New([]string{path}, l.changed, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()

			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the deleted file reported", l.count, 1)
			waitFor(t, "the deleted file retried", l.count, 3)
			if l.loaded() != 0 {
				t.Fatal("a deleted file loaded")
			}
			write(t, path, "good")
			waitReverted(t, reverted, path, 5*time.Second)
			if l.loaded() != 0 {
				t.Error("the file put back as loaded was loaded again")
			}

			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			n := l.count()
			waitFor(t, "the second deletion reported", l.count, n+1)
			replace(t, path, "new")
			waitFor(t, "the new version loaded", l.loaded, 1)
			calls := l.calls()
			if calls[len(calls)-1] != "new" {
				t.Errorf("last load %q, want the new version", calls[len(calls)-1])
			}
			for _, c := range calls[:len(calls)-1] {
				if c != "" {
					t.Errorf("loads %q: only the deleted file (read as nothing) before the new version", calls)
					break
				}
			}
		})
	}
}

// TestGoneNotReportedByDefault: without ReportGone a deleted file is not
// a load (the rules' tenants folder, whose overlays come and go, relies
// on it for its folders; an owner that did not ask is not told).
func TestGoneNotReportedByDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.txt")
	write(t, path, "good")
	l := &contentLoader{path: path}
	w, err := New([]string{path}, l.changed, Options{Poll: -1, Debounce: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), retryMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// The deletion's check is done within a few debounces; the write
	// after it is the next change.
	time.Sleep(100 * time.Millisecond)
	replace(t, path, "new")
	waitFor(t, "the new version loaded", l.loaded, 1)
	if got := l.calls(); !slices.Equal(got, []string{"new"}) {
		t.Errorf("loads %q, want the new version alone", got)
	}
}

// TestFailedGoneFromStart: a watch started over a file already deleted
// (the rules' watch, started again when a tenant's folder comes or goes)
// whose owner tells it the file failed is retried with the backoff while
// it stays gone, as any failing file is, and loaded once back. The
// retries stopped at the restart, and the failure counted by the owner
// stopped with them, its gauge left at 0 until something changed.
func TestFailedGoneFromStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	l := &contentLoader{path: path}
	w, err := New([]string{path}, l.changed, Options{Poll: -1, Debounce: 10 * time.Millisecond, Content: true,
		ReloadReverted: true, ReportGone: true, Logger: slog.New(slog.DiscardHandler), retryMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Failed(path)
	waitFor(t, "the retries of the file told failed", l.count, 3)
	write(t, path, "good")
	waitFor(t, "the file back loaded", l.loaded, 1)
}

// TestGoneWithoutFailureNotRetried: a path gone from the start that its
// owner did not report failing is not tried (an optional folder).
func TestGoneWithoutFailureNotRetried(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenants")
	var r recorder
	w, err := New([]string{path}, r.changed, Options{Poll: 10 * time.Millisecond, Debounce: 10 * time.Millisecond,
		ReportGone: true, Logger: slog.New(slog.DiscardHandler), retryMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // ten polls
	w.Close()
	if n := r.count(); n != 0 {
		t.Errorf("a path gone from the start, never failing, tried %d times", n)
	}
}

// TestLoadedWhileGone: a load that succeeds on a path that read as gone
// loaded a version the watch never saw (the file came back meanwhile, and
// may have been rewritten since), so the path is checked again and
// loaded as it is then. Taking its identity after the load recorded a
// version written after it as loaded, never to be loaded.
func TestLoadedWhileGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write(t, path, "v1")
	var mu sync.Mutex
	var seen []string
	changed := func(string) error {
		data, err := os.ReadFile(path)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			// Back as "v2" and loaded, then rewritten as "v3" before
			// the watch could look.
			write(t, path, "v3")
			seen = append(seen, "v2")
			return nil
		}
		seen = append(seen, string(data))
		return nil
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	w, err := New([]string{path}, changed, Options{Poll: -1, Debounce: 10 * time.Millisecond, Content: true,
		ReportGone: true, Logger: slog.New(slog.DiscardHandler), retryMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the version written after the load loaded", count, 2)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen[:2], []string{"v2", "v3"}) {
		t.Errorf("loads %q, want v2 then v3", seen)
	}
}
