package filewatch

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
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

// TestFailedOutsideLoadedVersion: without ReloadReverted, a path told
// failed on the version loaded itself (a SIGHUP that found it unreadable,
// or its snapshot folder gone: nothing its identity shows) is no revert:
// it is retried, so that its owner's gauge of the failure does not read
// "fine" while the file still fails; and the retry that loads clears it.
func TestFailedOutsideLoadedVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	write(t, path, "good")
	l := &contentLoader{path: path}
	var log syncbuf.Buffer
	var reverted atomic.Int32
	w, err := New([]string{path}, l.changed, Options{Poll: -1, DisableNotify: true, Debounce: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&log, nil)), retryMin: 10 * time.Millisecond, Reverted: func(string) { reverted.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Failed(path)
	waitFor(t, "the retry of the version loaded", l.loaded, 1)
	if got := l.calls(); !slices.Equal(got, []string{"good"}) {
		t.Errorf("loads %q, want the version loaded, once", got)
	}
	if strings.Contains(log.String(), "back to the version loaded") || reverted.Load() != 0 {
		t.Errorf("taken for a revert (Reverted called %d times): %s", reverted.Load(), log.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Failed(path) // after Close: no wait, no effect
}
