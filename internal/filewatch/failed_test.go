package filewatch

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// TestFailedOutside: a load its owner made outside the callback (a
// reload on SIGHUP) that failed, told by Failed, is retried as a failed
// callback is. Before, the watcher retried only what its callback had
// failed on, and a file back to the version loaded, or never changed for
// it, was no change: the owner's failure stayed reported until another
// edit. The watcher here neither polls nor listens to notifications, so
// that only Failed can make it look at the file.
func TestFailedOutside(t *testing.T) {
	for _, c := range []struct {
		name     string
		reverted bool          // Options.ReloadReverted
		retry    time.Duration // the backoff's first delay
		now      string        // the file when Failed is called
		then     string        // written once the loads reach want's length - 1 ("" none)
		want     []string      // the loads, the last one succeeding
	}{
		{name: "back to the version loaded", reverted: true, retry: 10 * time.Millisecond, now: "good", want: []string{"good"}},
		{name: "still bad: retried, then fixed", reverted: true, retry: 10 * time.Millisecond, now: "bad", then: "fixed",
			want: []string{"bad", "bad", "fixed"}},
		{name: "changed: tried at once, not after the delay", reverted: true, retry: time.Hour, now: "bad", then: "fixed",
			want: []string{"fixed"}},
		{name: "still bad, without ReloadReverted", retry: 10 * time.Millisecond, now: "bad", then: "fixed",
			want: []string{"bad", "fixed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rules.yaml")
			write(t, path, "good")
			l := &contentLoader{path: path}
			var log syncbuf.Buffer
			w, err := New([]string{path}, l.changed, Options{Poll: -1, DisableNotify: true, Debounce: 10 * time.Millisecond, Content: true,
				ReloadReverted: c.reverted, Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})), retryMin: c.retry})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			replace(t, path, c.now)
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(wd, path)
			if err != nil {
				t.Fatal(err)
			}
			w.Failed(path + ".other") // not watched: ignored
			w.Failed(rel)             // the same path, spelt otherwise
			// Taken at the version there now: a change from then on is one.
			waitLog(t, &log, "watched file failed to load outside the watch")
			if c.then != "" {
				waitFor(t, "the loads before the change", l.count, len(c.want)-1)
				replace(t, path, c.then)
			}
			waitFor(t, "the load that succeeds", l.loaded, 1)
			if got := l.calls(); !slices.Equal(got[len(got)-len(c.want):], c.want) || slices.Contains(got[:len(got)-1], c.then) {
				t.Errorf("loads %q, want them to end with %q", got, c.want)
			}
		})
	}
}

// TestFailedOutsideRevertedDefault: without ReloadReverted, a path told
// failed that is back to the version loaded is not loaded again (its
// owner's failure is a count, which a revert leaves true), and no longer
// failing.
func TestFailedOutsideRevertedDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	write(t, path, "good")
	l := &contentLoader{path: path}
	var log syncbuf.Buffer
	w, err := New([]string{path}, l.changed, Options{Poll: -1, DisableNotify: true, Debounce: 10 * time.Millisecond, Content: true,
		Logger: slog.New(slog.NewTextHandler(&log, nil)), retryMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Failed(path)
	waitLog(t, &log, "back to the version loaded; no longer retrying it")
	if got := l.calls(); len(got) != 0 {
		t.Errorf("loads %q, want none", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Failed(path) // after Close: no wait, no effect
}
