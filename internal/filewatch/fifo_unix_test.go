//go:build unix

package filewatch

import (
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFIFONeverBlocks: a FIFO among content-watched files (mkfifo
// rules/pipe.yaml) is a file like another for the watcher, never read:
// New, the checks and Close return, and a later good file is reported.
func TestFIFONeverBlocks(t *testing.T) {
	for _, mode := range []struct {
		name  string
		watch func(dir string) string
	}{
		{"in a watched folder", func(dir string) string { return dir }},
		{"the watched file", func(dir string) string { return filepath.Join(dir, "pipe.yaml") }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "a.yaml"), "one")
			if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			var rec recorder
			var w *Watcher
			returns(t, "New", func() {
				var err error
				w, err = New([]string{mode.watch(dir)}, rec.changed, Options{Poll: 10 * time.Millisecond, Debounce: 10 * time.Millisecond, Content: true, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Error(err)
				}
			})
			if w == nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // a few polls over the FIFO
			if mode.name == "in a watched folder" {
				write(t, filepath.Join(dir, "b.yaml"), "two")
				waitFor(t, "the good file after the FIFO", rec.count, 1)
			}
			returns(t, "Close", func() { _ = w.Close() })
		})
	}
}

// returns fails the test, instead of hanging it, when f blocks.
func returns(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s blocked on the FIFO", what)
	}
}
