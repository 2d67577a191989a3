package filewatch

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
			select {
			case got := <-reverted:
				if got != path {
					t.Errorf("Reverted(%q), want the file", got)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the file put back as loaded was not taken for a revert")
			}
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
