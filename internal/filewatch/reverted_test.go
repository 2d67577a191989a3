package filewatch

import (
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/filesnap"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

// contentLoader loads a file as a rule file's owner does: it fails on the
// content "bad" (and on an empty file), and records every content it was
// asked to load. The tests replace the file whole (write and rename), so
// that the watcher never sees it half written.
type contentLoader struct {
	mu    sync.Mutex
	path  string
	seen  []string
	loads int // that succeeded
}

func (l *contentLoader) changed(string) error {
	data, err := filesnap.ReadRegular(l.path, 0)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, string(data))
	if err != nil || string(data) == "bad" || len(data) == 0 {
		return errors.New("rejected")
	}
	l.loads++
	return nil
}

func (l *contentLoader) count() int  { l.mu.Lock(); defer l.mu.Unlock(); return len(l.seen) }
func (l *contentLoader) loaded() int { l.mu.Lock(); defer l.mu.Unlock(); return l.loads }
func (l *contentLoader) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// TestFailedFileReverted: with ReloadReverted, a file whose new version
// failed to load and that is then put back as it was (a bad edit
// reverted) is loaded again, at once, so that its owner clears the
// failure it reports: it was "back to the loaded version: nothing to
// retry", and the rules' failure gauge stayed 0 until some other edit.
// The backoff is an hour, so only the revert's load can pass the test.
func TestFailedFileReverted(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rules.yaml")
			write(t, path, "good")
			l := &contentLoader{path: path}
			mode.opts.Logger, mode.opts.retryMin = slog.New(slog.DiscardHandler), time.Hour
			mode.opts.Content, mode.opts.ReloadReverted = true, true
			w, err := New([]string{path}, l.changed, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			replace(t, path, "bad")
			waitFor(t, "the failed load of the bad edit", l.count, 1)
			replace(t, path, "good")
			waitFor(t, "the reverted file loaded", l.loaded, 1)
			if got := l.calls(); !slices.Equal(got, []string{"bad", "good"}) {
				t.Errorf("loads %q, want the bad edit then the revert", got)
			}
		})
	}
}

// TestFailedFileRevertedDefault: without ReloadReverted, a failing file
// back to the version loaded is not loaded again (a GeoIP database, a
// breached-password filter: costly, and their owners keep no failure
// state but a gauge of it), and no longer failing: no retry; the owner is
// told (Reverted), once; the next version is loaded.
func TestFailedFileRevertedDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	write(t, path, "good")
	l := &contentLoader{path: path}
	var log syncbuf.Buffer
	reverted := make(chan string, 10)
	w, err := New([]string{path}, l.changed, Options{Poll: -1, Debounce: 10 * time.Millisecond, Content: true,
		Logger: slog.New(slog.NewTextHandler(&log, nil)), retryMin: 10 * time.Millisecond,
		Reverted: func(p string) { reverted <- p }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	replace(t, path, "bad")
	waitFor(t, "the failed load of the bad edit", l.count, 1)
	if len(reverted) != 0 {
		t.Fatal("Reverted called before the revert")
	}
	replace(t, path, "good")
	waitLog(t, &log, "back to the version loaded; no longer retrying it")
	waitReverted(t, reverted, path, 10*time.Second)
	replace(t, path, "newer")
	waitFor(t, "the next version loaded", l.loaded, 1)
	if len(reverted) != 0 {
		t.Error("Reverted called again, for a version loaded")
	}
	// The bad version's retries (every 10 ms at first) may have come
	// before the revert; never the revert, nor a bad one after it.
	got := l.calls()
	if got[len(got)-1] != "newer" || slices.Contains(got, "good") || strings.Count(strings.Join(got, ","), "newer") != 1 {
		t.Errorf("loads %q, want the bad edit (retried), then the next version only", got)
	}
}

// waitReverted waits for Options.Reverted to be told of path.
func waitReverted(t *testing.T, reverted <-chan string, path string, within time.Duration) {
	t.Helper()
	select {
	case got := <-reverted:
		if got != path {
			t.Errorf("Reverted(%q), want the file", got)
		}
	case <-time.After(within):
		t.Fatal("Reverted not called for the file put back as loaded")
	}
}
